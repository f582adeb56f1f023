//! A line of a cart.

use sea_orm::entity::prelude::*;

/// A row of `cart_line`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cart_line")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The cart.
    pub cart_id: i64,
    /// The variant.
    pub variant_id: i64,
    /// Units.
    pub quantity: i32,
    /// When added (line order).
    pub created_at: DateTimeUtc,
}

/// `cart_line` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
