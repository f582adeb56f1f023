//! Orders: placing one from a priced cart, moving it through the order
//! state machine (every move recorded with actor and time, compare-and-set
//! on `lock_version`), and reading them for their owner and staff.

use chrono::{DateTime, SubsecRound, Utc};
use entity::{order_line, order_transition, shop_order};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use tracing::Span;

use super::quote::Quote;
use crate::domain::identity::{access::Principal, permission::Permission};
use crate::domain::{
    error::{DomainError, DomainResult},
    events::{self, DomainEvent},
    order_state::{self, OrderEvent, OrderState, Status, Transition, TransitionError},
};

/// Offset of the human order number: order 1 is `#1001`.
pub const NUMBER_OFFSET: i64 = 1000;

/// The human order number of order `id` (`#1001` ...).
pub fn number(id: i64) -> String {
    format!("#{}", id + NUMBER_OFFSET)
}

/// The order id a human number (`#1001` or `1001`) stands for.
pub fn id_of_number(number: &str) -> Option<i64> {
    number
        .trim()
        .trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .map(|n| n - NUMBER_OFFSET)
        .filter(|id| *id > 0)
}

/// The state machine value of a stored order.
pub fn state_of(row: &shop_order::Model) -> DomainResult<OrderState> {
    let bad = |what: &str| DomainError::Inconsistent(format!("order {}: {what}", row.id));
    let parts = order_state::Parts {
        total: row.total_minor,
        authorized: row.authorized_minor,
        captured: row.captured_minor,
        refunded: row.refunded_minor,
        ordered: u32::try_from(row.ordered_quantity).map_err(|_| bad("ordered"))?,
        fulfilled: u32::try_from(row.fulfilled_quantity).map_err(|_| bad("fulfilled"))?,
        returned: u32::try_from(row.returned_quantity).map_err(|_| bad("returned"))?,
        closure: row
            .closure
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|_| bad("closure"))?,
        payment_mark: row
            .payment_mark
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|_| bad("payment mark"))?,
    };
    OrderState::from_parts(parts).map_err(|e| bad(&e.to_string()))
}

/// Writes `state` into an order's columns.
fn set_state(row: &mut shop_order::ActiveModel, state: &OrderState) {
    let p = state.parts();
    let s = state.status();
    row.authorized_minor = Set(p.authorized);
    row.captured_minor = Set(p.captured);
    row.refunded_minor = Set(p.refunded);
    row.ordered_quantity = Set(i32::try_from(p.ordered).unwrap_or(i32::MAX));
    row.fulfilled_quantity = Set(i32::try_from(p.fulfilled).unwrap_or(i32::MAX));
    row.returned_quantity = Set(i32::try_from(p.returned).unwrap_or(i32::MAX));
    row.closure = Set(p.closure.map(|c| c.as_str().to_owned()));
    row.payment_mark = Set(p.payment_mark.map(|m| m.as_str().to_owned()));
    row.status = Set(status_str(s.order).to_owned());
    row.payment_status = Set(status_str(s.payment).to_owned());
    row.fulfillment_status = Set(status_str(s.fulfillment).to_owned());
}

/// The stored (snake_case) form of a status enum.
fn status_str<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The statuses as `order/payment/fulfillment`.
fn status_line(s: Status) -> String {
    format!(
        "{}/{}/{}",
        status_str(s.order),
        status_str(s.payment),
        status_str(s.fulfillment)
    )
}

/// Everything an order is created from besides the quote.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The cart it comes from.
    pub cart_id: i64,
    /// The signed-in customer.
    pub customer_id: Option<i64>,
    /// Buyer email.
    pub email: String,
    /// Shipping address JSON.
    pub shipping_address: Option<String>,
    /// Billing address JSON.
    pub billing_address: Option<String>,
    /// Who places it (`customer:7`, `guest`).
    pub actor: String,
    /// When it is cancelled unless paid (placed awaiting payment).
    pub payment_due_at: Option<DateTime<Utc>>,
    /// Digest of the client's network.
    pub client_address: Option<String>,
}

