//! Lifecycle of a product: only `Active` products are visible to storefronts.

use sea_orm::entity::prelude::*;

/// Publication status of a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ProductStatus {
    /// Being prepared; invisible to storefronts.
    #[sea_orm(string_value = "draft")]
    Draft,
    /// On sale.
    #[sea_orm(string_value = "active")]
    Active,
    /// Retired; kept for order history, invisible to storefronts.
    #[sea_orm(string_value = "archived")]
    Archived,
}
