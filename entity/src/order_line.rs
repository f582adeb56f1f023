//! A line of an order: a snapshot of what was bought.

use sea_orm::entity::prelude::*;

/// A row of `order_line`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_line")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// The variant, while it exists.
    pub variant_id: Option<i64>,
    /// The product, at order time.
    pub product_id: Option<i64>,
    /// Snapshot.
    pub sku: String,
    /// Snapshot.
    pub product_title: String,
    /// Snapshot.
    pub variant_title: String,
    /// Units.
    pub quantity: i32,
    /// Unit price.
    pub unit_price_minor: i64,
    /// Unit price × quantity.
    pub subtotal_minor: i64,
    /// Discounts allocated to it.
    pub discount_minor: i64,
    /// Tax.
    pub tax_minor: i64,
    /// What it costs.
    pub total_minor: i64,
    /// Tax class.
    pub tax_class: String,
    /// Rate applied.
    pub tax_rate_ppm: i64,
    /// JSON allocations.
    pub discount_allocations: String,
    /// Line order.
    pub position: i32,
    /// Units shipped by fulfilments that are not cancelled.
    pub quantity_fulfilled: i32,
    /// Units cancelled (never to be shipped).
    pub quantity_cancelled: i32,
    /// Units refunded.
    pub quantity_refunded: i32,
}

/// `order_line` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
