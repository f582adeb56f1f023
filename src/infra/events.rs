//! The event bus and the outbox relay.
//!
//! Subscribers in a process read a bounded broadcast channel: one that falls
//! behind skips ahead rather than growing memory. Without Redis the relay
//! publishes straight into it. With Redis (`EMPORIUM_REDIS_URL`) the relay
//! publishes to the Redis channel `{prefix}events`, and every node forwards
//! what that channel carries into its own broadcast channel, so an event
//! raised on one node reaches subscribers on all of them.
//!
//! The relay claims unpublished outbox rows in id order, publishes them and
//! marks them published in one transaction; on PostgreSQL the claim is `FOR
//! UPDATE SKIP LOCKED`, so several nodes relay without double work. A failed
//! publish (Redis down) leaves the rows for the next round, and a crash
//! between publish and commit publishes again: delivery is at least once,
//! and every event carries an id to drop duplicates by. Redis pub/sub keeps
//! nothing: a node that is not connected when an event passes misses it.

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
    webhooks_out,
};

/// Events buffered per subscriber before it skips ahead.
pub const CAPACITY: usize = 4096;
/// Outbox rows per relay transaction.
const CLAIM: u64 = 500;
/// How long relayed events stay in the outbox.
const KEEP: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Publishes events to whoever listens in this process, or through Redis
/// to every node.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Envelope>>,
    redis: Option<Arc<Shared>>,
}

/// The Redis side of a shared bus.
struct Shared {
    client: redis::Client,
    channel: String,
    conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
            redis: None,
        }
    }
}

impl EventBus {
    /// A bus shared by every node through the Redis channel `{prefix}events`.
    pub fn shared(client: redis::Client, prefix: &str) -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
            redis: Some(Arc::new(Shared {
                client,
                channel: format!("{prefix}events"),
                conn: tokio::sync::Mutex::new(None),
            })),
        }
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.tx.subscribe()
    }

    /// Publishes one event to this process only (dropped if nobody listens).
    pub fn publish(&self, e: Envelope) {
        let _ = self.tx.send(Arc::new(e));
    }

    /// Publishes events: to this process, or to every node through Redis.
    async fn publish_all(&self, events: Vec<Envelope>) -> Result<(), redis::RedisError> {
        let Some(shared) = &self.redis else {
            for e in events {
                self.publish(e);
            }
            return Ok(());
        };
        let mut guard = shared.conn.lock().await;
        let conn = match guard.as_mut() {
            Some(c) => c,
            None => guard.insert(shared.client.get_multiplexed_async_connection().await?),
        };
        let mut pipe = redis::pipe();
        for e in &events {
            pipe.publish(
                &shared.channel,
                serde_json::to_string(e).unwrap_or_default(),
            )
            .ignore();
        }
        let sent: Result<(), _> = pipe.query_async(conn).await;
        if sent.is_err() {
            // Connect again next time.
            *guard = None;
        }
        sent
    }

    /// With Redis: subscribes this node to the shared channel (returns once
    /// subscribed) and forwards what it carries into this process's
    /// channel, reconnecting after a failure, until the task is dropped.
    /// Without Redis: nothing to do.
    pub async fn start_fanout(&self) -> Option<tokio::task::JoinHandle<()>> {
        let shared = self.redis.clone()?;
        let first = subscribe(&shared).await;
        let tx = self.tx.clone();
        Some(tokio::spawn(async move {
            let mut pubsub = first;
            loop {
                if let Some(p) = pubsub.take() {
                    let mut messages = p.into_on_message();
                    while let Some(msg) = futures_util::StreamExt::next(&mut messages).await {
                        let parsed = msg
                            .get_payload::<String>()
                            .ok()
                            .and_then(|text| serde_json::from_str::<Envelope>(&text).ok());
                        match parsed {
                            Some(e) => {
                                let _ = tx.send(Arc::new(e));
                            }
                            None => tracing::warn!("an event on the Redis channel does not parse"),
                        }
                    }
                    tracing::warn!("the Redis event channel closed; reconnecting");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                pubsub = subscribe(&shared).await;
            }
        }))
    }
}

async fn subscribe(shared: &Shared) -> Option<redis::aio::PubSub> {
    let attempt = async {
        let mut p = shared.client.get_async_pubsub().await?;
        p.subscribe(&shared.channel).await?;
        Ok::<_, redis::RedisError>(p)
    };
    match attempt.await {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(error = %e, "cannot subscribe to the Redis event channel; retrying");
            None
        }
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
    let mut batch = Vec::with_capacity(rows.len());
    for row in &rows {
        match events::envelope(row) {
            Some(e) => batch.push(e),
            None => tracing::error!(id = row.id, "outbox event does not parse; skipped"),
        }
    }
    // Webhook deliveries commit with the events' relay, or not at all.
    webhooks_out::queue::enqueue(&tx, &batch).await?;
    if let Err(e) = bus.publish_all(batch).await {
        // Nothing is marked: the rows go out on a later round.
        tx.rollback().await?;
        tracing::warn!(error = %e, "cannot publish events to Redis; they wait in the outbox");
        return Ok(0);
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
