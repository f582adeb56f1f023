//! One change of a stock level, kept forever.

use sea_orm::entity::prelude::*;

/// A row of `inventory_movement`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inventory_movement")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The variant.
    pub variant_id: i64,
    /// The location.
    pub location_id: i64,
    /// Change of on-hand quantity.
    pub delta: i32,
    /// On hand after the change.
    pub on_hand_after: i32,
    /// Why: sync, received, damaged, correction, ...
    pub reason: String,
    /// Reference document (PO, delivery note...).
    pub reference: Option<String>,
    /// Who made it.
    pub actor_label: String,
    /// The source system's time of the quantity.
    pub source_at: Option<DateTimeUtc>,
    /// When it was recorded.
    pub at: DateTimeUtc,
}

/// `inventory_movement` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
