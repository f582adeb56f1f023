//! The node's shared state: the database pool, configuration, keys,
//! caches, limiters, the event bus and the payment gateways every request
//! handler and background worker uses. It imports the domain and infra
//! layers only, so `graphql` and `http` can use it without importing the
//! module that assembles them (`app`).

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;

use crate::{
    config::{CarrierConfig, CommerceConfig, Config, Mode},
    domain::{
        self,
        checkout::{complete::CheckoutSettings, service::CheckoutService, unpaid::UnpaidCaps},
        identity::{jwt::JwtKeys, password::Hashing, secret},
        payments::{GatewaySettings, Gateways, STRIPE_API_BASE, StripeConfig},
        sealing::MasterKey,
    },
    infra::{
        self,
        cache::ResponseCache,
        events::{EventBus, RelaySignal},
        live::LiveFeeds,
        mail::{Mailer, OutboxMailer, SmtpMailer},
        ratelimit::RateLimiter,
        rows::RowCache,
    },
};

/// What every request handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// The configuration the node started with.
    pub config: Arc<Config>,
    /// Redis client when `EMPORIUM_REDIS_URL` is set.
    pub redis: Option<redis::Client>,
    /// Storefront response cache, unless disabled.
    pub cache: Option<ResponseCache>,
    /// Shared cache of catalog rows per catalog version, unless disabled.
    pub rows: Option<Arc<RowCache>>,
    /// Keys of access tokens.
    pub jwt: Arc<JwtKeys>,
    /// The master key sealing stored secrets (webhook signing secrets).
    pub secrets: Arc<MasterKey>,
    /// The password hashing pool (bounded: see `EMPORIUM_PASSWORD_HASH_*`).
    pub hashing: Hashing,
    /// Rate limiter (Redis-backed when Redis is configured).
    pub limiter: Arc<RateLimiter>,
    /// Outgoing mail.
    pub mailer: Arc<dyn Mailer>,
    /// Domain events relayed from the outbox, for subscribers in this process.
    pub events: EventBus,
    /// Payment gateways checkout accepts.
    pub gateways: Arc<Gateways>,
    /// The installation's checkout secret (gateway idempotency keys,
    /// client address digests).
    pub checkout_keys: domain::checkout::keys::CheckoutKeys,
    /// Outbound webhook delivery counters of this node (for metrics).
    pub webhook_metrics: Arc<domain::webhooks_out::worker::Metrics>,
    /// Wakes the outbox relay and waits for it (mutations, before answering).
    pub relay: Arc<RelaySignal>,
    /// What subscriptions are fed from (stock and order updates), and the
    /// gauge of open subscriptions (`live.open_subscriptions()`).
    pub live: Arc<LiveFeeds>,
    /// One permit per request the node may work on at once
    /// (`EMPORIUM_MAX_IN_FLIGHT_REQUESTS`), unless unlimited.
    pub in_flight: Option<Arc<tokio::sync::Semaphore>>,
    /// The time business rules go by: the system clock (tests set a
    /// manual one before serving).
    pub clock: domain::clock::Clock,
    /// Carriers fulfilments ship with (`manual`, and `easypost` when
    /// configured).
    pub carriers: Arc<domain::fulfillment::Carriers>,
}

impl AppState {
    /// Connects to the configured database (applying pending migrations) and Redis.
    pub async fn connect(config: Config) -> anyhow::Result<Self> {
        let db = infra::db::connect(config.database_url.expose(), config.db_max_connections)
            .await
            .map_err(|e| anyhow::anyhow!("EMPORIUM_DATABASE_URL: cannot connect: {e}"))?;
        let applied = infra::db::migrate(&db).await?;
        if applied > 0 {
            tracing::info!(applied, "applied database migrations");
        }
        Self::with_db(db, config).await
    }

