//! The audit trail: every admin, inventory and price change appends an entry
//! (who, what, which object, before and after) in the same transaction as the
//! change.
//!
//! The trail is a hash chain: each entry stores SHA-256 over its content and
//! the previous entry's hash, so editing, deleting or reordering any entry
//! breaks every later link, and [`verify`] names the first entry where the
//! chain breaks. Appends are serialized by the one-row `audit_head`: an
//! audited write locks it first ([`lock`]), so two writers never chain onto
//! the same predecessor, on SQLite or PostgreSQL.

use chrono::{DateTime, SubsecRound, Utc};
use entity::{audit_entry, audit_head};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use sha2::{Digest, Sha256};

use super::error::{DomainError, DomainResult};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `staff`, `partner`, `cli` or `system`.
    pub kind: &'static str,
    /// The staff user or token id.
    pub id: Option<i64>,
    /// Who, for people.
    pub label: String,
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct Change {
    /// What was done, e.g. `inventory.set`.
    pub action: &'static str,
    /// Kind of object, e.g. `stock_level`.
    pub entity_type: &'static str,
    /// Which object.
    pub entity_id: String,
    /// The object before (JSON), if it existed.
    pub before: Option<serde_json::Value>,
    /// The object after (JSON), if it still exists.
    pub after: Option<serde_json::Value>,
}

/// The chain's head, locked for this transaction.
#[derive(Debug)]
pub struct Head {
    seq: i64,
    hash: String,
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Locks the chain head; run it first in an audited transaction.
pub async fn lock(tx: &DatabaseTransaction) -> DomainResult<Head> {
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Seq, Expr::col(audit_head::Column::Seq))
        .filter(audit_head::Column::Id.eq(1))
        .exec(tx)
        .await?;
    let head = audit_head::Entity::find_by_id(1)
        .one(tx)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("the audit head row is missing".into()))?;
    Ok(Head {
        seq: head.seq,
        hash: head.hash,
    })
}

fn entry_hash(prev: &str, e: &audit_entry::Model) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &e.id.to_string(),
        &e.at.timestamp_micros().to_string(),
        e.actor_kind.as_str(),
        &e.actor_id.map(|i| i.to_string()).unwrap_or_default(),
        e.actor_label.as_str(),
        e.action.as_str(),
        e.entity_type.as_str(),
        e.entity_id.as_str(),
        e.before.as_deref().unwrap_or("\u{0}"),
        e.after.as_deref().unwrap_or("\u{0}"),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `changes` by `actor` after `head`, in the transaction that locked it.
pub async fn append(
    tx: &DatabaseTransaction,
    head: &mut Head,
    actor: &Actor,
    changes: Vec<Change>,
) -> DomainResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    // Catalog changes also tell caches, through the outbox, in this transaction.
    if let Some(e) = super::events::catalog_changed(
        changes
            .iter()
            .map(|c| (c.entity_type, c.entity_id.as_str())),
    ) {
        super::events::record(tx, vec![e]).await?;
    }
    // Microseconds: what PostgreSQL keeps, so hashes verify on both backends.
    let at: DateTime<Utc> = Utc::now().trunc_subsecs(6);
    let mut rows = Vec::with_capacity(changes.len());
    for c in changes {
        head.seq += 1;
        let mut e = audit_entry::Model {
            id: head.seq,
            at,
            actor_kind: actor.kind.to_owned(),
            actor_id: actor.id,
            actor_label: actor.label.clone(),
            action: c.action.to_owned(),
            entity_type: c.entity_type.to_owned(),
            entity_id: c.entity_id,
            before: c.before.map(|v| v.to_string()),
            after: c.after.map(|v| v.to_string()),
            prev_hash: head.hash.clone(),
            hash: String::new(),
        };
        e.hash = entry_hash(&head.hash, &e);
        head.hash = e.hash.clone();
        rows.push(e);
    }
    for chunk in rows.chunks(500) {
        audit_entry::Entity::insert_many(chunk.iter().cloned().map(|e| audit_entry::ActiveModel {
            id: Set(e.id),
            at: Set(e.at),
            actor_kind: Set(e.actor_kind),
            actor_id: Set(e.actor_id),
            actor_label: Set(e.actor_label),
            action: Set(e.action),
            entity_type: Set(e.entity_type),
            entity_id: Set(e.entity_id),
            before: Set(e.before),
            after: Set(e.after),
            prev_hash: Set(e.prev_hash),
            hash: Set(e.hash),
        }))
        .exec_without_returning(tx)
        .await?;
    }
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Seq, Expr::value(head.seq))
        .col_expr(audit_head::Column::Hash, Expr::value(head.hash.clone()))
        .filter(audit_head::Column::Id.eq(1))
        .exec(tx)
        .await?;
    Ok(())
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Entries checked.
    pub checked: u64,
    /// The first entry whose content, link or position does not match, if any.
    pub first_broken: Option<i64>,
}

/// Recomputes the whole chain, oldest first.
pub async fn verify(db: &impl ConnectionTrait) -> DomainResult<Verification> {
    let mut prev = GENESIS.to_owned();
    let mut expected_id = 1;
    let mut checked = 0;
    loop {
        let page = audit_entry::Entity::find()
            .filter(audit_entry::Column::Id.gte(expected_id))
            .order_by_asc(audit_entry::Column::Id)
            .limit(1000)
            .all(db)
            .await?;
        if page.is_empty() {
            break;
        }
        for e in page {
            checked += 1;
            if e.id != expected_id || e.prev_hash != prev || entry_hash(&prev, &e) != e.hash {
                return Ok(Verification {
                    checked,
                    first_broken: Some(e.id.min(expected_id)),
                });
            }
            prev = e.hash;
            expected_id += 1;
        }
    }
    // Entries cut off the end show as a head ahead of the last entry.
    let head = audit_head::Entity::find_by_id(1).one(db).await?;
    let first_broken = head
        .filter(|h| h.seq != expected_id - 1 || h.hash != prev)
        .map(|_| expected_id);
    Ok(Verification {
        checked,
        first_broken,
    })
}

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only entries about this kind of object.
    pub entity_type: Option<String>,
    /// Only entries about this object.
    pub entity_id: Option<String>,
    /// Only entries by this kind of actor.
    pub actor_kind: Option<String>,
    /// Only entries by this actor.
    pub actor_id: Option<i64>,
}

/// Entries matching `f`, newest first, and how many match.
pub async fn list(
    db: &impl ConnectionTrait,
    f: &Filter,
    offset: u64,
    limit: u64,
) -> DomainResult<(Vec<audit_entry::Model>, u64)> {
    let mut q = audit_entry::Entity::find();
    if let Some(v) = &f.entity_type {
        q = q.filter(audit_entry::Column::EntityType.eq(v.as_str()));
    }
    if let Some(v) = &f.entity_id {
        q = q.filter(audit_entry::Column::EntityId.eq(v.as_str()));
    }
    if let Some(v) = &f.actor_kind {
        q = q.filter(audit_entry::Column::ActorKind.eq(v.as_str()));
    }
    if let Some(v) = f.actor_id {
        q = q.filter(audit_entry::Column::ActorId.eq(v));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(audit_entry::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}
