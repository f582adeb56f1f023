//! Fulfilment: shipping an order's units from a stock location, their
//! tracking, and carriers (labels and tracking webhooks). No GraphQL, no
//! HTTP: the API layers call [`FulfillmentService`] and the free functions
//! here.
//!
//! Invariants:
//! - A line never ships more than it has left:
//!   `quantity_fulfilled + quantity_cancelled <= quantity`, checked again
//!   by a conditional update in the writing transaction, so of two
//!   concurrent fulfilments of the last unit exactly one wins.
//! - Shipping turns the order's holds at the location into an on-hand
//!   decrease there: the order's reservations at that stock level are used
//!   first (`reserved` and `on_hand` both go down), any rest comes from the
//!   free stock (`on_hand - reserved`) of the location, or the fulfilment is
//!   refused (`LOCATION_STOCK_INSUFFICIENT`); holds of the order beyond what
//!   its lines still have to ship (units shipped from another location) are
//!   released. Every change writes an `inventory_movement` (reason
//!   `fulfilled`, or `fulfillment_cancelled`) and a `stock.changed` event.
//!   Variants that do not track inventory (and lines whose variant is gone)
//!   move no stock.
//! - The order moves through the state machine (`Fulfilled`, and
//!   `FulfillmentCancelled` when a fulfilment is cancelled); it must be
//!   `Open`.
//! - A cancelled fulfilment puts its units back on hand at its location and
//!   holds them for the order again (a reservation without expiry), as
//!   before it shipped; a delivered one cannot be cancelled.
//! - Shipment statuses only move forward (see
//!   [`carriers::ShipmentStatus::rank`]); `delivered` is final.
//! - Every staff or partner write is audited, leaves an `order_event` row
//!   on the order's timeline and its domain events through the outbox, in
//!   one transaction; a refused request writes nothing.

pub mod carriers;
mod create;
mod manage;
mod stock;
mod webhooks;
mod worth;

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use entity::{fulfillment, fulfillment_line, order_event};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};

pub use carriers::{Carrier, Carriers, ShipmentStatus};
pub use webhooks::{Handled, handle_webhook};
pub use worth::{LineShare, fulfillment_worth};

use super::{
    audit::Actor, checkout::keys::CheckoutKeys, clock::Clock, error::DomainResult,
    identity::customer::Address, payments::Gateways,
};

/// What a fulfilment weighs when none of its variants has a weight, in
/// grams (`EMPORIUM_DEFAULT_PARCEL_WEIGHT_GRAMS`).
pub const DEFAULT_PARCEL_WEIGHT_GRAMS: i64 = 500;

/// Settings of fulfilment.
#[derive(Debug, Clone)]
pub struct FulfillmentSettings {
    /// Where parcels ship from, for labels (`EMPORIUM_SHIP_FROM_ADDRESS`).
    pub ship_from: Option<Address>,
    /// The parcel weight used when no shipped variant has a weight.
    pub default_weight_grams: i64,
}

impl Default for FulfillmentSettings {
    fn default() -> Self {
        Self {
            ship_from: None,
            default_weight_grams: DEFAULT_PARCEL_WEIGHT_GRAMS,
        }
    }
}

/// The fulfilment use cases over one node's database, carriers and clock.
#[derive(Clone)]
pub struct FulfillmentService {
    /// The database.
    pub db: DatabaseConnection,
    /// The carriers enabled.
    pub carriers: Arc<Carriers>,
    /// Settings.
    pub settings: FulfillmentSettings,
    /// The time rules go by.
    pub clock: Clock,
    /// Payment gateways (capture mode `on_fulfillment` captures what ships).
    pub gateways: Arc<Gateways>,
    /// Derives gateway idempotency keys.
    pub keys: CheckoutKeys,
}

/// Tracking of a parcel, as staff type it or a label gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracking {
    /// Who carries it (`UPS`, `DHL`, a courier's name).
    pub carrier: Option<String>,
    /// Tracking number.
    pub number: Option<String>,
    /// Where the customer follows it.
    pub url: Option<String>,
}

/// Units of one order line to ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRequest {
    /// The order line.
    pub order_line_id: i64,
    /// Units.
    pub quantity: i32,
}

