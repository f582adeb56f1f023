//! Limits on requests: what one GraphQL request may ask for, the rate
//! budgets operations are charged against, and how the HTTP edge sees
//! clients behind proxies and sheds load.

use super::{ConfigError, env::Env};
use crate::infra::ratelimit::Budget;

/// Limits on what one GraphQL request may ask for.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    /// Deepest selection nesting allowed (GraphiQL's introspection needs 13).
    pub max_depth: usize,
    /// Highest computed complexity allowed (a field costs 1; connections multiply
    /// their children by `first`/`last`, nested lists by 5).
    pub max_complexity: usize,
    /// Most aliased fields in one document.
    pub max_aliases: usize,
    /// Most operations in one batched (JSON array) request.
    pub max_batch: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest multipart upload (a CSV import), in bytes.
    pub max_upload_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_depth: 16,
            max_complexity: 50_000,
            max_aliases: 30,
            max_batch: 10,
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Reads the request limits.
pub(super) fn limits(env: &Env<'_>) -> Result<QueryLimits, ConfigError> {
    let defaults = QueryLimits::default();
    Ok(QueryLimits {
        max_depth: env.parse("EMPORIUM_MAX_DEPTH", defaults.max_depth)?,
        max_complexity: env.parse("EMPORIUM_MAX_COMPLEXITY", defaults.max_complexity)?,
        max_aliases: env.parse("EMPORIUM_MAX_ALIASES", defaults.max_aliases)?,
        max_batch: env.parse("EMPORIUM_MAX_BATCH", defaults.max_batch)?,
        max_body_bytes: env.parse("EMPORIUM_MAX_BODY_BYTES", defaults.max_body_bytes)?,
        max_upload_bytes: env.parse("EMPORIUM_MAX_UPLOAD_BYTES", defaults.max_upload_bytes)?,
    })
}

/// Rate budgets: `CAPACITY,RESTORE_PER_SECOND` in query-cost points, or `off`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// `EMPORIUM_RATE_ANONYMOUS`: per client IP without a token (default
    /// 100000,10000: a burst of two queries of the highest allowed
    /// complexity, or about seven 250-product pages a second sustained).
    pub anonymous: Option<Budget>,
    /// `EMPORIUM_RATE_CUSTOMER`: per signed-in customer (default 100000,10000).
    pub customer: Option<Budget>,
    /// `EMPORIUM_RATE_STAFF`: per staff user (default 200000,20000).
    pub staff: Option<Budget>,
    /// `EMPORIUM_RATE_PARTNER`: per partner token without its own budget (default 100000,10000).
    pub partner: Option<Budget>,
    /// `EMPORIUM_LOGIN_THROTTLE_EMAIL`: failed logins per email and client
    /// IP, and reset mails per email (default 5,0.05: five tries, then one
    /// every 20 s).
    pub login_email: Option<Budget>,
    /// `EMPORIUM_LOGIN_THROTTLE_IP`: login attempts per client IP (default 30,0.5).
    pub login_ip: Option<Budget>,
    /// `EMPORIUM_CODE_THROTTLE_CART`: wrong discount and gift card codes per
    /// cart (default 10,0.01: ten, then one every 100 s).
    pub code_cart: Option<Budget>,
    /// `EMPORIUM_CODE_THROTTLE_IP`: wrong discount and gift card codes per
    /// client IP (default 30,0.05: thirty, then one every 20 s).
    pub code_ip: Option<Budget>,
    /// `EMPORIUM_FAILED_OPERATION_COST`: points charged for an operation
    /// that fails to parse or validate (default 100): the server did work
    /// for it, and it has no complexity to charge.
    pub failed_operation_cost: u32,
    /// `EMPORIUM_FEED_COST`: points charged for one product feed download
    /// (default 10000: ten downloads at once, one a second sustained, for an
    /// anonymous client's default budget).
    pub feed_cost: u32,
}

const fn budget(capacity: u32, restore_per_second: f64) -> Option<Budget> {
    Some(Budget {
        capacity,
        restore_per_second,
    })
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            anonymous: budget(100_000, 10_000.0),
            customer: budget(100_000, 10_000.0),
            staff: budget(200_000, 20_000.0),
            partner: budget(100_000, 10_000.0),
            login_email: budget(5, 0.05),
            login_ip: budget(30, 0.5),
            code_cart: budget(10, 0.01),
            code_ip: budget(30, 0.05),
            failed_operation_cost: 100,
            feed_cost: 10_000,
        }
    }
}

