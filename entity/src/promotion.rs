//! A promotion: automatic, or behind a discount code.

use sea_orm::entity::prelude::*;

/// A row of `promotion`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "promotion")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The channel it runs in.
    pub channel_id: i64,
    /// Display name.
    pub name: String,
    /// Upper-cased discount code; `None` applies automatically.
    pub code: Option<String>,
    /// `percentage`, `fixed_amount`, `free_shipping` or `buy_x_get_y`.
    pub kind: String,
    /// Percentage off in parts per million (percentage, buy X get Y).
    pub percent_ppm: i64,
    /// Fixed amount off.
    pub amount_minor: i64,
    /// Buy X get Y: units bought.
    pub buy_quantity: i32,
    /// Buy X get Y: units discounted.
    pub get_quantity: i32,
    /// JSON of the variants, products and collections it applies to; `None`: the whole order.
    pub targets: Option<String>,
    /// Minimum subtotal of the lines it applies to.
    pub min_subtotal_minor: i64,
    /// Does not combine: the best exclusive one wins.
    pub exclusive: bool,
    /// Valid from.
    pub starts_at: Option<DateTimeUtc>,
    /// Valid until.
    pub ends_at: Option<DateTimeUtc>,
    /// Orders it may be used on in all.
    pub usage_limit: Option<i32>,
    /// Orders per customer.
    pub per_customer_limit: Option<i32>,
    /// Orders it was used on.
    pub times_used: i32,
    /// Switched on.
    pub active: bool,
    /// Creation time.
    pub created_at: DateTimeUtc,
}

/// `promotion` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
