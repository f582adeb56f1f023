//! The `stripe` gateway: Stripe's PaymentIntents API over HTTPS.
//!
//! Requests are form-encoded POSTs with `Authorization: Bearer <secret
//! key>`, an `Idempotency-Key` and a pinned `Stripe-Version`. Mapping:
//!
//! | call | request | answer |
//! |---|---|---|
//! | authorize | `POST /v1/payment_intents` (`amount`, `currency`, `payment_method`, `confirm=true`, `capture_method`, `metadata[reference]`) | `requires_capture` → authorized; `succeeded` → authorized and captured; `requires_action`, `processing` → requires action; `requires_payment_method` or HTTP 402 `card_error` → declined |
//! | capture | `POST /v1/payment_intents/{id}/capture` (`amount_to_capture`) | `succeeded` |
//! | void | `POST /v1/payment_intents/{id}/cancel` | `canceled` |
//! | refund | `POST /v1/refunds` (`payment_intent`, `amount`) | the refund's status |
//!
//! HTTP 401/403 is a misconfiguration; 409, 429 and 5xx, timeouts and
//! connection failures are retryable; other 4xx are rejections. Amounts are
//! Stripe's "smallest currency unit", which for every currency emporium
//! supports is its minor unit (Stripe wants BHD and KWD amounts to end in
//! 0). Capture and refund take the currency from the PaymentIntent.

use std::{fmt, time::Duration};

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;

use super::{
    Authorization, AuthorizeRequest, Capture, GatewayError, PaymentGateway, Refund, RefundStatus,
    WebhookError, WebhookEvent, require_key, require_positive, signature,
    webhook::{self, RawPaymentError},
};
use crate::domain::money::Currency;

/// Stripe's public API base URL.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// The Stripe API version requests are pinned to, so answers keep the shape
/// this code reads whatever the account's default. Create the webhook
/// endpoint with the same version.
pub const STRIPE_API_VERSION: &str = "2024-06-20";

/// The longest idempotency key Stripe accepts.
const MAX_KEY_LEN: usize = 255;

/// Settings of the `stripe` gateway.
#[derive(Clone)]
pub struct StripeConfig {
    /// The API base URL: [`STRIPE_API_BASE`], or a mock server in tests.
    pub base_url: String,
    /// The secret API key (`sk_live_...`, `sk_test_...`, or a restricted
    /// `rk_...` allowed to write PaymentIntents and refunds).
    pub secret_key: String,
    /// The webhook endpoint's signing secret (`whsec_...`).
    pub webhook_secret: String,
    /// How long one API call may take, connection included.
    pub timeout: Duration,
    /// Where a customer returns after a redirect-based payment method. Without
    /// one, payments are confirmed with redirects disallowed (cards, wallets
    /// and 3-D Secure through Stripe.js still work).
    pub return_url: Option<String>,
}

impl StripeConfig {
    /// Settings for Stripe's API with `secret_key` and `webhook_secret`, a
    /// 30-second timeout and no return URL.
    pub fn new(secret_key: impl Into<String>, webhook_secret: impl Into<String>) -> Self {
        Self {
            base_url: STRIPE_API_BASE.to_owned(),
            secret_key: secret_key.into(),
            webhook_secret: webhook_secret.into(),
            timeout: Duration::from_secs(30),
            return_url: None,
        }
    }
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("base_url", &self.base_url)
            .field("secret_key", &"[redacted]")
            .field("webhook_secret", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("return_url", &self.return_url)
            .finish()
    }
}

/// The `stripe` gateway (code `stripe`). See the module documentation for
/// how calls map to Stripe's API.
pub struct StripeGateway {
    client: reqwest::Client,
    base_url: String,
    secret_key: String,
    webhook_secret: String,
    return_url: Option<String>,
}

impl fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeGateway")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl StripeGateway {
    /// A gateway with `config`; refuses empty secrets and a base URL that is
    /// not http(s).
    pub fn new(config: StripeConfig) -> Result<Self, GatewayError> {
        if config.secret_key.trim().is_empty() {
            return Err(GatewayError::Misconfigured(
                "the Stripe secret key is empty".to_owned(),
            ));
        }
        if config.webhook_secret.trim().is_empty() {
            return Err(GatewayError::Misconfigured(
                "the Stripe webhook secret is empty".to_owned(),
            ));
        }
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        match reqwest::Url::parse(&base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => {
                return Err(GatewayError::Misconfigured(format!(
                    "the Stripe base URL `{base_url}` is not an http(s) URL"
                )));
            }
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|err| {
                GatewayError::Misconfigured(format!("cannot build the HTTP client: {err}"))
            })?;
        Ok(Self {
            client,
            base_url,
            secret_key: config.secret_key,
            webhook_secret: config.webhook_secret,
            return_url: config.return_url,
        })
    }

    /// POSTs `form` to `path` and reads the answer.
    async fn post(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<Answer, GatewayError> {
        require_key(idempotency_key)?;
        let key = HeaderValue::from_str(idempotency_key)
            .ok()
            .filter(|_| idempotency_key.len() <= MAX_KEY_LEN)
            .ok_or_else(|| {
                GatewayError::rejected(
                    "invalid_idempotency_key",
                    "idempotency keys are at most 255 visible ASCII characters",
                )
            })?;
        let response = self
            .client
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(&self.secret_key)
            .header("Idempotency-Key", key)
            .header("Stripe-Version", STRIPE_API_VERSION)
            .form(form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            tracing::warn!(status = status.as_u16(), path, "stripe refused a request");
        }
        Ok(Answer { status, body })
    }
}

