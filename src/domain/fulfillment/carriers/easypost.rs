//! The `easypost` carrier: a multi-carrier label API in EasyPost's shape,
//! at a configurable base URL (a local mock in tests).
//!
//! Requests are JSON POSTs with the API key as the HTTP basic-auth user
//! name. Mapping:
//!
//! | call | request | answer read |
//! |---|---|---|
//! | rates | `POST /v2/shipments` (`shipment`: `from_address`, `to_address`, `parcel.weight` in ounces, `reference`) | `id`, `rates[]` (`id`, `carrier`, `service`, `rate` as a decimal string, `currency`) |
//! | buy a label | the same, then `POST /v2/shipments/{id}/buy` (`rate.id`: the cheapest) | `tracking_code`, `postage_label.label_url`, `tracker.public_url`, `selected_rate.carrier` |
//! | track | `POST /v2/trackers` (`tracker`: `tracking_code`, `carrier`) | `tracking_code`, `status`, `public_url`, `shipment_id` |
//!
//! Webhooks: an `Event` whose `description` is `tracker.updated` (others are
//! acknowledged and ignored) and whose `result` is a `Tracker`; the header
//! [`SIGNATURE_HEADER`] carries `hmac-sha256-hex=<hex>`, the HMAC-SHA256 of
//! the raw body keyed with the webhook secret. Tracker statuses map as:
//! `pre_transit`, `unknown` → shipped; `in_transit`, `available_for_pickup`
//! → in transit; `out_for_delivery`; `delivered`; `failure`,
//! `return_to_sender`, `error` → failure; anything else is ignored.
//!
//! HTTP 401/403 is a misconfiguration; 429, 5xx, timeouts and connection
//! failures mean unavailable (try again); other 4xx are rejections.

use std::{fmt, time::Duration};

use hmac::{Hmac, Mac};
use http::HeaderMap;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use super::{
    Carrier, CarrierError, CarrierWebhookError, Label, ParcelAddress, Quote, Rate, ShipmentRequest,
    ShipmentStatus, TrackingEvent, TrackingStatus,
};
use crate::domain::{identity::secret::ct_eq, money::Currency};

/// EasyPost's public API base URL.
pub const EASYPOST_API_BASE: &str = "https://api.easypost.com";

/// The header carrying a webhook's signature.
pub const SIGNATURE_HEADER: &str = "x-hmac-signature";

/// Grams in an ounce, as a decimal (EasyPost weighs parcels in ounces).
fn grams_per_ounce() -> Decimal {
    Decimal::new(28_349_523_125, 9)
}

/// Settings of the `easypost` carrier.
#[derive(Clone)]
pub struct EasyPostConfig {
    /// The API base URL: [`EASYPOST_API_BASE`], or a mock server in tests.
    pub base_url: String,
    /// The API key.
    pub api_key: String,
    /// The secret webhooks are signed with (empty: webhooks are refused).
    pub webhook_secret: String,
    /// How long one API call may take, connection included.
    pub timeout: Duration,
}

