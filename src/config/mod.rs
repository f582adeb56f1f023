//! Typed configuration read from `EMPORIUM_*` environment variables.
//!
//! Every setting has a default that works with nothing set: an embedded SQLite
//! file in the working directory, no Redis, listening on loopback. A value that
//! does not parse stops the server at start with a message naming the variable.
//!
//! The settings are grouped by subject, each group with the function that
//! reads it: `limits` (request limits, rate budgets, the HTTP edge), `auth`
//! (tokens, sessions, mail, password hashing), `commerce` (checkout),
//! `background` (webhook delivery, retention); `secret` keeps secrets out
//! of `Debug` output and `env` reads and parses the variables.

mod auth;
mod background;
mod carriers;
mod commerce;
mod env;
mod limits;
mod secret;

use std::{net::SocketAddr, path::PathBuf, str::FromStr};

pub use auth::{AuthConfig, PasswordHashing};
pub use background::{NotificationConfig, RetentionConfig, WebhookConfig};
pub use carriers::CarrierConfig;
pub use commerce::{CommerceConfig, DEFAULT_TEST_WEBHOOK_SECRET};
pub use limits::{EdgeConfig, QueryLimits, RateLimits};
pub use secret::{Secret, SecretUrl, redact_url};

use crate::domain::sealing::MIN_KEY_BYTES;
use env::Env;

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
    /// Fulfilment: the label carrier, the ship-from address, parcel weight.
    pub carriers: CarrierConfig,
    /// Customer order mails: on or off, retries.
    pub notifications: NotificationConfig,
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

/// The storefront base URL used in feeds when `EMPORIUM_STOREFRONT_URL` is not set.
pub const DEFAULT_STOREFRONT_URL: &str = "http://localhost:3000";

/// The SQLite file used when `EMPORIUM_DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://emporium.db?mode=rwc";

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
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
            limits: limits::limits(&env)?,
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
            auth: auth::auth(&env)?,
            rate: limits::rate(&env)?,
            edge: limits::edge(&env)?,
            redis_prefix: env
                .string("EMPORIUM_REDIS_PREFIX")
                .unwrap_or_else(|| "emporium:".into()),
            storefront_url: env
                .string("EMPORIUM_STOREFRONT_URL")
                .unwrap_or_else(|| DEFAULT_STOREFRONT_URL.into()),
            commerce: commerce::commerce(&env, env.parse("EMPORIUM_MODE", Mode::Development)?)?,
            webhooks: background::webhooks(&env)?,
            password_hashing: auth::password_hashing(&env)?,
            retention: background::retention(&env)?,
            carriers: carriers::carriers(&env)?,
            notifications: background::notifications(&env)?,
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
        carriers: CarrierConfig::default(),
        notifications: NotificationConfig::default(),
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
    fn no_secret_of_any_setting_shows_in_debug_output() {
        let secrets = [
            (
                "EMPORIUM_SECRET_KEY",
                "master-hunter2-master-hunter2-master-hunter2",
            ),
            ("EMPORIUM_JWT_SECRET", "jwt-hunter2-jwt-hunter2-jwt-hunter2"),
            ("EMPORIUM_TEST_WEBHOOK_SECRET", "whsec_test-hunter2"),
            ("EMPORIUM_STRIPE_SECRET_KEY", "sk_live_stripe-hunter2"),
            ("EMPORIUM_STRIPE_WEBHOOK_SECRET", "whsec_stripe-hunter2"),
            ("EMPORIUM_EASYPOST_API_KEY", "EZAK_easypost-hunter2"),
            ("EMPORIUM_EASYPOST_WEBHOOK_SECRET", "whsec_easypost-hunter2"),
        ];
        let urls = [
            (
                "EMPORIUM_DATABASE_URL",
                "postgres://shop:db-hunter2@db.internal/shop?password=db-hunter2",
            ),
            (
                "EMPORIUM_REDIS_URL",
                "rediss://cache:redis-hunter2@cache:6380/1",
            ),
            ("EMPORIUM_SMTP_URL", "smtps://mailer:smtp-hunter2@mail:465"),
        ];
        let mut vars: Vec<(&str, &str)> = secrets.iter().chain(&urls).copied().collect();
        vars.push(("EMPORIUM_PAYMENT_GATEWAYS", "manual,stripe"));
        let c = config(&vars).unwrap_or_else(|e| panic!("{e}"));
        // The whole configuration, and each part that holds a secret on its own.
        for shown in [
            format!("{c:?}"),
            format!("{c:#?}"),
            format!("{:?}", c.auth),
            format!("{:?}", c.commerce),
            format!("{:?}", c.carriers),
            format!("{:?}", c.secret_key),
            format!("{:?}", c.database_url),
            format!("{:?}", c.redis_url),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        // Every one of them was read, and is whole for the code that uses it.
        assert_eq!(
            c.secret_key.as_ref().map(Secret::expose),
            Some(secrets[0].1)
        );
        assert_eq!(
            c.commerce.stripe_secret_key.as_ref().map(Secret::expose),
            Some(secrets[3].1)
        );
        assert_eq!(c.commerce.test_webhook_secret.expose(), secrets[2].1);
        assert_eq!(
            c.commerce
                .stripe_webhook_secret
                .as_ref()
                .map(Secret::expose),
            Some(secrets[4].1)
        );
        assert_eq!(
            c.auth.smtp_url.as_ref().map(SecretUrl::expose),
            Some(urls[2].1)
        );
        assert_eq!(
            c.carriers.easypost_api_key.as_ref().map(Secret::expose),
            Some(secrets[5].1)
        );
        assert_eq!(
            c.carriers
                .easypost_webhook_secret
                .as_ref()
                .map(Secret::expose),
            Some(secrets[6].1)
        );
        assert_eq!(c.redis_url.as_ref().map(SecretUrl::expose), Some(urls[1].1));
        // Where the URLs show, their passwords are masked.
        let shown = format!("{c:?}");
        for masked in [
            "postgres://shop:***@db.internal/shop?password=***",
            "rediss://cache:***@cache:6380/1",
            "smtps://mailer:***@mail:465",
        ] {
            assert!(shown.contains(masked), "{masked} in {shown}");
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
