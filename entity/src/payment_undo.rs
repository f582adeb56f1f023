//! A void or refund of a payment that checkout could not turn into an
//! order: queued when the first attempt failed, retried until it succeeds.

use sea_orm::entity::prelude::*;

/// A row of `payment_undo`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_undo")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Gateway code.
    pub gateway: String,
    /// The gateway's id of the payment.
    pub reference: String,
    /// `void` or `refund`.
    pub action: String,
    /// Minor units to refund (0 for a void).
    pub amount_minor: i64,
    /// Currency of the amount.
    pub currency_code: String,
    /// Sent with every attempt, so the gateway does it once.
    pub idempotency_key: String,
    /// `pending`, `done` or `failed` (refused by the gateway for good).
    pub status: String,
    /// Attempts made by the worker.
    pub attempts: i32,
    /// When a pending undo is next attempted.
    pub next_attempt_at: DateTimeUtc,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Queued at.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// `payment_undo` stands alone.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