    /// State over an already migrated database.
    pub async fn with_db(db: DatabaseConnection, config: Config) -> anyhow::Result<Self> {
        infra::metrics::init();
        let redis = match &config.redis_url {
            Some(url) => Some(
                redis::Client::open(url.expose())
                    .map_err(|e| anyhow::anyhow!("EMPORIUM_REDIS_URL: {e}"))?,
            ),
            None => None,
        };
        let cache = (config.response_cache_mb > 0).then(|| {
            ResponseCache::new(
                config.response_cache_mb.saturating_mul(1024 * 1024),
                Duration::from_secs(config.response_cache_ttl_secs.max(1)),
                redis.clone().map(|c| (c, config.redis_prefix.clone())),
            )
        });
        let rows = (config.row_cache_entries > 0)
            .then(|| Arc::new(RowCache::new(config.row_cache_entries)));
        let secrets = Arc::new(infra::keys::master_key(&config)?);
        let secret = match (&config.auth.jwt_secret, config.mode) {
            (Some(s), _) => s.expose().as_bytes().to_vec(),
            (None, Mode::Production) => anyhow::bail!(
                "production mode needs EMPORIUM_JWT_SECRET, the key signing access tokens (at \
                 least 32 bytes, the same on every node); it is never generated into the database"
            ),
            (None, Mode::Development) => secret::get_or_create(&db, "jwt", &secrets)
                .await
                .map_err(|e| anyhow::anyhow!("cannot load the token signing key: {e}"))?,
        };
        let sealed = domain::webhooks_out::seal_stored_secrets(&db, &secrets)
            .await
            .map_err(|e| anyhow::anyhow!("cannot seal stored webhook secrets: {e}"))?;
        if sealed > 0 {
            tracing::info!(sealed, "sealed webhook signing secrets stored in clear");
        }
        let ttl = i64::try_from(config.auth.access_token_ttl_secs)
            .map_err(|_| anyhow::anyhow!("EMPORIUM_ACCESS_TOKEN_TTL_SECS: too large"))?;
        let jwt = Arc::new(JwtKeys::new(&secret, chrono::Duration::seconds(ttl)));
        let limiter = Arc::new(match &redis {
            Some(client) => RateLimiter::shared(client.clone(), config.redis_prefix.clone()),
            None => RateLimiter::local(),
        });
        let mailer: Arc<dyn Mailer> = match &config.auth.smtp_url {
            Some(url) => Arc::new(
                SmtpMailer::new(url.expose(), &config.auth.mail_from)
                    .map_err(|e| anyhow::anyhow!("EMPORIUM_SMTP_URL / EMPORIUM_MAIL_FROM: {e}"))?,
            ),
            None => Arc::new(
                OutboxMailer::new(config.auth.mail_dir.clone(), &config.auth.mail_from)
                    .map_err(|e| anyhow::anyhow!("EMPORIUM_MAIL_FROM: {e}"))?,
            ),
        };
        let gateways = Arc::new(gateways(&config.commerce)?);
        let carriers = Arc::new(carriers(&config.carriers)?);
        let checkout_keys = domain::checkout::keys::CheckoutKeys::load(&db, &secrets)
            .await
            .map_err(|e| anyhow::anyhow!("cannot load the checkout secret: {e}"))?;
        let hashing = Hashing::new(
            config.password_hashing.concurrency,
            Duration::from_millis(config.password_hashing.wait_ms),
        );
        let events = match &redis {
            Some(client) => EventBus::shared(client.clone(), &config.redis_prefix),
            None => EventBus::default(),
        };
        let config_in_flight = config
            .edge
            .max_in_flight
            .min(tokio::sync::Semaphore::MAX_PERMITS);
        Ok(Self {
            relay: Arc::new(RelaySignal::default()),
            gateways,
            checkout_keys,
            db,
            config: Arc::new(config),
            redis,
            cache,
            rows,
            jwt,
            secrets,
            hashing,
            limiter,
            mailer,
            events,
            webhook_metrics: Arc::default(),
            live: Arc::new(LiveFeeds::default()),
            in_flight: (config_in_flight > 0)
                .then(|| Arc::new(tokio::sync::Semaphore::new(config_in_flight))),
            clock: domain::clock::Clock::system(),
            carriers,
        })
    }

