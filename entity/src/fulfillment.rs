//! A shipment of some of an order's units from one stock location, with its tracking.

use sea_orm::entity::prelude::*;

/// A row of `fulfillment`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fulfillment")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// The stock location it ships from.
    pub location_id: i64,
    /// `shipped`, `in_transit`, `out_for_delivery`, `delivered`, `failure` or `cancelled`.
    pub status: String,
    /// Carrier code (`manual`, `easypost` ...).
    pub carrier: Option<String>,
    /// Tracking number.
    pub tracking_number: Option<String>,
    /// Where the customer follows the parcel.
    pub tracking_url: Option<String>,
    /// A label bought through the carrier adapter.
    pub label_url: Option<String>,
    /// The carrier adapter's id of the shipment or tracker.
    pub carrier_reference: Option<String>,
    /// Captured when it shipped (capture mode `on_fulfillment`).
    pub captured_minor: i64,
    /// Who created it: `staff:2`, `token:5` ...
    pub actor: String,
    /// When.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
    /// When the carrier reported it delivered.
    pub delivered_at: Option<DateTimeUtc>,
    /// When it was cancelled (its units went back on hand).
    pub cancelled_at: Option<DateTimeUtc>,
}

/// `fulfillment` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
