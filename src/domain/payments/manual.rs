//! The `manual` gateway: payments settled outside emporium (bank transfer,
//! cash on delivery, a card terminal in the shop).

use chrono::{DateTime, Utc};
use http::HeaderMap;

use super::{
    Authorization, AuthorizeRequest, Capture, GatewayError, PaymentGateway, Refund, RefundStatus,
    WebhookError, WebhookEvent, require_key, require_positive,
};
use crate::domain::money::Currency;

/// The `manual` gateway (code `manual`).
///
/// [`PaymentGateway::authorize`] holds nothing: it answers
/// [`Authorization::PendingOffline`] with a `manual_<hex>` reference for the
/// customer to quote. References and refund ids are derived from the
/// idempotency key, so a retry gets the same one on any node, after any
/// restart.
/// Capture, void and refund move no money: they succeed at once, since staff
/// call them to record what happened outside (the transfer arrived, the
/// cash was handed back); the caller's ledger enforces the amounts. It sends
/// no webhooks.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManualGateway;

impl ManualGateway {
    /// A manual gateway.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait::async_trait]
impl PaymentGateway for ManualGateway {
    fn code(&self) -> &'static str {
        "manual"
    }

    async fn authorize(&self, req: &AuthorizeRequest) -> Result<Authorization, GatewayError> {
        require_positive(req.amount_minor)?;
        require_key(&req.idempotency_key)?;
        Ok(Authorization::PendingOffline {
            reference: format!("manual_{}", key_digest(&req.idempotency_key)),
        })
    }

    async fn capture(
        &self,
        reference: &str,
        amount_minor: i64,
        _currency: Currency,
        idempotency_key: &str,
        _final_capture: bool,
    ) -> Result<Capture, GatewayError> {
        require_positive(amount_minor)?;
        require_key(idempotency_key)?;
        Ok(Capture {
            reference: reference.to_owned(),
            amount_minor,
        })
    }

    async fn void(&self, _reference: &str, idempotency_key: &str) -> Result<(), GatewayError> {
        require_key(idempotency_key)
    }

    async fn refund(
        &self,
        reference: &str,
        amount_minor: i64,
        _currency: Currency,
        idempotency_key: &str,
    ) -> Result<Refund, GatewayError> {
        require_positive(amount_minor)?;
        require_key(idempotency_key)?;
        Ok(Refund {
            id: format!("manual_re_{}", key_digest(idempotency_key)),
            reference: reference.to_owned(),
            amount_minor,
            status: RefundStatus::Succeeded,
        })
    }

    fn verify_webhook(
        &self,
        _headers: &HeaderMap,
        _body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<WebhookEvent, WebhookError> {
        Err(WebhookError::Unsupported)
    }
}

/// 32 hex digits of the SHA-256 of an idempotency key: a stable id that
/// does not echo the key.
fn key_digest(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}
