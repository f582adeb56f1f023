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
//!   cost to the caller's rate budget once, when it starts.
//! - A connection holds at most [`MAX_SUBSCRIPTIONS`] operations at a time;
//!   one more is refused with BAD_REQUEST. One that sends no
//!   `connection_init` within [`INIT_WITHIN`] is closed.
//! - Credentials never come from cookies, so a page of another origin
//!   cannot open a connection with a visitor's rights.
//! - Each operation has its own context and loaders, which keep nothing
//!   between events, so every event is resolved from fresh rows.

use std::{
    net::IpAddr,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_graphql::{Data, Executor, Request, Response, http::ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{State, WebSocketUpgrade},
    http::HeaderMap,
    response::Response as HttpResponse,
};
use futures_util::stream::{self, BoxStream, StreamExt};
use serde_json::Value;

use super::{
    HttpState,
    credentials::{self, CredentialError},
    graphql::{Peer, client_ip, probe},
};
use crate::{
    config::Mode,
    domain::identity::access::Credential,
    graphql::{
        RequestCtx,
        error::{ErrorCode, set_code},
        limits,
    },
};

/// Most operations one connection may have running at a time.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// Bytes read from a connection's socket at a time.
const READ_BUFFER: usize = 4096;
/// A connection that has not sent `connection_init` this long after it
/// opened is closed. (Once initialised, an idle connection stays open: the
/// `graphql-ws` client sends no keep-alive pings by default.)
const INIT_WITHIN: Duration = Duration::from_secs(10);

/// `GET /graphql/ws`: upgrades to a GraphQL WebSocket.
pub async fn handler(
    State(state): State<HttpState>,
    peer: Peer,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    let ip = client_ip(&state, &headers, &peer);
    let max_message = state.app.config.limits.max_body_bytes;
    let conn = Arc::new(Connection {
        state,
        ip,
        credential: OnceLock::new(),
        running: Arc::new(AtomicUsize::new(0)),
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
            let (init, waiting) = (conn.clone(), conn.clone());
            let serve = GraphQLWebSocket::new(socket, Live(conn), protocol)
                .on_connection_init(move |payload| async move { init.init(payload).await })
                .serve();
            let too_late = async move {
                tokio::time::sleep(INIT_WITHIN).await;
                if waiting.credential.get().is_some() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = serve => {}
                () = too_late => tracing::debug!("no connection_init in time; connection closed"),
            }
        })
}

/// One WebSocket connection.
struct Connection {
    state: HttpState,
    ip: Option<IpAddr>,
    credential: OnceLock<Arc<Credential>>,
    running: Arc<AtomicUsize>,
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
        let _ = self
            .credential
            .set(Arc::new(Credential::new(token, principal)));
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
        let principal = match credential.current(&app.db, &app.jwt).await {
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
        let Some(slot) = Slot::take(&self.running) else {
            return fail(
                ErrorCode::BadRequest,
                &format!(
                    "a connection runs at most {MAX_SUBSCRIPTIONS} operations at a time; complete one first"
                ),
            );
        };
        if let Err(e) = checked(&mut request, app.config.limits.max_aliases) {
            return stream::once(std::future::ready(Response::from_errors(vec![*e]))).boxed();
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
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(running: &Arc<AtomicUsize>) -> Option<Self> {
        running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_SUBSCRIPTIONS).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(running.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
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
