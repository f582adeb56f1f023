//! `/graphql/ws`: GraphQL subscriptions over a WebSocket, speaking
//! `graphql-transport-ws` (the protocol of the `graphql-ws` client; the
//! older `subscriptions-transport-ws` is accepted too).
//!
//! - Credentials come in the `connection_init` payload:
//!   `{"Authorization": "Bearer <token>"}` (the key in any case); no payload
//!   or no such key is an anonymous connection. A malformed, invalid,
//!   expired or revoked token refuses the connection: it is closed with
//!   code 1002 and a reason starting with `UNAUTHENTICATED`.
//! - Each operation is checked like one sent over HTTP (alias limit,
//!   introspection in production mode, depth and complexity) and charged its
//!   cost to the caller's rate budget once, when it starts; one that fails
//!   to parse or validate is charged the fixed cost of a failed operation.
//! - A connection holds at most [`MAX_SUBSCRIPTIONS`] operations at a time;
//!   one more is refused with BAD_REQUEST.
//! - A client holds at most `EMPORIUM_WS_MAX_PER_CLIENT` connections on a
//!   node, counted per address (an IPv6 /64) at the upgrade, which answers
//!   429 RATE_LIMITED beyond it, and per signed-in principal at
//!   `connection_init`, which is refused with a reason starting with
//!   `RATE_LIMITED`.
//! - A connection that sends no `connection_init` within
//!   `EMPORIUM_WS_INIT_TIMEOUT_SECS` is closed (4408), and so is one that
//!   runs no operation for `EMPORIUM_WS_IDLE_TIMEOUT_SECS` (1000, a reason
//!   starting with `idle`); an open subscription keeps it open however
//!   rarely it has something to send.
//! - Credentials never come from cookies, so a page of another origin
//!   cannot open a connection with a visitor's rights.
//! - Each operation has its own context and loaders, which keep nothing
//!   between events, so every event is resolved from fresh rows.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use async_graphql::{
    Data, Executor, Request, Response,
    http::{ALL_WEBSOCKET_PROTOCOLS, WebSocket as GraphqlSocket, WebSocketProtocols, WsMessage},
};
use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response as HttpResponse},
};
use futures_util::{
    SinkExt,
    future::ready,
    stream::{self, BoxStream, StreamExt},
};
use serde_json::Value;
use tokio::sync::watch;

use super::{
    HttpState,
    credentials::{self, CredentialError},
    graphql::{Peer, client_ip, probe},
};
use crate::{
    config::Mode,
    domain::identity::access::{Credential, Principal},
    graphql::{
        RequestCtx, auth, cost,
        error::{ErrorCode, set_code},
        limits,
    },
    infra::ratelimit::address_key,
};

/// Most operations one connection may have running at a time.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// Bytes read from a connection's socket at a time.
const READ_BUFFER: usize = 4096;

/// `GET /graphql/ws`: upgrades to a GraphQL WebSocket.
pub async fn handler(
    State(state): State<HttpState>,
    peer: Peer,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    let Some(protocol) = protocol(&headers) else {
        return (
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Protocol must be graphql-transport-ws or graphql-ws",
        )
            .into_response();
    };
    let ip = client_ip(&state, &headers, &peer);
    let Some(address) = state.ws_clients.admit(format!("ip:{}", address_key(ip))) else {
        let body = serde_json::json!({ "errors": [{
            "message": "too many open WebSocket connections from this address",
            "extensions": { "code": ErrorCode::RateLimited.as_str() },
        }] });
        let mut res = (StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json; charset=utf-8"),
        );
        return res;
    };
    let max_message = state.app.config.limits.max_body_bytes;
    let conn = Arc::new(Connection {
        state,
        ip,
        credential: OnceLock::new(),
        principal: OnceLock::new(),
        activity: watch::Sender::new(Activity::default()),
    });
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // Small buffers: a node holds thousands of mostly idle connections
        // (the 128 KiB defaults cost about 150 KB of memory each). A client
        // message is bounded like a request body.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| async move {
            // The address's place is held as long as the connection.
            let _address = address;
            conn.serve(socket, protocol).await;
        })
}

