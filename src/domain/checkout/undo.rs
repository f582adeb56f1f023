//! Giving back a payment that checkout took but could not turn into an
//! order (the stock went meanwhile, a code was used up, a cap was reached):
//! the authorization is voided, a sale (which cannot be voided) refunded.
//!
//! Checkout tries at once ([`undo`]). When the gateway does not answer or
//! fails, the undo is written to `payment_undo` and a background worker
//! ([`run_worker`], on every node) retries it with exponential backoff until
//! the gateway accepts it:
//!
//! - every attempt sends the same idempotency key (derived once, see
//!   [`super::keys`]), so an attempt whose answer was lost is not repeated
//!   by the gateway;
//! - a claim takes due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite
//!   has one writer at a time) and pushes their `next_attempt_at` past the
//!   attempt's time (a lease), so no two workers try one undo at once;
//! - transient failures (timeouts, connection errors, 5xx and 429 answers,
//!   a refused API key an operator can fix, an answer not understood) are
//!   retried without end; a refusal by the gateway (a payment in a state
//!   that cannot be voided, an unknown reference) marks the undo `failed`
//!   and logs it at error level, for staff to settle on the gateway.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use entity::payment_undo;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict},
};

use crate::domain::{
    clock::Clock,
    error::DomainResult,
    money::Currency,
    payments::{GatewayError, Gateways, PaymentGateway},
    tx::begin_write,
    webhooks_out::queue::backoff,
};

/// What to give back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Release an authorization (or abandon a payment awaiting the
    /// customer).
    Void,
    /// Refund captured money.
    Refund {
        /// Minor units.
        amount_minor: i64,
        /// Their currency.
        currency: Currency,
    },
}

/// One payment to give back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    /// The gateway's code.
    pub gateway: String,
    /// The gateway's id of the payment.
    pub reference: String,
    /// Void or refund.
    pub action: Action,
    /// The idempotency key every attempt sends.
    pub key: String,
}

/// How the worker retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Delay after the first failed attempt; doubled after each further one.
    pub base: Duration,
    /// The longest delay.
    pub cap: Duration,
    /// How often the worker looks for due undos.
    pub poll: Duration,
}

/// Undos claimed per round.
const CLAIM: u64 = 16;
/// How long a claimed undo stays hidden from other workers: longer than a
/// gateway call may take.
const LEASE: Duration = Duration::from_secs(300);
/// How much of an error is kept.
const ERROR_CHARS: usize = 500;

/// Asks `gateway` to carry `undo` out.
async fn attempt(gateway: &dyn PaymentGateway, undo: &Undo) -> Result<(), GatewayError> {
    match undo.action {
        Action::Void => gateway.void(&undo.reference, &undo.key).await,
        Action::Refund {
            amount_minor,
            currency,
        } => gateway
            .refund(&undo.reference, amount_minor, currency, &undo.key)
            .await
            .map(|_| ()),
    }
}

/// Whether another attempt may succeed where this one failed.
fn worth_retrying(e: &GatewayError) -> bool {
    !matches!(e, GatewayError::Rejected { .. })
}

/// Gives `undo` back through `gateway` now; if that fails, queues it for
/// the worker (unless the gateway refused it for good). Returns whether it
/// went through now.
pub async fn undo(
    db: &DatabaseConnection,
    gateway: &dyn PaymentGateway,
    undo: &Undo,
) -> DomainResult<bool> {
    let Err(e) = attempt(gateway, undo).await else {
        return Ok(true);
    };
    if worth_retrying(&e) {
        tracing::warn!(gateway = %undo.gateway, error = %e, "could not give back a payment after a failed checkout; queued for retry");
        enqueue(db, undo, &e).await?;
    } else {
        tracing::error!(gateway = %undo.gateway, reference = %undo.reference, error = %e, "the gateway refused to give back a payment after a failed checkout; settle it on the gateway");
    }
    Ok(false)
}

