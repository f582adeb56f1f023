//! A way to ship in a zone and channel.

use sea_orm::entity::prelude::*;

/// A row of `shipping_method`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shipping_method")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The zone it serves.
    pub zone_id: i64,
    /// The channel it is offered in.
    pub channel_id: i64,
    /// Stable code, unique per channel.
    pub code: String,
    /// Display name.
    pub name: String,
    /// `flat`, `free_over` or `by_weight`.
    pub kind: String,
    /// Flat amount, or the amount below the free threshold.
    pub amount_minor: i64,
    /// Subtotal after discounts from which `free_over` ships free.
    pub threshold_minor: Option<i64>,
    /// `by_weight` brackets as JSON.
    pub brackets: Option<String>,
    /// Tax class shipping is taxed as; `None`: untaxed.
    pub tax_class: Option<String>,
    /// Offered at all.
    pub active: bool,
    /// Display order.
    pub position: i32,
}

/// `shipping_method` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
