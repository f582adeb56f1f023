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

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use async_graphql::{BatchRequest, Request as GqlRequest, Variables};
use axum::{
    Extension,
    body::{Body, Bytes},
    extract::{ConnectInfo, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::TryStreamExt;
use serde_json::{Value, json};

use super::{
    HttpState,
    credentials::{self, CredentialError},
    graphiql,
};
use crate::{
    config::Mode,
    domain::{
        self,
        identity::{access::Principal, permission::Permission},
    },
    graphql::{
        RequestCtx, cost,
        error::{ErrorCode, set_code},
        limits,
    },
    infra::{metrics, ratelimit::Decision, rows::Generation},
};

/// The TCP peer, when the server records it.
pub type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// Who sent a request.
#[derive(Clone)]
struct Caller {
    principal: Principal,
    ip: Option<IpAddr>,
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
async fn identify(
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

/// The `application/graphql-response+json` media type.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// Header that selects the channel of a request.
pub const CHANNEL_HEADER: &str = "emporium-channel";
/// Response header saying whether the response cache answered (`hit`) or not (`miss`).
pub const CACHE_HEADER: &str = "x-emporium-cache";

/// Response media type chosen from the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`.
    GraphqlResponseJson,
    /// `application/json`.
    Json,
}

impl MediaType {
    fn header(self) -> HeaderValue {
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

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// A response that carries only request errors (no `data`).
fn request_error(
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

/// `GET /graphql`: GraphiQL for browsers, else a query (never a mutation).
pub async fn get_handler(
    State(state): State<HttpState>,
    peer: Peer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params: Vec<(String, String)> =
        match raw.as_deref().map(serde_urlencoded::from_str).transpose() {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => {
                let media = negotiate(&headers).unwrap_or(MediaType::Json);
                return request_error(
                    StatusCode::BAD_REQUEST,
                    media,
                    ErrorCode::BadRequest,
                    format!("bad query string: {e}"),
                );
            }
        };
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let Some(query) = param("query") else {
        if wants_html(&headers) {
            if state.app.config.mode == Mode::Production {
                return (StatusCode::NOT_FOUND, "GraphiQL is off in production mode")
                    .into_response();
            }
            return graphiql::page().into_response();
        }
        let media = negotiate(&headers).unwrap_or(MediaType::Json);
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            ErrorCode::BadRequest,
            "missing `query` parameter",
        );
    };
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let mut request = GqlRequest::new(query.clone());
    if let Some(op) = param("operationName").filter(|s| !s.is_empty()) {
        request = request.operation_name(op);
    }
    if let Some(vars) = param("variables").filter(|s| !s.is_empty()) {
        match serde_json::from_str::<Value>(&vars) {
            Ok(v @ Value::Object(_)) => request = request.variables(Variables::from_json(v)),
            _ => {
                return request_error(
                    StatusCode::BAD_REQUEST,
                    media,
                    ErrorCode::BadRequest,
                    "`variables` must be a JSON object",
                );
            }
        }
    }
    if let Some(ext) = param("extensions").filter(|s| !s.is_empty())
        && !matches!(serde_json::from_str::<Value>(&ext), Ok(Value::Object(_)))
    {
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            ErrorCode::BadRequest,
            "`extensions` must be a JSON object",
        );
    }
    let prepared = match prepare(request, state.app.config.limits.max_aliases) {
        Ok(p) => p,
        Err(failed) => {
            return match identify(&state, &headers, &peer, media).await {
                Ok(caller) => answer_failed(&state, &caller, media, *failed).await,
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
    execute_single(&state, &headers, &caller, media, (prepared, key)).await
}

fn not_acceptable() -> Response {
    request_error(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        ErrorCode::NotAcceptable,
        format!("responses are {GRAPHQL_RESPONSE_JSON} or application/json"),
    )
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
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

fn channel_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CHANNEL_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
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
    let too_large = || {
        request_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            media,
            ErrorCode::PayloadTooLarge,
            format!("the request body exceeds {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return too_large();
    };
    let key = cache_key(&state, &headers, media, &bytes);
    if let Some(key) = &key
        && let Some(res) = early_hit(&state, &peer, &headers, media, key).await
    {
        return res;
    }
    let batch = match parse_body(&bytes, state.app.config.limits.max_batch) {
        Ok(b) => b,
        Err(message) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                ErrorCode::BadRequest,
                message,
            );
        }
    };
    let caller = match identify(&state, &headers, &peer, media).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let max_aliases = state.app.config.limits.max_aliases;
    let channel = channel_of(&headers);
    match batch {
        BatchRequest::Single(r) => match prepare(r, max_aliases) {
            Ok(p) => execute_single(&state, &headers, &caller, media, (p, key)).await,
            Err(failed) => answer_failed(&state, &caller, media, *failed).await,
        },
        BatchRequest::Batch(rs) => {
            // Each operation of a batch is answered (and charged) on its own,
            // failed or not.
            let runs = rs.into_iter().map(|r| {
                let (state, channel, caller) = (&state, channel.clone(), &caller);
                async move {
                    match prepare(r, max_aliases) {
                        Ok(p) => {
                            let started = Instant::now();
                            let operation = p.request.operation_name.clone();
                            let recorded = Arc::new(std::sync::atomic::AtomicBool::new(false));
                            let ran = domain::events::noting(
                                recorded.clone(),
                                run(state, caller, channel, p, None),
                            )
                            .await;
                            let writes = recorded.load(std::sync::atomic::Ordering::Acquire);
                            metrics::request(operation.as_deref(), started.elapsed(), "none");
                            let body =
                                with_cost(render(ran.response).1, ran.cost, ran.decision.as_ref());
                            (body, writes)
                        }
                        Err(failed) => {
                            let (cost, decision) =
                                cost::charge_failed(&state.app, &caller.principal, caller.ip).await;
                            let failed = match decision.filter(|d| !d.allowed) {
                                Some(d) => async_graphql::Response::from_errors(vec![
                                    crate::graphql::auth::rate_limited_request(d.retry_after),
                                ]),
                                None => *failed,
                            };
                            (with_cost(render(failed).1, cost, decision.as_ref()), false)
                        }
                    }
                }
            });
            let parts: Vec<(Vec<u8>, bool)> = futures_util::future::join_all(runs).await;
            if parts.iter().any(|(_, writes)| *writes) {
                state.app.relay.flush(FLUSH_LIMIT).await;
            }
            let parts: Vec<Vec<u8>> = parts.into_iter().map(|(body, _)| body).collect();
            let mut out =
                Vec::with_capacity(parts.iter().map(Vec::len).sum::<usize>() + parts.len() + 2);
            out.push(b'[');
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(p);
            }
            out.push(b']');
            respond(StatusCode::OK, media, Bytes::from(out), None)
        }
    }
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// The permission an upload needs: `productImport` (a CSV import) is the
/// one field that takes a file.
const UPLOAD_PERMISSION: Permission = Permission::CatalogWrite;

/// `POST /graphql` as a GraphQL multipart request (file uploads, e.g. a CSV
/// import). A form can send `multipart/form-data` across origins, so it is
/// only accepted with an `Authorization` header, which a form cannot set.
/// The credentials are checked, and the permission uploads need, before
/// any of the body is read; then the body is parsed as it arrives, the size
/// limit holding while it streams.
async fn post_multipart(
    state: HttpState,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
    media: MediaType,
) -> Response {
    if !headers.contains_key(header::AUTHORIZATION) {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            ErrorCode::UnsupportedMediaType,
            "multipart requests (uploads) need an Authorization header",
        );
    }
    let caller = match identify(&state, &headers, &peer, media).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    if !caller.principal.can(UPLOAD_PERMISSION) {
        return request_error(
            StatusCode::FORBIDDEN,
            media,
            ErrorCode::Forbidden,
            format!("uploads need the `{UPLOAD_PERMISSION}` permission"),
        );
    }
    let limit = state.app.config.limits.max_upload_bytes;
    let too_large = || {
        request_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            media,
            ErrorCode::PayloadTooLarge,
            format!("the upload exceeds {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // One file; the limit holds for it and for the whole stream.
    let opts = async_graphql::http::MultipartOptions::default()
        .max_num_files(1)
        .max_file_size(limit);
    let reader = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .into_async_read();
    let request = match async_graphql::http::receive_body(content_type, reader, opts).await {
        Ok(r) => r,
        Err(async_graphql::ParseRequestError::PayloadTooLarge) => return too_large(),
        Err(e) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                ErrorCode::BadRequest,
                format!("bad multipart request: {e}"),
            );
        }
    };
    match prepare(request, state.app.config.limits.max_aliases) {
        Ok(p) => execute_single(&state, &headers, &caller, media, (p, None)).await,
        Err(failed) => answer_failed(&state, &caller, media, *failed).await,
    }
}

/// Parses a JSON body into one request or a bounded batch.
fn parse_body(bytes: &[u8], max_batch: usize) -> Result<BatchRequest, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let one = |v: Value| -> Result<GqlRequest, String> {
        let Value::Object(map) = &v else {
            return Err("each request must be a JSON object".into());
        };
        match map.get("query") {
            Some(Value::String(_)) => {}
            Some(_) => return Err("`query` must be a string".into()),
            None => return Err("missing `query`".into()),
        }
        if map
            .get("variables")
            .is_some_and(|v| !(v.is_object() || v.is_null()))
        {
            return Err("`variables` must be an object".into());
        }
        if map
            .get("operationName")
            .is_some_and(|v| !(v.is_string() || v.is_null()))
        {
            return Err("`operationName` must be a string".into());
        }
        if map
            .get("extensions")
            .is_some_and(|v| !(v.is_object() || v.is_null()))
        {
            return Err("`extensions` must be an object".into());
        }
        serde_json::from_value::<GqlRequest>(v).map_err(|e| format!("bad request: {e}"))
    };
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err("an empty batch".into());
            }
            if items.len() > max_batch {
                return Err(format!(
                    "a batch holds at most {max_batch} operations, got {}",
                    items.len()
                ));
            }
            Ok(BatchRequest::Batch(
                items.into_iter().map(one).collect::<Result<_, _>>()?,
            ))
        }
        other => Ok(BatchRequest::Single(one(other)?)),
    }
}

/// A request whose document parsed and passed the alias limit.
struct Prepared {
    request: GqlRequest,
    /// Whether the selected operation is a mutation or subscription.
    writes: bool,
    /// Whether the document asks for the schema.
    introspects: bool,
}

/// Parses the document once (async-graphql reuses the parsed document),
/// applies the alias limit and finds out whether the operation writes.
fn prepare(
    mut request: GqlRequest,
    max_aliases: usize,
) -> Result<Prepared, Box<async_graphql::Response>> {
    let operation = request.operation_name.clone();
    let doc = match request.parsed_query() {
        Ok(doc) => doc,
        Err(mut e) => {
            set_code(&mut e, ErrorCode::GraphqlParseFailed);
            return Err(Box::new(async_graphql::Response::from_errors(vec![e])));
        }
    };
    if let Err(e) = limits::check_aliases(doc, max_aliases) {
        return Err(Box::new(async_graphql::Response::from_errors(vec![e])));
    }
    if limits::subscribes(doc, operation.as_deref()) {
        let e = ErrorCode::BadRequest.server_error(
            "subscriptions are served over a WebSocket at /graphql/ws \
             (the graphql-transport-ws protocol of the graphql-ws client)",
        );
        return Err(Box::new(async_graphql::Response::from_errors(vec![e])));
    }
    let writes = limits::writes(doc, operation.as_deref());
    let introspects = limits::introspects(doc);
    Ok(Prepared {
        request,
        writes,
        introspects,
    })
}

/// One executed operation.
struct Ran {
    response: async_graphql::Response,
    /// Whether nothing in it forbade caching the response.
    cacheable: bool,
    /// What it cost (0 if it never got through validation).
    cost: u32,
    /// The rate decision taken for it, if the caller has a budget.
    decision: Option<Decision>,
    /// What the response shows, for the response cache.
    tags: crate::infra::cache::Tags,
}

/// Executes one operation with its own context and loaders.
async fn run(
    state: &HttpState,
    caller: &Caller,
    channel: Option<String>,
    p: Prepared,
    rows: Option<Arc<Generation>>,
) -> Ran {
    let mut r = p.request;
    if state.app.config.mode == Mode::Production && !caller.principal.is_operator() {
        if p.introspects {
            let e = ErrorCode::Forbidden.server_error(
                "introspection is off in production mode; use a staff or partner token",
            );
            return Ran {
                response: async_graphql::Response::from_errors(vec![e]),
                cacheable: false,
                cost: 0,
                decision: None,
                tags: Default::default(),
            };
        }
        r = r.disable_introspection();
    }
    let ctx = Arc::new(RequestCtx::new(
        &state.app,
        caller.principal.clone(),
        caller.ip,
        channel,
        rows,
    ));
    // Validate and charge on the costing schema; execute only what it admitted.
    let admitted = state.costing.execute(probe(&mut r).data(ctx.clone())).await;
    if !admitted.errors.is_empty() {
        let (cost, decision) = ctx.cost();
        return Ran {
            response: admitted,
            cacheable: false,
            cost,
            decision,
            tags: Default::default(),
        };
    }
    let tasks = ctx.tasks.clone();
    let response = tasks.run(state.schema.execute(r.data(ctx.clone()))).await;
    let (cost, decision) = ctx.cost();
    Ran {
        response,
        cacheable: ctx.is_cacheable(),
        cost,
        decision,
        tags: ctx.tags.tags(),
    }
}

/// A copy of `r` (document already parsed) for the costing schema.
pub(super) fn probe(r: &mut GqlRequest) -> GqlRequest {
    let mut p = GqlRequest::new(r.query.clone()).variables(r.variables.clone());
    p.operation_name = r.operation_name.clone();
    p.introspection_mode = r.introspection_mode;
    if let Ok(doc) = r.parsed_query() {
        p.set_parsed_query(doc.clone());
    }
    p
}

/// Adds `extensions.cost` to a rendered response object.
fn with_cost(mut body: Vec<u8>, cost: u32, decision: Option<&Decision>) -> Vec<u8> {
    if cost == 0 || body.last() != Some(&b'}') || body.len() < 2 {
        return body;
    }
    let report = json!({ "cost": cost::report(cost, decision) });
    body.pop();
    body.extend_from_slice(br#","extensions":"#);
    body.extend_from_slice(report.to_string().as_bytes());
    body.push(b'}');
    body
}

/// Answers an operation that did not parse (or broke the alias limit),
/// charged the fixed cost of a failed operation; over budget, RATE_LIMITED.
async fn answer_failed(
    state: &HttpState,
    caller: &Caller,
    media: MediaType,
    failed: async_graphql::Response,
) -> Response {
    let (cost, decision) = cost::charge_failed(&state.app, &caller.principal, caller.ip).await;
    if let Some(d) = decision.filter(|d| !d.allowed) {
        let e = crate::graphql::auth::rate_limited_request(d.retry_after);
        let body = with_cost(
            render(async_graphql::Response::from_errors(vec![e])).1,
            cost,
            Some(&d),
        );
        return throttled(
            respond(status_for(true, media), media, Bytes::from(body), None),
            d.retry_after,
        );
    }
    let (request_failed, body) = render(failed);
    let body = with_cost(body, cost, decision.as_ref());
    respond(
        status_for(request_failed, media),
        media,
        Bytes::from(body),
        None,
    )
}

/// How long a client is asked to wait after the database could not be
/// reached (a restarting PostgreSQL is usually back within a few seconds).
pub const UNAVAILABLE_RETRY_AFTER: &str = "2";

/// Makes `res` a 503 with `Retry-After`: the database could not be reached.
pub(super) fn unavailable(mut res: Response) -> Response {
    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    res.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER),
    );
    res
}

