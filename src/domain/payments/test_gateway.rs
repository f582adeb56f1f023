//! The `test` gateway: a deterministic, in-memory stand-in for a card
//! gateway, for tests, examples and local development. Never enable it in
//! production.

use std::{
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
use moka::sync::Cache;

use super::{
    Authorization, AuthorizeRequest, Capture, CaptureMode, DeclineCode, GatewayError,
    PaymentGateway, Refund, RefundStatus, replay::Replays, require_key, require_positive,
    signature, webhook,
};
use super::{WebhookError, WebhookEvent, WebhookEventKind};
use crate::domain::money::Currency;

/// How many payments (and kept results per operation) the gateway remembers.
const CAPACITY: u64 = 10_000;

/// The tokens the test gateway knows, for its decline message.
const TOKENS: &str = "tok_visa, tok_success, tok_decline, tok_insufficient_funds, \
     tok_expired_card, tok_incorrect_cvc, tok_processing_error, tok_3ds, tok_gateway_error, \
     tok_refund_error";

/// The `test` gateway (code `test`).
///
/// Behaviour by [`AuthorizeRequest::token`]:
///
/// | token | outcome |
/// |---|---|
/// | `tok_visa`, `tok_success` | [`Authorization::Authorized`] (captured for [`CaptureMode::Automatic`]) |
/// | `tok_decline` | declined, [`DeclineCode::CardDeclined`] |
/// | `tok_insufficient_funds` | declined, [`DeclineCode::InsufficientFunds`] |
/// | `tok_expired_card` | declined, [`DeclineCode::ExpiredCard`] |
/// | `tok_incorrect_cvc` | declined, [`DeclineCode::IncorrectCvc`] |
/// | `tok_processing_error` | declined, [`DeclineCode::ProcessingError`] |
/// | `tok_3ds` | [`Authorization::RequiresAction`] with a client secret; finish it with [`TestGateway::complete_action`], which returns the signed webhook the real gateway would send |
/// | `tok_gateway_error` | [`GatewayError::Unavailable`] (retryable); nothing is recorded |
/// | `tok_refund_error` | as `tok_visa`, but the first refund of the payment fails with [`GatewayError::Unavailable`] (a retry with the same key succeeds) |
/// | anything else | declined, `DeclineCode::Other("invalid_token")` |
///
/// References look like `test_pi_<uuid>`; the gateway remembers the last
/// 10 000 payments, in memory. The same idempotency key returns
/// the same outcome and reference; [`TestGateway::authorizations`] counts the
/// authorizations actually made, so a test can assert that retries made
/// only one, and [`TestGateway::authorize_calls`] every call, replays
/// included, so it can assert the server asked only once. Capture, void and refund check amounts and states as Stripe
/// does (captures up to what is left of the authorization, several while
/// they are not final, as with Stripe's multicapture; refunds up to what
/// was captured), refusing with [`GatewayError::Rejected`]. Webhooks use
/// Stripe's signature scheme and event JSON, signed with the secret given to
/// [`TestGateway::new`].
pub struct TestGateway {
    webhook_secret: String,
    authorizations: AtomicU64,
    authorize_calls: AtomicU64,
    payments: Cache<String, Arc<Mutex<TestPayment>>>,
    authorize_replays: Replays<Authorization>,
    capture_replays: Replays<Capture>,
    void_replays: Replays<()>,
    refund_replays: Replays<Refund>,
}

/// What the test gateway remembers of a payment.
#[derive(Debug)]
struct TestPayment {
    amount_minor: i64,
    currency: Currency,
    capture: CaptureMode,
    status: TestStatus,
    captured: i64,
    refunded: i64,
    /// Refund attempts still to fail (`tok_refund_error`).
    failing_refunds: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TestStatus {
    RequiresAction,
    RequiresCapture,
    Succeeded,
    Failed,
    Canceled,
}

/// A webhook delivery, signed as the gateway would send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedWebhook {
    /// The `Stripe-Signature` header value.
    pub signature: String,
    /// The raw JSON body.
    pub body: Vec<u8>,
}

impl SignedWebhook {
    /// The delivery's headers: the signature and `content-type:
    /// application/json`.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // The signature is `t=<digits>,v1=<hex>`: always a valid header value.
        if let Ok(value) = HeaderValue::from_str(&self.signature) {
            headers.insert(signature::HEADER, value);
        }
        headers
    }
}

