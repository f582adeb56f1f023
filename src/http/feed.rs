//! `GET /feeds/{channel}.csv` and `GET /feeds/{channel}.json`: the channel's
//! product feed for marketplaces and ads channels (see `domain::feed`),
//! streamed page by page.
//!
//! - Each download costs `EMPORIUM_FEED_COST` points from the client's
//!   anonymous rate budget (per address, an IPv6 /64); over budget it
//!   answers 429 with `Retry-After`.
//! - With the response cache on, a feed is kept there once it has been
//!   produced whole, and dropped like a cached product list by any catalog or
//!   stock change: until then a download reads nothing from the database
//!   (`x-emporium-cache: hit`). Cache-Control: no-cache does not skip it.

use std::sync::{Arc, Mutex};

use axum::{
    body::{Body, Bytes},
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{StreamExt, TryStreamExt, future::ready, stream};

use super::{
    HttpState,
    graphql::{CACHE_HEADER, Peer, client_ip, unavailable},
};
use crate::{
    domain::{self, feed::Format, identity::access::Principal},
    graphql::auth,
    infra::cache::{ResponseCache, Tags, Ticket},
};

/// Serves one feed.
pub async fn handler(
    State(state): State<HttpState>,
    peer: Peer,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    let Some((code, format)) = file
        .rsplit_once('.')
        .and_then(|(code, ext)| Some((code.to_owned(), ext.parse::<Format>().ok()?)))
    else {
        return (
            StatusCode::NOT_FOUND,
            "feeds are /feeds/{channel}.csv or /feeds/{channel}.json",
        )
            .into_response();
    };
    let app = &state.app;
    let cost = app.config.rate.feed_cost;
    let ip = client_ip(&state, &headers, &peer);
    if cost > 0
        && let Some((key, budget)) = auth::rate_subject(&Principal::Anonymous, ip, &app.config.rate)
    {
        let d = app.limiter.charge(&key, budget, cost).await;
        if !d.allowed {
            let mut res = (
                StatusCode::TOO_MANY_REQUESTS,
                "over the rate budget; retry later",
            )
                .into_response();
            if let Some(retry) = d.retry_after {
                let secs = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
                if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            return res;
        }
    }
    let key = format!("feed\u{1f}{format:?}\u{1f}{code}");
    let mut ticket = None;
    if let Some(cache) = &app.cache {
        match cache.get(&key).await {
            Ok(hit) => return answer(format, Body::from(hit.body), "hit"),
            Err(t) => ticket = t,
        }
    }
    let db = app.db.clone();
    let channel = match domain::channel::resolve(&db, Some(&code), None).await {
        Ok(c) => c,
        Err(domain::error::DomainError::UnknownChannel(_)) => {
            return (StatusCode::NOT_FOUND, format!("no channel `{code}`")).into_response();
        }
        Err(e) if e.is_unavailable() => {
            tracing::warn!(error = %e, "feed: cannot resolve the channel");
            return unavailable(StatusCode::SERVICE_UNAVAILABLE.into_response());
        }
        Err(e) => {
            tracing::error!(error = %e, "feed: cannot resolve the channel");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let base = app.config.storefront_url.clone();
    let chunks = domain::feed::stream(db, channel, format, base).map_err(|e| {
        tracing::error!(error = %e, "feed: cannot read the catalog");
        std::io::Error::other("feed interrupted")
    });
    match (app.cache.clone(), ticket) {
        (Some(cache), Some(ticket)) => answer(
            format,
            Body::from_stream(kept(chunks, cache, key, ticket, cost)),
            "miss",
        ),
        _ => answer(format, Body::from_stream(chunks), "bypass"),
    }
}

/// `chunks`, also collected and put in `cache` under `key` once they have
/// all gone out (not if one failed, or the client left before the end).
fn kept(
    chunks: impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    cache: ResponseCache,
    key: String,
    ticket: Ticket,
    cost: u32,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    // `None` once a chunk failed.
    let whole = Arc::new(Mutex::new(Some(Vec::new())));
    let collect = whole.clone();
    let keep = stream::once(async move {
        let body = whole.lock().ok().and_then(|mut w| w.take());
        if let Some(body) = body {
            // Any product or stock change may change a feed.
            let tags = Tags {
                products: Vec::new(),
                lists: true,
                availability: true,
            };
            cache
                .insert(&key, ticket, Some("feed"), Bytes::from(body), (cost, tags))
                .await;
        }
    })
    .filter_map(|()| ready(None));
    chunks
        .inspect(move |chunk| {
            if let Ok(mut w) = collect.lock() {
                match chunk {
                    Ok(bytes) => {
                        if let Some(w) = w.as_mut() {
                            w.extend_from_slice(bytes);
                        }
                    }
                    Err(_) => *w = None,
                }
            }
        })
        .chain(keep)
}

fn answer(format: Format, body: Body, cache: &'static str) -> Response {
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(CACHE_HEADER, HeaderValue::from_static(cache));
    res
}
