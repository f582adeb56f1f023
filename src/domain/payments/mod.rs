//! Payment gateways: authorize, capture, void and refund through a payment
//! service provider, and verify the webhooks it sends back. No GraphQL, no
//! database: checkout and order code call a [`PaymentGateway`] and record
//! what it answers in their own ledger rows.
//!
//! Invariants every gateway here keeps:
//! - Card data never reaches the server: [`AuthorizeRequest::token`] is a
//!   token the storefront got from the gateway's client library.
//! - Money-moving calls carry an idempotency key that is passed to the
//!   gateway, so a retried request (after a timeout, a crash, a client
//!   retry) returns the first result and never charges or refunds twice.
//!   Reusing a key for a different request is refused.
//! - Amounts are `i64` minor units of the [`Currency`] (cents, yen, fils),
//!   the same integers [`crate::domain::money::Money::from_minor`] takes.
//! - A webhook is trusted only after its signature is verified against the
//!   raw body and its timestamp is within [`signature::TOLERANCE_SECS`] of
//!   now; [`WebhookEvent::id`] is there so the caller can drop duplicates
//!   (gateways deliver at least once).
//! - Secret keys and webhook secrets never appear in logs, `Debug` output
//!   or error messages; payment tokens are neither logged nor shown by
//!   `Debug`.
//!
//! Vocabulary: *reference* is the gateway's id of a payment (a Stripe
//! PaymentIntent id, `test_pi_...`, `manual_...`), returned by
//! [`PaymentGateway::authorize`] and passed to every later call, except
//! [`AuthorizeRequest::reference`], which is emporium's own checkout or order
//! reference, sent to the gateway as metadata.
//!
//! Gateways built in:
//! - [`StripeGateway`] (`stripe`): Stripe's PaymentIntents API.
//! - [`ManualGateway`] (`manual`): bank transfer, cash on delivery; staff
//!   record the money when it arrives.
//! - [`TestGateway`] (`test`): a deterministic fake for tests, examples and
//!   local development, driven by documented tokens. It must never be
//!   enabled in production: it "authorizes" any `tok_visa`.

mod manual;
mod replay;
pub mod signature;
mod stripe;
mod test_gateway;
mod webhook;

#[cfg(test)]
mod tests;

use std::{collections::HashMap, fmt, sync::Arc};

use chrono::{DateTime, Utc};
use http::HeaderMap;

use crate::domain::money::Currency;

pub use manual::ManualGateway;
pub use stripe::{STRIPE_API_BASE, STRIPE_API_VERSION, StripeConfig, StripeGateway};
pub use test_gateway::{SignedWebhook, TestGateway};
pub use webhook::{WebhookError, WebhookEvent, WebhookEventKind, stripe_event_json};

/// A payment service provider emporium can take payments through.
///
/// Every call is safe to retry with the same idempotency key: the gateway
/// answers a retry with the first result.
#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync {
    /// The gateway's stable code (`stripe`, `manual`, `test`), stored with
    /// each payment and used in webhook URLs.
    fn code(&self) -> &'static str;

    /// Authorizes (and with [`CaptureMode::Automatic`] also captures) a
    /// payment. Declines are an [`Authorization::Declined`] outcome, not an
    /// error; errors mean the gateway could not give an answer.
    async fn authorize(&self, req: &AuthorizeRequest) -> Result<Authorization, GatewayError>;

    /// Captures `amount_minor` of an authorized payment (at most what is
    /// left of the authorization). With `final_capture` the rest of the
    /// authorization is released; without it the rest stays authorized for
    /// later captures (a multi-shipment order captured per fulfilment;
    /// Stripe's multicapture), until a final capture or a void.
    async fn capture(
        &self,
        reference: &str,
        amount_minor: i64,
        currency: Currency,
        idempotency_key: &str,
        final_capture: bool,
    ) -> Result<Capture, GatewayError>;

    /// Releases an authorization that was not captured, or abandons a
    /// payment still awaiting customer action.
    async fn void(&self, reference: &str, idempotency_key: &str) -> Result<(), GatewayError>;

    /// Refunds `amount_minor` of captured money.
    async fn refund(
        &self,
        reference: &str,
        amount_minor: i64,
        currency: Currency,
        idempotency_key: &str,
    ) -> Result<Refund, GatewayError>;

    /// Verifies a webhook delivery (raw `body` exactly as received, its
    /// `headers`) at time `now`, and reads the event it carries.
    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<WebhookEvent, WebhookError>;
}

