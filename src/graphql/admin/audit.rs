//! The audit trail: entries filtered by object and actor, and a check of
//! the hash chain. Needs `audit:read` (staff only).

use async_graphql::{
    Context, ID, Object, SimpleObject,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::audit_entry;

use crate::graphql::id;
use crate::{
    domain::{audit, identity::permission::Permission},
    graphql::{
        ContextExt,
        auth::Need,
        error::ApiResult,
        pagination::{OffsetCursor, PageArgs},
    },
};

/// One audited change.
#[derive(SimpleObject)]
pub struct AuditEntry {
    /// Position in the chain (1, 2, ...).
    pub sequence: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// `staff`, `partner`, `cli` or `system`.
    pub actor_kind: String,
    /// The staff user or token id.
    pub actor_id: Option<i64>,
    /// Who, for people.
    pub actor: String,
    /// What was done, e.g. `inventory.set`.
    pub action: String,
    /// Kind of object, e.g. `stock_level`.
    pub entity_type: String,
    /// Which object.
    pub entity_id: String,
    /// The object before, as JSON.
    pub before: Option<String>,
    /// The object after, as JSON.
    pub after: Option<String>,
    /// SHA-256 over this entry and the previous entry's hash.
    pub hash: String,
}

impl From<audit_entry::Model> for AuditEntry {
    fn from(e: audit_entry::Model) -> Self {
        Self {
            sequence: e.id,
            at: e.at,
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            actor: e.actor_label,
            action: e.action,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            before: e.before,
            after: e.after,
            hash: e.hash,
        }
    }
}

/// The result of checking the chain.
#[derive(SimpleObject)]
pub struct AuditVerification {
    /// Whether every entry matches its hash and its predecessor.
    pub ok: bool,
    /// Entries checked.
    pub checked: u64,
    /// The first entry whose content, link or position is wrong.
    pub first_broken_sequence: Option<i64>,
}

/// Audit queries.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Audit entries, newest first, filtered by object and actor.
    #[graphql(
        guard = "Need(Permission::AuditRead)",
        complexity = "crate::graphql::catalog::page_cost(first, None, child_complexity)"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn audit_entries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        entity_type: Option<String>,
        entity_id: Option<String>,
        actor_kind: Option<String>,
        #[graphql(desc = "A StaffUser or ApiToken ID, or a raw id with actorKind.")]
        actor_id: Option<ID>,
    ) -> ApiResult<Connection<OffsetCursor, AuditEntry, EmptyFields>> {
        let window = PageArgs::forward(first, after).window(None)?;
        let actor_id = match actor_id {
            Some(raw) => Some(match id::decode(&raw) {
                Ok((_, row)) => row,
                Err(e) => raw.as_str().parse::<i64>().map_err(|_| e)?,
            }),
            None => None,
        };
        let filter = audit::Filter {
            entity_type,
            entity_id,
            actor_kind,
            actor_id,
        };
        let (rows, total) =
            audit::list(&ctx.state()?.db, &filter, window.offset, window.wanted).await?;
        Ok(window.connection(rows, total, EmptyFields, AuditEntry::from))
    }

    /// Recomputes the audit chain and names the first entry that does not match.
    #[graphql(guard = "Need(Permission::AuditRead)")]
    async fn audit_verify(&self, ctx: &Context<'_>) -> ApiResult<AuditVerification> {
        let v = audit::verify(&ctx.state()?.db).await?;
        Ok(AuditVerification {
            ok: v.first_broken.is_none(),
            checked: v.checked,
            first_broken_sequence: v.first_broken,
        })
    }
}