#[async_trait::async_trait]
impl PaymentGateway for StripeGateway {
    fn code(&self) -> &'static str {
        "stripe"
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", order_reference = %req.reference))]
    async fn authorize(&self, req: &AuthorizeRequest) -> Result<Authorization, GatewayError> {
        require_positive(req.amount_minor)?;
        let mut form = vec![
            ("amount", req.amount_minor.to_string()),
            ("currency", req.currency.code().to_ascii_lowercase()),
            ("payment_method", req.token.clone()),
            ("confirm", "true".to_owned()),
            ("capture_method", req.capture.as_str().to_owned()),
            ("metadata[reference]", req.reference.clone()),
        ];
        match &self.return_url {
            Some(url) => form.push(("return_url", url.clone())),
            None => {
                form.push(("automatic_payment_methods[enabled]", "true".to_owned()));
                form.push((
                    "automatic_payment_methods[allow_redirects]",
                    "never".to_owned(),
                ));
            }
        }
        let answer = self
            .post("/v1/payment_intents", &form, &req.idempotency_key)
            .await?;
        if answer.status.is_success() {
            return answer.payment_intent()?.authorization();
        }
        let error = answer.error();
        let declined = answer.status == StatusCode::PAYMENT_REQUIRED
            || (answer.status == StatusCode::BAD_REQUEST
                && error.detail.param.as_deref() == Some("payment_method"));
        if declined {
            return Ok(Authorization::Declined {
                reference: error.payment_intent.map(|pi| pi.id),
                code: error.detail.decline_code(),
                message: error
                    .detail
                    .message
                    .unwrap_or_else(|| "The payment was declined.".to_owned()),
            });
        }
        Err(answer.failure(error))
    }

    #[tracing::instrument(skip(self, idempotency_key), fields(gateway = "stripe"))]
    async fn capture(
        &self,
        reference: &str,
        amount_minor: i64,
        _currency: Currency,
        idempotency_key: &str,
        final_capture: bool,
    ) -> Result<Capture, GatewayError> {
        require_positive(amount_minor)?;
        let path = format!("/v1/payment_intents/{}/capture", path_id(reference)?);
        let mut form = vec![("amount_to_capture", amount_minor.to_string())];
        if !final_capture {
            // Multicapture: the rest stays authorized for later captures.
            form.push(("final_capture", "false".to_owned()));
        }
        let pi = self
            .post(&path, &form, idempotency_key)
            .await?
            .success()?
            .payment_intent()?;
        match pi.status.as_str() {
            "succeeded" => Ok(Capture {
                reference: pi.id,
                amount_minor,
            }),
            "requires_capture" if !final_capture => Ok(Capture {
                reference: pi.id,
                amount_minor,
            }),
            other => Err(unexpected_status(other)),
        }
    }

    #[tracing::instrument(skip(self, idempotency_key), fields(gateway = "stripe"))]
    async fn void(&self, reference: &str, idempotency_key: &str) -> Result<(), GatewayError> {
        let path = format!("/v1/payment_intents/{}/cancel", path_id(reference)?);
        let pi = self
            .post(&path, &[], idempotency_key)
            .await?
            .success()?
            .payment_intent()?;
        match pi.status.as_str() {
            "canceled" => Ok(()),
            other => Err(unexpected_status(other)),
        }
    }

