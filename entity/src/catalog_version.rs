//! The single-row counter that database triggers move forward on every change
//! to catalog data; cached storefront responses are valid only at the version
//! they were built at.

use sea_orm::entity::prelude::*;

/// The catalog version row (`id` is always 1).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "catalog_version")]
pub struct Model {
    /// Always 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// Moves forward with every catalog change.
    pub version: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
