//! The `manual` carrier: staff type the tracking (carrier name, number,
//! URL) of a parcel they sent by other means. It quotes no rates, buys no
//! labels, looks nothing up and sends no webhooks.

use http::HeaderMap;

use super::{
    Carrier, CarrierError, CarrierWebhookError, Label, Quote, ShipmentRequest, TrackingEvent,
    TrackingStatus,
};

/// The `manual` carrier.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManualCarrier;

impl ManualCarrier {
    fn unsupported(what: &'static str) -> CarrierError {
        CarrierError::Unsupported {
            carrier: "manual",
            what,
        }
    }
}

#[async_trait::async_trait]
impl Carrier for ManualCarrier {
    fn code(&self) -> &'static str {
        "manual"
    }

    async fn rates(&self, _shipment: &ShipmentRequest) -> Result<Quote, CarrierError> {
        Err(Self::unsupported("rates"))
    }

    async fn buy_label(&self, _shipment: &ShipmentRequest) -> Result<Label, CarrierError> {
        Err(Self::unsupported("labels"))
    }

    async fn track(
        &self,
        _tracking_number: &str,
        _carrier: Option<&str>,
    ) -> Result<TrackingStatus, CarrierError> {
        Err(Self::unsupported("tracking lookups"))
    }

    fn verify_webhook(
        &self,
        _headers: &HeaderMap,
        _body: &[u8],
    ) -> Result<TrackingEvent, CarrierWebhookError> {
        Err(CarrierWebhookError::Unsupported)
    }
}
