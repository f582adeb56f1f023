//! `orderCancel`: cancels what is left to ship of an order.
//!
//! - Nothing shipped yet: the whole order is cancelled. Its open
//!   authorization is voided at the gateway; what was captured (cards, gift
//!   cards, store credit) is refunded through the refund machinery
//!   ([`super::refund`], to the original tenders, shipping included); every
//!   hold of the order is released; the state machine closes it
//!   (`Cancelled`). Without `refund`, an order holding captured money is
//!   refused (`REFUND_REQUIRED`), as is one with a refund still failed.
//! - Partly shipped: only the unshipped units are cancelled
//!   (`quantity_cancelled`, the state machine's `LinesCancelled`, their
//!   holds released) and, with `refund`, their share refunded (at most what
//!   is refundable); the order stays open with what shipped. An open
//!   authorization stays for the shipped part.
//! - Everything shipped: refused (`ALREADY_FULFILLED`); already cancelled:
//!   refused (`ORDER_CANCELLED`).
//!
//! Released holds go back to available stock; with `restock: false` the
//! units are written off instead (on hand lowered, an inventory movement
//! `written_off`).
//!
//! Of concurrent cancellations exactly one runs: the first transaction
//! stamps `cancelled_at` under the order's lock, and the others find it.
//! If the gateway then fails, the stamp is taken back (and a refund that
//! failed stays `FAILED` for `refundRetry`), so the order is as before.

use entity::{
    inventory_movement, order_line, payment, payment_transaction, reservation, shop_order,
    stock_level,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use super::{
    Answer, Env, Operator, audited, lock_order, money_of, once, operation_id, order_not_found,
    refund::{self, Destination, LineRequest, Meta, RefundRequest, Settled, Shipping},
    timeline,
};
use crate::domain::{
    audit,
    checkout::{orders, stock},
    error::{DomainError, DomainResult, UserErrorCode},
    events::{self, DomainEvent},
    order_state::OrderEvent,
    tx::begin_write,
};

/// `orderCancel`'s input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// The order.
    pub order_id: i64,
    /// Why, as staff tell it.
    pub reason: String,
    /// Released units go back to available stock (else written off).
    pub restock: bool,
    /// Refund what was captured for the cancelled units.
    pub refund: bool,
    /// Whether the customer is told (kept on the timeline entry).
    pub notify_customer: bool,
}

/// Cancels per `req`, once per idempotency key.
pub async fn cancel(
    env: &Env<'_>,
    operator: &Operator,
    req: &CancelRequest,
    idempotency_key: Option<&str>,
) -> DomainResult<Answer> {
    let request = ("orderCancel", req);
    let operation = operation_id(operator, idempotency_key);
    once(env, operator, idempotency_key, &request, || {
        run(env, operator, req, &operation)
    })
    .await
}

