//! Liveness (`/healthz`: the process answers), readiness (`/readyz`: its
//! database answers; Redis, when configured, is reported), and metrics
//! (`/metrics`, Prometheus text format).

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;

use super::HttpState;
use crate::infra::metrics;
use crate::infra::metrics::{gauge, total};

/// Always 200 while the process serves.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// 200 when the database answers within a second, else 503. Redis is
/// reported but does not decide: without it the node still serves, from
/// the database (`"status": "degraded"`).
pub async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    let timeout = Duration::from_secs(1);
    let database = match tokio::time::timeout(timeout, state.app.db.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database failed");
            "unavailable".to_owned()
        }
        Err(_) => "timeout".to_owned(),
    };
    let redis = match &state.app.redis {
        None => None,
        Some(client) => Some(
            match tokio::time::timeout(timeout, ping_redis(client)).await {
                Ok(Ok(())) => "ok".to_owned(),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "readiness: redis failed");
                    "unavailable".to_owned()
                }
                Err(_) => "timeout".to_owned(),
            },
        ),
    };
    let ready = database == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let label = match (ready, redis.as_deref()) {
        (false, _) => "not ready",
        (true, Some(r)) if r != "ok" => "degraded",
        (true, _) => "ready",
    };
    let mut body = json!({ "status": label, "database": database });
    if let Some(r) = redis {
        body["redis"] = json!(r);
    }
    (status, Json(body))
}

async fn ping_redis(client: &redis::Client) -> redis::RedisResult<()> {
    let mut conn = client.get_multiplexed_async_connection().await?;
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map(|_| ())
}

/// The node's metrics in the Prometheus text format.
pub async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    gauge(
        "emporium_subscriptions_open",
        state.app.live.open_subscriptions() as f64,
    );
    let hooks = &state.app.webhook_metrics;
    total(
        "emporium_webhook_deliveries_succeeded_total",
        hooks.succeeded(),
    );
    total(
        "emporium_webhook_attempts_failed_total",
        hooks.failed_attempts(),
    );
    total(
        "emporium_webhook_deliveries_failed_total",
        hooks.failed_deliveries(),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(),
    )
}