/// Whether an error of `r` says the database could not be reached.
fn is_unavailable(r: &async_graphql::Response) -> bool {
    r.errors.iter().any(|e| {
        matches!(
            e.extensions.as_ref().and_then(|x| x.get("code")),
            Some(async_graphql::Value::String(c)) if c == ErrorCode::ServiceUnavailable.as_str()
        )
    })
}

/// A 429 for an operation refused by the rate limiter.
fn throttled(mut res: Response, retry_after: Option<Duration>) -> Response {
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    if let Some(retry) = retry_after {
        let secs = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
        if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}

/// The response cache's key for a request: the media type, the channel
/// header and the request's own text (the POST body, or the GET query
/// string), which holds the document, variables and operation name. Found
/// without parsing anything, so a hit costs little more than the HTTP work;
/// a client sending the same request in other bytes just gets another entry.
/// `None` where the cache must not be used: no cache, credentials (a request
/// with them may see what others must not), `Cache-Control: no-cache`, or a
/// batch.
fn cache_key(
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

async fn execute_single(
    state: &HttpState,
    headers: &HeaderMap,
    caller: &Caller,
    media: MediaType,
    (p, key): (Prepared, Option<String>),
) -> Response {
    let started = Instant::now();
    let operation = p.request.operation_name.clone();
    let channel = channel_of(headers);
    let cache = state
        .app
        .cache
        .as_ref()
        .filter(|_| caller.principal == Principal::Anonymous && !p.writes);
    let mut lookup = None;
    if let Some(cache) = cache
        && let Some(key) = key
    {
        match cache.get(&key).await {
            Ok(hit) => {
                metrics::cache("hit");
                metrics::request(hit.operation.as_deref(), started.elapsed(), "hit");
                return answer_from_cache(state, caller, media, hit).await;
            }
            Err(Some(ticket)) => lookup = Some((key, ticket)),
            // The cache cannot be trusted now (Redis is away): the database answers.
            Err(None) => {}
        }
    }
    // The row cache serves rows of the current catalog version: read it
    // before any data, so nothing remembered under it is older than its tag.
    // A mutation reads what it has just written, never through that cache.
    let rows = match state.app.rows.as_ref().filter(|_| !p.writes) {
        Some(rows) => match domain::catalog::version(&state.app.db).await {
            Ok(v) => Some(rows.generation(v)),
            Err(e) => {
                tracing::warn!(error = %e, "row cache: cannot read the catalog version");
                None
            }
        },
        None => None,
    };
    let recorded = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ran = domain::events::noting(recorded.clone(), run(state, caller, channel, p, rows)).await;
    // What a mutation recorded goes out before it answers, so the caller's
    // next read is fresh on every node.
    if recorded.load(std::sync::atomic::Ordering::Acquire) {
        state.app.relay.flush(FLUSH_LIMIT).await;
    }
    let storable = ran.response.errors.is_empty() && ran.cacheable;
    let storage_away = is_unavailable(&ran.response);
    let (request_failed, body) = render(ran.response);
    let mut cache_state = None;
    if let (Some(cache), Some((key, ticket))) = (cache, lookup) {
        if storable {
            let mut tags = ran.tags;
            // A response tied to no product is dropped by any product change.
            if tags.products.is_empty() {
                tags.lists = true;
            }
            cache
                .insert(
                    &key,
                    ticket,
                    operation.as_deref(),
                    Bytes::from(body.clone()),
                    (ran.cost, tags),
                )
                .await;
        }
        cache_state = Some("miss");
    }
    let body = Bytes::from(with_cost(body, ran.cost, ran.decision.as_ref()));
    let res = respond(status_for(request_failed, media), media, body, cache_state);
    if cache_state.is_some() {
        metrics::cache("miss");
    } else if cache.is_some() {
        metrics::cache("bypass");
    }
    metrics::request(
        operation.as_deref(),
        started.elapsed(),
        cache_state.unwrap_or("none"),
    );
    match ran.decision {
        Some(d) if !d.allowed => throttled(res, d.retry_after),
        _ if storage_away => unavailable(res),
        _ => res,
    }
}

/// A hit in this node's cache tier, found before the request is even
/// parsed (only queries are ever stored, so a hit is one).
async fn early_hit(
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

/// How long a mutation waits for the outbox relay before answering anyway.
const FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// A response from the cache, charged what computing it cost.
async fn answer_from_cache(
    state: &HttpState,
    caller: &Caller,
    media: MediaType,
    hit: crate::infra::cache::Hit,
) -> Response {
    let decision = match auth_subject(state, caller) {
        Some((k, budget)) => Some(state.app.limiter.charge(&k, budget, hit.cost).await),
        None => None,
    };
    if let Some(d) = decision.filter(|d| !d.allowed) {
        let e = crate::graphql::auth::rate_limited_request(d.retry_after);
        let body = with_cost(
            render(async_graphql::Response::from_errors(vec![e])).1,
            hit.cost,
            Some(&d),
        );
        return throttled(
            respond(StatusCode::OK, media, Bytes::from(body), Some("hit")),
            d.retry_after,
        );
    }
    let body = with_cost(hit.body.to_vec(), hit.cost, decision.as_ref());
    respond(StatusCode::OK, media, Bytes::from(body), Some("hit"))
}

fn auth_subject(
    state: &HttpState,
    caller: &Caller,
) -> Option<(String, crate::infra::ratelimit::Budget)> {
    crate::graphql::auth::rate_subject(&caller.principal, caller.ip, &state.app.config.rate)
}

/// 400 for a request error with the GraphQL media type; 200 otherwise, as
/// the specification asks of `application/json`.
fn status_for(request_failed: bool, media: MediaType) -> StatusCode {
    if request_failed && media == MediaType::GraphqlResponseJson {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

fn respond(
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
fn render(mut r: async_graphql::Response) -> (bool, Vec<u8>) {
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
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
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
