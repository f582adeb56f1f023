//! An order (`order` is a reserved word in SQL).

use sea_orm::entity::prelude::*;

/// A row of `shop_order`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shop_order")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Channel.
    pub channel_id: i64,
    /// The customer, when signed in.
    pub customer_id: Option<i64>,
    /// The cart it came from.
    pub cart_id: Option<i64>,
    /// Buyer email.
    pub email: String,
    /// Currency.
    pub currency_code: String,
    /// The channel's convention when ordered.
    pub prices_include_tax: bool,
    /// JSON.
    pub shipping_address: Option<String>,
    /// JSON.
    pub billing_address: Option<String>,
    /// Snapshot.
    pub shipping_method_code: Option<String>,
    /// Snapshot.
    pub shipping_method_name: Option<String>,
    /// JSON snapshot of the applied discounts.
    pub discounts: String,
    /// Sum of line subtotals.
    pub subtotal_minor: i64,
    /// All discounts.
    pub discounts_minor: i64,
    /// Shipping before discounts.
    pub shipping_minor: i64,
    /// All tax.
    pub tax_minor: i64,
    /// Order total.
    pub total_minor: i64,
    /// Paid by gift cards.
    pub gift_card_minor: i64,
    /// Paid by store credit.
    pub store_credit_minor: i64,
    /// Asked of the payment gateway.
    pub amount_due_minor: i64,
    /// Order status.
    pub status: String,
    /// Payment status.
    pub payment_status: String,
    /// Fulfillment status.
    pub fulfillment_status: String,
    /// State machine: authorized.
    pub authorized_minor: i64,
    /// State machine: captured.
    pub captured_minor: i64,
    /// State machine: refunded.
    pub refunded_minor: i64,
    /// State machine: items ordered.
    pub ordered_quantity: i32,
    /// State machine: items fulfilled.
    pub fulfilled_quantity: i32,
    /// State machine: items returned.
    pub returned_quantity: i32,
    /// State machine: `cancelled` or `completed`.
    pub closure: Option<String>,
    /// State machine: `voided` or `failed`.
    pub payment_mark: Option<String>,
    /// Bumped by every state change (compare-and-set).
    pub lock_version: i32,
    /// While it awaits payment: when it is cancelled unless paid.
    pub payment_due_at: Option<DateTimeUtc>,
    /// A keyed digest of the network it was placed from (for the cap on
    /// unpaid orders per client address).
    pub client_address: Option<String>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTimeUtc>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// How its card money is captured: `automatic`, `on_fulfillment` or `manual`.
    pub capture_mode: String,
    /// Placed at.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// `shop_order` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
