//! `fulfillmentTrackingUpdate` and `fulfillmentCancel`.

use chrono::SubsecRound;
use entity::{
    fulfillment, fulfillment_line, inventory_movement, order_line, shop_order, stock_level, variant,
};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde_json::json;

use super::{
    Caller, FulfillmentService, Tracking, lines_of, note,
    stock::{self, Why},
};
use crate::domain::{
    audit::{self, Change},
    checkout::orders::{self, ApplyError},
    error::{Checked, DomainError, Outcome, UserError, UserErrorCode as Code},
    events::{self, DomainEvent},
    order_state::OrderEvent,
    tx::{Attempt, retrying},
};

fn refused<T>(field: &str, code: Code, message: impl Into<String>) -> Checked<T> {
    Err(vec![UserError::new(&[field], code, message)])
}

fn snapshot(f: &fulfillment::Model) -> serde_json::Value {
    json!({
        "orderId": f.order_id,
        "status": f.status,
        "carrier": f.carrier,
        "trackingNumber": f.tracking_number,
        "trackingUrl": f.tracking_url,
    })
}

impl FulfillmentService {
    /// Replaces a fulfilment's tracking. Refused for a cancelled one.
    pub async fn update_tracking(
        &self,
        caller: &Caller,
        id: i64,
        tracking: &Tracking,
        notify_customer: bool,
    ) -> Outcome<fulfillment::Model> {
        retrying(|attempt| {
            self.update_tracking_once(attempt, caller, id, tracking, notify_customer)
        })
        .await
    }

