//! A payment ledger entry.

use sea_orm::entity::prelude::*;

/// A row of `payment_transaction`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_transaction")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The payment.
    pub payment_id: i64,
    /// `authorization`, `capture`, `void`, `refund`, `failure`.
    pub kind: String,
    /// Amount.
    pub amount_minor: i64,
    /// The webhook event that reported it.
    pub gateway_event_id: Option<String>,
    /// Decline code or note.
    pub detail: Option<String>,
    /// When.
    pub created_at: DateTimeUtc,
}

/// `payment_transaction` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