/// Whether an authorization also captures the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptureMode {
    /// A sale: authorize and capture at once.
    Automatic,
    /// Authorize only; capture later (at fulfilment) with
    /// [`PaymentGateway::capture`].
    Manual,
}

impl CaptureMode {
    /// The stored form: `automatic` or `manual` (Stripe's `capture_method`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Automatic => "automatic",
            Self::Manual => "manual",
        }
    }
}

/// What [`PaymentGateway::authorize`] is asked to do.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// The amount, in minor units of `currency`; must be positive.
    pub amount_minor: i64,
    /// The currency.
    pub currency: Currency,
    /// A payment-method token from the gateway's client library (a Stripe
    /// `pm_...`, a documented test token). Never card data. Not logged.
    pub token: String,
    /// Passed to the gateway so a retried authorization is the same one:
    /// one key per payment attempt (e.g. the checkout's idempotency key).
    pub idempotency_key: String,
    /// Emporium's checkout or order reference, sent to the gateway as
    /// metadata so its dashboard links back to the order.
    pub reference: String,
    /// Sale or authorize-only.
    pub capture: CaptureMode,
}

impl fmt::Debug for AuthorizeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeRequest")
            .field("amount_minor", &self.amount_minor)
            .field("currency", &self.currency)
            .field("token", &"[redacted]")
            .field("idempotency_key", &self.idempotency_key)
            .field("reference", &self.reference)
            .field("capture", &self.capture)
            .finish()
    }
}

/// The outcome of an authorization the gateway answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// The money is held (`captured == false`) or taken (`captured ==
    /// true`, a sale).
    Authorized {
        /// The gateway's payment reference.
        reference: String,
        /// Minor units authorized (or captured, for a sale).
        amount_minor: i64,
        /// Whether the amount was captured too.
        captured: bool,
    },
    /// The outcome arrives later by webhook. When `client_secret` or
    /// `next_action_url` is set the customer must act first (3-D Secure):
    /// the storefront hands the secret to the gateway's client library or
    /// sends the customer to the URL.
    RequiresAction {
        /// The gateway's payment reference, which the webhook will name.
        reference: String,
        /// For the gateway's client library (Stripe's `client_secret`). For
        /// the storefront only: not to be logged.
        client_secret: Option<String>,
        /// Where to send the customer, when the gateway uses a redirect.
        next_action_url: Option<String>,
    },
    /// An offline payment (bank transfer, cash on delivery): nothing is
    /// held; staff capture when the money arrives.
    PendingOffline {
        /// The payment's reference, to quote on the transfer.
        reference: String,
    },
    /// The payment was refused. The customer may try another payment
    /// method.
    Declined {
        /// The gateway's reference of the failed attempt, when it made one.
        reference: Option<String>,
        /// Why, in a form to branch on.
        code: DeclineCode,
        /// The gateway's explanation, fit to show the customer.
        message: String,
    },
}

impl Authorization {
    /// The gateway's payment reference, if the outcome has one.
    pub fn reference(&self) -> Option<&str> {
        match self {
            Self::Authorized { reference, .. }
            | Self::RequiresAction { reference, .. }
            | Self::PendingOffline { reference } => Some(reference),
            Self::Declined { reference, .. } => reference.as_deref(),
        }
    }
}

/// Why a payment was declined: a stable code for clients to branch on.
///
/// Stored and sent to clients as [`DeclineCode::as_str`]; read back with
/// `From<&str>`. Codes not listed here (lost or stolen cards, fraud
/// suspicions ...) come as [`DeclineCode::Other`] and should be shown to the
/// customer as a plain decline.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeclineCode {
    /// The issuer declined (no specific reason given).
    CardDeclined,
    /// Not enough funds or credit.
    InsufficientFunds,
    /// The card has expired.
    ExpiredCard,
    /// The security code is wrong.
    IncorrectCvc,
    /// The gateway or issuer failed to process the card; retrying may work.
    ProcessingError,
    /// Any other gateway code, as the gateway spells it.
    Other(String),
}

