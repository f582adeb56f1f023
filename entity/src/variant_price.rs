//! A variant's price in one channel, optionally for a customer group and from a minimum quantity (tiers). Amounts are integers in the currency's minor unit.

use sea_orm::entity::prelude::*;

/// A row of `variant_price`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "variant_price")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `variant_id` column.
    pub variant_id: i64,
    /// The `channel_id` column.
    pub channel_id: i64,
    /// The `customer_group_id` column.
    pub customer_group_id: Option<i64>,
    /// The `min_quantity` column.
    pub min_quantity: i32,
    /// The `amount_minor` column.
    pub amount_minor: i64,
    /// The `compare_at_minor` column.
    pub compare_at_minor: Option<i64>,
}

/// `variant_price` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
