//! The node's shared state and its assembly: database, configuration and the
//! GraphQL schema, wired into the HTTP router.

use std::{future::Future, sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::{
    config::{Config, Mode},
    domain::{
        self,
        identity::{jwt::JwtKeys, password::Hashing, secret},
        payments::{GatewaySettings, Gateways, STRIPE_API_BASE, StripeConfig},
        sealing::MasterKey,
    },
    graphql, http, infra,
    infra::{
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
        })
    }

    /// Whether the database is the embedded SQLite one.
    pub fn is_embedded(&self) -> bool {
        self.config.database_url.expose().starts_with("sqlite:")
    }
}

/// The payment gateways `config` enables.
fn gateways(config: &crate::config::CommerceConfig) -> anyhow::Result<Gateways> {
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

/// The full HTTP application for `state`.
pub fn router(state: AppState) -> axum::Router {
    let schema = graphql::build(state.clone());
    let costing = graphql::build_costing(state.clone());
    let ws_clients = Arc::new(http::ws::Clients::new(state.config.edge.ws_max_per_client));
    http::router(http::HttpState {
        app: state,
        schema,
        costing,
        ws_clients,
    })
}

/// Serves `state` on `listener` until `shutdown` completes, then lets
/// in-flight requests finish for at most the configured grace period.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    // The relay has connections of its own, apart from the request pool.
    let relay_db = infra::db::connect(state.config.database_url.expose(), 3)
        .await
        .map_err(|e| {
            anyhow::anyhow!("EMPORIUM_DATABASE_URL: cannot connect the outbox relay: {e}")
        })?;
    // The reservation sweeper and the live feeds share it: background work
    // never takes a connection a request is waiting for.
    let sweeper = tokio::spawn(domain::checkout::expiry::run_sweeper(
        relay_db.clone(),
        state.clock.clone(),
        Duration::from_secs(state.config.commerce.sweep_interval_secs),
    ));
    let _sweeper = AbortOnDrop(sweeper);
    // Voids and refunds that failed at checkout, retried until they succeed.
    let c = &state.config.commerce;
    let undo = tokio::spawn(domain::checkout::undo::run_worker(
        relay_db.clone(),
        state.gateways.clone(),
        domain::checkout::undo::Retry {
            base: Duration::from_millis(c.payment_retry_base_ms),
            cap: Duration::from_secs(c.payment_retry_cap_secs),
            poll: Duration::from_secs(c.sweep_interval_secs),
        },
        state.clock.clone(),
    ));
    let _undo = AbortOnDrop(undo);
    let _retention = retention_policy(&state.config.retention).map(|(policy, every)| {
        AbortOnDrop(tokio::spawn(domain::retention::run(
            relay_db.clone(),
            state.clock.clone(),
            policy,
            every,
        )))
    });
    // With Redis, this node hears every node's events: subscribed before
    // serving, so nothing published after start is missed.
    let _fanout = state
        .events
        .start_fanout(state.cache.clone())
        .await
        .map(AbortOnDrop);
    // Outbound webhooks are delivered on the background pool too.
    let webhooks = webhook_worker(&state, relay_db.clone())?;
    let _webhooks = AbortOnDrop(tokio::spawn(domain::webhooks_out::worker::run(webhooks)));
    let relay_db_live = relay_db.clone();
    let relay = tokio::spawn(infra::events::run_relay(
        relay_db,
        state.events.clone(),
        state.cache.clone(),
        state.relay.clone(),
        Duration::from_millis(state.config.outbox_poll_ms),
    ));
    let _relay = AbortOnDrop(relay);
    let live = tokio::spawn(infra::live::run(
        relay_db_live,
        state.events.subscribe(),
        state.live.clone(),
        state.config.default_channel.clone(),
    ));
    let _live = AbortOnDrop(live);
    let app = router(state);
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stopping_tx.send(());
    });
    let server = tokio::spawn(async move { server.await });
    tokio::select! {
        res = server => res??,
        _ = async {
            let _ = stopping_rx.await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!(grace_secs = grace.as_secs(), "grace period over; closing remaining connections"),
    }
    Ok(())
}

/// The retention policy and interval `config` asks for (`None`: off).
fn retention_policy(
    config: &crate::config::RetentionConfig,
) -> Option<(domain::retention::Policy, Duration)> {
    let span = |units: u64, per: i64| {
        chrono::TimeDelta::try_seconds(
            i64::try_from(units)
                .unwrap_or(i64::MAX / per)
                .saturating_mul(per),
        )
        .unwrap_or(chrono::TimeDelta::MAX)
    };
    (config.interval_secs > 0).then(|| {
        (
            domain::retention::Policy {
                carts: span(config.cart_days, 86_400),
                idempotency_keys: span(config.idempotency_hours, 3_600),
                sessions: span(config.session_days, 86_400),
                reset_tokens: span(config.reset_days, 86_400),
            },
            Duration::from_secs(config.interval_secs),
        )
    })
}

/// The outbound webhook worker `state`'s configuration asks for.
fn webhook_worker(
    state: &AppState,
    db: DatabaseConnection,
) -> anyhow::Result<domain::webhooks_out::worker::Worker> {
    use domain::webhooks_out::{queue::Retry, target::Targets, worker};
    let c = state.config.webhooks;
    let settings = worker::Settings {
        retry: Retry {
            max_attempts: c.max_attempts,
            base: Duration::from_millis(c.retry_base_ms),
            cap: Duration::from_secs(c.retry_cap_secs),
        },
        timeout: Duration::from_secs(c.timeout_secs),
        poll: Duration::from_millis(c.poll_ms),
        targets: Targets::allowing_private(c.allow_private),
    };
    worker::Worker::new(
        db,
        settings,
        state.webhook_metrics.clone(),
        state.secrets.clone(),
        state.clock.clone(),
    )
    .map_err(|e| anyhow::anyhow!("cannot build the webhook HTTP client: {e}"))
}

/// Stops a background task when the server stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
