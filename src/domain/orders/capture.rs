//! Capturing money of an order: the open authorization in full or in part
//! (`orderCapture`, and each fulfilment of an `on_fulfillment` order
//! through [`capture_amount`]), and recording an offline payment that
//! arrived (`orderMarkAsPaid`).
//!
//! A capture is asked of the gateway first (outside any transaction, keyed
//! by the order and the operation), then recorded in one transaction: the
//! state machine's `PaymentCaptured` (never more than the open
//! authorization), a `capture` ledger row, the payment's status, a
//! `captured` timeline entry, an audit entry and `order.paid` (or
//! `order.updated`). A capture that leaves part of the authorization open
//! is not final at the gateway, so later ones can take the rest.

use entity::{payment, payment_transaction, reservation, shop_order};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use super::{
    Answer, Env, Operator, audited, currency_of, lock_order, minor_of, money_of, once,
    operation_id, order_not_found, refund, shown, timeline,
};
use crate::domain::{
    checkout::orders,
    error::{DomainError, DomainResult, Outcome, UserError, UserErrorCode},
    order_state::OrderEvent,
    tx::begin_write,
};

/// Gateway payments of an order, newest first.
async fn payments(env: &Env<'_>, order_id: i64) -> DomainResult<Vec<payment::Model>> {
    Ok(payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order_id))
        .order_by_desc(payment::Column::Id)
        .all(env.db)
        .await?)
}

/// `orderCapture`: captures `amount` (all that is open when `None`) of the
/// order's open authorization, once per idempotency key.
pub async fn capture(
    env: &Env<'_>,
    operator: &Operator,
    order_id: i64,
    amount: Option<rust_decimal::Decimal>,
    idempotency_key: Option<&str>,
) -> DomainResult<Answer> {
    let request = ("orderCapture", order_id, amount);
    let operation = operation_id(operator, idempotency_key);
    once(
        env,
        operator,
        idempotency_key,
        &request,
        move || async move {
            let label = operator.scope.clone();
            Ok(
                match run(
                    env,
                    operator,
                    &label,
                    order_id,
                    amount.map(Requested::Exact),
                    &operation,
                )
                .await?
                {
                    Ok(_) => Answer::done(order_id),
                    Err(errors) => Answer {
                        errors,
                        ..Answer::default()
                    },
                },
            )
        },
    )
    .await
}

/// Captures `amount_minor` of order `order_id`'s open authorization, for
/// other use cases (a fulfilment of an `on_fulfillment` order captures what
/// it ships). `operation` names the capture for the gateway's idempotency
/// key (e.g. `fulfillment:12`): calling again with the same operation never
/// captures twice. Runs its own gateway call and then its own transaction:
/// call it after the caller's transaction committed. Answers the minor
/// units captured, or why nothing was (nothing open, more than is open, a
/// cancelled order, a gateway failure); a refusal writes nothing.
pub async fn capture_amount(
    env: &Env<'_>,
    operator: &Operator,
    order_id: i64,
    amount_minor: i64,
    operation: &str,
) -> Outcome<i64> {
    let label = operator.scope.clone();
    run(
        env,
        operator,
        &label,
        order_id,
        Some(Requested::Minor(amount_minor)),
        operation,
    )
    .await
}

/// What the order's authorization still holds to capture: authorized, less
/// captured, less what refunds released of units cancelled before capture.
pub async fn open_amount(
    db: &impl ConnectionTrait,
    order: &shop_order::Model,
) -> DomainResult<i64> {
    let released = refund::claims(db, order.id).await?.released;
    Ok(Ord::max(
        order.authorized_minor - order.captured_minor - released,
        0,
    ))
}

/// An amount asked for.
#[derive(Debug, Clone, Copy)]
enum Requested {
    /// In minor units.
    Minor(i64),
    /// As a decimal in the order's currency.
    Exact(rust_decimal::Decimal),
}

fn refusal<T>(
    field: &str,
    code: UserErrorCode,
    message: impl Into<String>,
) -> Result<T, Vec<UserError>> {
    Err(vec![UserError::new(&[field], code, message)])
}