    /// Checkout over this node's database, gateways and settings.
    pub fn checkout(&self) -> CheckoutService {
        CheckoutService {
            db: self.db.clone(),
            gateways: self.gateways.clone(),
            keys: self.checkout_keys.clone(),
            settings: checkout_settings(&self.config.commerce),
            clock: self.clock.clone(),
        }
    }

    /// Fulfilment over this node's database, carriers and settings.
    pub fn fulfillment(&self) -> domain::fulfillment::FulfillmentService {
        domain::fulfillment::FulfillmentService {
            db: self.db.clone(),
            carriers: self.carriers.clone(),
            settings: domain::fulfillment::FulfillmentSettings {
                ship_from: self.config.carriers.ship_from.clone(),
                default_weight_grams: self.config.carriers.default_parcel_weight_grams,
            },
            clock: self.clock.clone(),
            gateways: self.gateways.clone(),
            keys: self.checkout_keys.clone(),
        }
    }

    /// Whether the database is the embedded SQLite one.
    pub fn is_embedded(&self) -> bool {
        self.config.database_url.expose().starts_with("sqlite:")
    }
}

/// The payment gateways `config` enables.
fn gateways(config: &CommerceConfig) -> anyhow::Result<Gateways> {
    let enabled = |code: &str| config.gateways.iter().any(|g| g == code);
    let stripe = match (&config.stripe_secret_key, enabled("stripe")) {
        (Some(key), true) => {
            let mut stripe = StripeConfig::new(
                key.expose().to_owned(),
                config
                    .stripe_webhook_secret
                    .as_ref()
                    .map(|s| s.expose().to_owned())
                    .unwrap_or_default(),
            );
            stripe.base_url = config
                .stripe_api_base
                .clone()
                .unwrap_or_else(|| STRIPE_API_BASE.to_owned());
            Some(stripe)
        }
        _ => None,
    };
    Gateways::from_settings(&GatewaySettings {
        manual: enabled("manual"),
        test_webhook_secret: enabled("test")
            .then(|| config.test_webhook_secret.expose().to_owned()),
        stripe,
    })
    .map_err(|e| anyhow::anyhow!("payment gateways: {e}"))
}

/// The carriers `config` enables: `manual` always, `easypost` with an API key.
fn carriers(config: &CarrierConfig) -> anyhow::Result<domain::fulfillment::Carriers> {
    let easypost = config.easypost_api_key.as_ref().map(|key| {
        let mut c = domain::fulfillment::carriers::EasyPostConfig::new(
            key.expose(),
            config
                .easypost_webhook_secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default(),
        );
        if let Some(base) = &config.easypost_base_url {
            c.base_url.clone_from(base);
        }
        c
    });
    domain::fulfillment::Carriers::from_settings(easypost)
        .map_err(|e| anyhow::anyhow!("carriers: {e}"))
}

/// The checkout settings of this node.
fn checkout_settings(config: &CommerceConfig) -> CheckoutSettings {
    CheckoutSettings {
        hold: Duration::from_secs(config.checkout_hold_secs),
        pending_payment_hold: Duration::from_secs(config.payment_pending_secs),
        pending_holds: config
            .payment_pending_secs_per_gateway
            .iter()
            .map(|(code, secs)| (code.clone(), Duration::from_secs(*secs)))
            .collect(),
        unpaid_caps: UnpaidCaps {
            per_email: config.unpaid_orders_per_email,
            per_customer: config.unpaid_orders_per_customer,
            per_address: config.unpaid_orders_per_address,
        },
        capture: config.payment_capture,
    }
}