/// The GraphQL WebSocket protocol the client asks for, if it is one.
fn protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())?
        .split(',')
        .find_map(|p| p.trim().parse().ok())
}

/// Open connections per client, bounded; each connection holds a
/// `ClientSlot` for its address and one for its principal.
pub struct Clients {
    max: usize,
    open: Mutex<HashMap<String, usize>>,
}

impl Clients {
    /// At most `max` connections per key (0: no limit).
    pub fn new(max: usize) -> Self {
        Self {
            max,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A place for one more connection of `key`, unless it has `max`.
    fn admit(self: &Arc<Self>, key: String) -> Option<ClientSlot> {
        if self.max == 0 {
            return Some(ClientSlot(None));
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key.clone()).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(ClientSlot(Some((self.clone(), key))))
    }
}

/// A connection's place among its client's, given back on drop.
struct ClientSlot(Option<(Arc<Clients>, String)>);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let Some((clients, key)) = self.0.take() else {
            return;
        };
        let mut open = clients.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&key);
            }
        }
    }
}

/// The key a principal's connections are counted under (none for anonymous
/// callers, who are counted by address).
fn principal_key(principal: &Principal) -> Option<String> {
    match principal {
        Principal::Anonymous => None,
        Principal::Customer { id, .. } => Some(format!("customer:{id}")),
        Principal::Staff { id, .. } => Some(format!("staff:{id}")),
        Principal::Partner { token_id, .. } => Some(format!("token:{token_id}")),
    }
}

/// What the idle watch needs to know of a connection.
#[derive(Debug, Clone, Copy, Default)]
struct Activity {
    /// `connection_init` was accepted (or an operation started without it).
    initialised: bool,
    /// Operations running.
    running: usize,
}

/// One WebSocket connection.
struct Connection {
    state: HttpState,
    ip: Option<IpAddr>,
    credential: OnceLock<Arc<Credential>>,
    /// The place among its principal's connections, once signed in.
    principal: OnceLock<ClientSlot>,
    activity: watch::Sender<Activity>,
}

/// The `Authorization` entry of a `connection_init` payload, whatever its
/// case; `Err` if it is there but not text.
fn authorization(payload: &Value) -> Result<Option<&str>, CredentialError> {
    let Value::Object(map) = payload else {
        return Ok(None);
    };
    match map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
    {
        None | Some((_, Value::Null)) => Ok(None),
        Some((_, Value::String(s))) => Ok(Some(s.as_str())),
        Some(_) => Err(CredentialError::Malformed),
    }
}

impl Connection {
    /// Serves the connection until either side closes it or the idle
    /// watch does.
    async fn serve(self: Arc<Self>, socket: WebSocket, protocol: WebSocketProtocols) {
        let (mut sink, stream) = socket.split();
        let input = stream.take_while(|m| ready(m.is_ok())).filter_map(|m| {
            ready(match m {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => Some(m.into_data()),
                _ => None,
            })
        });
        let init = self.clone();
        let output = GraphqlSocket::new(Live(self.clone()), input, protocol)
            .on_connection_init(move |payload| async move { init.init(payload).await });
        let watch = self.watch();
        tokio::pin!(output, watch);
        loop {
            tokio::select! {
                message = output.next() => {
                    let (message, last) = match message {
                        Some(WsMessage::Text(text)) => (Message::Text(text.into()), false),
                        Some(WsMessage::Close(code, reason)) => (close(code, reason), true),
                        None => return,
                    };
                    if sink.send(message).await.is_err() || last {
                        return;
                    }
                }
                (code, reason) = &mut watch => {
                    tracing::debug!(code, reason, "closing a WebSocket");
                    let _ = sink.send(close(code, reason)).await;
                    return;
                }
            }
        }
    }

