//! Carriers: who carries a fulfilment's parcel, as an interface the
//! fulfilment use cases call and adapters beside it implement. No GraphQL,
//! no database: fulfilment code calls a [`Carrier`] and stores what it
//! answers (label URL, tracking number, the adapter's reference).
//!
//! A carrier can quote rates for a parcel, buy a label (which also gives the
//! tracking number), look a tracking number up, and verify and read the
//! tracking webhooks it sends back. Built in:
//! - [`ManualCarrier`] (`manual`): tracking typed by staff; no labels, no
//!   rates, no webhooks.
//! - [`EasyPostCarrier`] (`easypost`): a multi-carrier label API in
//!   EasyPost's shape (shipments with rates, buying a rate, trackers,
//!   `tracker.updated` webhooks signed with HMAC-SHA256 of the body).
//!
//! Invariants every adapter keeps:
//! - API keys and webhook secrets never appear in logs, `Debug` output or
//!   error messages.
//! - A webhook is trusted only after its signature is checked against the
//!   raw body (constant-time); [`TrackingEvent::id`] is there so the caller
//!   can drop duplicates (carriers deliver at least once).

mod easypost;
mod manual;

use std::{collections::HashMap, fmt, sync::Arc};

use http::HeaderMap;
use serde::{Deserialize, Serialize};

pub use easypost::{EASYPOST_API_BASE, EasyPostCarrier, EasyPostConfig, SIGNATURE_HEADER, sign};
pub use manual::ManualCarrier;

/// Where a parcel goes from or to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcelAddress {
    /// Person.
    pub name: String,
    /// Company, if any.
    pub company: Option<String>,
    /// Street and number.
    pub street1: String,
    /// Apartment, suite ...
    pub street2: Option<String>,
    /// City.
    pub city: String,
    /// State or province code.
    pub state: Option<String>,
    /// Postal code.
    pub zip: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Phone, if known.
    pub phone: Option<String>,
}

/// A parcel: its weight (grams) and, when known, its dimensions (cm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parcel {
    /// Weight in grams.
    pub weight_grams: i64,
}

/// What a label is bought for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRequest {
    /// From (the stock location).
    pub from: ParcelAddress,
    /// To (the order's shipping address).
    pub to: ParcelAddress,
    /// The parcel.
    pub parcel: Parcel,
    /// Emporium's reference (the order number), sent as the shipment's
    /// reference.
    pub reference: String,
}

/// One price offered for a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// The adapter's id of the rate.
    pub id: String,
    /// The carrier that would carry it (`USPS`, `UPS` ...).
    pub carrier: String,
    /// Its service level (`Priority`, `Ground` ...).
    pub service: String,
    /// Price in minor units.
    pub amount_minor: i64,
    /// ISO currency code.
    pub currency: String,
}

/// The rates offered for a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The adapter's id of the shipment the rates are for.
    pub shipment_id: String,
    /// The rates, cheapest first.
    pub rates: Vec<Rate>,
}

/// A label bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Where to print it from.
    pub label_url: String,
    /// The tracking number.
    pub tracking_number: String,
    /// Where the customer follows the parcel, if the carrier has a page.
    pub tracking_url: Option<String>,
    /// The carrier that carries it (`USPS` ...).
    pub carrier: String,
    /// The adapter's reference (its shipment id), stored as the
    /// fulfilment's `carrier_reference`; webhooks name it.
    pub reference: String,
}

/// Where a parcel stands, as carriers report it. Ordered: a fulfilment
/// moves only forward ([`ShipmentStatus::rank`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    /// Handed over or labelled; the carrier has not moved it yet
    /// (EasyPost `pre_transit`, `unknown`).
    Shipped,
    /// Moving (`in_transit`, `available_for_pickup`).
    InTransit,
    /// On the van for delivery today.
    OutForDelivery,
    /// The carrier could not deliver it (`failure`, `return_to_sender`,
    /// `error`).
    Failure,
    /// Delivered: final.
    Delivered,
}

impl ShipmentStatus {
    /// The stored form (`shipped`, `in_transit` ...), as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shipped => "shipped",
            Self::InTransit => "in_transit",
            Self::OutForDelivery => "out_for_delivery",
            Self::Failure => "failure",
            Self::Delivered => "delivered",
        }
    }

    /// The status stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Shipped,
            Self::InTransit,
            Self::OutForDelivery,
            Self::Failure,
            Self::Delivered,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// How far along the parcel is: `shipped` 0, `in_transit` 1,
    /// `out_for_delivery` 2, `failure` 3, `delivered` 4. A report is applied
    /// only if it ranks higher than the fulfilment's status, so an older
    /// event delivered late never undoes a newer one, and `delivered` is
    /// final.
    pub fn rank(self) -> u8 {
        match self {
            Self::Shipped => 0,
            Self::InTransit => 1,
            Self::OutForDelivery => 2,
            Self::Failure => 3,
            Self::Delivered => 4,
        }
    }
}