    #[tracing::instrument(skip(self, idempotency_key), fields(gateway = "stripe"))]
    async fn refund(
        &self,
        reference: &str,
        amount_minor: i64,
        _currency: Currency,
        idempotency_key: &str,
    ) -> Result<Refund, GatewayError> {
        require_positive(amount_minor)?;
        let form = [
            ("payment_intent", path_id(reference)?.to_owned()),
            ("amount", amount_minor.to_string()),
        ];
        let refund: StripeRefund = self
            .post("/v1/refunds", &form, idempotency_key)
            .await?
            .success()?
            .parse()?;
        let status = match refund.status.as_str() {
            "succeeded" => RefundStatus::Succeeded,
            "pending" | "requires_action" => RefundStatus::Pending,
            "failed" | "canceled" => RefundStatus::Failed,
            other => return Err(unexpected_status(other)),
        };
        Ok(Refund {
            id: refund.id,
            reference: refund
                .payment_intent
                .unwrap_or_else(|| reference.to_owned()),
            amount_minor: refund.amount,
            status,
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

/// `reference` if it is fit for a URL path: Stripe ids are letters, digits
/// and underscores.
fn path_id(reference: &str) -> Result<&str, GatewayError> {
    if !reference.is_empty()
        && reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        Ok(reference)
    } else {
        Err(GatewayError::rejected(
            "invalid_reference",
            "not a Stripe PaymentIntent id",
        ))
    }
}

fn transport(err: reqwest::Error) -> GatewayError {
    if err.is_timeout() {
        GatewayError::Timeout
    } else {
        GatewayError::Transport(err.to_string())
    }
}

fn unexpected_status(status: &str) -> GatewayError {
    GatewayError::UnexpectedResponse(format!("Stripe object in status `{status}`"))
}

/// An HTTP answer from Stripe.
struct Answer {
    status: StatusCode,
    body: bytes::Bytes,
}

impl Answer {
    /// The answer if it is a success, else the error it stands for.
    fn success(self) -> Result<Self, GatewayError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            let error = self.error();
            Err(self.failure(error))
        }
    }

    fn parse<T: for<'de> Deserialize<'de>>(&self) -> Result<T, GatewayError> {
        serde_json::from_slice(&self.body).map_err(|err| {
            GatewayError::UnexpectedResponse(format!(
                "HTTP {} with an unreadable body: {err}",
                self.status.as_u16()
            ))
        })
    }

    fn payment_intent(&self) -> Result<PaymentIntent, GatewayError> {
        self.parse()
    }

    /// The Stripe error the body carries (empty if it carries none).
    fn error(&self) -> ErrorObject {
        serde_json::from_slice::<ErrorBody>(&self.body)
            .map(|body| body.error)
            .unwrap_or_default()
    }

    /// The [`GatewayError`] for this unsuccessful answer.
    fn failure(&self, error: ErrorObject) -> GatewayError {
        let status = self.status.as_u16();
        let message = error
            .detail
            .message
            .unwrap_or_else(|| format!("HTTP {status}"));
        match self.status {
            // Stripe's message names the key (even if masked): leave it out.
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                GatewayError::Misconfigured(format!("Stripe refused the API key (HTTP {status})"))
            }
            StatusCode::CONFLICT | StatusCode::TOO_MANY_REQUESTS => {
                GatewayError::Unavailable { status, message }
            }
            s if s.is_server_error() => GatewayError::Unavailable { status, message },
            s if s.is_client_error() => GatewayError::Rejected {
                code: error
                    .detail
                    .code
                    .or(error.detail.error_type)
                    .unwrap_or_else(|| format!("http_{status}")),
                message,
            },
            _ => GatewayError::UnexpectedResponse(format!("HTTP {status}: {message}")),
        }
    }
}

/// A PaymentIntent, with only the fields read here.
#[derive(Deserialize)]
struct PaymentIntent {
    id: String,
    status: String,
    #[serde(default)]
    amount: i64,
    #[serde(default)]
    amount_received: i64,
    #[serde(default)]
    amount_capturable: i64,
    client_secret: Option<String>,
    next_action: Option<NextAction>,
    last_payment_error: Option<RawPaymentError>,
}

#[derive(Deserialize)]
struct NextAction {
    redirect_to_url: Option<RedirectToUrl>,
}

#[derive(Deserialize)]
struct RedirectToUrl {
    url: Option<String>,
}

impl PaymentIntent {
    /// The authorization outcome a confirmed PaymentIntent stands for.
    fn authorization(self) -> Result<Authorization, GatewayError> {
        Ok(match self.status.as_str() {
            "requires_capture" => Authorization::Authorized {
                amount_minor: if self.amount_capturable > 0 {
                    self.amount_capturable
                } else {
                    self.amount
                },
                reference: self.id,
                captured: false,
            },
            "succeeded" => Authorization::Authorized {
                reference: self.id,
                amount_minor: self.amount_received,
                captured: true,
            },
            "requires_action" | "processing" => Authorization::RequiresAction {
                reference: self.id,
                client_secret: self.client_secret,
                next_action_url: self
                    .next_action
                    .and_then(|action| action.redirect_to_url)
                    .and_then(|redirect| redirect.url),
            },
            "requires_payment_method" => {
                let error = self.last_payment_error.unwrap_or_default();
                Authorization::Declined {
                    reference: Some(self.id),
                    code: error.decline_code(),
                    message: error
                        .message
                        .unwrap_or_else(|| "The payment was declined.".to_owned()),
                }
            }
            other => return Err(unexpected_status(other)),
        })
    }
}

/// A refund, with only the fields read here.
#[derive(Deserialize)]
struct StripeRefund {
    id: String,
    amount: i64,
    status: String,
    payment_intent: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorObject,
}

/// Stripe's `error` object.
#[derive(Default, Deserialize)]
struct ErrorObject {
    #[serde(flatten)]
    detail: RawPaymentError,
    payment_intent: Option<PaymentIntentId>,
}

#[derive(Deserialize)]
struct PaymentIntentId {
    id: String,
}
