//! The response cache at the HTTP edge: the key of a request (found
//! without parsing it), a hit served before parsing, and a cached answer
//! charged what computing it cost.

use std::time::Instant;

use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode, header},
    response::Response,
};

use super::{
    caller::{Caller, Peer, client_ip},
    cost::{auth_subject, rate_limited, with_cost},
    negotiation::{MediaType, channel_of},
    render::{render, respond, throttled},
};
use crate::{
    domain::identity::access::Principal,
    http::HttpState,
    infra::{cache::Hit, metrics},
};

/// Response header saying whether the response cache answered (`hit`) or not (`miss`).
pub const CACHE_HEADER: &str = "x-emporium-cache";

/// The response cache's key for a request: the media type, the channel
/// header and the request's own text (the POST body, or the GET query
/// string), which holds the document, variables and operation name. Found
/// without parsing anything, so a hit costs little more than the HTTP work;
/// a client sending the same request in other bytes just gets another entry.
/// `None` where the cache must not be used: no cache, credentials (a request
/// with them may see what others must not), `Cache-Control: no-cache`, or a
/// batch.
pub(super) fn cache_key(
    state: &HttpState,
    headers: &HeaderMap,
    media: MediaType,
    raw: &[u8],
) -> Option<String> {
    state.app.cache.as_ref()?;
    if headers.contains_key(header::AUTHORIZATION)
        || headers.contains_key(header::COOKIE)
        || wants_fresh(headers)
        || raw.trim_ascii_start().first() == Some(&b'[')
    {
        return None;
    }
    let text = std::str::from_utf8(raw).ok()?;
    Some(format!(
        "{media:?}\u{1f}{}\u{1f}{text}",
        channel_of(headers).as_deref().unwrap_or("")
    ))
}

/// Whether the request asks past the cache (`Cache-Control: no-cache`).
fn wants_fresh(headers: &HeaderMap) -> bool {
    headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("no-cache"))
}

/// A hit in this node's cache tier, found before the request is even
/// parsed (only queries are ever stored, so a hit is one).
pub(super) async fn early_hit(
    state: &HttpState,
    peer: &Peer,
    headers: &HeaderMap,
    media: MediaType,
    key: &str,
) -> Option<Response> {
    let started = Instant::now();
    let hit = state.app.cache.as_ref()?.peek(key)?;
    // A key exists only without credentials: the caller is anonymous.
    let caller = Caller {
        principal: Principal::Anonymous,
        ip: client_ip(state, headers, peer),
    };
    metrics::cache("hit");
    metrics::request(hit.operation.as_deref(), started.elapsed(), "hit");
    Some(answer_from_cache(state, &caller, media, hit).await)
}

/// A response from the cache, charged what computing it cost.
pub(super) async fn answer_from_cache(
    state: &HttpState,
    caller: &Caller,
    media: MediaType,
    hit: Hit,
) -> Response {
    let decision = match auth_subject(state, caller) {
        Some((k, budget)) => Some(state.app.limiter.charge(&k, budget, hit.cost).await),
        None => None,
    };
    if let Some(d) = decision.filter(|d| !d.allowed) {
        let body = with_cost(render(rate_limited(&d)).1, hit.cost, Some(&d));
        return throttled(
            respond(StatusCode::OK, media, Bytes::from(body), Some("hit")),
            d.retry_after,
        );
    }
    let body = with_cost(hit.body.to_vec(), hit.cost, decision.as_ref());
    respond(StatusCode::OK, media, Bytes::from(body), Some("hit"))
}
