//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: its
//! database, and Redis when configured, answer too).

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;

use super::HttpState;

/// Always 200 while the process serves.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// 200 when every backing service answers within a second, else 503 with which one did not.
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
    let ready = database == "ok" && redis.as_deref().is_none_or(|r| r == "ok");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body =
        json!({ "status": if ready { "ready" } else { "not ready" }, "database": database });
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
