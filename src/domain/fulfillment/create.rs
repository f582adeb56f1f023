//! `fulfillmentCreate`: plan (what ships, from where), buy a label if
//! asked, then write everything in one transaction that plans again under
//! the locks, so what was checked is what is written.

use std::collections::HashMap;

use chrono::SubsecRound;
use entity::{
    fulfillment, fulfillment_line, inventory_movement, order_line, reservation, shop_order,
    stock_level, stock_location, variant,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde_json::json;

use super::{
    Caller, CreateRequest, Created, FulfillmentService, Tracking,
    carriers::{Label, Parcel, ParcelAddress, ShipmentRequest},
    note,
    stock::{self, Why},
    worth::{LineShare, fulfillment_worth},
};
use crate::domain::{
    audit::{self, Change},
    checkout::orders::{self, ApplyError},
    error::{Checked, DomainError, DomainResult, Outcome, UserError, UserErrorCode as Code},
    events::{self, DomainEvent},
    identity::customer::Address,
    order_state::{OrderEvent, OrderStatus},
    orders as order_ops,
    tx::{Attempt, retrying},
};

/// One line of a plan.
#[derive(Debug, Clone)]
struct PlannedLine {
    line: order_line::Model,
    quantity: i32,
    variant: Option<variant::Model>,
}

/// What a fulfilment will do, checked against the current rows.
#[derive(Debug, Clone)]
struct Plan {
    order: shop_order::Model,
    all_lines: Vec<order_line::Model>,
    location: stock_location::Model,
    lines: Vec<PlannedLine>,
    first: bool,
}

impl Plan {
    /// Units per tracked variant.
    fn needs(&self) -> Vec<(i64, i32)> {
        let mut needs: Vec<(i64, i32)> = Vec::new();
        for p in &self.lines {
            if let Some(v) = p.variant.as_ref().filter(|v| v.track_inventory) {
                match needs.iter_mut().find(|(id, _)| *id == v.id) {
                    Some((_, n)) => *n += p.quantity,
                    None => needs.push((v.id, p.quantity)),
                }
            }
        }
        needs.sort_unstable();
        needs
    }

    fn worth(&self) -> i64 {
        let shares: Vec<LineShare> = self
            .lines
            .iter()
            .map(|p| LineShare {
                line_total_minor: p.line.total_minor,
                line_quantity: p.line.quantity,
                fulfilled_before: p.line.quantity_fulfilled,
                quantity: p.quantity,
            })
            .collect();
        let all: i64 = self.all_lines.iter().map(|l| l.total_minor).sum();
        fulfillment_worth(self.order.total_minor, all, &shares, self.first)
    }

    fn units(&self) -> i32 {
        self.lines.iter().map(|p| p.quantity).sum()
    }
}

fn refused<T>(field: &[&str], code: Code, message: impl Into<String>) -> Checked<T> {
    Err(vec![UserError::new(field, code, message)])
}

fn left_to_ship(l: &order_line::Model) -> i32 {
    l.quantity - l.quantity_fulfilled - l.quantity_cancelled
}

/// Plans `req` against what `db` holds now.
async fn plan(db: &impl ConnectionTrait, req: &CreateRequest) -> Outcome<Plan> {
    let Some(order) = orders::get(db, req.order_id).await? else {
        return Ok(refused(&["orderId"], Code::NotFound, "no such order"));
    };
    let state = orders::state_of(&order)?;
    if state.status().order != OrderStatus::Open {
        return Ok(refused(
            &["orderId"],
            Code::OrderNotOpen,
            "only an open order (paid or authorized, not cancelled or completed) can be fulfilled",
        ));
    }
    let all_lines = orders::lines(db, order.id).await?;
    let mut wanted: Vec<(order_line::Model, i32)> = Vec::new();
    if req.lines.is_empty() {
        wanted.extend(
            all_lines
                .iter()
                .filter(|l| left_to_ship(l) > 0)
                .map(|l| (l.clone(), left_to_ship(l))),
        );
        if wanted.is_empty() {
            return Ok(refused(
                &["lines"],
                Code::NothingToFulfill,
                "every unit of this order is already fulfilled or cancelled",
            ));
        }
    }
    for (i, r) in req.lines.iter().enumerate() {
        let index = i.to_string();
        let field = ["lines", index.as_str(), "quantity"];
        let Some(line) = all_lines.iter().find(|l| l.id == r.order_line_id) else {
            return Ok(refused(
                &["lines", index.as_str(), "orderLineId"],
                Code::NotFound,
                "no such line on this order",
            ));
        };
        if wanted.iter().any(|(l, _)| l.id == line.id) {
            return Ok(refused(
                &["lines", index.as_str(), "orderLineId"],
                Code::Invalid,
                "the line is named twice",
            ));
        }
        if r.quantity <= 0 {
            return Ok(refused(
                &field,
                Code::Invalid,
                "the quantity must be positive",
            ));
        }
        let left = left_to_ship(line);
        if r.quantity > left {
            return Ok(refused(
                &field,
                Code::OverFulfillment,
                format!(
                    "the line has {left} unit(s) left to ship (ordered {}, fulfilled {}, cancelled {})",
                    line.quantity, line.quantity_fulfilled, line.quantity_cancelled
                ),
            ));
        }
        wanted.push((line.clone(), r.quantity));
    }
    let variant_ids: Vec<i64> = wanted.iter().filter_map(|(l, _)| l.variant_id).collect();
    let variants: HashMap<i64, variant::Model> = variant::Entity::find()
        .filter(variant::Column::Id.is_in(variant_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let lines: Vec<PlannedLine> = wanted
        .into_iter()
        .map(|(line, quantity)| PlannedLine {
            variant: line.variant_id.and_then(|v| variants.get(&v).cloned()),
            line,
            quantity,
        })
        .collect();
    let holds = reservation::Entity::find()
        .filter(reservation::Column::OrderId.eq(order.id))
        .all(db)
        .await?;
    let tracked: Vec<i64> = lines
        .iter()
        .filter_map(|p| {
            p.variant
                .as_ref()
                .filter(|v| v.track_inventory)
                .map(|v| v.id)
        })
        .collect();
    let levels = stock_level::Entity::find()
        .filter(stock_level::Column::VariantId.is_in(tracked.iter().copied()))
        .order_by_asc(stock_level::Column::Id)
        .all(db)
        .await?;
    let location = match req.location_id {
        Some(id) => match stock_location::Entity::find_by_id(id).one(db).await? {
            Some(l) => l,
            None => {
                return Ok(refused(
                    &["locationId"],
                    Code::NotFound,
                    "no such stock location",
                ));
            }
        },
        None => match default_location(db, &holds, &levels, &tracked).await? {
            Some(l) => l,
            None => {
                return Ok(refused(
                    &["locationId"],
                    Code::NotFound,
                    "there is no stock location to ship from",
                ));
            }
        },
    };
    let mut planned = Plan {
        order,
        all_lines,
        location,
        lines,
        first: false,
    };
    for (variant_id, need) in planned.needs() {
        let level = levels
            .iter()
            .find(|l| l.variant_id == variant_id && l.location_id == planned.location.id);
        let held: i32 = level.map_or(0, |lv| {
            holds
                .iter()
                .filter(|r| r.stock_level_id == lv.id)
                .map(|r| r.quantity)
                .sum()
        });
        let free = level.map_or(0, |l| std::cmp::max(l.on_hand - l.reserved, 0));
        let can = std::cmp::min(held, need) + free;
        if can < need {
            let sku = planned
                .lines
                .iter()
                .find(|p| p.line.variant_id == Some(variant_id))
                .map(|p| p.line.sku.clone())
                .unwrap_or_default();
            let mut e = UserError::new(
                &["locationId"],
                Code::LocationStockInsufficient,
                format!(
                    "{} has {can} of the {need} unit(s) of {sku} to ship (held for the order and free)",
                    planned.location.name
                ),
            );
            e.quantity_available = Some(i64::from(can));
            return Ok(Err(vec![e]));
        }
    }
    planned.first = fulfillment::Entity::find()
        .filter(fulfillment::Column::OrderId.eq(planned.order.id))
        .count(db)
        .await?
        == 0;
    Ok(Ok(planned))
}

/// Where the order's holds of the variants to ship are (most units; the
/// lowest id on a tie); with none, the location with the most free stock
/// of them; with no tracked variant, the first location.
async fn default_location(
    db: &impl ConnectionTrait,
    holds: &[reservation::Model],
    levels: &[stock_level::Model],
    tracked: &[i64],
) -> DomainResult<Option<stock_location::Model>> {
    let mut held: HashMap<i64, i64> = HashMap::new();
    let mut free: HashMap<i64, i64> = HashMap::new();
    for l in levels {
        let here: i64 = holds
            .iter()
            .filter(|r| r.stock_level_id == l.id && tracked.contains(&r.variant_id))
            .map(|r| i64::from(r.quantity))
            .sum();
        *held.entry(l.location_id).or_default() += here;
        *free.entry(l.location_id).or_default() +=
            i64::from(std::cmp::max(l.on_hand - l.reserved, 0));
    }
    let best = |m: &HashMap<i64, i64>| {
        m.iter()
            .filter(|(_, n)| **n > 0)
            .max_by_key(|(id, n)| (**n, std::cmp::Reverse(**id)))
            .map(|(id, _)| *id)
    };
    let id = best(&held).or_else(|| best(&free));
    let found = match id {
        Some(id) => stock_location::Entity::find_by_id(id).one(db).await?,
        None => {
            stock_location::Entity::find()
                .order_by_asc(stock_location::Column::Id)
                .one(db)
                .await?
        }
    };
    Ok(found)
}

/// A postal address as a carrier takes it.
fn parcel_address(a: &Address) -> ParcelAddress {
    let name = [a.first_name.as_deref(), a.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    ParcelAddress {
        name,
        company: a.company.clone(),
        street1: a.address1.clone(),
        street2: a.address2.clone(),
        city: a.city.clone(),
        state: a.province_code.clone(),
        zip: a.zip.clone().unwrap_or_default(),
        country: a.country_code.clone(),
        phone: a.phone.clone(),
    }
}

impl FulfillmentService {
    /// Creates a fulfilment (see the module documentation of
    /// [`super`]): refused with user errors and nothing written, or done.
    #[tracing::instrument(skip_all, fields(order_id = req.order_id))]
    pub async fn create(&self, caller: &Caller, req: &CreateRequest) -> Outcome<Created> {
        let first = match plan(&self.db, req).await? {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let label = if req.purchase_label {
            match self.buy_label(&first).await {
                Ok(l) => Some(l),
                Err(e) => return Ok(Err(e)),
            }
        } else {
            None
        };
        let created = retrying(|attempt| self.write(attempt, caller, req, label.clone())).await?;
        let created = match created {
            Ok(c) => c,
            Err(e) => {
                if let Some(l) = &label {
                    tracing::warn!(
                        order_id = req.order_id,
                        label = %l.reference,
                        "a label was bought for a fulfilment refused meanwhile; void it at the carrier"
                    );
                }
                return Ok(Err(e));
            }
        };
        // Capture mode `on_fulfillment`: after the fulfilment committed,
        // capture what it ships (`fulfillment_worth`), at most what the
        // authorization still holds (gift cards and store credit paid the
        // rest at checkout). The operation names the fulfilment, so a
        // retry never captures twice. A refused or failed capture leaves
        // the shipment standing: staff see it on the order (its timeline
        // and `capturedAmount`) and capture with `orderCapture`.
        if first.order.capture_mode == "on_fulfillment" {
            self.capture_shipped(caller, &created).await?;
        }
        Ok(Ok(created))
    }

    /// Captures what fulfilment `created` ships, up to what the order's
    /// authorization still holds.
    async fn capture_shipped(&self, caller: &Caller, created: &Created) -> DomainResult<()> {
        let Some(order) = shop_order::Entity::find_by_id(created.order_id)
            .one(&self.db)
            .await?
        else {
            return Ok(());
        };
        let open = order_ops::capture::open_amount(&self.db, &order).await?;
        let amount = Ord::min(created.worth_minor, open);
        if amount <= 0 {
            return Ok(());
        }
        let env = order_ops::Env {
            db: &self.db,
            gateways: &self.gateways,
            keys: &self.keys,
            clock: &self.clock,
        };
        let operator = order_ops::Operator {
            actor: caller.actor.clone(),
            scope: caller.reference.clone(),
        };
        let operation = format!("fulfillment:{}", created.fulfillment_id);
        match order_ops::capture::capture_amount(&env, &operator, order.id, amount, &operation)
            .await?
        {
            Ok(captured) => tracing::info!(
                order_id = order.id,
                fulfillment_id = created.fulfillment_id,
                captured,
                "captured what the fulfilment ships"
            ),
            Err(errors) => tracing::warn!(
                order_id = order.id,
                fulfillment_id = created.fulfillment_id,
                amount,
                ?errors,
                "the capture of a fulfilment was refused; capture with orderCapture"
            ),
        }
        Ok(())
    }

    /// Buys the label for a planned fulfilment from the label carrier.
    async fn buy_label(&self, plan: &Plan) -> Result<Label, Vec<UserError>> {
        let fail = |m: String| {
            vec![UserError::new(
                &["purchaseLabel"],
                Code::LabelPurchaseFailed,
                m,
            )]
        };
        let Some(carrier) = self.carriers.label_carrier() else {
            return Err(fail(
                "no label carrier is configured (set EMPORIUM_EASYPOST_API_KEY)".into(),
            ));
        };
        let Some(from) = self.settings.ship_from.as_ref() else {
            return Err(fail(
                "no address to ship from is configured (set EMPORIUM_SHIP_FROM_ADDRESS)".into(),
            ));
        };
        let Some(to) = plan
            .order
            .shipping_address
            .as_deref()
            .and_then(|j| serde_json::from_str::<Address>(j).ok())
        else {
            return Err(fail("the order has no shipping address".into()));
        };
        let weight: i64 = plan
            .lines
            .iter()
            .map(|p| {
                i64::from(p.variant.as_ref().and_then(|v| v.weight_grams).unwrap_or(0))
                    * i64::from(p.quantity)
            })
            .sum();
        let mut from = parcel_address(from);
        if from.company.is_none() {
            from.company = Some(plan.location.name.clone());
        }
        let shipment = ShipmentRequest {
            from,
            to: parcel_address(&to),
            parcel: Parcel {
                weight_grams: if weight > 0 {
                    weight
                } else {
                    self.settings.default_weight_grams
                },
            },
            reference: orders::number(plan.order.id),
        };
        carrier.buy_label(&shipment).await.map_err(|e| {
            tracing::warn!(error = %e, carrier = carrier.code(), "label purchase failed");
            fail(format!("the {} carrier sold no label: {e}", carrier.code()))
        })
    }

    /// The writing transaction: plans again under the locks, then writes.
    async fn write(
        &self,
        attempt: Attempt,
        caller: &Caller,
        req: &CreateRequest,
        label: Option<Label>,
    ) -> Outcome<Created> {
        let tx = attempt.begin(&self.db).await?;
        let mut head = audit::lock(&tx).await?;
        // Serializes writers of this order on PostgreSQL (SQLite's write
        // transaction has the database to itself).
        shop_order::Entity::find_by_id(req.order_id)
            .lock_exclusive()
            .one(&*tx)
            .await?;
        let plan = match plan(&*tx, req).await? {
            Ok(p) => p,
            Err(e) => {
                tx.rollback().await?;
                return Ok(Err(e));
            }
        };
        match self
            .apply(&tx, &mut head, caller, req, &plan, label)
            .await?
        {
            Ok(created) => {
                tx.commit().await?;
                Ok(Ok(created))
            }
            Err(e) => {
                tx.rollback().await?;
                Ok(Err(e))
            }
        }
    }

    async fn apply(
        &self,
        tx: &sea_orm::DatabaseTransaction,
        head: &mut audit::Head,
        caller: &Caller,
        req: &CreateRequest,
        plan: &Plan,
        label: Option<Label>,
    ) -> Outcome<Created> {
        let now = self.clock.now().trunc_subsecs(6);
        let tracking = match &label {
            Some(l) => Some(Tracking {
                carrier: Some(l.carrier.clone()),
                number: Some(l.tracking_number.clone()),
                url: l.tracking_url.clone(),
            }),
            None => req.tracking.as_ref().and_then(Tracking::cleaned),
        };
        let t = tracking.clone().unwrap_or_default();
        let id = fulfillment::Entity::insert(fulfillment::ActiveModel {
            order_id: Set(plan.order.id),
            location_id: Set(plan.location.id),
            status: Set("shipped".into()),
            carrier: Set(t.carrier.clone()),
            tracking_number: Set(t.number.clone()),
            tracking_url: Set(t.url.clone()),
            label_url: Set(label.as_ref().map(|l| l.label_url.clone())),
            carrier_reference: Set(label.as_ref().map(|l| l.reference.clone())),
            captured_minor: Set(0),
            actor: Set(caller.reference.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            delivered_at: Set(None),
            cancelled_at: Set(None),
            ..Default::default()
        })
        .exec(tx)
        .await?
        .last_insert_id;
        fulfillment_line::Entity::insert_many(plan.lines.iter().map(|p| {
            fulfillment_line::ActiveModel {
                fulfillment_id: Set(id),
                order_line_id: Set(p.line.id),
                quantity: Set(p.quantity),
                ..Default::default()
            }
        }))
        .exec_without_returning(tx)
        .await?;
        for (i, p) in plan.lines.iter().enumerate() {
            // The over-fulfilment check once more, as a condition of the
            // write itself.
            let updated = order_line::Entity::update_many()
                .col_expr(
                    order_line::Column::QuantityFulfilled,
                    Expr::col(order_line::Column::QuantityFulfilled).add(p.quantity),
                )
                .filter(order_line::Column::Id.eq(p.line.id))
                .filter(
                    Expr::col(order_line::Column::QuantityFulfilled)
                        .add(Expr::col(order_line::Column::QuantityCancelled))
                        .add(p.quantity)
                        .lte(Expr::col(order_line::Column::Quantity)),
                )
                .exec(tx)
                .await?;
            if updated.rows_affected != 1 {
                let index = i.to_string();
                return Ok(refused(
                    &["lines", index.as_str(), "quantity"],
                    Code::OverFulfillment,
                    "the line has fewer units left to ship",
                ));
            }
        }
        let reference = format!("{}/fulfillment:{id}", orders::number(plan.order.id));
        let why = Why {
            reason: "fulfilled",
            reference: &reference,
            actor_label: &caller.actor.label,
            at: now,
        };
        let mut moved = Vec::new();
        let mut released = Vec::new();
        for (variant_id, need) in plan.needs() {
            let level = stock_level::Entity::find()
                .filter(stock_level::Column::VariantId.eq(variant_id))
                .filter(stock_level::Column::LocationId.eq(plan.location.id))
                .one(tx)
                .await?;
            let shipped = match &level {
                Some(level) => {
                    stock::ship(tx, plan.order.id, level, need, &why, &mut moved).await?
                }
                None => false,
            };
            if !shipped {
                return Ok(refused(
                    &["locationId"],
                    Code::LocationStockInsufficient,
                    format!("{} does not have the units", plan.location.name),
                ));
            }
            let still: i32 = order_line::Entity::find()
                .filter(order_line::Column::OrderId.eq(plan.order.id))
                .filter(order_line::Column::VariantId.eq(variant_id))
                .all(tx)
                .await?
                .iter()
                .map(left_to_ship)
                .sum();
            stock::release_excess(tx, plan.order.id, variant_id, still, &mut released).await?;
        }
        let units = plan.units();
        let quantity =
            u32::try_from(units).map_err(|_| DomainError::Inconsistent("units".into()))?;
        let order = match orders::apply(
            tx,
            &plan.order,
            &[OrderEvent::Fulfilled { quantity }],
            &caller.reference,
        )
        .await?
        {
            Ok((row, _)) => row,
            Err(ApplyError::Refused(e)) => {
                return Ok(refused(&["orderId"], Code::OrderNotOpen, e.to_string()));
            }
            Err(ApplyError::Conflict) => {
                return Err(DomainError::Inconsistent(
                    "the order changed under its row lock".into(),
                ));
            }
        };
        let worth = plan.worth();
        let detail = json!({
            "fulfillmentId": id,
            "locationId": plan.location.id,
            "lines": plan.lines.iter().map(|p| json!({ "orderLineId": p.line.id, "quantity": p.quantity })).collect::<Vec<_>>(),
            "tracking": tracking,
            "labelUrl": label.as_ref().map(|l| l.label_url.clone()),
            "worthMinor": worth,
            "notifyCustomer": req.notify_customer,
        });
        note(
            tx,
            plan.order.id,
            "fulfilled",
            format!(
                "Fulfilled {units} item(s) from {} ({})",
                plan.location.name,
                t.describe()
            ),
            detail.clone(),
            &caller.reference,
            now,
        )
        .await?;
        let mut events: Vec<DomainEvent> = Vec::new();
        let mut movements: Vec<inventory_movement::ActiveModel> = Vec::new();
        for m in moved {
            movements.push(m.movement);
            events.push(m.event);
        }
        if !movements.is_empty() {
            inventory_movement::Entity::insert_many(movements)
                .exec_without_returning(tx)
                .await?;
        }
        events.extend(released);
        events.push(DomainEvent::OrderFulfilled {
            order_id: order.id,
            customer_id: order.customer_id,
            fulfillment_id: id,
            status: orders::state_of(&order)?.status(),
            notify_customer: req.notify_customer,
        });
        events::record(tx, events).await?;
        audit::append(
            tx,
            head,
            &caller.actor,
            vec![Change {
                action: "fulfillment.create",
                entity_type: "fulfillment",
                entity_id: id.to_string(),
                before: None,
                after: Some(json!({ "orderId": order.id, "fulfillment": detail })),
            }],
        )
        .await?;
        Ok(Ok(Created {
            fulfillment_id: id,
            order_id: order.id,
            worth_minor: worth,
        }))
    }
}