/// Inserts the order and its lines for `quote` in the caller's transaction,
/// in its initial state (nothing paid), and records the creation.
pub async fn insert(
    tx: &impl ConnectionTrait,
    quote: &Quote,
    placement: &Placement,
) -> DomainResult<(shop_order::Model, OrderState)> {
    let now = Utc::now().trunc_subsecs(6);
    let ordered: i64 = quote.lines.iter().map(|l| i64::from(l.line.quantity)).sum();
    let state = OrderState::new(
        quote.totals.total,
        u32::try_from(ordered).map_err(|_| DomainError::Inconsistent("quantity".into()))?,
    )
    .map_err(|e| DomainError::Inconsistent(format!("cannot open an order: {e}")))?;
    let mut row = shop_order::ActiveModel {
        channel_id: Set(quote.channel.id),
        customer_id: Set(placement.customer_id),
        cart_id: Set(Some(placement.cart_id)),
        email: Set(placement.email.clone()),
        currency_code: Set(quote.channel.currency.code().to_owned()),
        prices_include_tax: Set(quote.channel.prices_include_tax),
        shipping_address: Set(placement.shipping_address.clone()),
        billing_address: Set(placement.billing_address.clone()),
        shipping_method_code: Set(quote.shipping.as_ref().map(|s| s.method.code.clone())),
        shipping_method_name: Set(quote.shipping.as_ref().map(|s| s.method.name.clone())),
        discounts: Set(serde_json::to_string(&quote.promotions).unwrap_or_else(|_| "[]".into())),
        subtotal_minor: Set(quote.totals.subtotal),
        discounts_minor: Set(quote.totals.discounts),
        shipping_minor: Set(quote.totals.shipping),
        tax_minor: Set(quote.totals.tax),
        total_minor: Set(quote.totals.total),
        gift_card_minor: Set(quote.gift_cards.iter().map(|g| g.amount).sum()),
        store_credit_minor: Set(quote.store_credit.map_or(0, |(_, a)| a)),
        amount_due_minor: Set(quote.amount_due),
        lock_version: Set(0),
        payment_due_at: Set(placement.payment_due_at),
        client_address: Set(placement.client_address.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    set_state(&mut row, &state);
    let id = shop_order::Entity::insert(row)
        .exec(tx)
        .await?
        .last_insert_id;
    Span::current().record("order_id", id);
    let lines: Vec<order_line::ActiveModel> = quote
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| order_line::ActiveModel {
            order_id: Set(id),
            variant_id: Set(Some(l.line.variant_id)),
            product_id: Set(l.product.as_ref().map(|p| p.id)),
            sku: Set(l
                .variant
                .as_ref()
                .map(|v| v.sku.clone())
                .unwrap_or_default()),
            product_title: Set(l
                .product
                .as_ref()
                .map(|p| p.title.clone())
                .unwrap_or_default()),
            variant_title: Set(l
                .variant
                .as_ref()
                .map(|v| v.title.clone())
                .unwrap_or_default()),
            quantity: Set(l.line.quantity),
            unit_price_minor: Set(l.unit_price.unwrap_or(0)),
            subtotal_minor: Set(l.totals.subtotal),
            discount_minor: Set(l.totals.discount),
            tax_minor: Set(l.totals.tax),
            total_minor: Set(l.totals.total),
            tax_class: Set(l
                .variant
                .as_ref()
                .map(|v| v.tax_class.clone())
                .unwrap_or_default()),
            tax_rate_ppm: Set(ppm_of(l.tax_rate)),
            discount_allocations: Set(
                serde_json::to_string(&l.allocations).unwrap_or_else(|_| "[]".into())
            ),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            ..Default::default()
        })
        .collect();
    order_line::Entity::insert_many(lines)
        .exec_without_returning(tx)
        .await?;
    let row = get(tx, id)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("order vanished".into()))?;
    record(
        tx,
        id,
        "created",
        &serde_json::json!({"type": "created"}),
        state.status(),
        state.status(),
        &placement.actor,
        now,
    )
    .await?;
    Ok((row, state))
}

