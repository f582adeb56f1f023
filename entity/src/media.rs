//! An image (or other media) of a product, in display order.

use sea_orm::entity::prelude::*;

/// A row of `media`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "media")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `product_id` column.
    pub product_id: i64,
    /// The `url` column.
    pub url: String,
    /// The `alt` column.
    pub alt: Option<String>,
    /// The `position` column.
    pub position: i32,
    /// The `media_type` column.
    pub media_type: String,
}

/// `media` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
