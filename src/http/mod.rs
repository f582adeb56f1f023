//! HTTP routes: GraphQL over HTTP at `/graphql`, subscriptions over a
//! WebSocket at `/graphql/ws`, the embedded GraphiQL
//! assets, and health endpoints. Cross-cutting layers give every request an
//! id (`x-request-id`, echoed back and put on the tracing span), a timeout and
//! panic containment. `Authorization` and `Cookie` are marked sensitive, so no
//! layer ever logs a credential.
//!
//! Load shedding: the API routes (GraphQL, feeds, webhooks) share a bound on
//! requests in flight (`EMPORIUM_MAX_IN_FLIGHT_REQUESTS`). A request beyond
//! it is not queued: it is answered 503 SERVICE_UNAVAILABLE with
//! `Retry-After` at once, so a flood cannot pile up work, memory and
//! database waits. Health, readiness and metrics stay outside the bound, so
//! a busy node is not taken for a dead one.

pub mod credentials;
pub mod feed;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod payments;
pub mod ws;

use std::time::Duration;

use axum::{
    Router,
    error_handling::HandleErrorLayer,
    response::{IntoResponse, Response},
    routing::get,
};
use http::{HeaderName, HeaderValue, Request, StatusCode, header};
use tower::{
    BoxError, ServiceBuilder, limit::GlobalConcurrencyLimitLayer, load_shed::LoadShedLayer,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::infra::metrics;
use crate::{
    graphql::{AppSchema, error::ErrorCode},
    state::AppState,
};

/// State of the HTTP handlers.
#[derive(Clone)]
pub struct HttpState {
    /// Shared node state.
    pub app: AppState,
    /// The executable schema.
    pub schema: AppSchema,
    /// The same schema with the cost extension, which validates and charges
    /// an operation without executing it.
    pub costing: AppSchema,
    /// Open WebSocket connections per client.
    pub ws_clients: std::sync::Arc<ws::Clients>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// All routes with their layers.
pub fn router(state: HttpState) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
        let id = req
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
    });
    let in_flight = state.app.in_flight.clone();
    let api = Router::new()
        .route(
            "/graphql",
            get(graphql::get_handler).post(graphql::post_handler),
        )
        .route("/graphql/ws", get(ws::handler))
        .route("/feeds/{file}", get(feed::handler))
        .route(
            "/webhooks/payments/{gateway}",
            axum::routing::post(payments::webhook),
        )
        .with_state(state.clone());
    let api = match in_flight {
        Some(permits) => api.layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: BoxError| async { overloaded() }))
                .layer(LoadShedLayer::new())
                .layer(GlobalConcurrencyLimitLayer::with_semaphore(permits)),
        ),
        None => api,
    };
    let probes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .with_state(state);
    api.merge(probes)
        .merge(graphiql::router())
        .layer(CatchPanicLayer::custom(graphql::panic_response))
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([
            http::header::AUTHORIZATION,
            http::header::COOKIE,
        ]))
}

/// What a request gets when the node is at its limit of requests in
/// flight: a GraphQL-shaped 503 asking to come back in a second.
fn overloaded() -> Response {
    metrics::shed();
    let body = serde_json::json!({ "errors": [{
        "message": "the server is busy; retry shortly",
        "extensions": { "code": ErrorCode::ServiceUnavailable.as_str() },
    }] });
    let mut res = (StatusCode::SERVICE_UNAVAILABLE, body.to_string()).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}