async fn run(
    env: &Env<'_>,
    operator: &Operator,
    req: &CancelRequest,
    operation: &str,
) -> DomainResult<Answer> {
    let reason = req.reason.trim();
    if reason.is_empty() {
        return Ok(Answer::refused(
            &["reason"],
            UserErrorCode::Blank,
            "say why the order is cancelled",
        ));
    }
    let label = operator.scope.as_str();
    let now = env.now();

    // 1. Claim the cancellation (and its refund) under the order's lock.
    let tx = begin_write(env.db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(order) = lock_order(&tx, req.order_id).await? else {
        return Ok(order_not_found("id"));
    };
    if order.closure.as_deref() == Some("cancelled") || order.cancelled_at.is_some() {
        tx.rollback().await?;
        return Ok(Answer::refused(
            &["id"],
            UserErrorCode::OrderCancelled,
            "the order is already cancelled",
        ));
    }
    let lines = orders::lines(&tx, order.id).await?;
    let unshipped = |l: &order_line::Model| {
        Ord::max(l.quantity - l.quantity_fulfilled - l.quantity_cancelled, 0)
    };
    let left: i32 = lines.iter().map(unshipped).sum();
    if order.closure.as_deref() == Some("completed") || left == 0 {
        tx.rollback().await?;
        return Ok(Answer::refused(
            &["id"],
            UserErrorCode::AlreadyFulfilled,
            "every item of the order was fulfilled; refund it instead",
        ));
    }
    let whole = lines.iter().all(|l| l.quantity_fulfilled == 0);
    let currency = super::currency_of(&order)?;
    let claims = refund::claims(&tx, order.id).await?;
    let mut refund_id = None;
    let mut planned = 0;
    if req.refund {
        let refund_lines: Vec<LineRequest> = lines
            .iter()
            .filter_map(|l| {
                let claimed = claims.per_line.get(&l.id).copied().unwrap_or(0);
                let units = Ord::min(unshipped(l), l.quantity - claimed);
                (units > 0).then_some(LineRequest {
                    order_line_id: l.id,
                    quantity: units,
                    restock: false,
                })
            })
            .collect();
        let refund_req = RefundRequest {
            order_id: order.id,
            lines: refund_lines,
            shipping: if whole {
                Shipping::Remaining
            } else {
                Shipping::None
            },
            // The whole order: everything captured and not yet refunded.
            amount: whole.then(|| {
                crate::domain::money::Money::from_minor(
                    Ord::max(order.captured_minor - claims.total, 0),
                    currency,
                )
                .amount()
            }),
            note: Some(reason.to_owned()),
            to: Destination::Original,
            notify_customer: req.notify_customer,
        };
        let plan = match refund::plan(&tx, &order, &refund_req, true).await? {
            Ok(p) => p,
            Err(errors) => {
                tx.rollback().await?;
                return Ok(Answer {
                    errors,
                    ..Answer::default()
                });
            }
        };
        if !plan.is_empty() {
            planned = plan.amount();
            let key = format!("cancel:{operation}");
            let meta = Meta {
                destination: Destination::Original,
                note: Some(reason),
                key: &key,
                actor: label,
                now,
            };
            refund_id = refund::insert(&tx, &order, &plan, &meta).await?;
        }
    }
    if whole && order.captured_minor > claims.total + planned {
        tx.rollback().await?;
        return Ok(Answer::refused(
            &["refund"],
            UserErrorCode::RefundRequired,
            "the order holds captured money: cancel it with `refund: true`",
        ));
    }
    if whole && claims.total > order.refunded_minor {
        tx.rollback().await?;
        return Ok(Answer::refused(
            &["id"],
            UserErrorCode::RefundRequired,
            "a refund of the order is not through yet: retry it (refundRetry) first",
        ));
    }
    stamp(&tx, order.id, Some((reason, now))).await?;
    audited(
        &tx,
        &mut head,
        operator,
        "order.cancel",
        ("shop_order", order.id),
        Some(money_of(&order)),
        serde_json::json!({
            "reason": reason, "restock": req.restock, "refund": req.refund,
            "whole": whole, "refundId": refund_id,
        }),
    )
    .await?;
    tx.commit().await?;

    // 2. The gateway: void the open authorization of a whole cancellation,
    // pay the refund out.
    let payments = payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order.id))
        .order_by_asc(payment::Column::Id)
        .all(env.db)
        .await?;
    let mut voided = None;
    if whole
        && order.authorized_minor > order.captured_minor
        && let Some(p) = payments
            .iter()
            .find(|p| matches!(p.status.as_str(), "authorized" | "requires_action"))
    {
        let key = env.keys.order_key("void", order.id, operation);
        let result = match env.gateways.get(&p.gateway) {
            Some(g) => g.void(&p.reference, &key).await.map_err(|e| e.to_string()),
            None => Err(format!("the gateway `{}` is not enabled", p.gateway)),
        };
        if let Err(e) = result {
            tracing::warn!(order_id = order.id, error = %e, "void failed; the order is not cancelled");
            take_back(env, operator, order.id, refund_id).await?;
            return Ok(Answer::refused(
                &["id"],
                UserErrorCode::GatewayFailed,
                "the payment gateway could not void the authorization; nothing changed, try again",
            ));
        }
        voided = Some(p.clone());
    }
    let payouts = match refund_id {
        Some(id) => refund::pay_out(env, id).await?,
        None => Vec::new(),
    };

    // 3. Record it.
    let tx = begin_write(env.db).await?;
    let mut head = audit::lock(&tx).await?;
    let order = lock_order(&tx, req.order_id)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("order vanished".into()))?;
    let settled = match refund_id {
        Some(id) => refund::settle_in(&tx, &order, id, &payouts, label, now).await?,
        None => Settled::Succeeded(Vec::new()),
    };
    if let Some(p) = &voided {
        record_void(&tx, p, now).await?;
    }
    if let Settled::Failed(error) = &settled {
        let id = refund_id.unwrap_or_default();
        let mut order_now = refund::record_outcome(
            &tx,
            &order,
            id,
            &settled,
            &[],
            label,
            req.notify_customer,
            now,
        )
        .await?;
        if voided.is_some() {
            order_now = orders::apply(&tx, &order_now, &[OrderEvent::PaymentVoided], label)
                .await?
                .map_err(|e| DomainError::Inconsistent(format!("void refused: {e}")))?
                .0;
        }
        stamp(&tx, order.id, None).await?;
        audited(
            &tx,
            &mut head,
            operator,
            "order.cancel_failed",
            ("shop_order", order.id),
            Some(money_of(&order)),
            serde_json::json!({"refundId": id, "error": error, "order": money_of(&order_now)}),
        )
        .await?;
        tx.commit().await?;
        return Ok(Answer {
            order_id: Some(order.id),
            refund_id,
            errors: vec![crate::domain::error::UserError::new(
                &["refund"],
                UserErrorCode::GatewayFailed,
                "the refund failed, so the order is not cancelled; retry the refund (refundRetry), then cancel again",
            )],
        });
    }
    // Stock and lines.
    let lines = orders::lines(&tx, order.id).await?;
    let mut units = 0_u32;
    for line in &lines {
        let u = unshipped(line);
        if u == 0 {
            continue;
        }
        refund::release_units(&tx, order.id, line, u).await?;
        if !req.restock {
            write_off(
                &tx,
                line,
                u,
                &format!("cancel order {}", order.id),
                label,
                now,
            )
            .await?;
        }
        order_line::Entity::update_many()
            .col_expr(
                order_line::Column::QuantityCancelled,
                Expr::col(order_line::Column::QuantityCancelled).add(u),
            )
            .filter(order_line::Column::Id.eq(line.id))
            .exec(&tx)
            .await?;
        units += u32::try_from(u).unwrap_or(0);
    }
    if whole {
        // Holds of variants no line names any more (a changed catalog).
        let rest = reservation::Entity::find()
            .filter(reservation::Column::OrderId.eq(order.id))
            .all(&tx)
            .await?;
        stock::release(&tx, &rest).await?;
        // Payments still waiting (an offline one, 3-D Secure) end here.
        payment::Entity::update_many()
            .col_expr(payment::Column::Status, Expr::value("voided"))
            .col_expr(payment::Column::UpdatedAt, Expr::value(now))
            .filter(payment::Column::OrderId.eq(order.id))
            .filter(payment::Column::Status.is_in(["pending", "requires_action", "authorized"]))
            .exec(&tx)
            .await?;
    }
    let extra = if whole {
        vec![OrderEvent::Cancelled {
            reason: reason.to_owned(),
        }]
    } else {
        vec![OrderEvent::LinesCancelled { quantity: units }]
    };
    let after = match refund_id {
        Some(id) => {
            refund::record_outcome(
                &tx, &order, id, &settled, &extra, label,
                // One mail: the cancellation's says what is paid back.
                false, now,
            )
            .await?
        }
        None => {
            orders::apply(&tx, &order, &extra, label)
                .await?
                .map_err(|e| DomainError::Inconsistent(format!("cancel refused: {e}")))?
                .0
        }
    };
    if whole {
        shop_order::Entity::update_many()
            .col_expr(
                shop_order::Column::PaymentDueAt,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .filter(shop_order::Column::Id.eq(order.id))
            .exec(&tx)
            .await?;
    }
    timeline(
        &tx,
        order.id,
        "cancelled",
        if whole {
            format!("Cancelled: {reason}")
        } else {
            format!("Cancelled {units} unshipped items: {reason}")
        },
        serde_json::json!({
            "reason": reason, "whole": whole, "units": units, "restock": req.restock,
            "refundId": refund_id, "notifyCustomer": req.notify_customer,
        }),
        label,
        now,
    )
    .await?;
    let status = orders::state_of(&after)?.status();
    events::record(
        &tx,
        vec![DomainEvent::OrderCancelled {
            order_id: order.id,
            customer_id: order.customer_id,
            reason: reason.to_owned(),
            status,
            notify_customer: req.notify_customer,
        }],
    )
    .await?;
    audited(
        &tx,
        &mut head,
        operator,
        "order.cancelled",
        ("shop_order", order.id),
        Some(money_of(&order)),
        money_of(&after),
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("emporium_cancellations_total").increment(1);
    Ok(Answer {
        order_id: Some(order.id),
        refund_id,
        errors: Vec::new(),
    })
}

/// Stamps (or with `None` clears) the order's cancellation.
async fn stamp(
    tx: &impl ConnectionTrait,
    order_id: i64,
    what: Option<(&str, chrono::DateTime<chrono::Utc>)>,
) -> DomainResult<()> {
    shop_order::Entity::update_many()
        .col_expr(
            shop_order::Column::CancelledAt,
            Expr::value(what.map(|w| w.1)),
        )
        .col_expr(
            shop_order::Column::CancelReason,
            Expr::value(what.map(|w| w.0.to_owned())),
        )
        .filter(shop_order::Column::Id.eq(order_id))
        .exec(tx)
        .await?;
    Ok(())
}

/// Undoes step 1 after the gateway refused the void: the stamp and the
/// claimed refund go.
async fn take_back(
    env: &Env<'_>,
    operator: &Operator,
    order_id: i64,
    refund_id: Option<i64>,
) -> DomainResult<()> {
    let tx = begin_write(env.db).await?;
    let mut head = audit::lock(&tx).await?;
    stamp(&tx, order_id, None).await?;
    if let Some(id) = refund_id {
        refund::delete_claim(&tx, id).await?;
    }
    audited(
        &tx,
        &mut head,
        operator,
        "order.cancel_failed",
        ("shop_order", order_id),
        None,
        serde_json::json!({"error": "void failed"}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a void the gateway made: the payment's ledger and status.
async fn record_void(
    tx: &DatabaseTransaction,
    p: &payment::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> DomainResult<()> {
    payment_transaction::Entity::insert(payment_transaction::ActiveModel {
        payment_id: Set(p.id),
        kind: Set("void".into()),
        amount_minor: Set(0),
        gateway_event_id: Set(None),
        detail: Set(Some("order cancelled".into())),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(tx)
    .await?;
    payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value("voided"))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now))
        .filter(payment::Column::Id.eq(p.id))
        .exec(tx)
        .await?;
    Ok(())
}

/// Writes `units` of a cancelled line off (not restocked): on hand goes
/// down where the variant has them, with a `written_off` movement.
async fn write_off(
    tx: &impl ConnectionTrait,
    line: &order_line::Model,
    units: i32,
    reference: &str,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> DomainResult<()> {
    let Some(variant_id) = line.variant_id else {
        return Ok(());
    };
    let Some(level) = stock_level::Entity::find()
        .filter(stock_level::Column::VariantId.eq(variant_id))
        .filter(
            Expr::col(stock_level::Column::OnHand)
                .sub(Expr::col(stock_level::Column::Reserved))
                .gte(units),
        )
        .order_by_asc(stock_level::Column::Id)
        .one(tx)
        .await?
    else {
        return Ok(());
    };
    stock_level::Entity::update_many()
        .col_expr(
            stock_level::Column::OnHand,
            Expr::col(stock_level::Column::OnHand).sub(units),
        )
        .filter(stock_level::Column::Id.eq(level.id))
        .exec(tx)
        .await?;
    inventory_movement::Entity::insert(inventory_movement::ActiveModel {
        variant_id: Set(variant_id),
        location_id: Set(level.location_id),
        delta: Set(-units),
        on_hand_after: Set(level.on_hand - units),
        reason: Set("written_off".into()),
        reference: Set(Some(reference.to_owned())),
        actor_label: Set(actor.to_owned()),
        source_at: Set(None),
        at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(tx)
    .await?;
    refund::stock_changed(tx, level.id, -units, "written_off").await
}