impl TestGateway {
    /// A test gateway signing its webhooks with `webhook_secret`.
    pub fn new(webhook_secret: impl Into<String>) -> Self {
        Self {
            webhook_secret: webhook_secret.into(),
            authorizations: AtomicU64::new(0),
            authorize_calls: AtomicU64::new(0),
            payments: Cache::new(CAPACITY),
            authorize_replays: Replays::new(CAPACITY),
            capture_replays: Replays::new(CAPACITY),
            void_replays: Replays::new(CAPACITY),
            refund_replays: Replays::new(CAPACITY),
        }
    }

    /// Authorizations actually made: every answered [`PaymentGateway::authorize`]
    /// (authorized, declined or awaiting action), not counting replays of
    /// an idempotency key or simulated gateway errors.
    pub fn authorizations(&self) -> u64 {
        self.authorizations.load(Ordering::Relaxed)
    }

    /// Every call of [`PaymentGateway::authorize`] so far, whatever it
    /// answered: replays of an idempotency key, refusals and simulated
    /// gateway errors included.
    pub fn authorize_calls(&self) -> u64 {
        self.authorize_calls.load(Ordering::Relaxed)
    }

    /// Finishes the customer action of a `tok_3ds` payment, as the customer
    /// passing (`succeed`) or failing 3-D Secure, and returns the webhook
    /// the gateway sends about it, signed at `now`: `PaymentSucceeded` for
    /// a sale, `PaymentAuthorized` for an authorize-only payment,
    /// `PaymentFailed` (`payment_intent_authentication_failure`) on failure.
    pub fn complete_action(
        &self,
        reference: &str,
        succeed: bool,
        now: DateTime<Utc>,
    ) -> Result<SignedWebhook, GatewayError> {
        let payment = self.payment(reference)?;
        let mut payment = payment.lock().unwrap_or_else(PoisonError::into_inner);
        if payment.status != TestStatus::RequiresAction {
            return Err(unexpected_state(
                "the payment is not awaiting customer action",
            ));
        }
        let kind = if !succeed {
            payment.status = TestStatus::Failed;
            WebhookEventKind::PaymentFailed {
                reference: reference.to_owned(),
                code: DeclineCode::Other("payment_intent_authentication_failure".to_owned()),
            }
        } else if payment.capture == CaptureMode::Automatic {
            payment.status = TestStatus::Succeeded;
            payment.captured = payment.amount_minor;
            WebhookEventKind::PaymentSucceeded {
                reference: reference.to_owned(),
                amount_minor: payment.amount_minor,
            }
        } else {
            payment.status = TestStatus::RequiresCapture;
            WebhookEventKind::PaymentAuthorized {
                reference: reference.to_owned(),
                amount_minor: payment.amount_minor,
            }
        };
        Ok(self.signed_webhook(
            &WebhookEvent {
                id: format!("evt_test_{}", uuid::Uuid::new_v4().simple()),
                kind,
            },
            now,
        ))
    }

    /// Any event as a signed delivery at `now`, in Stripe's JSON shape (for
    /// testing duplicates, replays and event types the gateway state does
    /// not produce).
    pub fn signed_webhook(&self, event: &WebhookEvent, now: DateTime<Utc>) -> SignedWebhook {
        let body = webhook::stripe_event_json(event, now.timestamp()).to_string();
        SignedWebhook {
            signature: signature::sign(&self.webhook_secret, now.timestamp(), body.as_bytes()),
            body: body.into_bytes(),
        }
    }

