//! A sellable unit of a product with its own SKU, stock and prices.

use sea_orm::entity::prelude::*;

/// A row of `variant`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "variant")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `product_id` column.
    pub product_id: i64,
    /// The `sku` column.
    #[sea_orm(unique)]
    pub sku: String,
    /// The `title` column.
    pub title: String,
    /// The `position` column.
    pub position: i32,
    /// The `weight_grams` column.
    pub weight_grams: Option<i32>,
    /// The `barcode` column.
    pub barcode: Option<String>,
    /// The `track_inventory` column.
    pub track_inventory: bool,
    /// The `allow_backorder` column.
    pub allow_backorder: bool,
    /// The `tax_class` column.
    pub tax_class: String,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row last changed.
    pub updated_at: DateTimeUtc,
}

/// `variant` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
