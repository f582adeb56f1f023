//! Paying a claimed refund out and settling it: the gateway calls, then
//! the ledgers, lines, stock, state machine, timeline and audit in one
//! transaction.

use chrono::{DateTime, Utc};
use entity::{
    fulfillment, fulfillment_line, gift_card, gift_card_entry, inventory_movement, order_line,
    payment, payment_transaction, refund, refund_line, refund_tender, reservation, shop_order,
    stock_level,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait},
};

use super::Tender;
use crate::domain::{
    checkout::{orders, setup, stock},
    error::{DomainError, DomainResult},
    events::{self, DomainEvent},
    order_state::OrderEvent,
    orders::{Env, currency_of, shown, timeline},
    payments::RefundStatus,
};

/// What the gateway said about each tender of a refund still to pay:
/// the gateway's refund id (`None` for tenders in the shop's own ledgers),
/// or why it failed.
pub(in crate::domain::orders) type Payouts = Vec<(i64, Result<Option<String>, String>)>;

/// Asks the gateways to pay back the card tenders of `refund_id` not yet
/// paid. Each tender's key derives from its row id, so a retry is the same
/// refund at the gateway.
pub(in crate::domain::orders) async fn pay_out(
    env: &Env<'_>,
    refund_id: i64,
) -> DomainResult<Payouts> {
    let Some(r) = refund::Entity::find_by_id(refund_id).one(env.db).await? else {
        return Err(DomainError::Inconsistent("refund vanished".into()));
    };
    let currency = r
        .currency_code
        .parse()
        .map_err(|_| DomainError::Inconsistent("refund currency".into()))?;
    let tenders = refund_tender::Entity::find()
        .filter(refund_tender::Column::RefundId.eq(refund_id))
        .order_by_asc(refund_tender::Column::Id)
        .all(env.db)
        .await?;
    let mut out = Vec::new();
    for t in tenders.iter().filter(|t| t.status != "succeeded") {
        let Some(Tender::Card { payment_id }) = Tender::of(t) else {
            out.push((t.id, Ok(None)));
            continue;
        };
        let Some(p) = payment::Entity::find_by_id(payment_id).one(env.db).await? else {
            out.push((t.id, Err("the payment is gone".to_owned())));
            continue;
        };
        let Some(gateway) = env.gateways.get(&p.gateway) else {
            out.push((
                t.id,
                Err(format!("the gateway `{}` is not enabled", p.gateway)),
            ));
            continue;
        };
        let key = env.keys.order_key("refund", r.order_id, &t.id.to_string());
        let outcome = match gateway
            .refund(&p.reference, t.amount_minor, currency, &key)
            .await
        {
            Ok(done) if done.status == RefundStatus::Failed => {
                Err("the gateway failed the refund".to_owned())
            }
            Ok(done) => Ok(Some(done.id)),
            Err(e) => {
                tracing::warn!(refund_id, gateway = gateway.code(), error = %e, "refund failed");
                Err(e.to_string())
            }
        };
        out.push((t.id, outcome));
    }
    Ok(out)
}

/// How a settled refund ended.
pub(in crate::domain::orders) enum Settled {
    /// Paid back: the state machine events to apply with it.
    Succeeded(Vec<OrderEvent>),
    /// A tender failed; the refund is `failed`.
    Failed(String),
}

