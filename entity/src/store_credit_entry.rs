//! A store credit ledger entry.

use sea_orm::entity::prelude::*;

/// A row of `store_credit_entry`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "store_credit_entry")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The account.
    pub account_id: i64,
    /// Signed amount.
    pub amount_minor: i64,
    /// The order it paid for.
    pub order_id: Option<i64>,
    /// `adjustment`, `order`, `refund` ...
    pub reason: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// `store_credit_entry` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
