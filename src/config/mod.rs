//! Typed configuration read from `EMPORIUM_*` environment variables.
//!
//! Every setting has a default that works with nothing set: an embedded SQLite
//! file in the working directory, no Redis, listening on loopback. A value that
//! does not parse stops the server at start with a message naming the variable.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr};

use crate::{domain::sealing::MIN_KEY_BYTES, infra::ratelimit::Budget};

/// A secret setting (a key, a token). `Debug` never shows it, so a logged or
/// printed configuration does not leak it; [`Secret::expose`] is the one
/// way to read it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the code that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// A URL that may carry credentials (database, Redis, SMTP). `Debug` and
/// [`SecretUrl::redacted`] show it with its password replaced by `***`;
/// [`SecretUrl::expose`] gives it whole, for connecting.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// The whole URL, password included.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password hidden, for messages and logs.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl From<String> for SecretUrl {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for SecretUrl {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// `url` with the password of its user info and the values of `password`
/// query parameters replaced by `***`. Works on text that is not a valid
/// URL too: whatever sits between `://` and the last `@` of the authority
/// after a `:` is hidden.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (user_info, host) = authority.split_at(at);
            match user_info.split_once(':') {
                Some((user, _)) => format!("{user}:***{host}"),
                None => authority.to_owned(),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.to_ascii_lowercase().contains("pass") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable is set to something that does not parse.
    #[error("{var}: {reason} (got {value:?})")]
    Invalid {
        /// The environment variable.
        var: &'static str,
        /// The value it had.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("expected `text` or `json`".into()),
        }
    }
}

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

/// The whole configuration of a node.
#[derive(Debug, Clone)]
pub struct Config {
    /// `EMPORIUM_DATABASE_URL`: `sqlite://...` or `postgres://...`.
    pub database_url: SecretUrl,
    /// `EMPORIUM_DB_MAX_CONNECTIONS`: size of the connection pool (default:
    /// 4 for SQLite, whose connections each hold a thread and a page cache
    /// and gain nothing past the core count; 16 for PostgreSQL).
    pub db_max_connections: u32,
    /// `EMPORIUM_REDIS_URL`: shared cache and event bus; none means in-process.
    pub redis_url: Option<SecretUrl>,
    /// `EMPORIUM_LISTEN`: the address the HTTP server binds.
    pub listen: SocketAddr,
    /// `EMPORIUM_LOG`: a tracing filter such as `info` or `emporium=debug,info`.
    pub log: String,
    /// `EMPORIUM_LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// `EMPORIUM_DEFAULT_CHANNEL`: channel code used when a request names none
    /// (empty: the channel flagged default in the database).
    pub default_channel: Option<String>,
    /// `EMPORIUM_RESPONSE_CACHE_MB`: size of the storefront response cache (0 disables it).
    pub response_cache_mb: u64,
    /// `EMPORIUM_RESPONSE_CACHE_TTL_SECS`: the longest a cached response
    /// lives (changes made through emporium invalidate it at once; this
    /// bounds what changes made behind its back could leave; default 300).
    pub response_cache_ttl_secs: u64,
    /// `EMPORIUM_ROW_CACHE_ENTRIES`: catalog rows kept per relation for the
    /// current catalog version, shared by all requests (0 disables it).
    pub row_cache_entries: u64,
    /// `EMPORIUM_SHUTDOWN_GRACE_SECS`: how long in-flight requests may finish after a stop signal.
    pub shutdown_grace_secs: u64,
    /// `EMPORIUM_OUTBOX_POLL_MS`: how often the outbox relay looks for new
    /// events when it has none left (default 100).
    pub outbox_poll_ms: u64,
    /// Request limits (`EMPORIUM_MAX_DEPTH`, `EMPORIUM_MAX_COMPLEXITY`,
    /// `EMPORIUM_MAX_ALIASES`, `EMPORIUM_MAX_BATCH`, `EMPORIUM_MAX_BODY_BYTES`,
    /// `EMPORIUM_MAX_UPLOAD_BYTES`).
    pub limits: QueryLimits,
    /// `EMPORIUM_MODE`: `development` (default) or `production`, which hides
    /// GraphiQL and refuses introspection to callers without a staff or
    /// partner token.
    pub mode: Mode,
    /// Whether `EMPORIUM_MODE` was set (development by default listens on
    /// loopback only).
    pub mode_explicit: bool,
    /// `EMPORIUM_SECRET_KEY`: the master key (at least 32 bytes) sealing the
    /// secrets the server stores and reads back. Unset: read from
    /// `secret_key_file`.
    pub secret_key: Option<Secret>,
    /// `EMPORIUM_SECRET_KEY_FILE`: a file holding the master key. Unset, in
    /// development: beside the SQLite database (`<file>.key`), or
    /// `emporium.key` in the working directory; generated when missing.
    pub secret_key_file: Option<PathBuf>,
    /// Tokens, sessions and mail.
    pub auth: AuthConfig,
    /// Rate budgets in query-cost points.
    pub rate: RateLimits,
    /// Client addresses behind proxies, load shedding, WebSocket limits.
    pub edge: EdgeConfig,
    /// `EMPORIUM_REDIS_PREFIX`: prefix of every Redis key (default `emporium:`),
    /// so several shops can share one Redis.
    pub redis_prefix: String,
    /// `EMPORIUM_STOREFRONT_URL`: the storefront's base URL, for product links
    /// in feeds (`{url}/products/{handle}?variant={sku}`).
    pub storefront_url: String,
    /// Checkout: payment gateways, stock holds.
    pub commerce: CommerceConfig,
    /// Outbound webhooks: retries and timeouts.
    pub webhooks: WebhookConfig,
    /// How many password hashes may run at once.
    pub password_hashing: PasswordHashing,
    /// How long carts, idempotency keys, sessions and reset tokens are kept.
    pub retention: RetentionConfig,
}

