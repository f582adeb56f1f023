//! Rate limiting in query-cost points: an operation costs its computed
//! complexity (at least 1), known once validation has run, and is charged
//! to the caller's bucket before it executes. A refused operation does not
//! run and answers RATE_LIMITED with a retry hint.
//!
//! An operation that fails to parse or validate has no complexity, but the
//! server worked on it all the same: it is charged a fixed cost
//! (`EMPORIUM_FAILED_OPERATION_COST`), so a client cannot send broken
//! documents for free. Over budget, it answers RATE_LIMITED instead of its
//! own errors.
//!
//! async-graphql computes the complexity only inside its validation step,
//! where an extension can read it; but a schema with any extension resolves
//! every field through extra boxed futures (about a fifth of the time of a
//! 50-product page). So the extension lives on a second instance of the
//! schema that only validates and charges: its `execute` hook never runs
//! the operation. The HTTP layer passes each operation through it, then
//! executes it on the extension-free schema.

use std::{net::IpAddr, sync::Arc};

use async_graphql::{
    Response, ServerError, ValidationResult,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation},
};
use serde_json::{Value, json};

use super::{RequestCtx, auth};
use crate::{domain::identity::access::Principal, infra::ratelimit::Decision, state::AppState};

/// The extension factory registered on the schema.
pub struct CostLimit;

impl ExtensionFactory for CostLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CostLimitExtension)
    }
}

struct CostLimitExtension;

#[async_trait::async_trait]
impl Extension for CostLimitExtension {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let validated = next.run(ctx).await;
        let (Some(req), Some(state)) = (
            ctx.data_opt::<Arc<RequestCtx>>(),
            ctx.data_opt::<AppState>(),
        ) else {
            return validated;
        };
        let result = match validated {
            Ok(result) => result,
            Err(errors) if state.config.rate.failed_operation_cost == 0 => return Err(errors),
            Err(errors) => {
                let decision = req
                    .charge(state, state.config.rate.failed_operation_cost)
                    .await;
                return Err(match refused(decision) {
                    Some(e) => vec![e],
                    None => errors,
                });
            }
        };
        let cost = u32::try_from(result.complexity.max(1)).unwrap_or(u32::MAX);
        let decision = req.charge(state, cost).await;
        if let Some(e) = refused(decision) {
            return Err(vec![e]);
        }
        Ok(result)
    }

    async fn execute(
        &self,
        _ctx: &ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: NextExecute<'_>,
    ) -> Response {
        // Validated and charged: the executing schema runs it.
        Response::default()
    }
}

/// The RATE_LIMITED request error, if `decision` refused the operation.
fn refused(decision: Option<Decision>) -> Option<ServerError> {
    decision
        .filter(|d| !d.allowed)
        .map(|d| auth::rate_limited_request(d.retry_after))
}

/// Charges an operation that did not even parse (or broke the alias limit)
/// the fixed cost of a failed operation, to `principal`'s bucket (by
/// `ip` for anonymous callers). Its cost and the decision, for
/// `extensions.cost`; `None` when the caller has no budget.
pub async fn charge_failed(
    state: &AppState,
    principal: &Principal,
    ip: Option<IpAddr>,
) -> (u32, Option<Decision>) {
    let cost = state.config.rate.failed_operation_cost;
    let subject = auth::rate_subject(principal, ip, &state.config.rate).filter(|_| cost > 0);
    let Some((key, budget)) = subject else {
        return (cost, None);
    };
    (cost, Some(state.limiter.charge(&key, budget, cost).await))
}

/// `extensions.cost` of a response: the operation's cost and, when the
/// caller has a budget, what is left of it.
pub fn report(cost: u32, decision: Option<&Decision>) -> Value {
    match decision {
        Some(d) => json!({
            "requestedQueryCost": cost,
            "throttleStatus": {
                "maximumAvailable": d.budget.capacity,
                "currentlyAvailable": d.remaining.floor().max(0.0) as u64,
                "restoreRate": d.budget.restore_per_second,
            }
        }),
        None => json!({ "requestedQueryCost": cost }),
    }
}