    /// Completes when the connection is to be closed, with the close code
    /// and reason: no `connection_init` in time, or no operation running
    /// for the idle timeout.
    async fn watch(&self) -> (u16, String) {
        let edge = self.state.app.config.edge;
        let mut activity = self.activity.subscribe();
        // Whether `activity` came to satisfy `f` (false: the connection is
        // gone, and so is the need to watch it).
        async fn until(
            activity: &mut watch::Receiver<Activity>,
            f: impl FnMut(&Activity) -> bool,
        ) -> bool {
            activity.wait_for(f).await.is_ok()
        }
        let init_within = Duration::from_secs(edge.ws_init_timeout_secs);
        match tokio::time::timeout(init_within, until(&mut activity, |a| a.initialised)).await {
            Err(_) => return (4408, "Connection initialisation timeout".into()),
            Ok(false) => std::future::pending::<()>().await,
            Ok(true) => {}
        }
        if edge.ws_idle_timeout_secs == 0 {
            std::future::pending::<()>().await;
        }
        let idle = Duration::from_secs(edge.ws_idle_timeout_secs);
        loop {
            if !until(&mut activity, |a| a.running == 0).await {
                std::future::pending::<()>().await;
            }
            match tokio::time::timeout(idle, until(&mut activity, |a| a.running > 0)).await {
                Err(_) => {
                    return (1000, format!("idle: no operation for {} s", idle.as_secs()));
                }
                Ok(false) => std::future::pending::<()>().await,
                Ok(true) => {}
            }
        }
    }

    /// `connection_init`: resolves the credentials, or refuses the connection.
    async fn init(&self, payload: Value) -> async_graphql::Result<Data> {
        let refuse = |e: CredentialError| {
            let code = match e {
                CredentialError::Internal => ErrorCode::Internal,
                CredentialError::Unavailable => ErrorCode::ServiceUnavailable,
                _ => ErrorCode::Unauthenticated,
            };
            async_graphql::Error::new(format!("{}: {}", code.as_str(), e.message()))
        };
        let value = authorization(&payload).map_err(refuse)?;
        let (principal, token) = credentials::resolve(&self.state.app, value)
            .await
            .map_err(refuse)?;
        if let Some(key) = principal_key(&principal) {
            let Some(slot) = self.state.ws_clients.admit(key) else {
                return Err(async_graphql::Error::new(format!(
                    "{}: too many open WebSocket connections for this account",
                    ErrorCode::RateLimited.as_str()
                )));
            };
            let _ = self.principal.set(slot);
        }
        let _ = self
            .credential
            .set(Arc::new(Credential::new(token, principal)));
        self.activity.send_modify(|a| a.initialised = true);
        Ok(Data::default())
    }

