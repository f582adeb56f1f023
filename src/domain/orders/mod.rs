//! Orders after payment, the money side: capturing an authorization
//! ([`capture`]), recording an offline payment ([`capture::mark_as_paid`]),
//! refunds across the tenders that paid ([`refund`]) and cancellation
//! ([`cancel`]). GraphQL-free: staff and partner resolvers call these with
//! an [`Operator`], and other use cases (fulfilment) call
//! [`capture::capture_amount`].
//!
//! Invariants every operation here keeps:
//! - The order's numbers move only through the order state machine
//!   ([`crate::domain::order_state`], applied by
//!   [`crate::domain::checkout::orders::apply`]): never more captured than
//!   authorized, never more refunded than captured.
//! - Gateway calls happen outside database transactions; what they did is
//!   then recorded in one transaction, which first locks the audit chain's
//!   head and then the order's row, so writers of one order (and every
//!   audited writer) take turns. Every gateway key comes from
//!   [`crate::domain::checkout::keys::CheckoutKeys::order_key`], derived
//!   from the order and a stable id of the operation, so a retried call is
//!   the same call at the gateway.
//! - Every operation appends to the audit chain, writes an `order_event`
//!   timeline row (`captured`, `marked_paid`, `refunded`, `refund_failed`,
//!   `cancelled`) and raises its domain events through the outbox in the
//!   same transaction. A refusal (a typed [`UserError`]) writes nothing.
//! - With an idempotency key (scoped to the caller), the first answer is
//!   kept and returned to every retry.

pub mod cancel;
pub mod capture;
pub mod refund;

use std::str::FromStr;

use chrono::{DateTime, SubsecRound, Utc};
use entity::{order_event, shop_order};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, sea_query::Expr,
};
use serde::{Deserialize, Serialize};

use crate::domain::{
    audit::{self, Actor, Change},
    checkout::{keys::CheckoutKeys, orders},
    clock::Clock,
    error::{DomainResult, UserError, UserErrorCode},
    idempotency::{self, Refusal},
    money::Currency,
    payments::{CaptureMode, Gateways},
};

/// How an order's card money is captured: the node's
/// `EMPORIUM_PAYMENT_CAPTURE`, stored on each order when it is placed
/// (`shop_order.capture_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CapturePolicy {
    /// A sale at checkout.
    #[default]
    Automatic,
    /// Authorize at checkout; each fulfilment captures what it ships.
    OnFulfillment,
    /// Authorize at checkout; staff capture with `orderCapture`.
    Manual,
}

impl CapturePolicy {
    /// The stored form: `automatic`, `on_fulfillment` or `manual`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Automatic => "automatic",
            Self::OnFulfillment => "on_fulfillment",
            Self::Manual => "manual",
        }
    }

    /// What the gateway is asked at checkout: a sale, or an authorization.
    pub fn gateway_mode(self) -> CaptureMode {
        match self {
            Self::Automatic => CaptureMode::Automatic,
            Self::OnFulfillment | Self::Manual => CaptureMode::Manual,
        }
    }
}

impl FromStr for CapturePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "automatic" => Ok(Self::Automatic),
            "on_fulfillment" => Ok(Self::OnFulfillment),
            "manual" => Ok(Self::Manual),
            other => Err(other.to_owned()),
        }
    }
}

/// What the money operations need from the node.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The database.
    pub db: &'a DatabaseConnection,
    /// Enabled gateways.
    pub gateways: &'a Gateways,
    /// Derives gateway idempotency keys.
    pub keys: &'a CheckoutKeys,
    /// The time the records go by.
    pub clock: &'a Clock,
}

impl Env<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }
}

/// Who runs an operation.
#[derive(Debug, Clone)]
pub struct Operator {
    /// For the audit chain.
    pub actor: Actor,
    /// Whose idempotency keys these are, and the timeline's actor
    /// (`staff:2`, `token:5`).
    pub scope: String,
}

/// The answer of an operation (kept for idempotent retries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The order, when the operation found it.
    pub order_id: Option<i64>,
    /// The refund made or retried, if any.
    pub refund_id: Option<i64>,
    /// Why nothing was done.
    pub errors: Vec<UserError>,
}

impl Answer {
    fn done(order_id: i64) -> Self {
        Self {
            order_id: Some(order_id),
            ..Self::default()
        }
    }

    fn refused(field: &[&str], code: UserErrorCode, message: impl Into<String>) -> Self {
        Self {
            errors: vec![UserError::new(field, code, message)],
            ..Self::default()
        }
    }
}

/// The longest idempotency key the operations accept (after trimming).
pub const MAX_KEY_LEN: usize = 255;

