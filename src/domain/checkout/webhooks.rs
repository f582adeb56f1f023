//! Payment gateway webhooks: a verified event moves the order it names
//! (pending → paid, or cancelled when the payment failed), exactly once.
//!
//! The event id is recorded in the same transaction as the change, under a
//! unique index: a replayed delivery changes nothing, and a delivery that
//! failed half-way leaves no record, so the gateway's retry is processed.

use crate::domain::tx::begin_write;
use chrono::{DateTime, SubsecRound, Utc};
use entity::{payment, payment_transaction, payment_webhook_event, reservation};
use http::HeaderMap;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    EntityTrait, QueryFilter, Statement, sea_query::Expr,
};
use tracing::{Span, field, instrument};

use super::{orders, stock};
use crate::domain::money::Currency;
use crate::domain::{
    error::{DomainError, DomainResult, is_unique_violation},
    order_state::{OrderEvent, OrderStatus, PaymentStatus},
    payments::{PaymentGateway, WebhookError, WebhookEvent, WebhookEventKind},
};

/// What a webhook delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The order moved.
    Applied {
        /// The order.
        order_id: i64,
    },
    /// The event id was seen before: nothing changed.
    Duplicate,
    /// Nothing to do (an event type emporium does not act on, or one that
    /// changes nothing).
    Ignored,
    /// About a payment emporium does not know (yet): nothing was recorded,
    /// so the gateway's retry is processed once the payment exists (answer
    /// a non-2xx status).
    UnknownPayment,
    /// Money arrived for an order that was cancelled meanwhile (an
    /// asynchronous payment completed after its hold expired): it was given
    /// back at the gateway (refunded or voided) and recorded.
    Returned {
        /// The cancelled order.
        order_id: i64,
    },
}

/// Money that arrived for a cancelled order, to give back.
struct Late {
    payment_id: i64,
    order_id: i64,
    reference: String,
    currency: Currency,
    amount: i64,
    captured: bool,
}

/// Verifies and applies one delivery. `Err` means the delivery is not
/// authentic (answer 400); storage errors are the outer error.
#[instrument(
    name = "payments.webhook",
    skip_all,
    fields(gateway = gateway.code(), event_id = field::Empty)
)]
pub async fn handle(
    db: &DatabaseConnection,
    gateway: &dyn PaymentGateway,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> DomainResult<Result<Handled, WebhookError>> {
    let event = match gateway.verify_webhook(headers, body, now) {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    Span::current().record("event_id", event.id.as_str());
    match apply(db, gateway.code(), &event).await? {
        Applied::Done(handled) => Ok(Ok(handled)),
        Applied::Late(late) => settle_late(db, gateway, &event, late).await.map(Ok),
    }
}

/// Gives back money that arrived for a cancelled order, then records the
/// event with both ledger entries. The gateway call is idempotent (keyed by
/// the event id), so a failure here (answered 5xx) is retried safely by the
/// gateway's next delivery.
async fn settle_late(
    db: &DatabaseConnection,
    gateway: &dyn PaymentGateway,
    event: &WebhookEvent,
    late: Late,
) -> DomainResult<Handled> {
    let key = format!("late:{}", event.id);
    let (kind, status) = if late.captured {
        gateway
            .refund(&late.reference, late.amount, late.currency, &key)
            .await
            .map_err(|e| DomainError::Inconsistent(format!("refunding a late payment: {e}")))?;
        ("refund", "refunded")
    } else {
        gateway
            .void(&late.reference, &key)
            .await
            .map_err(|e| DomainError::Inconsistent(format!("voiding a late payment: {e}")))?;
        ("void", "voided")
    };
    let now = Utc::now().trunc_subsecs(6);
    let tx = begin_write(db).await?;
    if !first_delivery(&tx, gateway.code(), event, now).await? {
        return Ok(Handled::Duplicate);
    }
    let entry = |kind: &str| payment_transaction::ActiveModel {
        payment_id: Set(late.payment_id),
        kind: Set(kind.to_owned()),
        amount_minor: Set(late.amount),
        gateway_event_id: Set(Some(event.id.clone())),
        detail: Set(Some("arrived after the order was cancelled".into())),
        created_at: Set(now),
        ..Default::default()
    };
    let first = if late.captured {
        "capture"
    } else {
        "authorization"
    };
    payment_transaction::Entity::insert_many([entry(first), entry(kind)])
        .exec_without_returning(&tx)
        .await?;
    payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(status.to_owned()))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now))
        .filter(payment::Column::Id.eq(late.payment_id))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    tracing::warn!(
        gateway = gateway.code(),
        order = late.order_id,
        amount = late.amount,
        "a payment arrived for a cancelled order and was given back"
    );
    Ok(Handled::Returned {
        order_id: late.order_id,
    })
}

