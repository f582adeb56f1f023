//! Webhook signatures in Stripe's scheme, used by the `stripe` and `test`
//! gateways.
//!
//! The gateway sends `Stripe-Signature: t=<unix seconds>,v1=<hex>` where the
//! hex is HMAC-SHA256, keyed with the endpoint's webhook secret, of
//! `"<t>.<raw body>"`. Several `v1` entries may be present (while a secret is
//! rolled); one matching is enough. Other schemes (`v0`, ...) are ignored.
//! The comparison is constant-time, and the timestamp must be within
//! [`TOLERANCE_SECS`] of the receiver's clock (either way) so a captured
//! delivery cannot be replayed later.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

use super::WebhookError;
use crate::domain::identity::secret::ct_eq;

/// The header carrying the signature.
pub const HEADER: &str = "stripe-signature";

/// How far a signature's timestamp may be from now, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

/// The `Stripe-Signature` header value for `body` signed with `secret` at
/// `timestamp` (unix seconds): `t=<timestamp>,v1=<hex HMAC>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

/// Checks that `headers` carry a valid signature of `body` by `secret`,
/// made within [`TOLERANCE_SECS`] of `now`.
pub fn verify(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    let header = headers
        .get(HEADER)
        .ok_or(WebhookError::MissingSignature)?
        .to_str()
        .map_err(|_| WebhookError::MalformedSignature)?;
    let parsed = Parsed::from_header(header)?;
    let expected = mac(secret, parsed.timestamp, body);
    // Every candidate is compared, so the time taken does not tell which
    // one (if any) matched.
    let matched = parsed.signatures.iter().fold(false, |matched, candidate| {
        ct_eq(candidate, &expected) | matched
    });
    if !matched {
        return Err(WebhookError::BadSignature);
    }
    // Checked after the signature so only the holder of the secret learns
    // anything about the clock.
    if (now.timestamp() - parsed.timestamp).abs() > TOLERANCE_SECS {
        return Err(WebhookError::TimestampOutOfTolerance {
            timestamp: parsed.timestamp,
        });
    }
    Ok(())
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// A `Stripe-Signature` header taken apart.
struct Parsed {
    timestamp: i64,
    /// The `v1` signatures that are valid hex.
    signatures: Vec<Vec<u8>>,
}

impl Parsed {
    fn from_header(header: &str) -> Result<Self, WebhookError> {
        let mut timestamp = None;
        let mut signatures = Vec::new();
        let mut any_v1 = false;
        for item in header.split(',') {
            let Some((key, value)) = item.trim().split_once('=') else {
                continue;
            };
            match key {
                "t" => {
                    let t = value
                        .parse::<i64>()
                        .map_err(|_| WebhookError::MalformedSignature)?;
                    timestamp = Some(t);
                }
                "v1" => {
                    any_v1 = true;
                    // A v1 that is not hex cannot match; keep looking.
                    if let Ok(bytes) = hex::decode(value) {
                        signatures.push(bytes);
                    }
                }
                _ => {}
            }
        }
        match timestamp {
            Some(timestamp) if any_v1 => Ok(Self {
                timestamp,
                signatures,
            }),
            _ => Err(WebhookError::MalformedSignature),
        }
    }
}
