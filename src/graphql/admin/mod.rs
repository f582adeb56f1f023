//! Operations for staff and partner apps: catalog and merchandising
//! administration, inventory sync, the audit trail and outbound webhooks.

pub mod audit;
pub mod catalog;
pub mod import;
pub mod inventory;
pub mod merchandising;
pub mod promotions;
pub mod webhooks;

use async_graphql::Context;

use super::{ContextExt, error::ApiResult};
use crate::domain::{audit::Actor, identity::access::Principal};

/// The audit actor behind the request: the staff user or partner token.
pub async fn actor(ctx: &Context<'_>) -> ApiResult<Actor> {
    let db = &ctx.state()?.db;
    Ok(match ctx.principal()? {
        Principal::Staff { id, .. } => Actor {
            kind: "staff",
            id: Some(*id),
            label: crate::domain::identity::staff::get(db, *id)
                .await?
                .map_or_else(|| format!("staff {id}"), |u| u.email),
        },
        Principal::Partner { token_id, .. } => Actor {
            kind: "partner",
            id: Some(*token_id),
            label: crate::domain::identity::api_token::get(db, *token_id)
                .await?
                .map_or_else(
                    || format!("token {token_id}"),
                    |t| format!("{} ({})", t.name, t.prefix),
                ),
        },
        Principal::Customer { id, .. } => Actor {
            kind: "customer",
            id: Some(*id),
            label: format!("customer {id}"),
        },
        Principal::Anonymous => Actor {
            kind: "anonymous",
            id: None,
            label: "anonymous".into(),
        },
    })
}

/// The idempotency scope of the request's principal.
pub fn idempotency_scope(principal: &Principal) -> String {
    match principal {
        Principal::Staff { id, .. } => format!("staff:{id}"),
        Principal::Partner { token_id, .. } => format!("token:{token_id}"),
        Principal::Customer { id, .. } => format!("customer:{id}"),
        Principal::Anonymous => "anonymous".into(),
    }
}
