//! Content negotiation: the response media type picked from `Accept`, the
//! request body types accepted (JSON, multipart uploads), and the channel a
//! request names in its headers.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};

use super::render::request_error;
use crate::graphql::error::ErrorCode;

/// The `application/graphql-response+json` media type.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// Header that selects the channel of a request.
pub const CHANNEL_HEADER: &str = "emporium-channel";

/// Response media type chosen from the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`.
    GraphqlResponseJson,
    /// `application/json`.
    Json,
}

impl MediaType {
    pub(super) fn header(self) -> HeaderValue {
        match self {
            Self::GraphqlResponseJson => {
                HeaderValue::from_static("application/graphql-response+json; charset=utf-8")
            }
            Self::Json => HeaderValue::from_static("application/json; charset=utf-8"),
        }
    }
}

/// Picks the response media type the client prefers; `None` if it accepts neither.
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    if accept.trim().is_empty() {
        return Some(MediaType::Json);
    }
    let mut best: Option<(f32, u8, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
            })
            .next()
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        // Specific ranges outrank wildcards at equal quality; the GraphQL type wins ties.
        let candidate = match essence.as_str() {
            GRAPHQL_RESPONSE_JSON => Some((3, MediaType::GraphqlResponseJson)),
            "application/json" => Some((2, MediaType::Json)),
            "application/*" | "*/*" => Some((1, MediaType::GraphqlResponseJson)),
            _ => None,
        };
        if let Some((rank, media)) = candidate
            && best.is_none_or(|(bq, br, _)| q > bq || (q == bq && rank > br))
        {
            best = Some((q, rank, media));
        }
    }
    best.map(|(_, _, m)| m)
}

pub(super) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

pub(super) fn not_acceptable() -> Response {
    request_error(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        ErrorCode::NotAcceptable,
        format!("responses are {GRAPHQL_RESPONSE_JSON} or application/json"),
    )
}

pub(super) fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|p| match p.trim().split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
            v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    })
}

pub(super) fn channel_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CHANNEL_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

pub(super) fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// Whether the request says (`Content-Length`) its body is over `limit`
/// bytes; one that says nothing is held to the limit as it is read.
pub(super) fn body_over(headers: &HeaderMap, limit: usize) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(header::ACCEPT, v);
        }
        h
    }

    #[test]
    fn negotiation_follows_accept() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(MediaType::Json));
        assert_eq!(
            negotiate(&accept("application/json")),
            Some(MediaType::Json)
        );
        assert_eq!(
            negotiate(&accept(GRAPHQL_RESPONSE_JSON)),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(MediaType::Json)
        );
        assert_eq!(
            negotiate(&accept("*/*")),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(negotiate(&accept("text/html")), None);
        assert_eq!(negotiate(&accept("application/json;q=0")), None);
    }

    #[test]
    fn only_utf8_json_bodies_are_accepted() {
        let ct = |v: &str| {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(header::CONTENT_TYPE, v);
            }
            is_json_content_type(&h)
        };
        assert!(ct("application/json"));
        assert!(ct("application/json; charset=UTF-8"));
        assert!(!ct("application/json; charset=latin1"));
        assert!(!ct("text/plain"));
        assert!(!ct("application/x-www-form-urlencoded"));
        assert!(!ct("multipart/form-data; boundary=x"));
    }
}