/// What a tracking lookup or webhook says about one parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingStatus {
    /// The tracking number.
    pub tracking_number: String,
    /// The adapter's shipment id, when it knows it.
    pub reference: Option<String>,
    /// Where it stands.
    pub status: ShipmentStatus,
    /// The tracking page, if any.
    pub tracking_url: Option<String>,
}

/// A verified tracking webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingEvent {
    /// The carrier's event id: record it and skip an id seen before.
    pub id: String,
    /// The parcel's news, or `None` for an event emporium does not act on.
    pub tracking: Option<TrackingStatus>,
}

/// Why a carrier call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// The carrier does not do this (the `manual` one buys no labels).
    #[error("the {carrier} carrier does not support {what}")]
    Unsupported {
        /// The carrier code.
        carrier: &'static str,
        /// What was asked.
        what: &'static str,
    },
    /// The carrier refused the request (bad address, no rate ...).
    #[error("the carrier refused the request: {0}")]
    Rejected(String),
    /// The carrier could not be reached or failed; try again.
    #[error("the carrier could not be reached: {0}")]
    Unavailable(String),
    /// The adapter's settings are wrong (bad key, bad URL).
    #[error("the carrier is misconfigured: {0}")]
    Misconfigured(String),
}

/// Why a webhook delivery was not accepted (answer 400: nothing changes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierWebhookError {
    /// No signature header.
    #[error("missing signature header")]
    MissingSignature,
    /// The signature does not match the body and the secret.
    #[error("signature does not match")]
    BadSignature,
    /// A correctly signed body that is not an event.
    #[error("unparseable webhook body: {0}")]
    UnparseableBody(String),
    /// The carrier sends no webhooks (or has no secret configured).
    #[error("this carrier does not send webhooks")]
    Unsupported,
}

/// A carrier emporium ships with.
#[async_trait::async_trait]
pub trait Carrier: Send + Sync {
    /// The stable code (`manual`, `easypost`), stored on each fulfilment
    /// and used in webhook URLs.
    fn code(&self) -> &'static str;

    /// The rates offered for a shipment.
    async fn rates(&self, shipment: &ShipmentRequest) -> Result<Quote, CarrierError>;

    /// Buys the cheapest label for a shipment.
    async fn buy_label(&self, shipment: &ShipmentRequest) -> Result<Label, CarrierError>;

    /// Looks a tracking number up (`carrier`: the carrier that carries it,
    /// when known).
    async fn track(
        &self,
        tracking_number: &str,
        carrier: Option<&str>,
    ) -> Result<TrackingStatus, CarrierError>;

    /// Verifies a webhook delivery (raw `body` exactly as received, its
    /// `headers`) and reads the event it carries.
    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<TrackingEvent, CarrierWebhookError>;
}

/// The carriers a server offers, by code. Cheap to clone.
#[derive(Clone, Default)]
pub struct Carriers {
    by_code: HashMap<&'static str, Arc<dyn Carrier>>,
}

impl Carriers {
    /// A registry of `carriers`, each under its [`Carrier::code`] (a later
    /// one with the same code replaces an earlier one).
    pub fn new(carriers: Vec<Arc<dyn Carrier>>) -> Self {
        Self {
            by_code: carriers.into_iter().map(|c| (c.code(), c)).collect(),
        }
    }

    /// `manual`, plus `easypost` when `easypost` settings are given.
    pub fn from_settings(easypost: Option<EasyPostConfig>) -> Result<Self, CarrierError> {
        let mut carriers: Vec<Arc<dyn Carrier>> = vec![Arc::new(ManualCarrier)];
        if let Some(config) = easypost {
            carriers.push(Arc::new(EasyPostCarrier::new(config)?));
        }
        Ok(Self::new(carriers))
    }

    /// The carrier with `code`, if enabled.
    pub fn get(&self, code: &str) -> Option<Arc<dyn Carrier>> {
        self.by_code.get(code).cloned()
    }

    /// The codes of the enabled carriers, sorted.
    pub fn codes(&self) -> Vec<&'static str> {
        let mut codes: Vec<_> = self.by_code.keys().copied().collect();
        codes.sort_unstable();
        codes
    }

    /// The carrier labels are bought from when staff ask for one: the
    /// first enabled carrier that is not `manual`.
    pub fn label_carrier(&self) -> Option<Arc<dyn Carrier>> {
        self.codes()
            .into_iter()
            .find(|c| *c != "manual")
            .and_then(|c| self.get(c))
    }
}

impl fmt::Debug for Carriers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Carriers")
            .field("codes", &self.codes())
            .finish()
    }
}
