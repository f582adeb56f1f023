//! Assembles a node: the GraphQL schema and the HTTP router over the shared
//! state ([`crate::state`]), and the background workers that run beside the
//! server (sweeper, payment undo, retention, outbox relay, live feeds,
//! webhook delivery, customer notifications).

use std::{future::Future, sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

pub use crate::state::AppState;
use crate::{
    config::RetentionConfig,
    domain::{
        self,
        webhooks_out::{queue::Retry, target::Targets, worker},
    },
    graphql, http, infra,
};

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
    // Customer notifications too.
    let _notify = AbortOnDrop(tokio::spawn(infra::notify::run(notification_worker(
        &state,
        relay_db.clone(),
    ))));
    let relay_db_live = relay_db.clone();
    let relay = tokio::spawn(infra::events::run_relay(
        relay_db,
        state.events.clone(),
        state.cache.clone(),
        state.relay.clone(),
        Duration::from_millis(state.config.outbox_poll_ms),
        state.config.notifications.enabled,
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
fn retention_policy(config: &RetentionConfig) -> Option<(domain::retention::Policy, Duration)> {
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

/// The customer notification worker `state`'s configuration asks for.
fn notification_worker(state: &AppState, db: DatabaseConnection) -> infra::notify::Worker {
    let c = state.config.notifications;
    infra::notify::Worker::new(
        db,
        state.mailer.clone(),
        (
            domain::notifications::queue::Retry {
                base: Duration::from_millis(c.retry_base_ms),
                cap: Duration::from_secs(c.retry_cap_secs),
            },
            Duration::from_millis(c.poll_ms),
        ),
        state.clock.clone(),
        infra::notify::shop_name(&state.config.auth.mail_from),
    )
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
