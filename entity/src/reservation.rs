//! Stock held for a cart or an order at one stock level.

use sea_orm::entity::prelude::*;

/// A row of `reservation`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reservation")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The stock level whose `reserved` counts it.
    pub stock_level_id: i64,
    /// The variant.
    pub variant_id: i64,
    /// Units held.
    pub quantity: i32,
    /// The cart it holds for.
    pub cart_id: Option<i64>,
    /// The order it holds for.
    pub order_id: Option<i64>,
    /// Released after; `None`: held until fulfilled or cancelled.
    pub expires_at: Option<DateTimeUtc>,
    /// When.
    pub created_at: DateTimeUtc,
}

/// `reservation` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