impl EasyPostConfig {
    /// Settings for EasyPost's API with `api_key` and `webhook_secret` and a
    /// 30-second timeout.
    pub fn new(api_key: impl Into<String>, webhook_secret: impl Into<String>) -> Self {
        Self {
            base_url: EASYPOST_API_BASE.to_owned(),
            api_key: api_key.into(),
            webhook_secret: webhook_secret.into(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for EasyPostConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EasyPostConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"[redacted]")
            .field("webhook_secret", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The `easypost` carrier. See the module documentation for the mapping.
pub struct EasyPostCarrier {
    client: reqwest::Client,
    base_url: String,
    api_key: String,
    webhook_secret: String,
}

impl fmt::Debug for EasyPostCarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EasyPostCarrier")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The signature header value for `body` signed with `secret`:
/// `hmac-sha256-hex=<hex>` (what the mock server and tests send).
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!("hmac-sha256-hex={}", hex::encode(mac(secret, body)))
}

fn mac(secret: &str, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

impl EasyPostCarrier {
    /// A carrier with `config`; refuses an empty API key and a base URL
    /// that is not http(s).
    pub fn new(config: EasyPostConfig) -> Result<Self, CarrierError> {
        if config.api_key.trim().is_empty() {
            return Err(CarrierError::Misconfigured(
                "the EasyPost API key is empty".into(),
            ));
        }
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        match reqwest::Url::parse(&base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => {
                return Err(CarrierError::Misconfigured(format!(
                    "the EasyPost base URL `{base_url}` is not an http(s) URL"
                )));
            }
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| {
                CarrierError::Misconfigured(format!("cannot build the HTTP client: {e}"))
            })?;
        Ok(Self {
            client,
            base_url,
            api_key: config.api_key,
            webhook_secret: config.webhook_secret,
        })
    }

    /// POSTs `body` to `path` and reads a successful JSON answer.
    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, CarrierError> {
        let response = self
            .client
            .post(format!("{}{path}", self.base_url))
            .basic_auth(&self.api_key, Some(""))
            .json(body)
            .send()
            .await
            .map_err(|e| CarrierError::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CarrierError::Unavailable(e.without_url().to_string()))?;
        if !status.is_success() {
            tracing::warn!(status = status.as_u16(), path, "easypost refused a request");
            let message = serde_json::from_slice::<RawError>(&bytes)
                .ok()
                .and_then(|e| e.error.message)
                .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            return Err(match status.as_u16() {
                401 | 403 => CarrierError::Misconfigured(message),
                429 | 500..=599 => CarrierError::Unavailable(message),
                _ => CarrierError::Rejected(message),
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| CarrierError::Unavailable(format!("unreadable answer: {e}")))
    }

    async fn create_shipment(&self, shipment: &ShipmentRequest) -> Result<Quote, CarrierError> {
        let raw: RawShipment = self.post("/v2/shipments", &shipment_body(shipment)).await?;
        let mut rates: Vec<Rate> = raw.rates.into_iter().filter_map(RawRate::rate).collect();
        rates.sort_by(|a, b| a.amount_minor.cmp(&b.amount_minor).then(a.id.cmp(&b.id)));
        Ok(Quote {
            shipment_id: raw.id,
            rates,
        })
    }
}

fn address(a: &ParcelAddress) -> Value {
    json!({
        "name": a.name,
        "company": a.company,
        "street1": a.street1,
        "street2": a.street2,
        "city": a.city,
        "state": a.state,
        "zip": a.zip,
        "country": a.country,
        "phone": a.phone,
    })
}

/// Ounces of `grams`, at one decimal (at least 0.1).
fn ounces(grams: i64) -> Decimal {
    (Decimal::from(grams.max(1)) / grams_per_ounce())
        .round_dp(1)
        .max(Decimal::new(1, 1))
}

fn shipment_body(s: &ShipmentRequest) -> Value {
    // A JSON number written from the decimal's text: no float arithmetic.
    let weight: Value =
        serde_json::from_str(&ounces(s.parcel.weight_grams).to_string()).unwrap_or(Value::Null);
    json!({
        "shipment": {
            "reference": s.reference,
            "from_address": address(&s.from),
            "to_address": address(&s.to),
            "parcel": { "weight": weight },
        }
    })
}

/// Maps a tracker status; `None` for one emporium does not act on.
fn status_of(raw: &str) -> Option<ShipmentStatus> {
    Some(match raw {
        "pre_transit" | "unknown" => ShipmentStatus::Shipped,
        "in_transit" | "available_for_pickup" => ShipmentStatus::InTransit,
        "out_for_delivery" => ShipmentStatus::OutForDelivery,
        "delivered" => ShipmentStatus::Delivered,
        "failure" | "return_to_sender" | "error" => ShipmentStatus::Failure,
        _ => return None,
    })
}

#[derive(Deserialize)]
struct RawError {
    error: RawErrorDetail,
}

#[derive(Deserialize)]
struct RawErrorDetail {
    message: Option<String>,
}

#[derive(Deserialize)]
struct RawShipment {
    id: String,
    #[serde(default)]
    rates: Vec<RawRate>,
}

#[derive(Deserialize)]
struct RawRate {
    id: String,
    carrier: String,
    service: String,
    rate: String,
    currency: String,
}

impl RawRate {
    fn rate(self) -> Option<Rate> {
        let currency: Currency = self.currency.parse().ok()?;
        let amount: Decimal = self.rate.parse().ok()?;
        let amount_minor = crate::domain::money::Money::exact_minor(amount, currency)?;
        Some(Rate {
            id: self.id,
            carrier: self.carrier,
            service: self.service,
            amount_minor,
            currency: self.currency,
        })
    }
}

#[derive(Deserialize)]
struct RawBought {
    id: String,
    tracking_code: Option<String>,
    postage_label: Option<RawLabel>,
    tracker: Option<RawTracker>,
    selected_rate: Option<RawSelected>,
}

#[derive(Deserialize)]
struct RawLabel {
    label_url: Option<String>,
}

#[derive(Deserialize)]
struct RawSelected {
    carrier: Option<String>,
}

#[derive(Deserialize)]
struct RawTracker {
    tracking_code: Option<String>,
    status: Option<String>,
    public_url: Option<String>,
    shipment_id: Option<String>,
}

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    description: String,
    result: Value,
}

#[async_trait::async_trait]
impl Carrier for EasyPostCarrier {
    fn code(&self) -> &'static str {
        "easypost"
    }

    #[tracing::instrument(skip_all, fields(carrier = "easypost", reference = %shipment.reference))]
    async fn rates(&self, shipment: &ShipmentRequest) -> Result<Quote, CarrierError> {
        self.create_shipment(shipment).await
    }

    #[tracing::instrument(skip_all, fields(carrier = "easypost", reference = %shipment.reference))]
    async fn buy_label(&self, shipment: &ShipmentRequest) -> Result<Label, CarrierError> {
        let quote = self.create_shipment(shipment).await?;
        let cheapest = quote
            .rates
            .first()
            .ok_or_else(|| CarrierError::Rejected("no rate offered for this parcel".into()))?;
        let bought: RawBought = self
            .post(
                &format!("/v2/shipments/{}/buy", path_id(&quote.shipment_id)?),
                &json!({ "rate": { "id": cheapest.id } }),
            )
            .await?;
        let label_url = bought
            .postage_label
            .and_then(|l| l.label_url)
            .ok_or_else(|| CarrierError::Unavailable("the answer has no label URL".into()))?;
        let tracking_number = bought
            .tracking_code
            .or_else(|| {
                bought
                    .tracker
                    .as_ref()
                    .and_then(|t| t.tracking_code.clone())
            })
            .ok_or_else(|| CarrierError::Unavailable("the answer has no tracking code".into()))?;
        Ok(Label {
            label_url,
            tracking_number,
            tracking_url: bought.tracker.and_then(|t| t.public_url),
            carrier: bought
                .selected_rate
                .and_then(|r| r.carrier)
                .unwrap_or_else(|| cheapest.carrier.clone()),
            reference: bought.id,
        })
    }

    #[tracing::instrument(skip_all, fields(carrier = "easypost"))]
    async fn track(
        &self,
        tracking_number: &str,
        carrier: Option<&str>,
    ) -> Result<TrackingStatus, CarrierError> {
        let raw: RawTracker = self
            .post(
                "/v2/trackers",
                &json!({ "tracker": { "tracking_code": tracking_number, "carrier": carrier } }),
            )
            .await?;
        let status = raw
            .status
            .as_deref()
            .and_then(status_of)
            .unwrap_or(ShipmentStatus::Shipped);
        Ok(TrackingStatus {
            tracking_number: raw
                .tracking_code
                .unwrap_or_else(|| tracking_number.to_owned()),
            reference: raw.shipment_id,
            status,
            tracking_url: raw.public_url,
        })
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<TrackingEvent, CarrierWebhookError> {
        if self.webhook_secret.is_empty() {
            return Err(CarrierWebhookError::Unsupported);
        }
        let header = headers
            .get(SIGNATURE_HEADER)
            .ok_or(CarrierWebhookError::MissingSignature)?
            .to_str()
            .map_err(|_| CarrierWebhookError::BadSignature)?;
        let given = header
            .trim()
            .strip_prefix("hmac-sha256-hex=")
            .and_then(|h| hex::decode(h).ok())
            .ok_or(CarrierWebhookError::BadSignature)?;
        if !ct_eq(&given, &mac(&self.webhook_secret, body)) {
            return Err(CarrierWebhookError::BadSignature);
        }
        let event: RawEvent = serde_json::from_slice(body)
            .map_err(|e| CarrierWebhookError::UnparseableBody(e.to_string()))?;
        if event.description != "tracker.updated" && event.description != "tracker.created" {
            return Ok(TrackingEvent {
                id: event.id,
                tracking: None,
            });
        }
        let tracker: RawTracker = serde_json::from_value(event.result)
            .map_err(|e| CarrierWebhookError::UnparseableBody(e.to_string()))?;
        let tracking = match (
            tracker.tracking_code,
            tracker.status.as_deref().and_then(status_of),
        ) {
            (Some(tracking_number), Some(status)) => Some(TrackingStatus {
                tracking_number,
                reference: tracker.shipment_id,
                status,
                tracking_url: tracker.public_url,
            }),
            _ => None,
        };
        Ok(TrackingEvent {
            id: event.id,
            tracking,
        })
    }
}

/// An id fit for a URL path segment.
fn path_id(id: &str) -> Result<&str, CarrierError> {
    if !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(id)
    } else {
        Err(CarrierError::Unavailable(format!(
            "the carrier answered an unusable shipment id `{id}`"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carrier(secret: &str) -> EasyPostCarrier {
        EasyPostCarrier::new(EasyPostConfig::new("EZTK_key", secret))
            .unwrap_or_else(|e| panic!("carrier: {e}"))
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            SIGNATURE_HEADER,
            value.parse().unwrap_or_else(|e| panic!("header: {e}")),
        );
        h
    }

    #[test]
    fn a_signed_tracker_update_is_read() {
        let body = br#"{"id":"evt_1","object":"Event","description":"tracker.updated","result":{"object":"Tracker","id":"trk_1","tracking_code":"EZ1","status":"out_for_delivery","shipment_id":"shp_1","public_url":"https://track.example/EZ1"}}"#;
        let c = carrier("whsec");
        let event = c
            .verify_webhook(&headers(&sign("whsec", body)), body)
            .unwrap_or_else(|e| panic!("verify: {e}"));
        assert_eq!(event.id, "evt_1");
        let t = event.tracking.unwrap_or_else(|| panic!("no tracking"));
        assert_eq!(t.status, ShipmentStatus::OutForDelivery);
        assert_eq!(t.reference.as_deref(), Some("shp_1"));
    }

    #[test]
    fn a_bad_or_missing_signature_is_refused() {
        let body = br#"{"id":"evt_1","description":"tracker.updated","result":{}}"#;
        let c = carrier("whsec");
        assert_eq!(
            c.verify_webhook(&headers(&sign("other", body)), body),
            Err(CarrierWebhookError::BadSignature)
        );
        assert_eq!(
            c.verify_webhook(&HeaderMap::new(), body),
            Err(CarrierWebhookError::MissingSignature)
        );
        assert_eq!(
            carrier("").verify_webhook(&headers(&sign("", body)), body),
            Err(CarrierWebhookError::Unsupported)
        );
    }

    #[test]
    fn statuses_map_and_weights_convert() {
        assert_eq!(status_of("return_to_sender"), Some(ShipmentStatus::Failure));
        assert_eq!(status_of("pre_transit"), Some(ShipmentStatus::Shipped));
        assert_eq!(status_of("cancelled"), None);
        assert_eq!(ounces(500), Decimal::new(176, 1));
        assert_eq!(ounces(0), Decimal::new(1, 1));
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let text = format!("{:?}", EasyPostConfig::new("EZTK_hunter2", "whsec_hunter2"));
        assert!(!text.contains("hunter2"), "{text}");
    }
}