/// What [`apply`] did.
enum Applied {
    /// Finished.
    Done(Handled),
    /// Money for a cancelled order, to give back (nothing recorded yet).
    Late(Late),
}

fn reference_of(kind: &WebhookEventKind) -> Option<&str> {
    match kind {
        WebhookEventKind::PaymentSucceeded { reference, .. }
        | WebhookEventKind::PaymentAuthorized { reference, .. }
        | WebhookEventKind::PaymentFailed { reference, .. }
        | WebhookEventKind::Refunded { reference, .. }
        | WebhookEventKind::Canceled { reference } => Some(reference),
        WebhookEventKind::Other(_) => None,
    }
}

/// Records the event id in the caller's transaction; `false` if it was
/// recorded before (a replay). The unique index decides, so concurrent
/// deliveries of one event record it once.
async fn first_delivery(
    tx: &impl ConnectionTrait,
    gateway: &str,
    event: &WebhookEvent,
    at: DateTime<Utc>,
) -> DomainResult<bool> {
    let seen = payment_webhook_event::Entity::insert(payment_webhook_event::ActiveModel {
        gateway: Set(gateway.to_owned()),
        event_id: Set(event.id.clone()),
        event_type: Set(type_of(&event.kind).chars().take(64).collect()),
        received_at: Set(at),
        ..Default::default()
    })
    .exec_without_returning(tx)
    .await;
    match seen {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn type_of(kind: &WebhookEventKind) -> &str {
    match kind {
        WebhookEventKind::PaymentSucceeded { .. } => "payment_succeeded",
        WebhookEventKind::PaymentAuthorized { .. } => "payment_authorized",
        WebhookEventKind::PaymentFailed { .. } => "payment_failed",
        WebhookEventKind::Refunded { .. } => "refunded",
        WebhookEventKind::Canceled { .. } => "canceled",
        WebhookEventKind::Other(t) => t,
    }
}

/// Applies a verified event (module rules).
async fn apply(
    db: &DatabaseConnection,
    gateway: &str,
    event: &WebhookEvent,
) -> DomainResult<Applied> {
    use Applied::Done;
    let now = Utc::now().trunc_subsecs(6);
    let tx = begin_write(db).await?;
    // First statement writes: the de-duplication record.
    if !first_delivery(&tx, gateway, event, now).await? {
        return Ok(Done(Handled::Duplicate));
    }
    let Some(reference) = reference_of(&event.kind) else {
        tx.commit().await?;
        return Ok(Done(Handled::Ignored));
    };
    let Some(pay) = payment::Entity::find()
        .filter(payment::Column::Gateway.eq(gateway))
        .filter(payment::Column::Reference.eq(reference))
        .one(&tx)
        .await?
    else {
        // Perhaps not written yet (the event raced the checkout's commit):
        // record nothing, so the gateway's retry is processed.
        tracing::info!(gateway, event = %event.id, "webhook for an unknown payment");
        tx.rollback().await?;
        return Ok(Done(Handled::UnknownPayment));
    };
    // Lock the order's stock holds before reading the order, in the order
    // the sweeper takes them (holds, then the order): the two never wait
    // on each other in a cycle, and the order read here is the latest.
    if tx.get_database_backend() == DatabaseBackend::Postgres {
        tx.query_all_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT id FROM reservation WHERE order_id = $1 ORDER BY id FOR UPDATE",
            [pay.order_id.into()],
        ))
        .await?;
    }
    let Some(order) = orders::get(&tx, pay.order_id).await? else {
        tx.commit().await?;
        return Ok(Done(Handled::Ignored));
    };
    let state = orders::state_of(&order)?;
    let actor = format!("gateway:{gateway}");
    let (events, kind, amount, status, release): (Vec<OrderEvent>, &str, i64, &str, bool) =
        match &event.kind {
            WebhookEventKind::PaymentSucceeded { amount_minor, .. } => {
                let amount = (*amount_minor).min(state.total() - state.captured());
                if amount <= 0 {
                    (Vec::new(), "capture", 0, "captured", false)
                } else {
                    // Draws on the open authorization, or is a sale.
                    (
                        vec![OrderEvent::PaymentCaptured { amount }],
                        "capture",
                        amount,
                        "captured",
                        false,
                    )
                }
            }
            WebhookEventKind::PaymentAuthorized { amount_minor, .. } => {
                let amount = (*amount_minor).min(state.total() - state.authorized());
                if amount <= 0 {
                    (Vec::new(), "authorization", 0, "authorized", false)
                } else {
                    (
                        vec![OrderEvent::PaymentAuthorized { amount }],
                        "authorization",
                        amount,
                        "authorized",
                        false,
                    )
                }
            }
            WebhookEventKind::PaymentFailed { .. } | WebhookEventKind::Canceled { .. } => {
                if state.status().payment == PaymentStatus::Pending
                    || state.status().payment == PaymentStatus::Failed
                {
                    (
                        vec![
                            OrderEvent::PaymentFailed,
                            OrderEvent::Cancelled {
                                reason: "payment failed".into(),
                            },
                        ],
                        "failure",
                        0,
                        "failed",
                        true,
                    )
                } else {
                    (Vec::new(), "failure", 0, "failed", false)
                }
            }
            WebhookEventKind::Refunded {
                total_refunded_minor,
                ..
            } => {
                let delta = total_refunded_minor - state.refunded();
                if delta > 0 {
                    (
                        vec![OrderEvent::Refunded { amount: delta }],
                        "refund",
                        delta,
                        &pay.status,
                        false,
                    )
                } else {
                    (Vec::new(), "refund", 0, &pay.status, false)
                }
            }
            WebhookEventKind::Other(_) => (Vec::new(), "", 0, &pay.status, false),
        };
    if events.is_empty() {
        tx.commit().await?;
        return Ok(Done(Handled::Ignored));
    }
    let applied = orders::apply(&tx, &order, &events, &actor).await?;
    let order = match applied {
        Ok((order, _)) => order,
        Err(_)
            if state.status().order == OrderStatus::Cancelled
                && matches!(
                    event.kind,
                    WebhookEventKind::PaymentSucceeded { .. }
                        | WebhookEventKind::PaymentAuthorized { .. }
                ) =>
        {
            // Money for an order that no longer wants it: give it back
            // first, record after (see `settle_late`).
            tx.rollback().await?;
            let (amount, captured) = match event.kind {
                WebhookEventKind::PaymentSucceeded { amount_minor, .. } => (amount_minor, true),
                WebhookEventKind::PaymentAuthorized { amount_minor, .. } => (amount_minor, false),
                _ => (0, false),
            };
            return Ok(Applied::Late(Late {
                payment_id: pay.id,
                order_id: order.id,
                reference: pay.reference.clone(),
                currency: pay
                    .currency_code
                    .parse()
                    .map_err(|e| DomainError::Inconsistent(format!("payment {}: {e}", pay.id)))?,
                amount,
                captured,
            }));
        }
        Err(orders::ApplyError::Conflict) => {
            // Another writer moved the order between our read and write:
            // record nothing and fail, so the gateway delivers again.
            tx.rollback().await?;
            return Err(DomainError::Inconsistent(format!(
                "order {} changed while a webhook applied; the gateway retries",
                order.id
            )));
        }
        Err(e) => {
            tracing::warn!(gateway, event = %event.id, order = order.id, error = %e, "webhook event refused by the order");
            // Keep the event recorded: the same event will not apply later either.
            tx.commit().await?;
            return Ok(Done(Handled::Ignored));
        }
    };
    payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(status.to_owned()))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now))
        .filter(payment::Column::Id.eq(pay.id))
        .exec(&tx)
        .await?;
    payment_transaction::Entity::insert(payment_transaction::ActiveModel {
        payment_id: Set(pay.id),
        kind: Set(kind.to_owned()),
        amount_minor: Set(amount),
        gateway_event_id: Set(Some(event.id.clone())),
        detail: Set(None),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&tx)
    .await?;
    let held = reservation::Entity::find()
        .filter(reservation::Column::OrderId.eq(order.id))
        .all(&tx)
        .await?;
    if release {
        stock::release(&tx, &held).await?;
    } else if order.authorized_minor >= order.total_minor {
        // Secured: hold the stock until fulfilment, no longer until a deadline.
        reservation::Entity::update_many()
            .col_expr(
                reservation::Column::ExpiresAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(reservation::Column::OrderId.eq(order.id))
            .exec(&tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Done(Handled::Applied { order_id: order.id }))
}
