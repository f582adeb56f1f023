//! Webhook events, and the Stripe event JSON shape the `stripe` and `test`
//! gateways send them in.

use serde::Deserialize;
use serde_json::{Value, json};

use super::DeclineCode;

/// A verified event from a gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The gateway's event id (`evt_...`). Gateways deliver at least once:
    /// record processed ids and skip an id seen before.
    pub id: String,
    /// What happened.
    pub kind: WebhookEventKind,
}

/// What a webhook event reports. `reference` is always the gateway's
/// payment reference, as returned by the authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEventKind {
    /// The payment succeeded and `amount_minor` was captured (Stripe
    /// `payment_intent.succeeded`).
    PaymentSucceeded {
        /// The payment.
        reference: String,
        /// Minor units captured.
        amount_minor: i64,
    },
    /// The payment is authorized and `amount_minor` can be captured (Stripe
    /// `payment_intent.amount_capturable_updated`).
    PaymentAuthorized {
        /// The payment.
        reference: String,
        /// Minor units capturable.
        amount_minor: i64,
    },
    /// The payment attempt failed, e.g. 3-D Secure was not completed or the
    /// card was declined (Stripe `payment_intent.payment_failed`).
    PaymentFailed {
        /// The payment.
        reference: String,
        /// Why.
        code: DeclineCode,
    },
    /// Money was refunded (Stripe `charge.refunded`). The amount is the
    /// *total* refunded on the payment so far, not this refund's: record
    /// the difference from what the ledger already holds.
    Refunded {
        /// The payment.
        reference: String,
        /// Minor units refunded in total so far.
        total_refunded_minor: i64,
    },
    /// The payment was canceled and any authorization released (Stripe
    /// `payment_intent.canceled`).
    Canceled {
        /// The payment.
        reference: String,
    },
    /// An event type emporium does not act on, by its gateway name.
    /// Acknowledge it and move on.
    Other(String),
}

/// Why a webhook delivery was not accepted. All but
/// [`WebhookError::Unsupported`] mean a bad or forged request (answer 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No signature header.
    #[error("missing signature header")]
    MissingSignature,
    /// A signature header without a timestamp or a `v1` signature.
    #[error("malformed signature header")]
    MalformedSignature,
    /// No signature matches the body and the webhook secret.
    #[error("signature does not match")]
    BadSignature,
    /// A valid signature made too long ago (or too far ahead).
    #[error("signature timestamp {timestamp} is outside the tolerance")]
    TimestampOutOfTolerance {
        /// The timestamp signed (unix seconds).
        timestamp: i64,
    },
    /// A correctly signed body that is not an event this gateway sends.
    #[error("unparseable webhook body: {0}")]
    UnparseableBody(String),
    /// The gateway sends no webhooks.
    #[error("this payment gateway does not send webhooks")]
    Unsupported,
}

/// The Stripe event JSON for `event`, created at `created` (unix seconds),
/// in the shape the `stripe` and `test` gateways read: a body to sign with
/// [`super::signature::sign`] in tests and examples.
pub fn stripe_event_json(event: &WebhookEvent, created: i64) -> Value {
    let (event_type, object) = match &event.kind {
        WebhookEventKind::PaymentSucceeded {
            reference,
            amount_minor,
        } => (
            "payment_intent.succeeded",
            payment_intent(reference, "succeeded", *amount_minor, 0, None),
        ),
        WebhookEventKind::PaymentAuthorized {
            reference,
            amount_minor,
        } => (
            "payment_intent.amount_capturable_updated",
            payment_intent(reference, "requires_capture", 0, *amount_minor, None),
        ),
        WebhookEventKind::PaymentFailed { reference, code } => (
            "payment_intent.payment_failed",
            payment_intent(reference, "requires_payment_method", 0, 0, Some(code)),
        ),
        WebhookEventKind::Canceled { reference } => (
            "payment_intent.canceled",
            payment_intent(reference, "canceled", 0, 0, None),
        ),
        WebhookEventKind::Refunded {
            reference,
            total_refunded_minor,
        } => (
            "charge.refunded",
            json!({
                "id": format!("ch_{}", reference.trim_start_matches("pi_")),
                "object": "charge",
                "payment_intent": reference,
                "amount_refunded": total_refunded_minor,
                "refunded": true,
            }),
        ),
        WebhookEventKind::Other(event_type) => (event_type.as_str(), json!({})),
    };
    json!({
        "id": event.id,
        "object": "event",
        "type": event_type,
        "created": created,
        "livemode": false,
        "data": { "object": object },
    })
}

