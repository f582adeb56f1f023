//! Rate limiting in query-cost points: an operation costs its computed
//! complexity (at least 1), known once validation has run, and is charged
//! to the caller's bucket before it executes. A refused operation does not
//! run and answers RATE_LIMITED with a retry hint.
//!
//! async-graphql computes the complexity only inside its validation step,
//! where an extension can read it; but a schema with any extension resolves
//! every field through extra boxed futures (about a fifth of the time of a
//! 50-product page). So the extension lives on a second instance of the
//! schema that only validates and charges: its `execute` hook never runs
//! the operation. The HTTP layer passes each operation through it, then
//! executes it on the extension-free schema.

use std::sync::Arc;

use async_graphql::{
    Response, ServerError, ValidationResult,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation},
};
use serde_json::{Value, json};

use super::{RequestCtx, auth};
use crate::{app::AppState, infra::ratelimit::Decision};

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
        let result = next.run(ctx).await?;
        let (Some(req), Some(state)) = (
            ctx.data_opt::<Arc<RequestCtx>>(),
            ctx.data_opt::<AppState>(),
        ) else {
            return Ok(result);
        };
        let cost = u32::try_from(result.complexity.max(1)).unwrap_or(u32::MAX);
        let decision = req.charge(state, cost).await;
        if decision.is_some_and(|d| !d.allowed) {
            let retry = decision.and_then(|d| d.retry_after);
            return Err(vec![auth::rate_limited_request(retry)]);
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