async fn run(
    env: &Env<'_>,
    operator: &Operator,
    label: &str,
    order_id: i64,
    amount: Option<Requested>,
    operation: &str,
) -> Outcome<i64> {
    let Some(order) = orders::get(env.db, order_id).await? else {
        return Ok(Err(order_not_found("id").errors));
    };
    if order.closure.as_deref() == Some("cancelled") || order.cancelled_at.is_some() {
        return Ok(refusal(
            "id",
            UserErrorCode::OrderCancelled,
            "the order is cancelled",
        ));
    }
    let open = open_amount(env.db, &order).await?;
    let Some(pay) = payments(env, order_id)
        .await?
        .into_iter()
        .find(|p| p.status == "authorized")
    else {
        return Ok(refusal(
            "id",
            UserErrorCode::NothingToCapture,
            "the order has no open authorization to capture",
        ));
    };
    if open <= 0 {
        return Ok(refusal(
            "id",
            UserErrorCode::NothingToCapture,
            "the order has no open authorization to capture",
        ));
    }
    let currency = currency_of(&order)?;
    let amount = match amount {
        None => open,
        Some(Requested::Minor(m)) => m,
        Some(Requested::Exact(d)) => match minor_of(d, currency, &["amount"]) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        },
    };
    if amount <= 0 {
        return Ok(refusal(
            "amount",
            UserErrorCode::Invalid,
            "the amount must be positive",
        ));
    }
    if amount > open {
        return Ok(refusal(
            "amount",
            UserErrorCode::AmountTooLarge,
            format!(
                "only {} of the authorization is open",
                shown(open, currency)
            ),
        ));
    }
    let Some(gateway) = env.gateways.get(&pay.gateway) else {
        return Ok(refusal(
            "id",
            UserErrorCode::GatewayFailed,
            format!("the payment gateway `{}` is not enabled", pay.gateway),
        ));
    };
    let final_capture = amount == open;
    let key = env.keys.order_key("capture", order_id, operation);
    if let Err(e) = gateway
        .capture(&pay.reference, amount, currency, &key, final_capture)
        .await
    {
        tracing::warn!(order_id, gateway = gateway.code(), error = %e, "capture failed");
        metrics::counter!("emporium_captures_failed_total").increment(1);
        return Ok(refusal(
            "id",
            UserErrorCode::GatewayFailed,
            "the payment gateway could not capture; nothing was recorded, try again",
        ));
    }
    let now = env.now();
    let tx = begin_write(env.db).await?;
    let mut head = crate::domain::audit::lock(&tx).await?;
    let order = lock_order(&tx, order_id)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("order vanished".into()))?;
    let (after, _) = orders::apply(
        &tx,
        &order,
        &[OrderEvent::PaymentCaptured { amount }],
        label,
    )
    .await?
    .map_err(|e| {
        tracing::error!(order_id, error = %e, "the gateway captured money the order refuses");
        DomainError::Inconsistent(format!("order {order_id} refused its capture: {e}"))
    })?;
    payment_transaction::Entity::insert(payment_transaction::ActiveModel {
        payment_id: Set(pay.id),
        kind: Set("capture".into()),
        amount_minor: Set(amount),
        gateway_event_id: Set(None),
        detail: Set(Some(format!("captured by {label}"))),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&tx)
    .await?;
    if final_capture {
        payment::Entity::update_many()
            .col_expr(payment::Column::Status, Expr::value("captured"))
            .col_expr(payment::Column::UpdatedAt, Expr::value(now))
            .filter(payment::Column::Id.eq(pay.id))
            .exec(&tx)
            .await?;
    }
    timeline(
        &tx,
        order_id,
        "captured",
        format!("Captured {}", shown(amount, currency)),
        serde_json::json!({"paymentId": pay.id, "amountMinor": amount, "final": final_capture}),
        label,
        now,
    )
    .await?;
    audited(
        &tx,
        &mut head,
        operator,
        "order.capture",
        ("shop_order", order_id),
        Some(money_of(&order)),
        money_of(&after),
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("emporium_captures_total").increment(1);
    Ok(Ok(amount))
}

/// `orderMarkAsPaid`: records that the money of an order paid with the
/// `manual` gateway (bank transfer, cash) arrived: captures what is due,
/// clears the payment deadline and keeps the stock held for the order.
pub async fn mark_as_paid(
    env: &Env<'_>,
    operator: &Operator,
    order_id: i64,
    idempotency_key: Option<&str>,
) -> DomainResult<Answer> {
    let request = ("orderMarkAsPaid", order_id);
    let operation = operation_id(operator, idempotency_key);
    once(
        env,
        operator,
        idempotency_key,
        &request,
        move || async move {
            Ok(match mark_run(env, operator, order_id, &operation).await? {
                Ok(()) => Answer::done(order_id),
                Err(errors) => Answer {
                    errors,
                    ..Answer::default()
                },
            })
        },
    )
    .await
}

async fn mark_run(
    env: &Env<'_>,
    operator: &Operator,
    order_id: i64,
    operation: &str,
) -> Outcome<()> {
    let label = operator.scope.as_str();
    let Some(order) = orders::get(env.db, order_id).await? else {
        return Ok(Err(order_not_found("id").errors));
    };
    if order.closure.as_deref() == Some("cancelled") || order.cancelled_at.is_some() {
        return Ok(refusal(
            "id",
            UserErrorCode::OrderCancelled,
            "the order is cancelled",
        ));
    }
    let all = payments(env, order_id).await?;
    let Some(pay) = all.iter().find(|p| p.gateway == "manual") else {
        return Ok(refusal(
            "id",
            UserErrorCode::PaymentNotManual,
            "the order was not paid with the manual gateway",
        ));
    };
    let due = order.total_minor - order.captured_minor;
    if pay.status != "pending" || due <= 0 {
        return Ok(refusal(
            "id",
            UserErrorCode::NothingToCapture,
            "the order is already paid",
        ));
    }
    let currency = currency_of(&order)?;
    let Some(gateway) = env.gateways.get(&pay.gateway) else {
        return Ok(refusal(
            "id",
            UserErrorCode::GatewayFailed,
            "the manual gateway is not enabled",
        ));
    };
    let key = env.keys.order_key("capture", order_id, operation);
    if let Err(e) = gateway
        .capture(&pay.reference, due, currency, &key, true)
        .await
    {
        tracing::warn!(order_id, error = %e, "recording a manual payment failed");
        return Ok(refusal(
            "id",
            UserErrorCode::GatewayFailed,
            "the payment could not be recorded; try again",
        ));
    }
    let now = env.now();
    let tx = begin_write(env.db).await?;
    let mut head = crate::domain::audit::lock(&tx).await?;
    let order = lock_order(&tx, order_id)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("order vanished".into()))?;
    let due = order.total_minor - order.captured_minor;
    if due <= 0 || order.closure.is_some() {
        tx.rollback().await?;
        return Ok(refusal(
            "id",
            UserErrorCode::NothingToCapture,
            "the order is already paid or closed",
        ));
    }
    let (after, _) = match orders::apply(
        &tx,
        &order,
        &[OrderEvent::PaymentCaptured { amount: due }],
        label,
    )
    .await?
    {
        Ok(done) => done,
        Err(e) => {
            tx.rollback().await?;
            return Ok(refusal("id", UserErrorCode::Invalid, e.to_string()));
        }
    };
    payment_transaction::Entity::insert(payment_transaction::ActiveModel {
        payment_id: Set(pay.id),
        kind: Set("capture".into()),
        amount_minor: Set(due),
        gateway_event_id: Set(None),
        detail: Set(Some(format!("marked as paid by {label}"))),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&tx)
    .await?;
    payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value("captured"))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now))
        .filter(payment::Column::Id.eq(pay.id))
        .exec(&tx)
        .await?;
    // Paid: no deadline any more, and the stock stays held for the order.
    shop_order::Entity::update_many()
        .col_expr(
            shop_order::Column::PaymentDueAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(shop_order::Column::Id.eq(order_id))
        .exec(&tx)
        .await?;
    reservation::Entity::update_many()
        .col_expr(
            reservation::Column::ExpiresAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(reservation::Column::OrderId.eq(order_id))
        .exec(&tx)
        .await?;
    timeline(
        &tx,
        order_id,
        "marked_paid",
        format!("Marked as paid: {}", shown(due, currency)),
        serde_json::json!({"paymentId": pay.id, "amountMinor": due}),
        label,
        now,
    )
    .await?;
    audited(
        &tx,
        &mut head,
        operator,
        "order.mark_paid",
        ("shop_order", order_id),
        Some(money_of(&order)),
        money_of(&after),
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("emporium_captures_total").increment(1);
    Ok(Ok(()))
}