/// Retention periods of the background purge (see `domain::retention`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// `EMPORIUM_RETENTION_INTERVAL_SECS`: how often a purge round runs
    /// (one node of all sharing the database runs each; default 3600, 0
    /// turns purging off).
    pub interval_secs: u64,
    /// `EMPORIUM_RETENTION_CART_DAYS`: carts unchanged this long are purged
    /// (default 60).
    pub cart_days: u64,
    /// `EMPORIUM_RETENTION_IDEMPOTENCY_HOURS`: idempotency keys are kept this
    /// long after their first use (default 168).
    pub idempotency_hours: u64,
    /// `EMPORIUM_RETENTION_SESSION_DAYS`: ended (expired or revoked) login
    /// sessions and their refresh tokens are kept this long (default 30).
    pub session_days: u64,
    /// `EMPORIUM_RETENTION_RESET_DAYS`: expired password reset tokens are
    /// kept this long (default 7).
    pub reset_days: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            interval_secs: 3_600,
            cart_days: 60,
            idempotency_hours: 168,
            session_days: 30,
            reset_days: 7,
        }
    }
}

/// The bound on password hashing (each argon2id run holds about 19 MiB and
/// a blocking thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashing {
    /// `EMPORIUM_PASSWORD_HASH_CONCURRENCY`: hashes and checks at once
    /// (default: the number of CPUs, at most 8).
    pub concurrency: usize,
    /// `EMPORIUM_PASSWORD_HASH_WAIT_MS`: how long a login or registration
    /// waits for a turn before it is refused with RATE_LIMITED (default 2000).
    pub wait_ms: u64,
}

impl Default for PasswordHashing {
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism()
                .map_or(2, std::num::NonZeroUsize::get)
                .clamp(1, 8),
            wait_ms: 2_000,
        }
    }
}