/// Records `payouts` of refund `refund_id` in `tx` (which locked the
/// order): the ledgers, lines and stock on success, the failure otherwise.
/// The caller applies the returned events to the order.
pub(in crate::domain::orders) async fn settle_in(
    tx: &impl ConnectionTrait,
    order: &shop_order::Model,
    refund_id: i64,
    payouts: &Payouts,
    actor: &str,
    now: DateTime<Utc>,
) -> DomainResult<Settled> {
    let tenders = refund_tender::Entity::find()
        .filter(refund_tender::Column::RefundId.eq(refund_id))
        .all(tx)
        .await?;
    let failure = payouts.iter().find_map(|(_, o)| o.as_ref().err().cloned());
    // Card tenders the gateway paid are paid, whatever else happened.
    for (id, outcome) in payouts {
        let Some(t) = tenders.iter().find(|t| t.id == *id) else {
            continue;
        };
        let card = matches!(Tender::of(t), Some(Tender::Card { .. }));
        match outcome {
            Ok(reference) if card => {
                mark_tender(tx, t.id, "succeeded", reference.clone(), None, now).await?;
                if let Some(payment_id) = t.payment_id {
                    payment_transaction::Entity::insert(payment_transaction::ActiveModel {
                        payment_id: Set(payment_id),
                        kind: Set("refund".into()),
                        amount_minor: Set(t.amount_minor),
                        gateway_event_id: Set(None),
                        detail: Set(Some(format!("refund {refund_id}"))),
                        created_at: Set(now),
                        ..Default::default()
                    })
                    .exec_without_returning(tx)
                    .await?;
                }
            }
            Err(e) => {
                mark_tender(tx, t.id, "failed", None, Some(e.clone()), now).await?;
            }
            Ok(_) => {}
        }
    }
    if let Some(error) = failure {
        refund::Entity::update_many()
            .col_expr(refund::Column::Status, Expr::value("failed"))
            .col_expr(refund::Column::LastError, Expr::value(error.clone()))
            .col_expr(refund::Column::UpdatedAt, Expr::value(now))
            .filter(refund::Column::Id.eq(refund_id))
            .exec(tx)
            .await?;
        return Ok(Settled::Failed(error));
    }
    // The shop's own ledgers.
    for t in tenders.iter().filter(|t| t.status != "succeeded") {
        match Tender::of(t) {
            Some(Tender::GiftCard { gift_card_id }) => {
                gift_card::Entity::update_many()
                    .col_expr(
                        gift_card::Column::BalanceMinor,
                        Expr::col(gift_card::Column::BalanceMinor).add(t.amount_minor),
                    )
                    .filter(gift_card::Column::Id.eq(gift_card_id))
                    .exec(tx)
                    .await?;
                gift_card_entry::Entity::insert(gift_card_entry::ActiveModel {
                    gift_card_id: Set(gift_card_id),
                    amount_minor: Set(t.amount_minor),
                    order_id: Set(Some(order.id)),
                    reason: Set("refund".into()),
                    created_at: Set(now),
                    ..Default::default()
                })
                .exec_without_returning(tx)
                .await?;
                mark_tender(tx, t.id, "succeeded", None, None, now).await?;
            }
            Some(Tender::StoreCredit { account_id }) => {
                if !setup::store_credit_move(
                    tx,
                    account_id,
                    t.amount_minor,
                    Some(order.id),
                    "refund",
                )
                .await?
                {
                    return Err(DomainError::Inconsistent(
                        "store credit refused a refund".into(),
                    ));
                }
                mark_tender(tx, t.id, "succeeded", None, None, now).await?;
            }
            // Nothing to pay: the released part is simply not captured.
            Some(Tender::Authorization { .. }) => {
                mark_tender(tx, t.id, "succeeded", None, None, now).await?;
            }
            _ => {}
        }
    }
    // Lines and stock.
    let r = refund::Entity::find_by_id(refund_id)
        .one(tx)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("refund vanished".into()))?;
    let lines = orders::lines(tx, order.id).await?;
    let mut cancelled = 0_u32;
    for rl in refund_line::Entity::find()
        .filter(refund_line::Column::RefundId.eq(refund_id))
        .all(tx)
        .await?
    {
        let Some(line) = lines.iter().find(|l| l.id == rl.order_line_id) else {
            continue;
        };
        let mut cancel_units = 0;
        if rl.restock {
            let unshipped = Ord::max(
                line.quantity - line.quantity_fulfilled - line.quantity_cancelled,
                0,
            );
            cancel_units = Ord::min(rl.quantity, unshipped);
            let shipped_units = rl.quantity - cancel_units;
            if cancel_units > 0 {
                release_units(tx, order.id, line, cancel_units).await?;
            }
            if shipped_units > 0 {
                restock(
                    tx,
                    line,
                    shipped_units,
                    &format!("refund {refund_id}"),
                    actor,
                    now,
                )
                .await?;
            }
        }
        order_line::Entity::update_many()
            .col_expr(
                order_line::Column::QuantityRefunded,
                Expr::col(order_line::Column::QuantityRefunded).add(rl.quantity),
            )
            .col_expr(
                order_line::Column::QuantityCancelled,
                Expr::col(order_line::Column::QuantityCancelled).add(cancel_units),
            )
            .filter(order_line::Column::Id.eq(line.id))
            .exec(tx)
            .await?;
        cancelled += u32::try_from(cancel_units).unwrap_or(0);
    }
    refund::Entity::update_many()
        .col_expr(refund::Column::Status, Expr::value("succeeded"))
        .col_expr(
            refund::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(refund::Column::UpdatedAt, Expr::value(now))
        .filter(refund::Column::Id.eq(refund_id))
        .exec(tx)
        .await?;
    let mut events = Vec::new();
    if cancelled > 0 {
        events.push(OrderEvent::LinesCancelled {
            quantity: cancelled,
        });
    }
    if r.amount_minor > 0 {
        events.push(OrderEvent::Refunded {
            amount: r.amount_minor,
        });
    }
    Ok(Settled::Succeeded(events))
}

