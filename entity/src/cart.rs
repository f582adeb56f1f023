//! A shopper's cart.

use sea_orm::entity::prelude::*;

/// A row of `cart`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cart")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The unguessable public id.
    pub token: String,
    /// The channel it prices in.
    pub channel_id: i64,
    /// The signed-in owner.
    pub customer_id: Option<i64>,
    /// Buyer email.
    pub email: Option<String>,
    /// Shipping address as JSON.
    pub shipping_address: Option<String>,
    /// Billing address as JSON.
    pub billing_address: Option<String>,
    /// Buyer country (tax, shipping) when no address yet.
    pub country: Option<String>,
    /// The chosen shipping method.
    pub shipping_method_id: Option<i64>,
    /// JSON array of entered codes, upper-cased.
    pub discount_codes: String,
    /// JSON array of applied gift card ids.
    pub gift_card_ids: String,
    /// The order it became; a completed cart is read-only.
    pub order_id: Option<i64>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// `cart` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