/// Runs `run` once per caller-scoped idempotency key (see
/// [`crate::domain::idempotency::once`]); `request` must name the
/// operation and its input.
async fn once<F, Fut>(
    env: &Env<'_>,
    operator: &Operator,
    key: Option<&str>,
    request: &impl Serialize,
    run: F,
) -> DomainResult<Answer>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = DomainResult<Answer>>,
{
    if key.is_some_and(|k| k.trim().len() > MAX_KEY_LEN) {
        return Ok(Answer::refused(
            &["idempotencyKey"],
            UserErrorCode::TooLong,
            format!("the idempotency key is longer than {MAX_KEY_LEN} characters"),
        ));
    }
    let scope = format!("orders:{}", operator.scope);
    let answer = idempotency::once(env.db, env.clock, &scope, key, request, run).await?;
    Ok(match answer {
        Ok(a) => a,
        Err(Refusal::DifferentRequest) => Answer::refused(
            &["idempotencyKey"],
            UserErrorCode::IdempotencyKeyReused,
            "this idempotency key was used for a different request",
        ),
        Err(Refusal::InProgress) => Answer::refused(
            &["idempotencyKey"],
            UserErrorCode::RequestInProgress,
            "a request with this idempotency key is still running; retry shortly",
        ),
    })
}

/// The stable id of an operation for its gateway key: the caller's scoped
/// idempotency key, or a fresh one.
fn operation_id(operator: &Operator, key: Option<&str>) -> String {
    match key.map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => format!("{}:{k}", operator.scope),
        None => uuid::Uuid::new_v4().to_string(),
    }
}

/// Locks the order's row for the caller's transaction (a no-op update;
/// PostgreSQL holds the row lock to the end, SQLite's writer has the
/// database) and reads it fresh.
async fn lock_order(
    tx: &impl ConnectionTrait,
    order_id: i64,
) -> DomainResult<Option<shop_order::Model>> {
    let locked = shop_order::Entity::update_many()
        .col_expr(
            shop_order::Column::LockVersion,
            Expr::col(shop_order::Column::LockVersion),
        )
        .filter(shop_order::Column::Id.eq(order_id))
        .exec(tx)
        .await?;
    if locked.rows_affected == 0 {
        return Ok(None);
    }
    orders::get(tx, order_id).await
}

/// Appends one entry to the order's timeline.
async fn timeline(
    tx: &impl ConnectionTrait,
    order_id: i64,
    kind: &str,
    message: String,
    detail: serde_json::Value,
    actor: &str,
    at: DateTime<Utc>,
) -> DomainResult<()> {
    order_event::Entity::insert(order_event::ActiveModel {
        order_id: Set(order_id),
        kind: Set(kind.to_owned()),
        message: Set(message),
        detail: Set(detail.to_string()),
        actor: Set(actor.to_owned()),
        created_at: Set(at),
        ..Default::default()
    })
    .exec_without_returning(tx)
    .await?;
    Ok(())
}

/// Appends one audit entry about an order (or one of its refunds).
async fn audited(
    tx: &DatabaseTransaction,
    head: &mut audit::Head,
    operator: &Operator,
    action: &'static str,
    entity: (&'static str, i64),
    before: Option<serde_json::Value>,
    after: serde_json::Value,
) -> DomainResult<()> {
    audit::append(
        tx,
        head,
        &operator.actor,
        vec![Change {
            action,
            entity_type: entity.0,
            entity_id: entity.1.to_string(),
            before,
            after: Some(after),
        }],
    )
    .await
}

/// The money columns of an order, for audit entries.
fn money_of(row: &shop_order::Model) -> serde_json::Value {
    serde_json::json!({
        "status": row.status,
        "paymentStatus": row.payment_status,
        "authorizedMinor": row.authorized_minor,
        "capturedMinor": row.captured_minor,
        "refundedMinor": row.refunded_minor,
    })
}

/// The order's currency.
fn currency_of(row: &shop_order::Model) -> DomainResult<Currency> {
    row.currency_code.parse().map_err(|_| {
        crate::domain::error::DomainError::Inconsistent(format!(
            "order {}: unknown currency {}",
            row.id, row.currency_code
        ))
    })
}

/// An amount for people: minor units with the currency's decimals.
fn shown(minor: i64, currency: Currency) -> String {
    format!(
        "{} {}",
        crate::domain::money::Money::from_minor(minor, currency).amount(),
        currency.code()
    )
}

/// `amount` in minor units of `currency`, or the user error of an amount
/// with more decimals than the currency has.
fn minor_of(
    amount: rust_decimal::Decimal,
    currency: Currency,
    field: &[&str],
) -> Result<i64, Vec<UserError>> {
    crate::domain::money::Money::exact_minor(amount, currency).ok_or_else(|| {
        vec![UserError::new(
            field,
            UserErrorCode::Invalid,
            format!("the amount has more decimals than {} has", currency.code()),
        )]
    })
}

/// Not found, as every operation answers for an unknown order.
fn order_not_found(field: &str) -> Answer {
    Answer::refused(&[field], UserErrorCode::NotFound, "no such order")
}

/// What is left to capture and to refund of an order, for display.
pub fn refundable(row: &shop_order::Model, claimed: i64) -> i64 {
    (row.captured_minor - claimed).max(0)
}
