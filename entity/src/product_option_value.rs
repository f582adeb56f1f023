//! One value of a product option (M, Red), in display order.

use sea_orm::entity::prelude::*;

/// A row of `product_option_value`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_option_value")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `option_id` column.
    pub option_id: i64,
    /// The `value` column.
    pub value: String,
    /// The `position` column.
    pub position: i32,
}

/// `product_option_value` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
