//! Rendering answers: a response body with or without `data`, the status
//! the specification asks for, the headers of request errors, throttled
//! (429) and unavailable (503) answers, and the answer to a panic.

use std::{any::Any, time::Duration};

use axum::{
    body::Bytes,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{cache::CACHE_HEADER, negotiation::MediaType};
use crate::{
    graphql::{error::ErrorCode, limits},
    infra::metrics,
};

/// A response that carries only request errors (no `data`).
pub(super) fn request_error(
    status: StatusCode,
    media: MediaType,
    code: ErrorCode,
    message: impl Into<String>,
) -> Response {
    let body = json!({ "errors": [{ "message": message.into(), "extensions": { "code": code.as_str() } }] });
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, media.header());
    res
}

/// A 400 BAD_REQUEST: the request is not a well-formed GraphQL-over-HTTP
/// request.
pub(super) fn bad_request(media: MediaType, message: impl Into<String>) -> Response {
    request_error(
        StatusCode::BAD_REQUEST,
        media,
        ErrorCode::BadRequest,
        message,
    )
}

/// A 413 PAYLOAD_TOO_LARGE: `what` (the request body, an upload) is over
/// `limit` bytes.
pub(super) fn too_large(media: MediaType, what: &str, limit: usize) -> Response {
    request_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        media,
        ErrorCode::PayloadTooLarge,
        format!("{what} exceeds {limit} bytes"),
    )
}

/// 400 for a request error with the GraphQL media type; 200 otherwise, as
/// the specification asks of `application/json`.
pub(super) fn status_for(request_failed: bool, media: MediaType) -> StatusCode {
    if request_failed && media == MediaType::GraphqlResponseJson {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// A response with this status, media type and body, saying whether the
/// response cache answered when it was asked.
pub(super) fn respond(
    status: StatusCode,
    media: MediaType,
    body: Bytes,
    cache: Option<&'static str>,
) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, media.header());
    if let Some(c) = cache {
        res.headers_mut()
            .insert(CACHE_HEADER, HeaderValue::from_static(c));
    }
    res
}

/// Serializes one response; returns whether it is a request error (the
/// operation never executed), in which case `data` is left out.
pub(super) fn render(mut r: async_graphql::Response) -> (bool, Vec<u8>) {
    if r.errors.is_empty() {
        return (
            false,
            serde_json::to_vec(&r).unwrap_or_else(|_| internal_body()),
        );
    }
    let mut request_failed = false;
    for e in &mut r.errors {
        limits::classify(e);
        request_failed |= limits::is_request_error(e);
        match e.extensions.as_ref().and_then(|x| x.get("code")) {
            Some(async_graphql::Value::String(code)) => metrics::error(code),
            _ => metrics::error("UNKNOWN"),
        }
    }
    let mut value = match serde_json::to_value(&r) {
        Ok(v) => v,
        Err(_) => return (true, internal_body()),
    };
    if request_failed && let Value::Object(map) = &mut value {
        map.remove("data");
    }
    (
        request_failed,
        serde_json::to_vec(&value).unwrap_or_else(|_| internal_body()),
    )
}

fn internal_body() -> Vec<u8> {
    br#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#.to_vec()
}

/// What a panic inside a handler turns into: a GraphQL-shaped 500, logged.
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    let mut res = (StatusCode::INTERNAL_SERVER_ERROR, internal_body()).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, MediaType::Json.header());
    res
}

/// How long a client is asked to wait after the database could not be
/// reached (a restarting PostgreSQL is usually back within a few seconds).
pub const UNAVAILABLE_RETRY_AFTER: &str = "2";

/// Makes `res` a 503 with `Retry-After`: the database could not be reached.
pub(crate) fn unavailable(mut res: Response) -> Response {
    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    res.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER),
    );
    res
}

/// Whether an error of `r` says the database could not be reached.
pub(super) fn is_unavailable(r: &async_graphql::Response) -> bool {
    r.errors.iter().any(|e| {
        matches!(
            e.extensions.as_ref().and_then(|x| x.get("code")),
            Some(async_graphql::Value::String(c)) if c == ErrorCode::ServiceUnavailable.as_str()
        )
    })
}

/// A 429 for an operation refused by the rate limiter.
pub(super) fn throttled(mut res: Response, retry_after: Option<Duration>) -> Response {
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    if let Some(retry) = retry_after {
        let secs = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
        if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}