/// Outbound webhook delivery settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `EMPORIUM_WEBHOOK_MAX_ATTEMPTS`: attempts before a delivery is
    /// marked failed (default 8, at least 1).
    pub max_attempts: u32,
    /// `EMPORIUM_WEBHOOK_RETRY_BASE_MS`: delay after the first failed
    /// attempt; it doubles after each further one (default 5000).
    pub retry_base_ms: u64,
    /// `EMPORIUM_WEBHOOK_RETRY_CAP_SECS`: the longest delay between two
    /// attempts (default 3600).
    pub retry_cap_secs: u64,
    /// `EMPORIUM_WEBHOOK_TIMEOUT_SECS`: how long one attempt may take,
    /// connecting included (default 10).
    pub timeout_secs: u64,
    /// `EMPORIUM_WEBHOOK_POLL_MS`: how often the delivery worker looks for
    /// due deliveries when it has none left (default 1000).
    pub poll_ms: u64,
    /// `EMPORIUM_WEBHOOK_ALLOW_PRIVATE`: let webhook URLs reach loopback,
    /// private, link-local and other non-public addresses (default false;
    /// for development and tests, whose receivers run on this machine).
    pub allow_private: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            retry_base_ms: 5_000,
            retry_cap_secs: 3_600,
            timeout_secs: 10,
            poll_ms: 1_000,
            allow_private: false,
        }
    }
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
    /// `EMPORIUM_PAYMENT_CAPTURE`: `automatic` (charge at checkout, default)
    /// or `manual` (authorize at checkout, capture later).
    pub capture_automatic: bool,
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
            capture_automatic: true,
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

/// Development or production behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// GraphiQL and introspection for everyone.
    Development,
    /// GraphiQL off; introspection only for staff and partner tokens.
    Production,
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Self::Development),
            "production" | "prod" => Ok(Self::Production),
            _ => Err("expected `development` or `production`".into()),
        }
    }
}

/// Tokens, sessions and mail.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `EMPORIUM_JWT_SECRET`: key signing access tokens (at least 32 bytes).
    /// Unset: a random key generated once and kept in the database.
    pub jwt_secret: Option<Secret>,
    /// `EMPORIUM_ACCESS_TOKEN_TTL_SECS`: lifetime of access tokens (default 900).
    pub access_token_ttl_secs: u64,
    /// `EMPORIUM_SESSION_TTL_DAYS`: how long a login can be refreshed (default 30).
    pub session_ttl_days: u64,
    /// `EMPORIUM_PASSWORD_RESET_TTL_MINS`: lifetime of reset tokens (default 60).
    pub password_reset_ttl_mins: u64,
    /// `EMPORIUM_PASSWORD_RESET_URL`: link put in reset mails, with `{token}`
    /// where the token goes (unset: the mail gives the bare token).
    pub password_reset_url: Option<String>,
    /// `EMPORIUM_SMTP_URL`: `smtp://user:pass@host:587?tls=required` or
    /// `smtps://...`; unset: mail stays in the in-process outbox.
    pub smtp_url: Option<SecretUrl>,
    /// `EMPORIUM_MAIL_FROM`: sender of outgoing mail.
    pub mail_from: String,
    /// `EMPORIUM_MAIL_DIR`: without SMTP, also write each mail here as `.eml`.
    pub mail_dir: Option<PathBuf>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            access_token_ttl_secs: 900,
            session_ttl_days: 30,
            password_reset_ttl_mins: 60,
            password_reset_url: None,
            smtp_url: None,
            mail_from: "emporium <no-reply@localhost>".into(),
            mail_dir: None,
        }
    }
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

/// The storefront base URL used in feeds when `EMPORIUM_STOREFRONT_URL` is not set.
pub const DEFAULT_STOREFRONT_URL: &str = "http://localhost:3000";