async fn mark_tender(
    tx: &impl ConnectionTrait,
    id: i64,
    status: &str,
    reference: Option<String>,
    error: Option<String>,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let mut q = refund_tender::Entity::update_many()
        .col_expr(refund_tender::Column::Status, Expr::value(status))
        .col_expr(
            refund_tender::Column::Attempts,
            Expr::col(refund_tender::Column::Attempts).add(1),
        )
        .col_expr(refund_tender::Column::LastError, Expr::value(error))
        .col_expr(refund_tender::Column::UpdatedAt, Expr::value(now));
    if reference.is_some() {
        q = q.col_expr(refund_tender::Column::Reference, Expr::value(reference));
    }
    q.filter(refund_tender::Column::Id.eq(id)).exec(tx).await?;
    Ok(())
}

/// Releases `units` of the order's holds on `line`'s variant.
pub(in crate::domain::orders) async fn release_units(
    tx: &impl ConnectionTrait,
    order_id: i64,
    line: &order_line::Model,
    units: i32,
) -> DomainResult<()> {
    let Some(variant_id) = line.variant_id else {
        return Ok(());
    };
    let rows = reservation::Entity::find()
        .filter(reservation::Column::OrderId.eq(order_id))
        .filter(reservation::Column::VariantId.eq(variant_id))
        .order_by_desc(reservation::Column::Id)
        .all(tx)
        .await?;
    let mut left = units;
    let mut whole = Vec::new();
    for r in rows {
        if left == 0 {
            break;
        }
        if r.quantity <= left {
            left -= r.quantity;
            whole.push(r);
        } else {
            // Part of a hold: lower it and the level's reserved count.
            reservation::Entity::update_many()
                .col_expr(
                    reservation::Column::Quantity,
                    Expr::col(reservation::Column::Quantity).sub(left),
                )
                .filter(reservation::Column::Id.eq(r.id))
                .exec(tx)
                .await?;
            stock_level::Entity::update_many()
                .col_expr(
                    stock_level::Column::Reserved,
                    Expr::col(stock_level::Column::Reserved).sub(left),
                )
                .filter(stock_level::Column::Id.eq(r.stock_level_id))
                .exec(tx)
                .await?;
            stock_changed(tx, r.stock_level_id, 0, "released").await?;
            left = 0;
        }
    }
    stock::release(tx, &whole).await?;
    Ok(())
}

/// Raises `stock.changed` for a level whose on-hand moved by `delta`.
pub(in crate::domain::orders) async fn stock_changed(
    tx: &impl ConnectionTrait,
    level_id: i64,
    delta: i32,
    reason: &str,
) -> DomainResult<()> {
    if let Some(l) = stock_level::Entity::find_by_id(level_id).one(tx).await? {
        events::record(
            tx,
            vec![DomainEvent::StockChanged {
                variant_id: l.variant_id,
                location_id: l.location_id,
                on_hand_before: l.on_hand - delta,
                on_hand: l.on_hand,
                reserved: l.reserved,
                reason: reason.to_owned(),
            }],
        )
        .await?;
    }
    Ok(())
}