impl DeclineCode {
    /// The stored form (`card_declined`, `insufficient_funds`,
    /// `expired_card`, `incorrect_cvc`, `processing_error`, or the other
    /// code itself).
    pub fn as_str(&self) -> &str {
        match self {
            Self::CardDeclined => "card_declined",
            Self::InsufficientFunds => "insufficient_funds",
            Self::ExpiredCard => "expired_card",
            Self::IncorrectCvc => "incorrect_cvc",
            Self::ProcessingError => "processing_error",
            Self::Other(code) => code,
        }
    }
}

impl From<&str> for DeclineCode {
    /// Reads a stored code back, and maps the gateway spellings that mean
    /// the same (`generic_decline`, `invalid_cvc`).
    fn from(code: &str) -> Self {
        match code {
            "card_declined" | "generic_decline" => Self::CardDeclined,
            "insufficient_funds" => Self::InsufficientFunds,
            "expired_card" => Self::ExpiredCard,
            "incorrect_cvc" | "invalid_cvc" => Self::IncorrectCvc,
            "processing_error" => Self::ProcessingError,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for DeclineCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A capture the gateway made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// The gateway's payment reference.
    pub reference: String,
    /// Minor units captured.
    pub amount_minor: i64,
}

/// A refund the gateway accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// The gateway's id of the refund (`re_...`).
    pub id: String,
    /// The gateway's reference of the refunded payment.
    pub reference: String,
    /// Minor units refunded.
    pub amount_minor: i64,
    /// Whether the money has gone back yet.
    pub status: RefundStatus,
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    /// The money is on its way back to the customer.
    Succeeded,
    /// Accepted, not yet done (some payment methods refund asynchronously);
    /// the outcome arrives by webhook.
    Pending,
    /// The gateway could not refund.
    Failed,
}

impl RefundStatus {
    /// The stored form: `succeeded`, `pending` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Pending => "pending",
            Self::Failed => "failed",
        }
    }
}

/// A gateway call that got no usable answer, or a request the gateway
/// refused outright. Declines are not errors (see [`Authorization`]).
///
/// Messages never contain secrets or tokens; they are for logs, not for
/// customers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The gateway did not answer in time. The request may or may not have
    /// been carried out: retry with the same idempotency key.
    #[error("the payment gateway timed out")]
    Timeout,
    /// The connection failed (DNS, TLS, reset). Retryable.
    #[error("could not reach the payment gateway: {0}")]
    Transport(String),
    /// The gateway answered that it is unavailable or overloaded (5xx, 429,
    /// a concurrent request with the same idempotency key). Retryable.
    #[error("the payment gateway is unavailable (HTTP {status}): {message}")]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// The gateway's message, if any.
        message: String,
    },
    /// Emporium's settings for the gateway are wrong (missing or refused
    /// API key). Not retryable: an operator must fix the configuration.
    #[error("the payment gateway is misconfigured: {0}")]
    Misconfigured(String),
    /// The gateway refused the request: an unknown reference, a capture
    /// above the authorization, a payment in the wrong state, an
    /// idempotency key reused for a different request. Not retryable.
    #[error("the payment gateway refused the request ({code}): {message}")]
    Rejected {
        /// The gateway's error code (`resource_missing`,
        /// `payment_intent_unexpected_state`, `idempotency_key_reused` ...).
        code: String,
        /// The gateway's message.
        message: String,
    },
    /// The gateway answered something this code does not understand. Not
    /// retryable; the payment's state must be checked on the gateway.
    #[error("unexpected answer from the payment gateway: {0}")]
    UnexpectedResponse(String),
}