    fn payment(&self, reference: &str) -> Result<Arc<Mutex<TestPayment>>, GatewayError> {
        self.payments.get(reference).ok_or_else(|| {
            GatewayError::rejected("resource_missing", "no such payment on the test gateway")
        })
    }

    fn make_authorization(&self, req: &AuthorizeRequest) -> Result<Authorization, GatewayError> {
        let declined =
            |code: DeclineCode, message: &'static str| (TestStatus::Failed, Some((code, message)));
        let (status, decline) = match req.token.as_str() {
            "tok_visa" | "tok_success" | "tok_refund_error" => match req.capture {
                CaptureMode::Automatic => (TestStatus::Succeeded, None),
                CaptureMode::Manual => (TestStatus::RequiresCapture, None),
            },
            "tok_3ds" => (TestStatus::RequiresAction, None),
            "tok_decline" => declined(DeclineCode::CardDeclined, "Your card was declined."),
            "tok_insufficient_funds" => declined(
                DeclineCode::InsufficientFunds,
                "Your card has insufficient funds.",
            ),
            "tok_expired_card" => declined(DeclineCode::ExpiredCard, "Your card has expired."),
            "tok_incorrect_cvc" => declined(
                DeclineCode::IncorrectCvc,
                "Your card's security code is incorrect.",
            ),
            "tok_processing_error" => declined(
                DeclineCode::ProcessingError,
                "An error occurred while processing your card. Try again.",
            ),
            "tok_gateway_error" => {
                return Err(GatewayError::Unavailable {
                    status: 503,
                    message: "simulated outage of the test gateway".to_owned(),
                });
            }
            _ => {
                self.authorizations.fetch_add(1, Ordering::Relaxed);
                return Ok(Authorization::Declined {
                    reference: None,
                    code: DeclineCode::Other("invalid_token".to_owned()),
                    message: format!("Unknown test token; use one of {TOKENS}."),
                });
            }
        };
        self.authorizations.fetch_add(1, Ordering::Relaxed);
        let reference = format!("test_pi_{}", uuid::Uuid::new_v4().simple());
        let payment = TestPayment {
            amount_minor: req.amount_minor,
            currency: req.currency,
            capture: req.capture,
            status,
            captured: if status == TestStatus::Succeeded {
                req.amount_minor
            } else {
                0
            },
            refunded: 0,
            failing_refunds: u32::from(req.token == "tok_refund_error"),
        };
        self.payments
            .insert(reference.clone(), Arc::new(Mutex::new(payment)));
        Ok(match (status, decline) {
            (_, Some((code, message))) => Authorization::Declined {
                reference: Some(reference),
                code,
                message: message.to_owned(),
            },
            (TestStatus::RequiresAction, None) => Authorization::RequiresAction {
                client_secret: Some(format!(
                    "{reference}_secret_{}",
                    uuid::Uuid::new_v4().simple()
                )),
                reference,
                next_action_url: None,
            },
            (_, None) => Authorization::Authorized {
                reference,
                amount_minor: req.amount_minor,
                captured: status == TestStatus::Succeeded,
            },
        })
    }
}

