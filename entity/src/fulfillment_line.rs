//! Units of one order line in a fulfilment.

use sea_orm::entity::prelude::*;

/// A row of `fulfillment_line`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fulfillment_line")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The fulfilment.
    pub fulfillment_id: i64,
    /// The order line.
    pub order_line_id: i64,
    /// Units shipped.
    pub quantity: i32,
}

/// `fulfillment_line` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
