//! HTTP routes: GraphQL over HTTP at `/graphql`, subscriptions over a
//! WebSocket at `/graphql/ws`, the embedded GraphiQL
//! assets, and health endpoints. Cross-cutting layers give every request an
//! id (`x-request-id`, echoed back and put on the tracing span), a timeout and
//! panic containment. `Authorization` and `Cookie` are marked sensitive, so no
//! layer ever logs a credential.

pub mod credentials;
pub mod feed;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod payments;
pub mod ws;

use std::time::Duration;

use axum::{Router, routing::get};
use http::{HeaderName, Request};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{app::AppState, graphql::AppSchema};

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
    Router::new()
        .route(
            "/graphql",
            get(graphql::get_handler).post(graphql::post_handler),
        )
        .route("/graphql/ws", get(ws::handler))
        .route("/feeds/{file}", get(feed::handler))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route(
            "/webhooks/payments/{gateway}",
            axum::routing::post(payments::webhook),
        )
        .with_state(state)
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