    /// Starts one operation: the stream of its responses.
    async fn start(
        self: Arc<Self>,
        mut request: Request,
        session: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let fail = |code: ErrorCode, message: &str| {
            stream::once(std::future::ready(Response::from_errors(vec![
                code.server_error(message),
            ])))
            .boxed()
        };
        let app = &self.state.app;
        let credential = self
            .credential
            .get_or_init(|| Arc::new(Credential::anonymous()))
            .clone();
        self.activity
            .send_if_modified(|a| !std::mem::replace(&mut a.initialised, true));
        let principal = match credential.current(&app.db, &app.jwt, app.clock.now()).await {
            Ok(Ok(p)) => p,
            Ok(Err(refused)) => return fail(ErrorCode::Unauthenticated, refused.message()),
            Err(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "cannot check credentials");
                return fail(
                    ErrorCode::ServiceUnavailable,
                    CredentialError::Unavailable.message(),
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot check credentials");
                return fail(ErrorCode::Internal, CredentialError::Internal.message());
            }
        };
        let Some(slot) = Slot::take(&self) else {
            return fail(
                ErrorCode::BadRequest,
                &format!(
                    "a connection runs at most {MAX_SUBSCRIPTIONS} operations at a time; complete one first"
                ),
            );
        };
        if let Err(e) = checked(&mut request, app.config.limits.max_aliases) {
            let (_, decision) = cost::charge_failed(app, &principal, self.ip).await;
            let e = match decision.filter(|d| !d.allowed) {
                Some(d) => auth::rate_limited_request(d.retry_after),
                None => *e,
            };
            return stream::once(std::future::ready(Response::from_errors(vec![e]))).boxed();
        }
        if app.config.mode == Mode::Production && !principal.is_operator() {
            request = request.disable_introspection();
        }
        let ctx = Arc::new(RequestCtx::live(app, principal, self.ip));
        // Validate and charge on the costing schema; run only what it admitted.
        let admitted = self
            .state
            .costing
            .execute(probe(&mut request).data(ctx.clone()))
            .await;
        if !admitted.errors.is_empty() {
            return stream::once(std::future::ready(classified(admitted))).boxed();
        }
        let tasks = ctx.tasks.clone();
        let responses = self.state.schema.execute_stream_with_session_data(
            request.data(ctx).data(credential),
            session.unwrap_or_default(),
        );
        // Each response is resolved with the operation's loaders driven.
        stream::unfold(
            (responses, tasks, slot),
            |(mut responses, tasks, slot): (_, _, Slot)| async move {
                let next = tasks.run(responses.next()).await?;
                Some((classified(next), (responses, tasks, slot)))
            },
        )
        .boxed()
    }
}

/// Parses the document and applies the alias limit.
fn checked(
    request: &mut Request,
    max_aliases: usize,
) -> Result<(), Box<async_graphql::ServerError>> {
    match request.parsed_query() {
        Ok(doc) => limits::check_aliases(doc, max_aliases).map_err(Box::new),
        Err(mut e) => {
            set_code(&mut e, ErrorCode::GraphqlParseFailed);
            Err(Box::new(e))
        }
    }
}

/// A response whose errors all carry a code.
fn classified(mut r: Response) -> Response {
    for e in &mut r.errors {
        limits::classify(e);
    }
    r
}

/// One of a connection's [`MAX_SUBSCRIPTIONS`] places, given back on drop.
struct Slot(Arc<Connection>);

impl Slot {
    fn take(conn: &Arc<Connection>) -> Option<Self> {
        conn.activity
            .send_if_modified(|a| {
                let free = a.running < MAX_SUBSCRIPTIONS;
                if free {
                    a.running += 1;
                }
                free
            })
            .then(|| Self(conn.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0
            .activity
            .send_modify(|a| a.running = a.running.saturating_sub(1));
    }
}

/// Runs a connection's operations.
#[derive(Clone)]
struct Live(Arc<Connection>);

impl Executor for Live {
    async fn execute(&self, request: Request) -> Response {
        self.execute_stream(request, None)
            .next()
            .await
            .unwrap_or_default()
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        stream::once(self.0.clone().start(request, session_data))
            .flatten()
            .boxed()
    }
}

/// A close frame.
fn close(code: u16, reason: impl Into<String>) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into().into(),
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_authorization_entry_is_found_in_any_case() {
        assert_eq!(
            authorization(&json!({ "Authorization": "Bearer a" })),
            Ok(Some("Bearer a"))
        );
        assert_eq!(
            authorization(&json!({ "authorization": "Bearer b" })),
            Ok(Some("Bearer b"))
        );
        assert_eq!(
            authorization(&json!({ "AUTHORIZATION": "Bearer c" })),
            Ok(Some("Bearer c"))
        );
        assert_eq!(authorization(&json!(null)), Ok(None));
        assert_eq!(authorization(&json!({})), Ok(None));
        assert_eq!(
            authorization(&json!({ "Authorization": 42 })),
            Err(CredentialError::Malformed)
        );
    }
}
