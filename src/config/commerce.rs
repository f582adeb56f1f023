//! Checkout settings: payment gateways and their keys, capture, stock
//! holds, caps on unpaid orders, retries of failed voids and refunds.

use super::{ConfigError, Mode, env::Env, secret::Secret};
use crate::domain::orders::CapturePolicy;

/// The webhook signing secret of the `test` gateway when
/// `EMPORIUM_TEST_WEBHOOK_SECRET` is not set (development only).
pub const DEFAULT_TEST_WEBHOOK_SECRET: &str = "whsec_emporium_test_gateway";

/// Checkout settings.
#[derive(Debug, Clone)]
pub struct CommerceConfig {
    /// `EMPORIUM_PAYMENT_GATEWAYS`: comma-separated gateways to offer, of
    /// `test`, `manual` and `stripe` (default `test,manual` in development,
    /// `manual` in production; `test` is refused in production, and
    /// `stripe` needs `EMPORIUM_STRIPE_SECRET_KEY`).
    pub gateways: Vec<String>,
    /// `EMPORIUM_TEST_WEBHOOK_SECRET`: signs the `test` gateway's webhooks.
    pub test_webhook_secret: Secret,
    /// `EMPORIUM_STRIPE_SECRET_KEY`: Stripe API key (enables `stripe`).
    pub stripe_secret_key: Option<Secret>,
    /// `EMPORIUM_STRIPE_WEBHOOK_SECRET`: verifies `Stripe-Signature`.
    pub stripe_webhook_secret: Option<Secret>,
    /// `EMPORIUM_STRIPE_API_BASE`: Stripe API base URL (a local mock in tests).
    pub stripe_api_base: Option<String>,
    /// `EMPORIUM_PAYMENT_CAPTURE`: `automatic` (charge at checkout,
    /// default), `on_fulfillment` (authorize at checkout, capture what each
    /// fulfilment ships) or `manual` (authorize at checkout, staff capture
    /// with `orderCapture`).
    pub payment_capture: CapturePolicy,
    /// `EMPORIUM_CHECKOUT_HOLD_SECS`: how long a checkout in progress holds
    /// stock (default 600).
    pub checkout_hold_secs: u64,
    /// `EMPORIUM_PAYMENT_PENDING_SECS`: how long an order awaiting payment
    /// (an asynchronous card payment, an offline payment) holds its stock
    /// before it is cancelled (default 3600).
    pub payment_pending_secs: u64,
    /// `EMPORIUM_PAYMENT_PENDING_SECS_<GATEWAY>` (`_MANUAL`, `_STRIPE`,
    /// `_TEST`): the same for one gateway, e.g. a few days for bank
    /// transfers.
    pub payment_pending_secs_per_gateway: Vec<(String, u64)>,
    /// `EMPORIUM_UNPAID_ORDERS_PER_EMAIL`: most orders awaiting payment one
    /// buyer email may have open at once (default 3; 0: no cap).
    pub unpaid_orders_per_email: u32,
    /// `EMPORIUM_UNPAID_ORDERS_PER_CUSTOMER`: the same per signed-in
    /// customer (default 3; 0: no cap).
    pub unpaid_orders_per_customer: u32,
    /// `EMPORIUM_UNPAID_ORDERS_PER_ADDRESS`: the same per client address
    /// (an IPv4 address, an IPv6 /64 network; default 5; 0: no cap).
    pub unpaid_orders_per_address: u32,
    /// `EMPORIUM_PAYMENT_RETRY_BASE_MS`: delay before retrying a failed
    /// automatic void or refund; it doubles after each further failure
    /// (default 5000).
    pub payment_retry_base_ms: u64,
    /// `EMPORIUM_PAYMENT_RETRY_CAP_SECS`: the longest delay between two
    /// such retries (default 3600).
    pub payment_retry_cap_secs: u64,
    /// `EMPORIUM_CART_RESERVATION_SECS`: hold stock when it is added to a
    /// cart, for this long after the cart's last change (default 0: off).
    pub cart_reservation_secs: u64,
    /// `EMPORIUM_SWEEP_INTERVAL_SECS`: how often expired holds are released
    /// (default 10).
    pub sweep_interval_secs: u64,
}

impl Default for CommerceConfig {
    fn default() -> Self {
        Self {
            gateways: vec!["test".into(), "manual".into()],
            test_webhook_secret: Secret::from(DEFAULT_TEST_WEBHOOK_SECRET),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: None,
            payment_capture: CapturePolicy::Automatic,
            checkout_hold_secs: 600,
            payment_pending_secs: 3600,
            payment_pending_secs_per_gateway: Vec::new(),
            unpaid_orders_per_email: 3,
            unpaid_orders_per_customer: 3,
            unpaid_orders_per_address: 5,
            payment_retry_base_ms: 5_000,
            payment_retry_cap_secs: 3_600,
            cart_reservation_secs: 0,
            sweep_interval_secs: 10,
        }
    }
}

