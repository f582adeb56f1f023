//! The event bus and the outbox relay.
//!
//! The bus is in-process (a bounded broadcast channel: a subscriber that
//! falls behind skips ahead rather than growing memory). The relay claims
//! unpublished outbox rows in id order, publishes them and marks them
//! published in one transaction; on PostgreSQL the claim is `FOR UPDATE SKIP
//! LOCKED`, so several nodes relay without double work. A crash between
//! publish and commit publishes again: delivery is at least once.

use std::{sync::Arc, time::Duration};

use chrono::{SubsecRound, Utc};
use entity::outbox_event;
use sea_orm::{
    ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
    sea_query::{Expr, LockBehavior, LockType},
};
use tokio::sync::broadcast;

use crate::domain::{
    error::DomainResult,
    events::{self, Envelope},
};

/// Events buffered per subscriber before it skips ahead.
pub const CAPACITY: usize = 4096;
/// Outbox rows per relay transaction.
const CLAIM: u64 = 500;
/// How long relayed events stay in the outbox.
const KEEP: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Publishes events to whoever listens in this process.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Envelope>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl EventBus {
    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.tx.subscribe()
    }

    /// Publishes one event (dropped if nobody listens).
    pub fn publish(&self, e: Envelope) {
        let _ = self.tx.send(Arc::new(e));
    }
}

/// Relays one batch; how many events it published.
pub async fn relay_once(db: &DatabaseConnection, bus: &EventBus) -> DomainResult<usize> {
    let tx = db.begin().await?;
    let mut q = outbox_event::Entity::find()
        .filter(outbox_event::Column::PublishedAt.is_null())
        .order_by_asc(outbox_event::Column::Id)
        .limit(CLAIM);
    if db.get_database_backend() == DatabaseBackend::Postgres {
        q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = q.all(&tx).await?;
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    for row in &rows {
        match events::envelope(row) {
            Some(e) => bus.publish(e),
            None => tracing::error!(id = row.id, "outbox event does not parse; skipped"),
        }
    }
    outbox_event::Entity::update_many()
        .col_expr(
            outbox_event::Column::PublishedAt,
            Expr::value(Utc::now().trunc_subsecs(6)),
        )
        .filter(outbox_event::Column::Id.is_in(ids))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// Deletes events relayed more than a day ago.
pub async fn prune(db: &DatabaseConnection) -> DomainResult<u64> {
    let cutoff = Utc::now() - KEEP;
    Ok(outbox_event::Entity::delete_many()
        .filter(outbox_event::Column::PublishedAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}

/// Relays until the task is dropped: at once while there is a backlog,
/// otherwise every `idle`.
pub async fn run_relay(db: DatabaseConnection, bus: EventBus, idle: Duration) {
    let mut since_prune = Duration::ZERO;
    loop {
        match relay_once(&db, &bus).await {
            Ok(n) if n as u64 == CLAIM => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "outbox relay failed; retrying"),
        }
        tokio::time::sleep(idle).await;
        since_prune += idle;
        if since_prune >= Duration::from_secs(600) {
            since_prune = Duration::ZERO;
            if let Err(e) = prune(&db).await {
                tracing::error!(error = %e, "outbox prune failed");
            }
        }
    }
}
