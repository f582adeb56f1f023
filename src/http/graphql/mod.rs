//! GraphQL over HTTP, following the GraphQL-over-HTTP specification.
//!
//! - Media types: the response is `application/graphql-response+json` or
//!   `application/json`, whichever the `Accept` header prefers (no `Accept`
//!   means `application/json`; one naming neither answers 406).
//! - Status codes: a request that is not a well-formed GraphQL-over-HTTP
//!   request (bad JSON, no `query`, bad parameters) answers 400. A document
//!   that fails to parse or validate answers 400 with
//!   `application/graphql-response+json` and 200 with `application/json`, as
//!   the specification asks; a request error never carries `data`.
//! - CSRF: POST bodies must be `application/json` (415 otherwise), so an HTML
//!   form or a `text/plain` fetch cannot run an operation; GET never runs a
//!   mutation (405 with `Allow: POST`).
//! - Limits: the body size limit holds whether or not `Content-Length` is sent
//!   (413); batches (JSON arrays) are bounded. An upload (multipart) is
//!   refused before its body is read unless its credentials hold the
//!   permission uploads need, and its size limit holds as it streams.
//! - A browser asking for HTML without a `query` gets the GraphiQL playground
//!   (not in production mode).
//! - Credentials: `Authorization: Bearer <token>` (an access JWT or a partner
//!   token). A bad, expired or revoked token answers 401 UNAUTHENTICATED
//!   before anything runs; no header means an anonymous caller.
//! - Cost: every operation is charged its complexity against the caller's
//!   rate budget, reported in `extensions.cost`; an operation over budget
//!   does not run and answers 429 RATE_LIMITED with `Retry-After`. One that
//!   fails to parse or validate is charged a fixed cost.
//! - Outages: when the database cannot be reached, an operation answers
//!   503 with `Retry-After` and SERVICE_UNAVAILABLE (a transaction that
//!   lost its connection before its commit was retried once first; see
//!   `domain::tx::write`).
//! - Anonymous queries whose resolvers allow it are answered from the
//!   response cache (`x-emporium-cache: hit`) until a change to what they
//!   show invalidates them; `Cache-Control: no-cache` skips it. A mutation
//!   that recorded events answers once they have been relayed, so the
//!   caller's next read is fresh on every node.
//!
//! The handlers are here; what they use lives by subject: `negotiation`
//! (media types, body types, the channel header), `caller` (client address
//! and credentials), `parsing` (query strings, JSON bodies, documents),
//! `upload` (multipart requests), `execute` (running one operation or a
//! batch), `cache` (the response cache at the edge), `cost` (what an
//! operation is charged) and `render` (bodies, statuses and headers).

mod cache;
mod caller;
mod cost;
mod execute;
mod negotiation;
mod parsing;
mod render;
mod upload;

use async_graphql::BatchRequest;
use axum::{
    body::{Body, to_bytes},
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

pub use cache::CACHE_HEADER;
pub use caller::Peer;
pub(crate) use caller::client_ip;
pub use negotiation::{CHANNEL_HEADER, GRAPHQL_RESPONSE_JSON, MediaType, negotiate};
pub(crate) use parsing::probe;
pub(crate) use render::unavailable;
pub use render::{UNAVAILABLE_RETRY_AFTER, panic_response};

use super::{HttpState, graphiql};
use crate::{config::Mode, graphql::error::ErrorCode};
use cache::{cache_key, early_hit};
use caller::identify;
use execute::{answer_batch, answer_one};
use negotiation::{
    body_over, channel_of, is_json_content_type, is_multipart, not_acceptable, wants_html,
};
use parsing::{get_request, param, parse_body, prepare, query_params};
use render::{bad_request, request_error, too_large};
use upload::post_multipart;

/// `GET /graphql`: GraphiQL for browsers, else a query (never a mutation).
pub async fn get_handler(
    State(state): State<HttpState>,
    peer: Peer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = match query_params(raw.as_deref()) {
        Ok(p) => p,
        Err(message) => {
            let media = negotiate(&headers).unwrap_or(MediaType::Json);
            return bad_request(media, message);
        }
    };
    let Some(query) = param(&params, "query") else {
        if wants_html(&headers) {
            if state.app.config.mode == Mode::Production {
                return (StatusCode::NOT_FOUND, "GraphiQL is off in production mode")
                    .into_response();
            }
            return graphiql::page().into_response();
        }
        let media = negotiate(&headers).unwrap_or(MediaType::Json);
        return bad_request(media, "missing `query` parameter");
    };
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let request = match get_request(&params, query) {
        Ok(r) => r,
        Err(message) => return bad_request(media, message),
    };
    let prepared = match prepare(request, state.app.config.limits.max_aliases) {
        Ok(p) => p,
        Err(failed) => {
            return match identify(&state, &headers, &peer, media).await {
                Ok(caller) => answer_one(&state, &headers, &caller, media, Err(failed), None).await,
                Err(res) => res,
            };
        }
    };
    if prepared.writes {
        let mut res = request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            ErrorCode::MethodNotAllowed,
            "mutations must be sent with POST",
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return res;
    }
    let caller = match identify(&state, &headers, &peer, media).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let key = cache_key(
        &state,
        &headers,
        media,
        raw.as_deref().unwrap_or_default().as_bytes(),
    );
    answer_one(&state, &headers, &caller, media, Ok(prepared), key).await
}

/// `POST /graphql` with a JSON body (one request or a batch).
pub async fn post_handler(
    State(state): State<HttpState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    if is_multipart(&headers) {
        return post_multipart(state, peer, headers, body, media).await;
    }
    if !is_json_content_type(&headers) {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            ErrorCode::UnsupportedMediaType,
            "the request body must be application/json",
        );
    }
    let limit = state.app.config.limits.max_body_bytes;
    if body_over(&headers, limit) {
        return too_large(media, "the request body", limit);
    }
    let Ok(bytes) = to_bytes(body, limit).await else {
        return too_large(media, "the request body", limit);
    };
    let key = cache_key(&state, &headers, media, &bytes);
    if let Some(key) = &key
        && let Some(res) = early_hit(&state, &peer, &headers, media, key).await
    {
        return res;
    }
    let batch = match parse_body(&bytes, state.app.config.limits.max_batch) {
        Ok(b) => b,
        Err(message) => return bad_request(media, message),
    };
    let caller = match identify(&state, &headers, &peer, media).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    match batch {
        BatchRequest::Single(r) => {
            let prepared = prepare(r, state.app.config.limits.max_aliases);
            answer_one(&state, &headers, &caller, media, prepared, key).await
        }
        BatchRequest::Batch(rs) => {
            answer_batch(&state, &caller, media, channel_of(&headers), rs).await
        }
    }
}
