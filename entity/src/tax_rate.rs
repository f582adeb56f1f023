//! A tax rate for a tax class in a country or region.

use sea_orm::entity::prelude::*;

/// A row of `tax_rate`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tax_rate")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// ISO 3166 alpha-2 country code, upper case.
    pub country: String,
    /// Region code within the country; empty for the whole country.
    pub region: String,
    /// The tax class it applies to (a variant's `tax_class`).
    pub tax_class: String,
    /// Rate in parts per million: 200000 is 20 %.
    pub rate_ppm: i64,
    /// Label shown with the tax, e.g. `VAT`.
    pub name: String,
}

/// `tax_rate` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
