//! An option a product varies by (Size, Color), in display order.

use sea_orm::entity::prelude::*;

/// A row of `product_option`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_option")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `product_id` column.
    pub product_id: i64,
    /// The `name` column.
    pub name: String,
    /// The `position` column.
    pub position: i32,
}

/// `product_option` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