impl GatewayError {
    /// Whether retrying the same request (same idempotency key) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::Transport(_) | Self::Unavailable { .. }
        )
    }

    fn rejected(code: &str, message: impl Into<String>) -> Self {
        Self::Rejected {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// The payment gateways a server offers, by code.
///
/// Built once at startup and shared (it is cheap to clone). The `test`
/// gateway must not be enabled in production.
#[derive(Clone, Default)]
pub struct Gateways {
    by_code: HashMap<&'static str, Arc<dyn PaymentGateway>>,
    test: Option<Arc<TestGateway>>,
}

/// Two gateways registered under one code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("two payment gateways have the code `{0}`")]
pub struct DuplicateGateway(pub &'static str);

impl Gateways {
    /// A registry of `gateways`, each under its [`PaymentGateway::code`].
    pub fn new(gateways: Vec<Arc<dyn PaymentGateway>>) -> Result<Self, DuplicateGateway> {
        let mut by_code = HashMap::with_capacity(gateways.len());
        for gateway in gateways {
            let code = gateway.code();
            if by_code.insert(code, gateway).is_some() {
                return Err(DuplicateGateway(code));
            }
        }
        Ok(Self {
            by_code,
            test: None,
        })
    }

    /// The gateways `settings` enable. Fails on invalid Stripe settings.
    pub fn from_settings(settings: &GatewaySettings) -> Result<Self, GatewayError> {
        let mut gateways: Vec<Arc<dyn PaymentGateway>> = Vec::new();
        if settings.manual {
            gateways.push(Arc::new(ManualGateway::new()));
        }
        let test = settings
            .test_webhook_secret
            .as_ref()
            .map(|secret| Arc::new(TestGateway::new(secret.clone())));
        if let Some(t) = &test {
            gateways.push(t.clone());
        }
        if let Some(stripe) = &settings.stripe {
            gateways.push(Arc::new(StripeGateway::new(stripe.clone())?));
        }
        // The three built-in codes differ, so this cannot fail.
        let mut built =
            Self::new(gateways).map_err(|err| GatewayError::Misconfigured(err.to_string()))?;
        built.test = test;
        Ok(built)
    }

    /// The built-in `test` gateway, when enabled: tests and examples read its
    /// authorization count and sign its webhooks.
    pub fn test_gateway(&self) -> Option<Arc<TestGateway>> {
        self.test.clone()
    }

    /// The gateway with `code`, if enabled.
    pub fn get(&self, code: &str) -> Option<Arc<dyn PaymentGateway>> {
        self.by_code.get(code).cloned()
    }

    /// The codes of the enabled gateways, sorted.
    pub fn codes(&self) -> Vec<&'static str> {
        let mut codes: Vec<_> = self.by_code.keys().copied().collect();
        codes.sort_unstable();
        codes
    }
}

impl fmt::Debug for Gateways {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateways")
            .field("codes", &self.codes())
            .finish()
    }
}

/// Which built-in gateways to enable, as read from configuration.
#[derive(Clone, Default)]
pub struct GatewaySettings {
    /// Enable the `manual` gateway (bank transfer, cash on delivery).
    pub manual: bool,
    /// Enable the `test` gateway, signing its webhooks with this secret.
    /// Never in production.
    pub test_webhook_secret: Option<String>,
    /// Enable the `stripe` gateway with these settings.
    pub stripe: Option<StripeConfig>,
}

impl fmt::Debug for GatewaySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewaySettings")
            .field("manual", &self.manual)
            .field("test", &self.test_webhook_secret.is_some())
            .field("stripe", &self.stripe)
            .finish()
    }
}

/// Refuses amounts of zero or less before they reach a gateway.
fn require_positive(amount_minor: i64) -> Result<(), GatewayError> {
    if amount_minor > 0 {
        Ok(())
    } else {
        Err(GatewayError::rejected(
            "invalid_amount",
            "the amount must be positive",
        ))
    }
}

/// Refuses an empty idempotency key: without one a retry could pay twice.
fn require_key(idempotency_key: &str) -> Result<(), GatewayError> {
    if idempotency_key.is_empty() {
        Err(GatewayError::rejected(
            "idempotency_key_missing",
            "an idempotency key is required",
        ))
    } else {
        Ok(())
    }
}
