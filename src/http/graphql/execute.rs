//! Running operations: one at a time with its own context and loaders,
//! validated and charged on the costing schema before it executes. A
//! single operation may be answered from the response cache and stored in
//! it; a batch runs each of its operations (and charges it) on its own.
//! Both answer once what their mutations recorded has been relayed.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use async_graphql::Request as GqlRequest;
use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use futures_util::future::join_all;

use super::{
    cache::answer_from_cache,
    caller::Caller,
    cost::{rate_limited, with_cost},
    negotiation::{MediaType, channel_of},
    parsing::{Prepared, prepare, probe},
    render::{is_unavailable, render, respond, status_for, throttled, unavailable},
};
use crate::{
    config::Mode,
    domain::{catalog, events, identity::access::Principal},
    graphql::{RequestCtx, cost::charge_failed, error::ErrorCode},
    http::HttpState,
    infra::{cache::Tags, metrics, ratelimit::Decision, rows::Generation},
};

/// How long a mutation waits for the outbox relay before answering anyway.
const FLUSH_LIMIT: Duration = Duration::from_secs(2);

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
    tags: Tags,
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

/// One operation answered: its rendered response and what the HTTP answer
/// around it needs to know.
struct Answer {
    /// The rendered response, without `extensions.cost`.
    body: Vec<u8>,
    /// Whether it is a request error (the operation never executed).
    request_failed: bool,
    /// What it cost.
    cost: u32,
    /// The rate decision taken for it, if the caller has a budget.
    decision: Option<Decision>,
    /// Whether it recorded events, which go out before the caller is answered.
    recorded: bool,
    /// Whether the database could not be reached.
    storage_away: bool,
    /// What the response shows, when nothing in it forbids caching it.
    storable: Option<Tags>,
}

impl Answer {
    /// The body as the caller gets it, with `extensions.cost` (taken out
    /// of the answer).
    fn billed(&mut self) -> Vec<u8> {
        let body = std::mem::take(&mut self.body);
        with_cost(body, self.cost, self.decision.as_ref())
    }

    /// `res` with the status the outcome asks for: 429 over budget, 503
    /// when the database could not be reached.
    fn finish(&self, res: Response) -> Response {
        match self.decision {
            Some(d) if !d.allowed => throttled(res, d.retry_after),
            _ if self.storage_away => unavailable(res),
            _ => res,
        }
    }
}

/// Runs one operation and renders its response, noting whether it
/// recorded events.
async fn execute(
    state: &HttpState,
    caller: &Caller,
    channel: Option<String>,
    p: Prepared,
    rows: Option<Arc<Generation>>,
) -> Answer {
    let recorded = Arc::new(AtomicBool::new(false));
    let ran = events::noting(recorded.clone(), run(state, caller, channel, p, rows)).await;
    let storable = (ran.response.errors.is_empty() && ran.cacheable).then_some(ran.tags);
    let storage_away = is_unavailable(&ran.response);
    let (request_failed, body) = render(ran.response);
    Answer {
        body,
        request_failed,
        cost: ran.cost,
        decision: ran.decision,
        recorded: recorded.load(Ordering::Acquire),
        storage_away,
        storable,
    }
}

/// Answers an operation that did not parse (or broke the alias limit),
/// charged the fixed cost of a failed operation; over budget, RATE_LIMITED.
async fn failed(state: &HttpState, caller: &Caller, failed: async_graphql::Response) -> Answer {
    let (cost, decision) = charge_failed(&state.app, &caller.principal, caller.ip).await;
    let response = match decision.filter(|d| !d.allowed) {
        Some(d) => rate_limited(&d),
        None => failed,
    };
    let (request_failed, body) = render(response);
    Answer {
        body,
        request_failed,
        cost,
        decision,
        recorded: false,
        storage_away: false,
        storable: None,
    }
}

/// Answers a request of one operation (a GET, a JSON body holding one, an
/// upload), prepared or failed: an anonymous query from the response cache
/// under `key` when it is there, else run (and stored there when it may be).
pub(super) async fn answer_one(
    state: &HttpState,
    headers: &HeaderMap,
    caller: &Caller,
    media: MediaType,
    prepared: Result<Prepared, Box<async_graphql::Response>>,
    key: Option<String>,
) -> Response {
    let p = match prepared {
        Ok(p) => p,
        Err(e) => {
            let mut answer = failed(state, caller, *e).await;
            let status = status_for(answer.request_failed, media);
            let res = respond(status, media, Bytes::from(answer.billed()), None);
            return answer.finish(res);
        }
    };
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
        Some(rows) => match catalog::version(&state.app.db).await {
            Ok(v) => Some(rows.generation(v)),
            Err(e) => {
                tracing::warn!(error = %e, "row cache: cannot read the catalog version");
                None
            }
        },
        None => None,
    };
    let mut answer = execute(state, caller, channel, p, rows).await;
    // What a mutation recorded goes out before it answers, so the caller's
    // next read is fresh on every node.
    if answer.recorded {
        state.app.relay.flush(FLUSH_LIMIT).await;
    }
    let mut cache_state = None;
    if let (Some(cache), Some((key, ticket))) = (cache, lookup) {
        if let Some(mut tags) = answer.storable.take() {
            // A response tied to no product is dropped by any product change.
            if tags.products.is_empty() {
                tags.lists = true;
            }
            cache
                .insert(
                    &key,
                    ticket,
                    operation.as_deref(),
                    Bytes::from(answer.body.clone()),
                    (answer.cost, tags),
                )
                .await;
        }
        cache_state = Some("miss");
    }
    let status = status_for(answer.request_failed, media);
    let res = respond(status, media, Bytes::from(answer.billed()), cache_state);
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
    answer.finish(res)
}

/// Answers a batch: each operation answered (and charged) on its own,
/// failed or not, what they recorded relayed once, their responses in one
/// JSON array.
pub(super) async fn answer_batch(
    state: &HttpState,
    caller: &Caller,
    media: MediaType,
    channel: Option<String>,
    requests: Vec<GqlRequest>,
) -> Response {
    let max_aliases = state.app.config.limits.max_aliases;
    let runs = requests.into_iter().map(|r| {
        let channel = channel.clone();
        async move {
            match prepare(r, max_aliases) {
                Ok(p) => {
                    let started = Instant::now();
                    let operation = p.request.operation_name.clone();
                    let answer = execute(state, caller, channel, p, None).await;
                    metrics::request(operation.as_deref(), started.elapsed(), "none");
                    answer
                }
                Err(e) => failed(state, caller, *e).await,
            }
        }
    });
    let mut answers: Vec<Answer> = join_all(runs).await;
    if answers.iter().any(|a| a.recorded) {
        state.app.relay.flush(FLUSH_LIMIT).await;
    }
    let parts: Vec<Vec<u8>> = answers.iter_mut().map(Answer::billed).collect();
    let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum::<usize>() + parts.len() + 2);
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