impl fmt::Debug for TestGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestGateway")
            .field("authorizations", &self.authorizations())
            .field("authorize_calls", &self.authorize_calls())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl PaymentGateway for TestGateway {
    fn code(&self) -> &'static str {
        "test"
    }

    #[tracing::instrument(skip_all, fields(gateway = "test", order_reference = %req.reference))]
    async fn authorize(&self, req: &AuthorizeRequest) -> Result<Authorization, GatewayError> {
        self.authorize_calls.fetch_add(1, Ordering::Relaxed);
        require_positive(req.amount_minor)?;
        require_key(&req.idempotency_key)?;
        let request = format!(
            "{}:{}:{}:{}:{}",
            req.amount_minor,
            req.currency,
            req.token,
            req.reference,
            req.capture.as_str()
        );
        self.authorize_replays
            .once(&req.idempotency_key, request, || {
                self.make_authorization(req)
            })
    }

    #[tracing::instrument(skip(self, idempotency_key), fields(gateway = "test"))]
    async fn capture(
        &self,
        reference: &str,
        amount_minor: i64,
        currency: Currency,
        idempotency_key: &str,
        final_capture: bool,
    ) -> Result<Capture, GatewayError> {
        require_positive(amount_minor)?;
        require_key(idempotency_key)?;
        let request = format!("{reference}:{amount_minor}:{currency}:{final_capture}");
        self.capture_replays.once(idempotency_key, request, || {
            let payment = self.payment(reference)?;
            let mut payment = payment.lock().unwrap_or_else(PoisonError::into_inner);
            require_currency(&payment, currency)?;
            if payment.status != TestStatus::RequiresCapture {
                return Err(unexpected_state(
                    "only an authorized payment can be captured",
                ));
            }
            if amount_minor > payment.amount_minor - payment.captured {
                return Err(GatewayError::rejected(
                    "amount_too_large",
                    "the capture exceeds the authorized amount",
                ));
            }
            payment.captured += amount_minor;
            if final_capture || payment.captured == payment.amount_minor {
                payment.status = TestStatus::Succeeded;
            }
            Ok(Capture {
                reference: reference.to_owned(),
                amount_minor,
            })
        })
    }

    #[tracing::instrument(skip(self, idempotency_key), fields(gateway = "test"))]
    async fn void(&self, reference: &str, idempotency_key: &str) -> Result<(), GatewayError> {
        require_key(idempotency_key)?;
        self.void_replays
            .once(idempotency_key, reference.to_owned(), || {
                let payment = self.payment(reference)?;
                let mut payment = payment.lock().unwrap_or_else(PoisonError::into_inner);
                match payment.status {
                    TestStatus::RequiresCapture | TestStatus::RequiresAction => {
                        payment.status = TestStatus::Canceled;
                        Ok(())
                    }
                    _ => Err(unexpected_state("only an uncaptured payment can be voided")),
                }
            })
    }

    #[tracing::instrument(skip(self, idempotency_key), fields(gateway = "test"))]
    async fn refund(
        &self,
        reference: &str,
        amount_minor: i64,
        currency: Currency,
        idempotency_key: &str,
    ) -> Result<Refund, GatewayError> {
        require_positive(amount_minor)?;
        require_key(idempotency_key)?;
        let request = format!("{reference}:{amount_minor}:{currency}");
        self.refund_replays.once(idempotency_key, request, || {
            let payment = self.payment(reference)?;
            let mut payment = payment.lock().unwrap_or_else(PoisonError::into_inner);
            require_currency(&payment, currency)?;
            if payment.captured == 0 {
                return Err(unexpected_state("only a captured payment can be refunded"));
            }
            if payment.failing_refunds > 0 {
                payment.failing_refunds -= 1;
                return Err(GatewayError::Unavailable {
                    status: 503,
                    message: "simulated refund failure of the test gateway".to_owned(),
                });
            }
            if amount_minor > payment.captured - payment.refunded {
                return Err(GatewayError::rejected(
                    "amount_too_large",
                    "the refund exceeds what is left of the captured amount",
                ));
            }
            payment.refunded += amount_minor;
            Ok(Refund {
                id: format!("test_re_{}", uuid::Uuid::new_v4().simple()),
                reference: reference.to_owned(),
                amount_minor,
                status: RefundStatus::Succeeded,
            })
        })
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<WebhookEvent, WebhookError> {
        signature::verify(&self.webhook_secret, headers, body, now)?;
        webhook::parse_stripe_event(body)
    }
}

fn require_currency(payment: &TestPayment, currency: Currency) -> Result<(), GatewayError> {
    if payment.currency == currency {
        Ok(())
    } else {
        Err(GatewayError::rejected(
            "currency_mismatch",
            format!("the payment is in {}", payment.currency),
        ))
    }
}

fn unexpected_state(message: &str) -> GatewayError {
    GatewayError::rejected("payment_intent_unexpected_state", message)
}