fn payment_intent(
    reference: &str,
    status: &str,
    amount_received: i64,
    amount_capturable: i64,
    error: Option<&DeclineCode>,
) -> Value {
    let last_payment_error = error.map(|code| {
        json!({
            "type": "card_error",
            "code": "card_declined",
            "decline_code": code.as_str(),
            "message": "The payment failed.",
        })
    });
    json!({
        "id": reference,
        "object": "payment_intent",
        "amount": amount_received.max(amount_capturable),
        "amount_received": amount_received,
        "amount_capturable": amount_capturable,
        "status": status,
        "last_payment_error": last_payment_error,
    })
}

/// A Stripe event, with only the fields emporium reads.
#[derive(Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    data: RawData,
}

#[derive(Deserialize)]
struct RawData {
    object: Value,
}

#[derive(Deserialize)]
struct RawPaymentIntent {
    id: String,
    #[serde(default)]
    amount_received: i64,
    #[serde(default)]
    amount_capturable: i64,
    last_payment_error: Option<RawPaymentError>,
}

#[derive(Deserialize)]
struct RawCharge {
    payment_intent: Option<String>,
    amount_refunded: i64,
}

/// A Stripe error object (`error` of an error response, `last_payment_error`
/// of a PaymentIntent).
#[derive(Debug, Default, Deserialize)]
pub(super) struct RawPaymentError {
    #[serde(rename = "type")]
    pub(super) error_type: Option<String>,
    pub(super) code: Option<String>,
    pub(super) decline_code: Option<String>,
    pub(super) message: Option<String>,
    pub(super) param: Option<String>,
}

impl RawPaymentError {
    /// The decline code: the issuer's `decline_code` when the error is a
    /// plain `card_declined`, else the error `code` (`expired_card`,
    /// `incorrect_cvc`, `processing_error` ...).
    pub(super) fn decline_code(&self) -> DeclineCode {
        match self.code.as_deref() {
            Some("card_declined") | None => self
                .decline_code
                .as_deref()
                .map_or(DeclineCode::CardDeclined, DeclineCode::from),
            Some(code) => DeclineCode::from(code),
        }
    }
}

/// Reads a Stripe event body (already verified).
pub(super) fn parse_stripe_event(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let raw: RawEvent = serde_json::from_slice(body).map_err(unparseable)?;
    let object = raw.data.object;
    let kind = match raw.event_type.as_str() {
        "payment_intent.succeeded" => {
            let pi = payment_intent_of(object)?;
            WebhookEventKind::PaymentSucceeded {
                reference: pi.id,
                amount_minor: pi.amount_received,
            }
        }
        "payment_intent.amount_capturable_updated" => {
            let pi = payment_intent_of(object)?;
            WebhookEventKind::PaymentAuthorized {
                reference: pi.id,
                amount_minor: pi.amount_capturable,
            }
        }
        "payment_intent.payment_failed" => {
            let pi = payment_intent_of(object)?;
            WebhookEventKind::PaymentFailed {
                reference: pi.id,
                code: pi.last_payment_error.unwrap_or_default().decline_code(),
            }
        }
        "payment_intent.canceled" => WebhookEventKind::Canceled {
            reference: payment_intent_of(object)?.id,
        },
        "charge.refunded" => {
            let charge: RawCharge = serde_json::from_value(object).map_err(unparseable)?;
            // A charge without a PaymentIntent was not made by emporium.
            match charge.payment_intent {
                Some(reference) => WebhookEventKind::Refunded {
                    reference,
                    total_refunded_minor: charge.amount_refunded,
                },
                None => WebhookEventKind::Other(raw.event_type),
            }
        }
        _ => WebhookEventKind::Other(raw.event_type),
    };
    Ok(WebhookEvent { id: raw.id, kind })
}

fn payment_intent_of(object: Value) -> Result<RawPaymentIntent, WebhookError> {
    serde_json::from_value(object).map_err(unparseable)
}

fn unparseable(err: serde_json::Error) -> WebhookError {
    WebhookError::UnparseableBody(err.to_string())
}