/// The SQLite file used when `EMPORIUM_DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://emporium.db?mode=rwc";

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

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let defaults = QueryLimits::default();
        let database_url = env
            .string("EMPORIUM_DATABASE_URL")
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            return Err(ConfigError::Invalid {
                var: "EMPORIUM_DATABASE_URL",
                value: redact_url(&database_url),
                reason: "expected a sqlite:// or postgres:// URL".into(),
            });
        }
        let default_pool = if database_url.starts_with("sqlite:") {
            4
        } else {
            16
        };
        let redis_url = env.string("EMPORIUM_REDIS_URL");
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError::Invalid {
                var: "EMPORIUM_REDIS_URL",
                value: redact_url(url),
                reason: "expected a redis:// or rediss:// URL".into(),
            });
        }
        Ok(Self {
            database_url: database_url.into(),
            db_max_connections: env.parse("EMPORIUM_DB_MAX_CONNECTIONS", default_pool)?,
            redis_url: redis_url.map(SecretUrl::from),
            listen: env.parse("EMPORIUM_LISTEN", SocketAddr::from(([127, 0, 0, 1], 8000)))?,
            log: env.string("EMPORIUM_LOG").unwrap_or_else(|| "info".into()),
            log_format: env.parse("EMPORIUM_LOG_FORMAT", LogFormat::Text)?,
            default_channel: env.string("EMPORIUM_DEFAULT_CHANNEL"),
            response_cache_mb: env.parse("EMPORIUM_RESPONSE_CACHE_MB", 32)?,
            response_cache_ttl_secs: env.parse("EMPORIUM_RESPONSE_CACHE_TTL_SECS", 300)?,
            row_cache_entries: env.parse("EMPORIUM_ROW_CACHE_ENTRIES", 50_000)?,
            shutdown_grace_secs: env.parse("EMPORIUM_SHUTDOWN_GRACE_SECS", 10)?,
            outbox_poll_ms: env.parse("EMPORIUM_OUTBOX_POLL_MS", 100)?,
            limits: QueryLimits {
                max_depth: env.parse("EMPORIUM_MAX_DEPTH", defaults.max_depth)?,
                max_complexity: env.parse("EMPORIUM_MAX_COMPLEXITY", defaults.max_complexity)?,
                max_aliases: env.parse("EMPORIUM_MAX_ALIASES", defaults.max_aliases)?,
                max_batch: env.parse("EMPORIUM_MAX_BATCH", defaults.max_batch)?,
                max_body_bytes: env.parse("EMPORIUM_MAX_BODY_BYTES", defaults.max_body_bytes)?,
                max_upload_bytes: env
                    .parse("EMPORIUM_MAX_UPLOAD_BYTES", defaults.max_upload_bytes)?,
            },
            mode: env.parse("EMPORIUM_MODE", Mode::Development)?,
            mode_explicit: env.string("EMPORIUM_MODE").is_some(),
            secret_key: match env.string("EMPORIUM_SECRET_KEY") {
                Some(k) if k.len() < MIN_KEY_BYTES => {
                    return Err(ConfigError::Invalid {
                        var: "EMPORIUM_SECRET_KEY",
                        value: "(hidden)".into(),
                        reason: format!(
                            "must be at least {MIN_KEY_BYTES} bytes (e.g. `openssl rand -base64 32`)"
                        ),
                    });
                }
                k => k.map(Secret::from),
            },
            secret_key_file: env.string("EMPORIUM_SECRET_KEY_FILE").map(PathBuf::from),
            auth: {
                let d = AuthConfig::default();
                let jwt_secret = env.string("EMPORIUM_JWT_SECRET");
                if let Some(s) = &jwt_secret
                    && s.len() < 32
                {
                    return Err(ConfigError::Invalid {
                        var: "EMPORIUM_JWT_SECRET",
                        value: "(hidden)".into(),
                        reason: "must be at least 32 bytes".into(),
                    });
                }
                let password_reset_url = env.string("EMPORIUM_PASSWORD_RESET_URL");
                if let Some(u) = &password_reset_url
                    && !u.contains("{token}")
                {
                    return Err(ConfigError::Invalid {
                        var: "EMPORIUM_PASSWORD_RESET_URL",
                        value: u.clone(),
                        reason: "must contain `{token}`".into(),
                    });
                }
                let smtp_url = env.string("EMPORIUM_SMTP_URL");
                if let Some(u) = &smtp_url
                    && !(u.starts_with("smtp://") || u.starts_with("smtps://"))
                {
                    return Err(ConfigError::Invalid {
                        var: "EMPORIUM_SMTP_URL",
                        value: "(hidden)".into(),
                        reason: "expected an smtp:// or smtps:// URL".into(),
                    });
                }
                AuthConfig {
                    jwt_secret: jwt_secret.map(Secret::from),
                    access_token_ttl_secs: env
                        .parse("EMPORIUM_ACCESS_TOKEN_TTL_SECS", d.access_token_ttl_secs)?,
                    session_ttl_days: env.parse("EMPORIUM_SESSION_TTL_DAYS", d.session_ttl_days)?,
                    password_reset_ttl_mins: env.parse(
                        "EMPORIUM_PASSWORD_RESET_TTL_MINS",
                        d.password_reset_ttl_mins,
                    )?,
                    password_reset_url,
                    smtp_url: smtp_url.map(SecretUrl::from),
                    mail_from: env.string("EMPORIUM_MAIL_FROM").unwrap_or(d.mail_from),
                    mail_dir: env.string("EMPORIUM_MAIL_DIR").map(PathBuf::from),
                }
            },
            rate: {
                let d = RateLimits::default();
                RateLimits {
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
                }
            },
            edge: edge(&env)?,
            redis_prefix: env
                .string("EMPORIUM_REDIS_PREFIX")
                .unwrap_or_else(|| "emporium:".into()),
            storefront_url: env
                .string("EMPORIUM_STOREFRONT_URL")
                .unwrap_or_else(|| DEFAULT_STOREFRONT_URL.into()),
            commerce: commerce(&env, env.parse("EMPORIUM_MODE", Mode::Development)?)?,
            webhooks: webhooks(&env)?,
            password_hashing: {
                let d = PasswordHashing::default();
                PasswordHashing {
                    concurrency: env
                        .parse("EMPORIUM_PASSWORD_HASH_CONCURRENCY", d.concurrency)?
                        .max(1),
                    wait_ms: env.parse("EMPORIUM_PASSWORD_HASH_WAIT_MS", d.wait_ms)?,
                }
            },
            retention: {
                let d = RetentionConfig::default();
                RetentionConfig {
                    interval_secs: env
                        .parse("EMPORIUM_RETENTION_INTERVAL_SECS", d.interval_secs)?,
                    cart_days: env.parse("EMPORIUM_RETENTION_CART_DAYS", d.cart_days)?,
                    idempotency_hours: env
                        .parse("EMPORIUM_RETENTION_IDEMPOTENCY_HOURS", d.idempotency_hours)?,
                    session_days: env.parse("EMPORIUM_RETENTION_SESSION_DAYS", d.session_days)?,
                    reset_days: env.parse("EMPORIUM_RETENTION_RESET_DAYS", d.reset_days)?,
                }
            },
        })
    }

    /// Checks the listen address against the mode: development mode (the
    /// default) serves GraphiQL and introspection to everyone and offers
    /// the `test` gateway, whose orders are paid for free, so unless
    /// `EMPORIUM_MODE` was set on purpose it serves on loopback only.
    pub fn check_listen(&self) -> Result<(), ConfigError> {
        if self.mode == Mode::Production || self.listen.ip().is_loopback() {
            return Ok(());
        }
        if self.mode_explicit {
            tracing::warn!(
                listen = %self.listen,
                "development mode on a non-loopback address: GraphiQL, introspection and the \
                 test payment gateway are open to whoever reaches it"
            );
            return Ok(());
        }
        Err(ConfigError::Invalid {
            var: "EMPORIUM_LISTEN",
            value: self.listen.to_string(),
            reason: "development mode (the default) serves only on loopback: it opens GraphiQL \
                     and introspection to everyone and takes test payments that mark orders \
                     paid for free. Set EMPORIUM_MODE=production to serve on this address (or \
                     EMPORIUM_MODE=development to accept that on purpose)"
                .into(),
        })
    }

    /// A configuration for tests and tools: the defaults with another database.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        let url = database_url.into();
        Self::from_lookup(|k| (k == "EMPORIUM_DATABASE_URL").then(|| url.clone())).unwrap_or_else(
            |_| {
                let mut config = unreachable_defaults();
                config.database_url = url.clone().into();
                config
            },
        )
    }
}

