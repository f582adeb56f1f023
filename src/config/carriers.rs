//! Fulfilment settings: the EasyPost label carrier, where parcels ship
//! from and what a parcel weighs when its variants have no weight.

use super::{ConfigError, env::Env, secret::Secret};
use crate::domain::{fulfillment::DEFAULT_PARCEL_WEIGHT_GRAMS, identity::customer::Address};

/// Fulfilment settings.
#[derive(Debug, Clone)]
pub struct CarrierConfig {
    /// `EMPORIUM_EASYPOST_API_KEY`: enables the `easypost` carrier (labels,
    /// trackers, tracking webhooks).
    pub easypost_api_key: Option<Secret>,
    /// `EMPORIUM_EASYPOST_BASE_URL`: its API base URL (default EasyPost's;
    /// a local mock in tests).
    pub easypost_base_url: Option<String>,
    /// `EMPORIUM_EASYPOST_WEBHOOK_SECRET`: verifies `X-Hmac-Signature` on
    /// tracking webhooks (unset: they are refused).
    pub easypost_webhook_secret: Option<Secret>,
    /// `EMPORIUM_SHIP_FROM_ADDRESS`: where labels say parcels ship from, as
    /// JSON in the storefront's address shape (`address1`, `city`,
    /// `provinceCode`, `countryCode`, `zip`, `company` ...).
    pub ship_from: Option<Address>,
    /// `EMPORIUM_DEFAULT_PARCEL_WEIGHT_GRAMS`: a parcel's weight when none
    /// of its variants has one (default 500).
    pub default_parcel_weight_grams: i64,
}

impl Default for CarrierConfig {
    fn default() -> Self {
        Self {
            easypost_api_key: None,
            easypost_base_url: None,
            easypost_webhook_secret: None,
            ship_from: None,
            default_parcel_weight_grams: DEFAULT_PARCEL_WEIGHT_GRAMS,
        }
    }
}

/// Reads the fulfilment settings.
pub(super) fn carriers(env: &Env<'_>) -> Result<CarrierConfig, ConfigError> {
    let ship_from = match env.string("EMPORIUM_SHIP_FROM_ADDRESS") {
        Some(json) => {
            Some(
                serde_json::from_str::<Address>(&json).map_err(|e| ConfigError::Invalid {
                    var: "EMPORIUM_SHIP_FROM_ADDRESS",
                    value: json.clone(),
                    reason: format!("expected an address as JSON: {e}"),
                })?,
            )
        }
        None => None,
    };
    let weight: i64 = env.parse(
        "EMPORIUM_DEFAULT_PARCEL_WEIGHT_GRAMS",
        DEFAULT_PARCEL_WEIGHT_GRAMS,
    )?;
    if weight <= 0 {
        return Err(ConfigError::Invalid {
            var: "EMPORIUM_DEFAULT_PARCEL_WEIGHT_GRAMS",
            value: weight.to_string(),
            reason: "must be positive".into(),
        });
    }
    Ok(CarrierConfig {
        easypost_api_key: env.string("EMPORIUM_EASYPOST_API_KEY").map(Secret::from),
        easypost_base_url: env.string("EMPORIUM_EASYPOST_BASE_URL"),
        easypost_webhook_secret: env
            .string("EMPORIUM_EASYPOST_WEBHOOK_SECRET")
            .map(Secret::from),
        ship_from,
        default_parcel_weight_grams: weight,
    })
}