/// Reads the checkout settings; `mode` decides the default gateways and
/// refuses the `test` one in production.
pub(super) fn commerce(env: &Env<'_>, mode: Mode) -> Result<CommerceConfig, ConfigError> {
    let d = CommerceConfig::default();
    let gateways: Vec<String> = match env.string("EMPORIUM_PAYMENT_GATEWAYS") {
        Some(list) => list
            .split(',')
            .map(|g| g.trim().to_ascii_lowercase())
            .filter(|g| !g.is_empty())
            .collect(),
        None if mode == Mode::Production => vec!["manual".into()],
        None => d.gateways.clone(),
    };
    let stripe_secret_key = env.string("EMPORIUM_STRIPE_SECRET_KEY").map(Secret::from);
    for g in &gateways {
        let reason = match g.as_str() {
            "test" if mode == Mode::Production => "the test gateway is refused in production",
            "stripe" if stripe_secret_key.is_none() => "stripe needs EMPORIUM_STRIPE_SECRET_KEY",
            "test" | "manual" | "stripe" => continue,
            _ => "unknown gateway (use test, manual, stripe)",
        };
        return Err(ConfigError::Invalid {
            var: "EMPORIUM_PAYMENT_GATEWAYS",
            value: gateways.join(","),
            reason: reason.into(),
        });
    }
    let capture = env
        .string("EMPORIUM_PAYMENT_CAPTURE")
        .unwrap_or_else(|| "automatic".into());
    let Ok(payment_capture) = capture.to_ascii_lowercase().parse::<CapturePolicy>() else {
        return Err(ConfigError::Invalid {
            var: "EMPORIUM_PAYMENT_CAPTURE",
            value: capture,
            reason: "use automatic, on_fulfillment or manual".into(),
        });
    };
    Ok(CommerceConfig {
        gateways,
        test_webhook_secret: env
            .string("EMPORIUM_TEST_WEBHOOK_SECRET")
            .map_or(d.test_webhook_secret, Secret::from),
        stripe_secret_key,
        stripe_webhook_secret: env
            .string("EMPORIUM_STRIPE_WEBHOOK_SECRET")
            .map(Secret::from),
        stripe_api_base: env.string("EMPORIUM_STRIPE_API_BASE"),
        payment_capture,
        checkout_hold_secs: env.parse("EMPORIUM_CHECKOUT_HOLD_SECS", d.checkout_hold_secs)?,
        payment_pending_secs: env.parse("EMPORIUM_PAYMENT_PENDING_SECS", d.payment_pending_secs)?,
        payment_pending_secs_per_gateway: {
            let mut per = Vec::new();
            for (code, var) in [
                ("manual", "EMPORIUM_PAYMENT_PENDING_SECS_MANUAL"),
                ("stripe", "EMPORIUM_PAYMENT_PENDING_SECS_STRIPE"),
                ("test", "EMPORIUM_PAYMENT_PENDING_SECS_TEST"),
            ] {
                if env.string(var).is_some() {
                    per.push((code.to_owned(), env.parse(var, 0_u64)?));
                }
            }
            per
        },
        unpaid_orders_per_email: env.parse(
            "EMPORIUM_UNPAID_ORDERS_PER_EMAIL",
            d.unpaid_orders_per_email,
        )?,
        unpaid_orders_per_customer: env.parse(
            "EMPORIUM_UNPAID_ORDERS_PER_CUSTOMER",
            d.unpaid_orders_per_customer,
        )?,
        unpaid_orders_per_address: env.parse(
            "EMPORIUM_UNPAID_ORDERS_PER_ADDRESS",
            d.unpaid_orders_per_address,
        )?,
        payment_retry_base_ms: env
            .parse("EMPORIUM_PAYMENT_RETRY_BASE_MS", d.payment_retry_base_ms)?
            .max(1),
        payment_retry_cap_secs: env
            .parse("EMPORIUM_PAYMENT_RETRY_CAP_SECS", d.payment_retry_cap_secs)?
            .max(1),
        cart_reservation_secs: env
            .parse("EMPORIUM_CART_RESERVATION_SECS", d.cart_reservation_secs)?,
        sweep_interval_secs: env
            .parse("EMPORIUM_SWEEP_INTERVAL_SECS", d.sweep_interval_secs)?
            .max(1),
    })
}