/// Puts `units` of a shipped line back on hand where they shipped from
/// (the latest fulfilment of the line that is not cancelled; else the
/// variant's first stock location), with a `restock` movement.
pub(in crate::domain::orders) async fn restock(
    tx: &impl ConnectionTrait,
    line: &order_line::Model,
    units: i32,
    reference: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let Some(variant_id) = line.variant_id else {
        return Ok(());
    };
    let shipped: Vec<i64> = fulfillment_line::Entity::find()
        .filter(fulfillment_line::Column::OrderLineId.eq(line.id))
        .all(tx)
        .await?
        .into_iter()
        .map(|f| f.fulfillment_id)
        .collect();
    let from = if shipped.is_empty() {
        None
    } else {
        fulfillment::Entity::find()
            .filter(fulfillment::Column::Id.is_in(shipped))
            .filter(fulfillment::Column::Status.ne("cancelled"))
            .order_by_desc(fulfillment::Column::Id)
            .one(tx)
            .await?
            .map(|f| f.location_id)
    };
    let levels = stock_level::Entity::find()
        .filter(stock_level::Column::VariantId.eq(variant_id))
        .order_by_asc(stock_level::Column::Id)
        .all(tx)
        .await?;
    let level = match from {
        Some(location) => levels.iter().find(|l| l.location_id == location),
        None => levels.first(),
    };
    let level_id = match (level, from) {
        (Some(l), _) => l.id,
        (None, Some(location)) => {
            stock_level::Entity::insert(stock_level::ActiveModel {
                variant_id: Set(variant_id),
                location_id: Set(location),
                on_hand: Set(0),
                reserved: Set(0),
                source_at: Set(None),
                ..Default::default()
            })
            .exec(tx)
            .await?
            .last_insert_id
        }
        (None, None) => {
            tracing::warn!(
                line = line.id,
                "no stock location to restock a refunded line to"
            );
            return Ok(());
        }
    };
    stock_level::Entity::update_many()
        .col_expr(
            stock_level::Column::OnHand,
            Expr::col(stock_level::Column::OnHand).add(units),
        )
        .filter(stock_level::Column::Id.eq(level_id))
        .exec(tx)
        .await?;
    let Some(l) = stock_level::Entity::find_by_id(level_id).one(tx).await? else {
        return Err(DomainError::Inconsistent("stock level vanished".into()));
    };
    inventory_movement::Entity::insert(inventory_movement::ActiveModel {
        variant_id: Set(variant_id),
        location_id: Set(l.location_id),
        delta: Set(units),
        on_hand_after: Set(l.on_hand),
        reason: Set("restock".into()),
        reference: Set(Some(reference.to_owned())),
        actor_label: Set(actor.to_owned()),
        source_at: Set(None),
        at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(tx)
    .await?;
    stock_changed(tx, level_id, units, "restock").await
}

/// Applies a settled refund's events to the order and records the
/// outcome (timeline, `order.refunded`); answers the order after it.
#[allow(clippy::too_many_arguments)]
pub(in crate::domain::orders) async fn record_outcome(
    tx: &DatabaseTransaction,
    order: &shop_order::Model,
    refund_id: i64,
    settled: &Settled,
    extra: &[OrderEvent],
    actor: &str,
    notify: bool,
    now: DateTime<Utc>,
) -> DomainResult<shop_order::Model> {
    let currency = currency_of(order)?;
    let r = refund::Entity::find_by_id(refund_id)
        .one(tx)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("refund vanished".into()))?;
    match settled {
        Settled::Succeeded(events) => {
            let mut all = events.clone();
            all.extend_from_slice(extra);
            let after = if all.is_empty() {
                order.clone()
            } else {
                orders::apply(tx, order, &all, actor)
                    .await?
                    .map_err(|e| {
                        DomainError::Inconsistent(format!(
                            "order {} refused its refund: {e}",
                            order.id
                        ))
                    })?
                    .0
            };
            if r.amount_minor > 0 {
                timeline(
                    tx,
                    order.id,
                    "refunded",
                    format!("Refunded {}", shown(r.amount_minor, currency)),
                    serde_json::json!({
                        "refundId": refund_id,
                        "amountMinor": r.amount_minor,
                        "destination": r.destination,
                        "notifyCustomer": notify,
                    }),
                    actor,
                    now,
                )
                .await?;
                let status = orders::state_of(&after)?.status();
                events::record(
                    tx,
                    vec![DomainEvent::OrderRefunded {
                        order_id: order.id,
                        customer_id: order.customer_id,
                        refund_id,
                        amount_minor: r.amount_minor,
                        currency: order.currency_code.clone(),
                        status,
                        notify_customer: notify,
                    }],
                )
                .await?;
                metrics::counter!("emporium_refunds_total").increment(1);
            }
            Ok(after)
        }
        Settled::Failed(error) => {
            timeline(
                tx,
                order.id,
                "refund_failed",
                format!(
                    "Refund of {} failed; retry it",
                    shown(r.amount_minor, currency)
                ),
                serde_json::json!({"refundId": refund_id, "error": error}),
                actor,
                now,
            )
            .await?;
            metrics::counter!("emporium_refunds_failed_total").increment(1);
            Ok(order.clone())
        }
    }
}