fn ppm_of(rate: rust_decimal::Decimal) -> i64 {
    use rust_decimal::prelude::ToPrimitive;
    (rate * rust_decimal::Decimal::from(1_000_000))
        .round()
        .to_i64()
        .unwrap_or(0)
}

#[allow(clippy::too_many_arguments)]
async fn record(
    tx: &impl ConnectionTrait,
    order_id: i64,
    event: &str,
    detail: &serde_json::Value,
    from: Status,
    to: Status,
    actor: &str,
    at: DateTime<Utc>,
) -> DomainResult<()> {
    order_transition::Entity::insert(order_transition::ActiveModel {
        order_id: Set(order_id),
        event: Set(event.to_owned()),
        detail: Set(detail.to_string()),
        from_status: Set(status_line(from)),
        to_status: Set(status_line(to)),
        actor: Set(actor.to_owned()),
        created_at: Set(at),
        ..Default::default()
    })
    .exec_without_returning(tx)
    .await?;
    Ok(())
}

/// Why an event could not be applied to a stored order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The state machine refused it.
    #[error(transparent)]
    Refused(#[from] TransitionError),
    /// Another writer changed the order first; read it again and retry.
    #[error("the order changed meanwhile")]
    Conflict,
}

/// Applies `events` in order to a stored order in the caller's transaction:
/// records each transition, saves the new state (only if nobody changed the
/// order since `row` was read), and raises the order's domain event.
pub async fn apply(
    tx: &impl ConnectionTrait,
    row: &shop_order::Model,
    events: &[OrderEvent],
    actor: &str,
) -> DomainResult<Result<(shop_order::Model, Vec<Transition>), ApplyError>> {
    let mut state = state_of(row)?;
    let before = state.status();
    let now = Utc::now().trunc_subsecs(6);
    let mut transitions = Vec::new();
    for event in events {
        let (next, transition) = match state.apply(event.clone(), actor, now) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e.into())),
        };
        state = next;
        transitions.push(transition);
    }
    let mut active: shop_order::ActiveModel = row.clone().into();
    set_state(&mut active, &state);
    active.lock_version = Set(row.lock_version + 1);
    active.updated_at = Set(now);
    let updated = shop_order::Entity::update_many()
        .set(active)
        .filter(shop_order::Column::Id.eq(row.id))
        .filter(shop_order::Column::LockVersion.eq(row.lock_version))
        .exec(tx)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(Err(ApplyError::Conflict));
    }
    for t in &transitions {
        let detail = serde_json::to_value(&t.event).unwrap_or_default();
        let kind = status_str(t.event.kind());
        record(tx, row.id, &kind, &detail, t.from, t.to, actor, now).await?;
    }
    let after = state.status();
    let row = get(tx, row.id)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("order vanished".into()))?;
    if after != before {
        let event = if after.payment == order_state::PaymentStatus::Paid
            && before.payment != order_state::PaymentStatus::Paid
        {
            DomainEvent::OrderPaid {
                order_id: row.id,
                customer_id: row.customer_id,
                status: after,
            }
        } else {
            DomainEvent::OrderUpdated {
                order_id: row.id,
                customer_id: row.customer_id,
                status: after,
            }
        };
        events::record(tx, vec![event]).await?;
    }
    Ok(Ok((row, transitions)))
}

/// The order with this id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> DomainResult<Option<shop_order::Model>> {
    Ok(shop_order::Entity::find_by_id(id).one(db).await?)
}

