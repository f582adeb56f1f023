//! `GET /feeds/{channel}.csv` and `GET /feeds/{channel}.json`: the channel's
//! product feed for marketplaces and ads channels (see `domain::feed`),
//! streamed page by page.

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::TryStreamExt;

use super::HttpState;
use crate::domain::{self, feed::Format};

/// Serves one feed.
pub async fn handler(State(state): State<HttpState>, Path(file): Path<String>) -> Response {
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
    let db = state.app.db.clone();
    let channel = match domain::channel::resolve(&db, Some(&code), None).await {
        Ok(c) => c,
        Err(domain::error::DomainError::UnknownChannel(_)) => {
            return (StatusCode::NOT_FOUND, format!("no channel `{code}`")).into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "feed: cannot resolve the channel");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let base = state.app.config.storefront_url.clone();
    let stream = domain::feed::stream(db, channel, format, base).map_err(|e| {
        tracing::error!(error = %e, "feed: cannot read the catalog");
        std::io::Error::other("feed interrupted")
    });
    let mut res = Body::from_stream(stream).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    res
}
