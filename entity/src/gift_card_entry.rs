//! A gift card ledger entry: issue (+) or debit (−).

use sea_orm::entity::prelude::*;

/// A row of `gift_card_entry`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gift_card_entry")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The card.
    pub gift_card_id: i64,
    /// Signed amount.
    pub amount_minor: i64,
    /// The order it paid for.
    pub order_id: Option<i64>,
    /// `issued`, `order`, `refund` ...
    pub reason: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// `gift_card_entry` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