/// Reads the rate budgets.
pub(super) fn rate(env: &Env<'_>) -> Result<RateLimits, ConfigError> {
    let d = RateLimits::default();
    Ok(RateLimits {
        anonymous: env.budget("EMPORIUM_RATE_ANONYMOUS", d.anonymous)?,
        customer: env.budget("EMPORIUM_RATE_CUSTOMER", d.customer)?,
        staff: env.budget("EMPORIUM_RATE_STAFF", d.staff)?,
        partner: env.budget("EMPORIUM_RATE_PARTNER", d.partner)?,
        login_email: env.budget("EMPORIUM_LOGIN_THROTTLE_EMAIL", d.login_email)?,
        login_ip: env.budget("EMPORIUM_LOGIN_THROTTLE_IP", d.login_ip)?,
        code_cart: env.budget("EMPORIUM_CODE_THROTTLE_CART", d.code_cart)?,
        code_ip: env.budget("EMPORIUM_CODE_THROTTLE_IP", d.code_ip)?,
        failed_operation_cost: env
            .parse("EMPORIUM_FAILED_OPERATION_COST", d.failed_operation_cost)?,
        feed_cost: env.parse("EMPORIUM_FEED_COST", d.feed_cost)?,
    })
}

/// How the HTTP edge sees clients and protects the node from too many of
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeConfig {
    /// `EMPORIUM_TRUSTED_PROXY_HOPS`: how many proxies in front of the node
    /// append to `X-Forwarded-For` (default 0: the TCP peer is the client).
    /// With `n`, the client is the `n`-th entry from the right of all the
    /// header's lines together: what the outermost trusted proxy saw.
    /// `EMPORIUM_TRUST_FORWARDED_FOR=true`, the older setting, means 1.
    pub trusted_proxy_hops: usize,
    /// `EMPORIUM_MAX_IN_FLIGHT_REQUESTS`: requests the node works on at once
    /// (GraphQL, feeds, webhooks); one more is answered 503 with
    /// `Retry-After` at once (default 1024; 0: no limit).
    pub max_in_flight: usize,
    /// `EMPORIUM_WS_MAX_PER_CLIENT`: WebSocket connections open at once per
    /// client address (an IPv6 /64) and per signed-in principal (default
    /// 100; 0: no limit).
    pub ws_max_per_client: usize,
    /// `EMPORIUM_WS_INIT_TIMEOUT_SECS`: a WebSocket that has not sent
    /// `connection_init` this long after opening is closed (default 10).
    pub ws_init_timeout_secs: u64,
    /// `EMPORIUM_WS_IDLE_TIMEOUT_SECS`: a WebSocket running no operation
    /// for this long is closed (default 300; 0: never).
    pub ws_idle_timeout_secs: u64,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            trusted_proxy_hops: 0,
            max_in_flight: 1024,
            ws_max_per_client: 100,
            ws_init_timeout_secs: 10,
            ws_idle_timeout_secs: 300,
        }
    }
}

/// Reads the edge settings.
pub(super) fn edge(env: &Env<'_>) -> Result<EdgeConfig, ConfigError> {
    let d = EdgeConfig::default();
    let trusted_proxy_hops = match env.string("EMPORIUM_TRUSTED_PROXY_HOPS") {
        Some(_) => env.parse("EMPORIUM_TRUSTED_PROXY_HOPS", d.trusted_proxy_hops)?,
        None => usize::from(env.parse("EMPORIUM_TRUST_FORWARDED_FOR", false)?),
    };
    Ok(EdgeConfig {
        trusted_proxy_hops,
        max_in_flight: env.parse("EMPORIUM_MAX_IN_FLIGHT_REQUESTS", d.max_in_flight)?,
        ws_max_per_client: env.parse("EMPORIUM_WS_MAX_PER_CLIENT", d.ws_max_per_client)?,
        ws_init_timeout_secs: env
            .parse("EMPORIUM_WS_INIT_TIMEOUT_SECS", d.ws_init_timeout_secs)?
            .max(1),
        ws_idle_timeout_secs: env.parse("EMPORIUM_WS_IDLE_TIMEOUT_SECS", d.ws_idle_timeout_secs)?,
    })
}
