//! Stock of one variant at one location: available = on_hand - reserved.

use sea_orm::entity::prelude::*;

/// A row of `stock_level`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_level")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `variant_id` column.
    pub variant_id: i64,
    /// The `location_id` column.
    pub location_id: i64,
    /// The `on_hand` column.
    pub on_hand: i32,
    /// The `reserved` column.
    pub reserved: i32,
    /// The source system's time of the last quantity applied (older
    /// updates are ignored).
    pub source_at: Option<DateTimeUtc>,
}

/// `stock_level` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
