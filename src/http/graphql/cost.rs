//! The cost of an operation as the caller sees it: `extensions.cost` in
//! the response, the rate subject and budget it is charged to, and the
//! RATE_LIMITED answer to an operation over budget.

use serde_json::json;

use super::caller::Caller;
use crate::{
    graphql::{auth, cost::report},
    http::HttpState,
    infra::ratelimit::{Budget, Decision},
};

/// Adds `extensions.cost` to a rendered response object.
pub(super) fn with_cost(mut body: Vec<u8>, cost: u32, decision: Option<&Decision>) -> Vec<u8> {
    if cost == 0 || body.last() != Some(&b'}') || body.len() < 2 {
        return body;
    }
    let extensions = json!({ "cost": report(cost, decision) });
    body.pop();
    body.extend_from_slice(br#","extensions":"#);
    body.extend_from_slice(extensions.to_string().as_bytes());
    body.push(b'}');
    body
}

/// The rate subject the caller is charged to, with its budget; none for a
/// caller without one.
pub(super) fn auth_subject(state: &HttpState, caller: &Caller) -> Option<(String, Budget)> {
    auth::rate_subject(&caller.principal, caller.ip, &state.app.config.rate)
}

/// The answer to an operation the rate limiter refused.
pub(super) fn rate_limited(decision: &Decision) -> async_graphql::Response {
    async_graphql::Response::from_errors(vec![auth::rate_limited_request(decision.retry_after)])
}
