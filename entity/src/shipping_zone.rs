//! A set of countries shipping methods serve.

use sea_orm::entity::prelude::*;

/// A row of `shipping_zone`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shipping_zone")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Space-separated ISO 3166 alpha-2 codes.
    pub countries: String,
}

/// `shipping_zone` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
