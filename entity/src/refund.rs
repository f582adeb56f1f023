//! Money paid back on an order, across the tenders that paid it.

use sea_orm::entity::prelude::*;

/// A row of `refund`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refund")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// `pending`, `succeeded` or `failed` (retryable).
    pub status: String,
    /// Total paid back.
    pub amount_minor: i64,
    /// The shipping part of it.
    pub shipping_minor: i64,
    /// Currency.
    pub currency_code: String,
    /// `original` (the tenders that paid) or `store_credit`.
    pub destination: String,
    /// Staff's note.
    pub note: Option<String>,
    /// The caller's key, scoped to the caller; unique per order.
    pub idempotency_key: String,
    /// Who asked for it.
    pub actor: String,
    /// Why it failed, when it did.
    pub last_error: Option<String>,
    /// When.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// `refund` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
