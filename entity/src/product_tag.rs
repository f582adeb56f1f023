//! A free-form tag on a product, one row per tag.

use sea_orm::entity::prelude::*;

/// A row of `product_tag`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_tag")]
pub struct Model {
    /// The `product_id` column.
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_id: i64,
    /// The `tag` column.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
}

/// `product_tag` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