// The defaults above always parse; this keeps `for_database` total without an unwrap.
fn unreachable_defaults() -> Config {
    Config {
        database_url: DEFAULT_DATABASE_URL.into(),
        db_max_connections: 4,
        redis_url: None,
        listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
        log: "info".into(),
        log_format: LogFormat::Text,
        default_channel: None,
        response_cache_mb: 32,
        response_cache_ttl_secs: 300,
        row_cache_entries: 50_000,
        shutdown_grace_secs: 10,
        outbox_poll_ms: 100,
        limits: QueryLimits::default(),
        mode: Mode::Development,
        mode_explicit: false,
        secret_key: None,
        secret_key_file: None,
        auth: AuthConfig::default(),
        rate: RateLimits::default(),
        edge: EdgeConfig::default(),
        redis_prefix: "emporium:".into(),
        storefront_url: DEFAULT_STOREFRONT_URL.into(),
        commerce: CommerceConfig::default(),
        webhooks: WebhookConfig::default(),
        password_hashing: PasswordHashing::default(),
        retention: RetentionConfig::default(),
    }
}

fn edge(env: &Env<'_>) -> Result<EdgeConfig, ConfigError> {
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

fn webhooks(env: &Env<'_>) -> Result<WebhookConfig, ConfigError> {
    let d = WebhookConfig::default();
    Ok(WebhookConfig {
        max_attempts: env
            .parse("EMPORIUM_WEBHOOK_MAX_ATTEMPTS", d.max_attempts)?
            .max(1),
        retry_base_ms: env
            .parse("EMPORIUM_WEBHOOK_RETRY_BASE_MS", d.retry_base_ms)?
            .max(1),
        retry_cap_secs: env
            .parse("EMPORIUM_WEBHOOK_RETRY_CAP_SECS", d.retry_cap_secs)?
            .max(1),
        timeout_secs: env
            .parse("EMPORIUM_WEBHOOK_TIMEOUT_SECS", d.timeout_secs)?
            .max(1),
        poll_ms: env.parse("EMPORIUM_WEBHOOK_POLL_MS", d.poll_ms)?.max(10),
        allow_private: env.parse("EMPORIUM_WEBHOOK_ALLOW_PRIVATE", d.allow_private)?,
    })
}

fn commerce(env: &Env<'_>, mode: Mode) -> Result<CommerceConfig, ConfigError> {
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
    let capture_automatic = match capture.to_ascii_lowercase().as_str() {
        "automatic" => true,
        "manual" => false,
        _ => {
            return Err(ConfigError::Invalid {
                var: "EMPORIUM_PAYMENT_CAPTURE",
                value: capture,
                reason: "use automatic or manual".into(),
            });
        }
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
        capture_automatic,
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

struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// A set, non-blank variable.
    fn string(&self, var: &str) -> Option<String> {
        (self.0)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A rate budget, or `None` for `off`.
    fn budget(
        &self,
        var: &'static str,
        default: Option<Budget>,
    ) -> Result<Option<Budget>, ConfigError> {
        match self.string(var) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("off") => Ok(None),
            Some(value) => Budget::parse(&value)
                .map(Some)
                .map_err(|reason| ConfigError::Invalid { var, reason, value }),
        }
    }

    fn parse<T>(&self, var: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.string(var) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|e: T::Err| ConfigError::Invalid {
                var,
                reason: e.to_string(),
                value,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_work_with_nothing_set() {
        let c = config(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.database_url.expose(), DEFAULT_DATABASE_URL);
        assert_eq!(c.listen.to_string(), "127.0.0.1:8000");
        assert!(c.redis_url.is_none());
    }

    #[test]
    fn pool_size_defaults_per_backend() {
        assert_eq!(Config::for_database("sqlite://x.db").db_max_connections, 4);
        assert_eq!(
            Config::for_database("postgres://h/db").db_max_connections,
            16
        );
        let c = config(&[("EMPORIUM_DB_MAX_CONNECTIONS", "7")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.db_max_connections, 7);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[("EMPORIUM_LISTEN", "nowhere")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("EMPORIUM_LISTEN:")));
        let err = config(&[("EMPORIUM_DATABASE_URL", "mysql://x")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("EMPORIUM_DATABASE_URL:")));
        let err = config(&[("EMPORIUM_MAX_DEPTH", "-3")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("EMPORIUM_MAX_DEPTH:")));
        let err = config(&[("EMPORIUM_LOG_FORMAT", "xml")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("EMPORIUM_LOG_FORMAT:")));
        let err = config(&[("EMPORIUM_JWT_SECRET", "short")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("EMPORIUM_JWT_SECRET:") && !e.contains("short")));
        let err = config(&[("EMPORIUM_RATE_ANONYMOUS", "lots")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("EMPORIUM_RATE_ANONYMOUS:")));
    }

    #[test]
    fn debug_output_and_errors_never_show_secrets() {
        let c = config(&[
            (
                "EMPORIUM_DATABASE_URL",
                "postgres://shop:db-hunter2@db.internal/shop",
            ),
            ("EMPORIUM_REDIS_URL", "redis://:redis-hunter2@cache:6379/0"),
            ("EMPORIUM_JWT_SECRET", "jwt-hunter2-jwt-hunter2-jwt-hunter2"),
            ("EMPORIUM_SMTP_URL", "smtp://mailer:smtp-hunter2@mail:587"),
            ("EMPORIUM_TEST_WEBHOOK_SECRET", "whsec_test-hunter2"),
            ("EMPORIUM_STRIPE_SECRET_KEY", "sk_live_stripe-hunter2"),
            ("EMPORIUM_STRIPE_WEBHOOK_SECRET", "whsec_stripe-hunter2"),
            ("EMPORIUM_PAYMENT_GATEWAYS", "manual,stripe"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://shop:***@db.internal/shop"),
            "{shown}"
        );
        // The values themselves are intact for the code that uses them.
        assert_eq!(
            c.database_url.expose(),
            "postgres://shop:db-hunter2@db.internal/shop"
        );
        assert_eq!(
            c.auth.jwt_secret.as_ref().map(Secret::expose),
            Some("jwt-hunter2-jwt-hunter2-jwt-hunter2")
        );
        for (var, value) in [
            ("EMPORIUM_DATABASE_URL", "mysql://shop:db-hunter2@db/shop"),
            ("EMPORIUM_REDIS_URL", "http://:redis-hunter2@cache:6379"),
        ] {
            let err = config(&[(var, value)]).err().map(|e| e.to_string());
            assert!(
                err.as_ref()
                    .is_some_and(|e| e.starts_with(var) && !e.contains("hunter2")),
                "{err:?}"
            );
        }
    }

    #[test]
    fn urls_are_redacted_whatever_their_shape() {
        for (url, shown) in [
            ("postgres://u:p@h:5432/db", "postgres://u:***@h:5432/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("redis://:secret@h:6379/2", "redis://:***@h:6379/2"),
            ("rediss://u:a:b@c@h", "rediss://u:***@h"),
            (
                "postgres://h/db?user=u&password=p&sslmode=require",
                "postgres://h/db?user=u&password=***&sslmode=require",
            ),
            (
                "sqlite://emporium.db?mode=rwc",
                "sqlite://emporium.db?mode=rwc",
            ),
            ("u:p@h", "u:***@h"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn development_mode_serves_on_loopback_unless_set_on_purpose() {
        let check = |vars: &[(&str, &str)]| {
            config(vars)
                .and_then(|c| c.check_listen())
                .map_err(|e| e.to_string())
        };
        assert!(check(&[]).is_ok());
        assert!(check(&[("EMPORIUM_LISTEN", "[::1]:8000")]).is_ok());
        let refused = check(&[("EMPORIUM_LISTEN", "0.0.0.0:8000")]).err();
        assert!(
            refused
                .as_ref()
                .is_some_and(|e| e.starts_with("EMPORIUM_LISTEN:") && e.contains("EMPORIUM_MODE")),
            "{refused:?}"
        );
        assert!(check(&[("EMPORIUM_LISTEN", "192.0.2.10:80")]).is_err());
        for mode in ["production", "development"] {
            assert!(
                check(&[("EMPORIUM_LISTEN", "0.0.0.0:8000"), ("EMPORIUM_MODE", mode)]).is_ok(),
                "{mode}"
            );
        }
    }

    #[test]
    fn rate_budgets_can_be_set_or_turned_off() {
        let c = config(&[
            ("EMPORIUM_RATE_ANONYMOUS", "off"),
            ("EMPORIUM_RATE_STAFF", "100,10"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.rate.anonymous.is_none());
        assert_eq!(c.rate.staff.map(|b| b.capacity), Some(100));
        assert!(c.rate.customer.is_some());
    }

    #[test]
    fn proxy_hops_come_from_the_new_setting_or_the_old_flag() {
        let hops = |vars: &[(&str, &str)]| {
            config(vars)
                .map(|c| c.edge.trusted_proxy_hops)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(hops(&[]), 0);
        assert_eq!(hops(&[("EMPORIUM_TRUST_FORWARDED_FOR", "true")]), 1);
        assert_eq!(hops(&[("EMPORIUM_TRUST_FORWARDED_FOR", "false")]), 0);
        assert_eq!(hops(&[("EMPORIUM_TRUSTED_PROXY_HOPS", "2")]), 2);
        assert_eq!(
            hops(&[
                ("EMPORIUM_TRUSTED_PROXY_HOPS", "2"),
                ("EMPORIUM_TRUST_FORWARDED_FOR", "true")
            ]),
            2,
            "the hop count wins"
        );
        let err = config(&[("EMPORIUM_TRUSTED_PROXY_HOPS", "-1")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("EMPORIUM_TRUSTED_PROXY_HOPS:")));
    }

    #[test]
    fn webhook_settings_have_defaults_and_can_be_set() {
        let c = config(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.webhooks, WebhookConfig::default());
        assert_eq!(
            (c.webhooks.max_attempts, c.webhooks.retry_base_ms),
            (8, 5_000)
        );
        let c = config(&[
            ("EMPORIUM_WEBHOOK_MAX_ATTEMPTS", "3"),
            ("EMPORIUM_WEBHOOK_RETRY_BASE_MS", "20"),
            ("EMPORIUM_WEBHOOK_RETRY_CAP_SECS", "1"),
            ("EMPORIUM_WEBHOOK_ALLOW_PRIVATE", "true"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                c.webhooks.max_attempts,
                c.webhooks.retry_base_ms,
                c.webhooks.retry_cap_secs,
                c.webhooks.allow_private
            ),
            (3, 20, 1, true)
        );
        assert!(!WebhookConfig::default().allow_private);
        let err = config(&[("EMPORIUM_WEBHOOK_MAX_ATTEMPTS", "many")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("EMPORIUM_WEBHOOK_MAX_ATTEMPTS:")));
    }
}