/// Whether `principal` may see `order`: its owner, or anyone with
/// `orders:read` (the rule the order queries apply in their statements).
pub fn visible_to(order: &shop_order::Model, principal: &Principal) -> bool {
    principal.can(Permission::OrdersRead)
        || principal
            .customer_id()
            .is_some_and(|c| order.customer_id == Some(c))
}

/// The orders with these ids (for the live order feed: one statement
/// whatever the number of subscribers).
pub async fn get_many(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> DomainResult<Vec<shop_order::Model>> {
    Ok(shop_order::Entity::find()
        .filter(shop_order::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

/// The order with this id if `customer_id` owns it.
pub async fn get_for_customer(
    db: &impl ConnectionTrait,
    id: i64,
    customer_id: i64,
) -> DomainResult<Option<shop_order::Model>> {
    Ok(shop_order::Entity::find_by_id(id)
        .filter(shop_order::Column::CustomerId.eq(customer_id))
        .one(db)
        .await?)
}

/// Lines of an order, in order.
pub async fn lines(
    db: &impl ConnectionTrait,
    order_id: i64,
) -> DomainResult<Vec<order_line::Model>> {
    Ok(order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .order_by_asc(order_line::Column::Position)
        .all(db)
        .await?)
}

/// Lines of several orders.
pub async fn lines_of(
    db: &impl ConnectionTrait,
    order_ids: &[i64],
) -> DomainResult<Vec<order_line::Model>> {
    Ok(order_line::Entity::find()
        .filter(order_line::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(order_line::Column::OrderId)
        .order_by_asc(order_line::Column::Position)
        .all(db)
        .await?)
}

/// The recorded transitions of an order, oldest first.
pub async fn transitions(
    db: &impl ConnectionTrait,
    order_id: i64,
) -> DomainResult<Vec<order_transition::Model>> {
    Ok(order_transition::Entity::find()
        .filter(order_transition::Column::OrderId.eq(order_id))
        .order_by_asc(order_transition::Column::Id)
        .all(db)
        .await?)
}

/// Payments of several orders, oldest first.
pub async fn payments_of(
    db: &impl ConnectionTrait,
    order_ids: &[i64],
) -> DomainResult<Vec<entity::payment::Model>> {
    use entity::payment;
    Ok(payment::Entity::find()
        .filter(payment::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(payment::Column::Id)
        .all(db)
        .await?)
}

/// Transitions of several orders, oldest first.
pub async fn transitions_of(
    db: &impl ConnectionTrait,
    order_ids: &[i64],
) -> DomainResult<Vec<order_transition::Model>> {
    Ok(order_transition::Entity::find()
        .filter(order_transition::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(order_transition::Column::Id)
        .all(db)
        .await?)
}

/// One page of orders, newest first: a customer's (`Some`) or everyone's.
pub async fn list(
    db: &impl ConnectionTrait,
    customer_id: Option<i64>,
    offset: u64,
    limit: u64,
) -> DomainResult<Vec<shop_order::Model>> {
    let mut q = shop_order::Entity::find();
    if let Some(c) = customer_id {
        q = q.filter(shop_order::Column::CustomerId.eq(c));
    }
    Ok(q.order_by_desc(shop_order::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?)
}

/// How many orders a customer has (`None`: all orders).
pub async fn count(db: &impl ConnectionTrait, customer_id: Option<i64>) -> DomainResult<u64> {
    let mut q = shop_order::Entity::find();
    if let Some(c) = customer_id {
        q = q.filter(shop_order::Column::CustomerId.eq(c));
    }
    Ok(q.count(db).await?)
}

/// Raises `order.created` for a new order (in the placing transaction).
pub async fn record_created(
    tx: &impl ConnectionTrait,
    row: &shop_order::Model,
    status: Status,
) -> DomainResult<()> {
    events::record(
        tx,
        vec![DomainEvent::OrderCreated {
            order_id: row.id,
            customer_id: row.customer_id,
            total_minor: row.total_minor,
            currency: row.currency_code.clone(),
            status,
        }],
    )
    .await
}