/// Writes `undo` to the queue, due after the first backoff step; an undo
/// already queued (same gateway and key) is left as it is.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    undo: &Undo,
    error: &GatewayError,
) -> DomainResult<()> {
    let now = Utc::now().trunc_subsecs(6);
    let (action, amount_minor, currency) = match undo.action {
        Action::Void => ("void", 0, String::new()),
        Action::Refund {
            amount_minor,
            currency,
        } => ("refund", amount_minor, currency.code().to_owned()),
    };
    payment_undo::Entity::insert(payment_undo::ActiveModel {
        gateway: Set(undo.gateway.clone()),
        reference: Set(undo.reference.clone()),
        action: Set(action.to_owned()),
        amount_minor: Set(amount_minor),
        currency_code: Set(currency),
        idempotency_key: Set(undo.key.clone()),
        status: Set("pending".to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(Some(error.to_string().chars().take(ERROR_CHARS).collect())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            payment_undo::Column::Gateway,
            payment_undo::Column::IdempotencyKey,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The undo a queued row stands for (`None` if the row is unreadable).
fn undo_of(row: &payment_undo::Model) -> Option<Undo> {
    let action = match row.action.as_str() {
        "void" => Action::Void,
        "refund" => Action::Refund {
            amount_minor: row.amount_minor,
            currency: row.currency_code.parse().ok()?,
        },
        _ => return None,
    };
    Some(Undo {
        gateway: row.gateway.clone(),
        reference: row.reference.clone(),
        action,
        key: row.idempotency_key.clone(),
    })
}

/// Claims up to `limit` pending undos due at `now` for the lease time (`LEASE`).
pub async fn claim(
    db: &DatabaseConnection,
    limit: u64,
    now: DateTime<Utc>,
) -> DomainResult<Vec<payment_undo::Model>> {
    let tx = begin_write(db).await?;
    let mut q = payment_undo::Entity::find()
        .filter(payment_undo::Column::Status.eq("pending"))
        .filter(payment_undo::Column::NextAttemptAt.lte(now))
        .order_by_asc(payment_undo::Column::NextAttemptAt)
        .order_by_asc(payment_undo::Column::Id)
        .limit(limit);
    if tx.get_database_backend() == DatabaseBackend::Postgres {
        q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = q.all(&tx).await?;
    if !rows.is_empty() {
        let until =
            (now + TimeDelta::from_std(LEASE).unwrap_or(TimeDelta::minutes(5))).trunc_subsecs(6);
        payment_undo::Entity::update_many()
            .col_expr(payment_undo::Column::NextAttemptAt, Expr::value(until))
            .filter(payment_undo::Column::Id.is_in(rows.iter().map(|r| r.id)))
            .exec(&tx)
            .await?;
    }
    tx.commit().await?;
    Ok(rows)
}

/// Records the outcome of an attempt at a claimed undo made at `now` (a
/// retry falls due counting from then).
async fn record(
    db: &impl ConnectionTrait,
    row: &payment_undo::Model,
    outcome: &Result<(), GatewayError>,
    retry: Retry,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let now = now.trunc_subsecs(6);
    let attempts = u32::try_from(row.attempts).unwrap_or(0) + 1;
    let (status, next, error) = match outcome {
        Ok(()) => ("done", now, None),
        Err(e) if worth_retrying(e) => {
            let wait = backoff(attempts, retry.base, retry.cap);
            let next =
                (now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1))).trunc_subsecs(6);
            ("pending", next, Some(e.to_string()))
        }
        Err(e) => ("failed", now, Some(e.to_string())),
    };
    payment_undo::Entity::update_many()
        .col_expr(payment_undo::Column::Status, Expr::value(status))
        .col_expr(
            payment_undo::Column::Attempts,
            Expr::col(payment_undo::Column::Attempts).add(1),
        )
        .col_expr(payment_undo::Column::NextAttemptAt, Expr::value(next))
        .col_expr(
            payment_undo::Column::LastError,
            Expr::value(error.map(|e| e.chars().take(ERROR_CHARS).collect::<String>())),
        )
        .col_expr(payment_undo::Column::UpdatedAt, Expr::value(now))
        .filter(payment_undo::Column::Id.eq(row.id))
        .filter(payment_undo::Column::Status.eq("pending"))
        .exec(db)
        .await?;
    match (status, outcome) {
        ("done", _) => {
            tracing::info!(gateway = %row.gateway, attempts, "a queued void or refund went through");
        }
        ("failed", Err(e)) => {
            tracing::error!(gateway = %row.gateway, reference = %row.reference, error = %e, "the gateway refused a queued void or refund; settle it on the gateway");
        }
        (_, Err(e)) => {
            tracing::warn!(gateway = %row.gateway, attempts, error = %e, "a queued void or refund failed again; retrying later");
        }
        _ => {}
    }
    Ok(())
}

/// One round at `clock`'s time: claims due undos and attempts each.
/// Returns how many were attempted.
pub async fn run_once(
    db: &DatabaseConnection,
    gateways: &Gateways,
    retry: Retry,
    clock: &Clock,
) -> DomainResult<usize> {
    let rows = claim(db, CLAIM, clock.now()).await?;
    for row in &rows {
        let outcome = match (undo_of(row), gateways.get(&row.gateway)) {
            (Some(undo), Some(gateway)) => attempt(gateway.as_ref(), &undo).await,
            (None, _) => Err(GatewayError::UnexpectedResponse(
                "the queued undo is unreadable".to_owned(),
            )),
            (_, None) => Err(GatewayError::Misconfigured(format!(
                "the gateway `{}` is not enabled",
                row.gateway
            ))),
        };
        record(db, row, &outcome, retry, clock.now()).await?;
    }
    Ok(rows.len())
}

/// Runs [`run_once`] until the process ends: again at once while rounds
/// are full, else after `retry.poll`.
pub async fn run_worker(
    db: DatabaseConnection,
    gateways: Arc<Gateways>,
    retry: Retry,
    clock: Clock,
) {
    loop {
        match run_once(&db, &gateways, retry, &clock).await {
            Ok(n) if n as u64 == CLAIM => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "payment undo round failed"),
        }
        tokio::time::sleep(retry.poll).await;
    }
}