    async fn update_tracking_once(
        &self,
        attempt: Attempt,
        caller: &Caller,
        id: i64,
        tracking: &Tracking,
        notify_customer: bool,
    ) -> Outcome<fulfillment::Model> {
        let tx = attempt.begin(&self.db).await?;
        let mut head = audit::lock(&tx).await?;
        let Some(before) = fulfillment::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&*tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(refused("id", Code::NotFound, "no such fulfillment"));
        };
        if before.status == "cancelled" {
            tx.rollback().await?;
            return Ok(refused(
                "id",
                Code::FulfillmentCancelled,
                "the fulfillment was cancelled",
            ));
        }
        let t = tracking.cleaned().unwrap_or_default();
        let now = self.clock.now().trunc_subsecs(6);
        fulfillment::Entity::update_many()
            .col_expr(fulfillment::Column::Carrier, Expr::value(t.carrier.clone()))
            .col_expr(
                fulfillment::Column::TrackingNumber,
                Expr::value(t.number.clone()),
            )
            .col_expr(fulfillment::Column::TrackingUrl, Expr::value(t.url.clone()))
            .col_expr(fulfillment::Column::UpdatedAt, Expr::value(now))
            .filter(fulfillment::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        let after = fulfillment::Entity::find_by_id(id)
            .one(&*tx)
            .await?
            .ok_or_else(|| DomainError::Inconsistent("fulfillment vanished".into()))?;
        let order = orders::get(&*tx, after.order_id)
            .await?
            .ok_or_else(|| DomainError::Inconsistent("order vanished".into()))?;
        note(
            &*tx,
            order.id,
            "tracking_updated",
            format!("Tracking of fulfillment {id} is now {}", t.describe()),
            json!({ "fulfillmentId": id, "tracking": t, "notifyCustomer": notify_customer }),
            &caller.reference,
            now,
        )
        .await?;
        events::record(
            &*tx,
            vec![DomainEvent::FulfillmentUpdated {
                order_id: order.id,
                customer_id: order.customer_id,
                fulfillment_id: id,
                shipment_status: after.status.clone(),
                notify_customer,
            }],
        )
        .await?;
        audit::append(
            &tx,
            &mut head,
            &caller.actor,
            vec![Change {
                action: "fulfillment.tracking_update",
                entity_type: "fulfillment",
                entity_id: id.to_string(),
                before: Some(snapshot(&before)),
                after: Some(snapshot(&after)),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(after))
    }

    /// Cancels a fulfilment that was not delivered: its units go back on
    /// hand at its location (held for the order again), its lines are
    /// unfulfilled, the order moves back.
    pub async fn cancel(&self, caller: &Caller, id: i64) -> Outcome<fulfillment::Model> {
        retrying(|attempt| self.cancel_once(attempt, caller, id)).await
    }

    async fn cancel_once(
        &self,
        attempt: Attempt,
        caller: &Caller,
        id: i64,
    ) -> Outcome<fulfillment::Model> {
        let tx = attempt.begin(&self.db).await?;
        let mut head = audit::lock(&tx).await?;
        let Some(before) = fulfillment::Entity::find_by_id(id).one(&*tx).await? else {
            tx.rollback().await?;
            return Ok(refused("id", Code::NotFound, "no such fulfillment"));
        };
        let Some(order) = shop_order::Entity::find_by_id(before.order_id)
            .lock_exclusive()
            .one(&*tx)
            .await?
        else {
            return Err(DomainError::Inconsistent("order vanished".into()));
        };
        // Read again under the order's lock.
        let before = fulfillment::Entity::find_by_id(id)
            .one(&*tx)
            .await?
            .ok_or_else(|| DomainError::Inconsistent("fulfillment vanished".into()))?;
        let refusal = match before.status.as_str() {
            "cancelled" => Some((
                Code::FulfillmentCancelled,
                "the fulfillment is already cancelled",
            )),
            "delivered" => Some((
                Code::FulfillmentDelivered,
                "the fulfillment was delivered; take the units back with a return",
            )),
            _ => None,
        };
        if let Some((code, message)) = refusal {
            tx.rollback().await?;
            return Ok(refused("id", code, message));
        }
        let lines: Vec<fulfillment_line::Model> = lines_of(&*tx, &[id]).await?;
        let units: i32 = lines.iter().map(|l| l.quantity).sum();
        let quantity =
            u32::try_from(units).map_err(|_| DomainError::Inconsistent("units".into()))?;
        let order = match orders::apply(
            &*tx,
            &order,
            &[OrderEvent::FulfillmentCancelled { quantity }],
            &caller.reference,
        )
        .await?
        {
            Ok((row, _)) => row,
            Err(ApplyError::Refused(e)) => {
                tx.rollback().await?;
                return Ok(refused("id", Code::OrderNotOpen, e.to_string()));
            }
            Err(ApplyError::Conflict) => {
                return Err(DomainError::Inconsistent(
                    "the order changed under its row lock".into(),
                ));
            }
        };
        let now = self.clock.now().trunc_subsecs(6);
        let order_lines = order_line::Entity::find()
            .filter(order_line::Column::Id.is_in(lines.iter().map(|l| l.order_line_id)))
            .all(&*tx)
            .await?;
        let mut per_variant: Vec<(i64, i32)> = Vec::new();
        for fl in &lines {
            order_line::Entity::update_many()
                .col_expr(
                    order_line::Column::QuantityFulfilled,
                    Expr::col(order_line::Column::QuantityFulfilled).sub(fl.quantity),
                )
                .filter(order_line::Column::Id.eq(fl.order_line_id))
                .exec(&*tx)
                .await?;
            if let Some(v) = order_lines
                .iter()
                .find(|l| l.id == fl.order_line_id)
                .and_then(|l| l.variant_id)
            {
                match per_variant.iter_mut().find(|(id, _)| *id == v) {
                    Some((_, n)) => *n += fl.quantity,
                    None => per_variant.push((v, fl.quantity)),
                }
            }
        }
        per_variant.sort_unstable();
        let reference = format!("{}/fulfillment:{id}", orders::number(order.id));
        let why = Why {
            reason: "fulfillment_cancelled",
            reference: &reference,
            actor_label: &caller.actor.label,
            at: now,
        };
        let mut moved = Vec::new();
        for (variant_id, units) in per_variant {
            let tracked = variant::Entity::find_by_id(variant_id)
                .one(&*tx)
                .await?
                .is_some_and(|v| v.track_inventory);
            let level = stock_level::Entity::find()
                .filter(stock_level::Column::VariantId.eq(variant_id))
                .filter(stock_level::Column::LocationId.eq(before.location_id))
                .one(&*tx)
                .await?;
            // A variant whose stock was never tracked shipped no stock.
            if let (true, Some(level)) = (tracked, level) {
                stock::put_back(&*tx, order.id, &level, units, &why, &mut moved).await?;
            }
        }
        fulfillment::Entity::update_many()
            .col_expr(fulfillment::Column::Status, Expr::value("cancelled"))
            .col_expr(fulfillment::Column::CancelledAt, Expr::value(Some(now)))
            .col_expr(fulfillment::Column::UpdatedAt, Expr::value(now))
            .filter(fulfillment::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        let after = fulfillment::Entity::find_by_id(id)
            .one(&*tx)
            .await?
            .ok_or_else(|| DomainError::Inconsistent("fulfillment vanished".into()))?;
        note(
            &*tx,
            order.id,
            "fulfillment_cancelled",
            format!("Fulfillment {id} was cancelled; {units} item(s) back in stock"),
            json!({ "fulfillmentId": id, "locationId": before.location_id, "units": units }),
            &caller.reference,
            now,
        )
        .await?;
        let mut events_out: Vec<DomainEvent> = Vec::new();
        let mut movements: Vec<inventory_movement::ActiveModel> = Vec::new();
        for m in moved {
            movements.push(m.movement);
            events_out.push(m.event);
        }
        if !movements.is_empty() {
            inventory_movement::Entity::insert_many(movements)
                .exec_without_returning(&*tx)
                .await?;
        }
        events_out.push(DomainEvent::FulfillmentUpdated {
            order_id: order.id,
            customer_id: order.customer_id,
            fulfillment_id: id,
            shipment_status: "cancelled".into(),
            // No mail is sent for a cancelled shipment.
            notify_customer: false,
        });
        events::record(&*tx, events_out).await?;
        audit::append(
            &tx,
            &mut head,
            &caller.actor,
            vec![Change {
                action: "fulfillment.cancel",
                entity_type: "fulfillment",
                entity_id: id.to_string(),
                before: Some(snapshot(&before)),
                after: Some(snapshot(&after)),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(after))
    }
}
