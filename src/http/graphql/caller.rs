//! Who sent a request: the client's address (behind trusted proxies, what
//! the outermost of them saw) and the principal its credentials name; a
//! request with bad credentials is answered here.

use std::net::{IpAddr, SocketAddr};

use axum::{
    Extension,
    extract::ConnectInfo,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};

use super::{
    negotiation::MediaType,
    render::{request_error, unavailable},
};
use crate::{
    domain::identity::access::Principal,
    graphql::error::ErrorCode,
    http::{
        HttpState,
        credentials::{self, CredentialError},
    },
};

/// The TCP peer, when the server records it.
pub type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// Who sent a request.
#[derive(Clone)]
pub(super) struct Caller {
    pub(super) principal: Principal,
    pub(super) ip: Option<IpAddr>,
}

/// The client's address: the TCP peer, or behind trusted proxies what the
/// outermost of them saw (see [`forwarded_client`]).
pub(crate) fn client_ip(state: &HttpState, headers: &HeaderMap, peer: &Peer) -> Option<IpAddr> {
    let peer = peer.as_ref().map(|Extension(ConnectInfo(addr))| addr.ip());
    forwarded_client(headers, state.app.config.edge.trusted_proxy_hops, peer)
}

/// The client's address behind `hops` trusted proxies, each of which
/// appends the address it received the request from to `X-Forwarded-For`.
///
/// All lines of the header are read, in order, as one list (a proxy may add
/// a line of its own rather than extend the client's). Whatever the client
/// sent is on the left, where it can claim anything; the last `hops` entries
/// were written by the trusted proxies, so the client is the `hops`-th from
/// the right. With fewer entries, the left-most one (every entry is then a
/// trusted proxy's). No header, no trusted hops or an entry that is not an
/// address: the TCP peer.
fn forwarded_client(headers: &HeaderMap, hops: usize, peer: Option<IpAddr>) -> Option<IpAddr> {
    if hops == 0 {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|line| match line.to_str() {
            Ok(text) => text.split(',').collect::<Vec<_>>(),
            // Not text: one entry that is no address.
            Err(_) => vec![""],
        })
        .collect();
    let Some(entry) = entries.get(entries.len().saturating_sub(hops)) else {
        return peer;
    };
    let entry = entry.trim().trim_matches('"');
    // Some proxies write `address:port` (`[v6]:port` for IPv6).
    let ip = entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|a| a.ip()));
    match ip {
        Ok(ip) => Some(ip.to_canonical()),
        Err(_) => peer,
    }
}

fn unauthenticated(media: MediaType, message: &str) -> Response {
    let mut res = request_error(
        StatusCode::UNAUTHORIZED,
        media,
        ErrorCode::Unauthenticated,
        message,
    );
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    res
}

/// Resolves the caller from the `Authorization` header; a request with bad
/// credentials is answered here.
pub(super) async fn identify(
    state: &HttpState,
    headers: &HeaderMap,
    peer: &Peer,
    media: MediaType,
) -> Result<Caller, Response> {
    let ip = client_ip(state, headers, peer);
    // A header that is not text is malformed, like one that is not `Bearer`.
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    match credentials::resolve(&state.app, authorization).await {
        Ok((principal, _)) => Ok(Caller { principal, ip }),
        Err(CredentialError::Unavailable) => Err(unavailable(request_error(
            StatusCode::SERVICE_UNAVAILABLE,
            media,
            ErrorCode::ServiceUnavailable,
            CredentialError::Unavailable.message(),
        ))),
        Err(CredentialError::Internal) => Err(request_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            media,
            ErrorCode::Internal,
            CredentialError::Internal.message(),
        )),
        Err(e) => Err(unauthenticated(media, e.message())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            if let Ok(v) = HeaderValue::from_str(l) {
                h.append("x-forwarded-for", v);
            }
        }
        h
    }

    #[test]
    fn the_client_is_the_right_most_hop_no_trusted_proxy_wrote() {
        let peer: Option<IpAddr> = "10.0.0.2".parse().ok();
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        // No trusted proxy: the header is the client's own words.
        assert_eq!(forwarded_client(&forwarded(&["1.2.3.4"]), 0, peer), peer);
        // One proxy: it appended what it saw.
        let h = forwarded(&["6.6.6.6, 203.0.113.7"]);
        assert_eq!(forwarded_client(&h, 1, peer), ip("203.0.113.7"));
        // A proxy that adds a line of its own leaves the forged one first.
        let h = forwarded(&["6.6.6.6", "203.0.113.7"]);
        assert_eq!(forwarded_client(&h, 1, peer), ip("203.0.113.7"));
        let h = forwarded(&["6.6.6.6, 7.7.7.7", "203.0.113.7, 198.51.100.1"]);
        assert_eq!(forwarded_client(&h, 2, peer), ip("203.0.113.7"));
        assert_eq!(forwarded_client(&h, 1, peer), ip("198.51.100.1"));
        // Fewer entries than hops: the left-most, which a proxy wrote.
        assert_eq!(
            forwarded_client(&forwarded(&["203.0.113.7"]), 3, peer),
            ip("203.0.113.7")
        );
        // No header: the peer.
        assert_eq!(forwarded_client(&HeaderMap::new(), 1, peer), peer);
        // Ports, brackets, IPv4 in IPv6, and what is no address.
        let h = forwarded(&["203.0.113.7:4711"]);
        assert_eq!(forwarded_client(&h, 1, peer), ip("203.0.113.7"));
        let h = forwarded(&["[2001:db8::1]:4711"]);
        assert_eq!(forwarded_client(&h, 1, peer), ip("2001:db8::1"));
        let h = forwarded(&["::ffff:203.0.113.7"]);
        assert_eq!(forwarded_client(&h, 1, peer), ip("203.0.113.7"));
        let h = forwarded(&["203.0.113.7, unknown"]);
        assert_eq!(forwarded_client(&h, 1, peer), peer);
        let mut h = forwarded(&["203.0.113.7"]);
        if let Ok(v) = HeaderValue::from_bytes(b"\xff") {
            h.append("x-forwarded-for", v);
        }
        assert_eq!(
            forwarded_client(&h, 1, peer),
            peer,
            "a line that is not text is an entry, not skipped"
        );
    }
}
