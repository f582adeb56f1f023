//! Units of one order line in a refund.

use sea_orm::entity::prelude::*;

/// A row of `refund_line`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refund_line")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The refund.
    pub refund_id: i64,
    /// The order line.
    pub order_line_id: i64,
    /// Units refunded.
    pub quantity: i32,
    /// Whether the units go back on hand.
    pub restock: bool,
    /// What the units are worth, from the line's snapshot.
    pub amount_minor: i64,
}

/// `refund_line` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