/// A fulfilment to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// The order.
    pub order_id: i64,
    /// What ships; empty: everything the order has left to ship.
    pub lines: Vec<LineRequest>,
    /// Where it ships from; `None`: where the order's holds are.
    pub location_id: Option<i64>,
    /// Tracking typed by staff.
    pub tracking: Option<Tracking>,
    /// Buy a label from the label carrier (its tracking replaces any typed).
    pub purchase_label: bool,
    /// Whether the customer is to be told (kept on the timeline entry for
    /// the notifications).
    pub notify_customer: bool,
}

/// What a fulfilment created (stored as the idempotent answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// The fulfilment.
    pub fulfillment_id: i64,
    /// Its order.
    pub order_id: i64,
    /// What it is worth (see [`fulfillment_worth`]): what capture mode
    /// `on_fulfillment` captures for it.
    pub worth_minor: i64,
}

/// Who asks: the audit actor and the short reference stored on rows
/// (`staff:2`, `token:5`).
#[derive(Debug, Clone)]
pub struct Caller {
    /// For the audit trail.
    pub actor: Actor,
    /// For the fulfilment's and timeline's `actor` columns.
    pub reference: String,
}

/// The fulfilment with this id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> DomainResult<Option<fulfillment::Model>> {
    Ok(fulfillment::Entity::find_by_id(id).one(db).await?)
}

/// The fulfilments of several orders, oldest first.
pub async fn of_orders(
    db: &impl ConnectionTrait,
    order_ids: &[i64],
) -> DomainResult<Vec<fulfillment::Model>> {
    Ok(fulfillment::Entity::find()
        .filter(fulfillment::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(fulfillment::Column::Id)
        .all(db)
        .await?)
}

/// The lines of several fulfilments.
pub async fn lines_of(
    db: &impl ConnectionTrait,
    fulfillment_ids: &[i64],
) -> DomainResult<Vec<fulfillment_line::Model>> {
    Ok(fulfillment_line::Entity::find()
        .filter(fulfillment_line::Column::FulfillmentId.is_in(fulfillment_ids.iter().copied()))
        .order_by_asc(fulfillment_line::Column::Id)
        .all(db)
        .await?)
}

/// The timeline entries of an order, oldest first.
pub async fn timeline(
    db: &impl ConnectionTrait,
    order_id: i64,
) -> DomainResult<Vec<order_event::Model>> {
    Ok(order_event::Entity::find()
        .filter(order_event::Column::OrderId.eq(order_id))
        .order_by_asc(order_event::Column::Id)
        .all(db)
        .await?)
}

/// Appends an entry to an order's timeline in the caller's transaction.
async fn note(
    tx: &impl ConnectionTrait,
    order_id: i64,
    kind: &str,
    message: String,
    detail: serde_json::Value,
    actor: &str,
    at: DateTime<Utc>,
) -> DomainResult<()> {
    order_event::Entity::insert(order_event::ActiveModel {
        order_id: Set(order_id),
        kind: Set(kind.to_owned()),
        message: Set(message),
        detail: Set(detail.to_string()),
        actor: Set(actor.to_owned()),
        created_at: Set(at.trunc_subsecs(6)),
        ..Default::default()
    })
    .exec_without_returning(tx)
    .await?;
    Ok(())
}

/// A tracking value trimmed, `None` when blank.
fn clean(v: Option<&String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl Tracking {
    /// The tracking with blank parts dropped; `None` when nothing is left.
    pub fn cleaned(&self) -> Option<Self> {
        let t = Self {
            carrier: clean(self.carrier.as_ref()),
            number: clean(self.number.as_ref()),
            url: clean(self.url.as_ref()),
        };
        (t.carrier.is_some() || t.number.is_some() || t.url.is_some()).then_some(t)
    }

    /// For the timeline: `UPS 1Z999` or `no tracking`.
    fn describe(&self) -> String {
        match (&self.carrier, &self.number) {
            (Some(c), Some(n)) => format!("{c} {n}"),
            (None, Some(n)) => n.clone(),
            (Some(c), None) => c.clone(),
            (None, None) => "no tracking number".into(),
        }
    }
}
