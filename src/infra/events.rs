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

use crate::domain::tx::begin_write;
use std::{sync::Arc, time::Duration};

use chrono::{SubsecRound, Utc};
use entity::outbox_event;
use sea_orm::{
    ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, LockBehavior, LockType},
};
use tokio::sync::broadcast;

use crate::infra::metrics;
use crate::{
    domain::{
        error::{DomainError, DomainResult},
        events::{self, DomainEvent, Envelope},
        notifications, webhooks_out,
    },
    infra::cache::{Invalidation, ResponseCache},
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
    /// Where cache invalidations travel.
    invalidations: String,
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
                invalidations: format!("{prefix}invalidations"),
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

    /// Publishes events (and the cache invalidation they imply): to this
    /// process, or to every node through Redis.
    async fn publish_all(
        &self,
        events: Vec<Envelope>,
        invalidation: &Invalidation,
    ) -> Result<(), redis::RedisError> {
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
        if !invalidation.is_empty() {
            pipe.publish(
                &shared.invalidations,
                serde_json::to_string(invalidation).unwrap_or_default(),
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

    /// With Redis: subscribes this node to the shared channels (returns once
    /// subscribed) and forwards what they carry into this process's channel
    /// and `cache`, reconnecting after a failure, until the task is dropped.
    /// While unsubscribed, `cache` is told it is unlinked (it may miss
    /// invalidations). Without Redis: nothing to do.
    pub async fn start_fanout(
        &self,
        cache: Option<ResponseCache>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let shared = self.redis.clone()?;
        let first = subscribe(&shared).await;
        let tx = self.tx.clone();
        Some(tokio::spawn(async move {
            let mut pubsub = first;
            loop {
                if let Some(p) = pubsub.take() {
                    if let Some(c) = &cache {
                        c.set_linked(true);
                    }
                    let mut messages = p.into_on_message();
                    while let Some(msg) = futures_util::StreamExt::next(&mut messages).await {
                        if msg.get_channel_name() == shared.invalidations {
                            match msg
                                .get_payload::<String>()
                                .ok()
                                .and_then(|text| serde_json::from_str::<Invalidation>(&text).ok())
                            {
                                Some(inv) => {
                                    if let Some(c) = &cache {
                                        c.evict_local(&inv);
                                    }
                                }
                                None => {
                                    tracing::warn!("a cache invalidation on Redis does not parse")
                                }
                            }
                            continue;
                        }
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
                if let Some(c) = &cache {
                    c.set_linked(false);
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
        p.subscribe(&[&shared.channel, &shared.invalidations])
            .await?;
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

/// What the events make stale in the response cache: the products they
/// touch (variants mapped to their products here), lists for catalog
/// changes, availability filters for stock changes.
async fn invalidation_of(
    db: &impl sea_orm::ConnectionTrait,
    batch: &[Envelope],
) -> DomainResult<Invalidation> {
    let mut inv = Invalidation::default();
    let mut variants = Vec::new();
    for e in batch {
        match &e.event {
            DomainEvent::StockChanged { variant_id, .. } => {
                variants.push(*variant_id);
                inv.availability = true;
            }
            DomainEvent::CatalogChanged {
                product_ids,
                variant_ids,
                everything,
            } => {
                inv.products.extend(product_ids);
                variants.extend(variant_ids);
                inv.lists = true;
                inv.everything |= *everything;
            }
            DomainEvent::OrderCreated { .. }
            | DomainEvent::OrderPaid { .. }
            | DomainEvent::OrderUpdated { .. }
            | DomainEvent::OrderFulfilled { .. }
            | DomainEvent::FulfillmentUpdated { .. }
            | DomainEvent::OrderCancelled { .. }
            | DomainEvent::OrderRefunded { .. } => {}
        }
    }
    if inv.everything {
        return Ok(Invalidation {
            everything: true,
            ..Default::default()
        });
    }
    variants.sort_unstable();
    variants.dedup();
    for chunk in variants.chunks(500) {
        let owners: Vec<(i64, i64)> = entity::variant::Entity::find()
            .select_only()
            .column(entity::variant::Column::Id)
            .column(entity::variant::Column::ProductId)
            .filter(entity::variant::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        if owners.len() < chunk.len() {
            // A variant is gone (deleted): its product is not known any
            // more, so nothing cached can be trusted to be unaffected.
            return Ok(Invalidation {
                everything: true,
                ..Default::default()
            });
        }
        inv.products
            .extend(owners.into_iter().map(|(_, product)| product));
    }
    inv.products.sort_unstable();
    inv.products.dedup();
    Ok(inv)
}

/// Relays one batch; how many events it published, or `None` when Redis
/// could not take them (they wait in the outbox; this node's tier has
/// forgotten what they change all the same). With a `cache`, what the events
/// make stale leaves the shared tier before they go out, and this node's
/// tier with them (other nodes hear it through Redis).
/// `thorough`: wait for rows other nodes are relaying instead of skipping them.
/// `notify`: enqueue the customer notifications the events ask for.
pub async fn relay_once(
    db: &DatabaseConnection,
    bus: &EventBus,
    cache: Option<&ResponseCache>,
    thorough: bool,
    notify: bool,
    signal: &RelaySignal,
) -> DomainResult<Option<usize>> {
    // An idle round opens no transaction: on SQLite a relay transaction
    // takes the write lock, which requests would wait for.
    let waiting: Option<i64> = outbox_event::Entity::find()
        .select_only()
        .column(outbox_event::Column::Id)
        .filter(outbox_event::Column::PublishedAt.is_null())
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    if waiting.is_none() {
        return Ok(Some(0));
    }
    let tx = begin_write(db).await?;
    let mut q = outbox_event::Entity::find()
        .filter(outbox_event::Column::PublishedAt.is_null())
        .order_by_asc(outbox_event::Column::Id)
        .limit(CLAIM);
    if db.get_database_backend() == DatabaseBackend::Postgres {
        // Rows another node is relaying are skipped, unless someone waits
        // for everything recorded so far to be out: then this round waits
        // for that node to finish, and sees its rows published.
        q = if thorough {
            q.lock(LockType::Update)
        } else {
            q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        };
    }
    let rows = q.all(&tx).await?;
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(Some(0));
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
    // So do customer notifications.
    if notify {
        notifications::enqueue(&tx, &batch).await?;
    }
    let invalidation = match cache {
        Some(_) => invalidation_of(&tx, &batch).await?,
        None => Invalidation::default(),
    };
    if let Some(c) = cache
        && !c.evict_shared(&invalidation).await
    {
        tx.rollback().await?;
        // This node forgets at once: its own next read is fresh.
        c.evict_local(&invalidation);
        tracing::warn!("cannot invalidate the shared cache; events wait in the outbox");
        return Ok(None);
    }
    if let Err(e) = bus.publish_all(batch, &invalidation).await {
        // Nothing is marked: the rows go out on a later round.
        tx.rollback().await?;
        if let Some(c) = cache {
            c.evict_local(&invalidation);
        }
        tracing::warn!(error = %e, "cannot publish events to Redis; they wait in the outbox");
        return Ok(None);
    }
    if let Some(c) = cache {
        c.evict_local(&invalidation);
    }
    if signal.crashing() {
        // The events are out and nothing is marked: as after a crash, the
        // transaction never commits and the rows go out again.
        drop(tx);
        return Err(DomainError::Inconsistent(
            "failpoint: the relay crashed after publishing".into(),
        ));
    }
    let oldest = rows
        .iter()
        .map(|r| r.created_at)
        .min()
        .unwrap_or_else(Utc::now);
    metrics::relayed(
        rows.len(),
        (Utc::now() - oldest).to_std().unwrap_or_default(),
    );
    outbox_event::Entity::update_many()
        .col_expr(
            outbox_event::Column::PublishedAt,
            Expr::value(Utc::now().trunc_subsecs(6)),
        )
        .filter(outbox_event::Column::Id.is_in(ids))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(Some(rows.len()))
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

/// The first pause after a failed relay round; it doubles up to the idle
/// interval while rounds keep failing.
const RETRY_FIRST: Duration = Duration::from_millis(50);

/// Lets requests wait for the relay: a mutation that returns only once
/// what it recorded has gone out (and the caches have forgotten what it
/// changed) makes the caller's next read fresh on every node.
#[derive(Debug)]
pub struct RelaySignal {
    wake: tokio::sync::Notify,
    wanted: std::sync::atomic::AtomicBool,
    running: std::sync::atomic::AtomicBool,
    started: std::sync::atomic::AtomicU64,
    done: tokio::sync::watch::Sender<u64>,
    crashes: std::sync::atomic::AtomicU32,
}

impl Default for RelaySignal {
    fn default() -> Self {
        Self {
            wake: tokio::sync::Notify::new(),
            wanted: std::sync::atomic::AtomicBool::new(false),
            running: std::sync::atomic::AtomicBool::new(false),
            started: std::sync::atomic::AtomicU64::new(0),
            done: tokio::sync::watch::Sender::new(0),
            crashes: std::sync::atomic::AtomicU32::new(0),
        }
    }
}

impl RelaySignal {
    /// Failpoint for crash tests: the next `rounds` relay rounds of this
    /// node stop right after publishing their events and before marking
    /// them published, dropping their transaction as a crash of the node
    /// would. Nothing arms it outside tests.
    pub fn crash_after_publish(&self, rounds: u32) {
        self.crashes
            .store(rounds, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the round now publishing must crash (see
    /// [`Self::crash_after_publish`]).
    fn crashing(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.crashes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Waits (at most `limit`) until a relay round that started after this
    /// call has finished. Returns at once when no relay runs in this process.
    pub async fn flush(&self, limit: Duration) {
        use std::sync::atomic::Ordering;
        if !self.running.load(Ordering::Acquire) {
            return;
        }
        // Asked for before the round number is read: whichever round takes
        // the request started after this call, and the awaited one ends no
        // earlier than it.
        self.wanted.store(true, Ordering::Release);
        let target = self.started.load(Ordering::Acquire) + 1;
        let mut done = self.done.subscribe();
        self.wake.notify_one();
        if tokio::time::timeout(limit, done.wait_for(|d| *d >= target))
            .await
            .is_err()
        {
            tracing::warn!("the outbox relay did not finish a round in time");
        }
    }
}

/// Relays until the task is dropped: at once while there is a backlog or
/// someone waits ([`RelaySignal::flush`]), otherwise every `idle`;
/// `notify`: enqueue customer notifications.
pub async fn run_relay(
    db: DatabaseConnection,
    bus: EventBus,
    cache: Option<ResponseCache>,
    signal: Arc<RelaySignal>,
    idle: Duration,
    notify: bool,
) {
    use std::sync::atomic::Ordering;
    struct Stopped<'a>(&'a RelaySignal);
    impl Drop for Stopped<'_> {
        fn drop(&mut self) {
            self.0.running.store(false, Ordering::Release);
        }
    }
    signal.running.store(true, Ordering::Release);
    let _stopped = Stopped(&signal);
    let mut last_prune = std::time::Instant::now();
    let mut backoff = RETRY_FIRST;
    loop {
        let thorough = signal.wanted.swap(false, Ordering::AcqRel);
        let round = signal.started.fetch_add(1, Ordering::AcqRel) + 1;
        match relay_once(&db, &bus, cache.as_ref(), thorough, notify, &signal).await {
            Ok(Some(n)) => {
                backoff = RETRY_FIRST;
                signal.done.send_replace(round);
                if n as u64 == CLAIM {
                    continue;
                }
            }
            Ok(None) => {
                // Redis did not take the events. Waiters go on (this node
                // has forgotten what the events change; nodes that cannot
                // hear Redis do not use their tier) and the events are
                // offered again soon.
                signal.done.send_replace(round);
                tokio::time::sleep(backoff.min(idle)).await;
                backoff = backoff.saturating_mul(2);
                continue;
            }
            Err(e) => {
                // The round is not reported done: whoever waits for it
                // waits (within their limit) for a round that gets through.
                tracing::error!(error = %e, "outbox relay failed; retrying");
                if thorough {
                    signal.wanted.store(true, Ordering::Release);
                }
                tokio::time::sleep(backoff.min(idle)).await;
                backoff = backoff.saturating_mul(2);
                continue;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(idle) => {}
            () = signal.wake.notified() => {}
        }
        if last_prune.elapsed() >= Duration::from_secs(600) {
            last_prune = std::time::Instant::now();
            if let Err(e) = prune(&db).await {
                tracing::error!(error = %e, "outbox prune failed");
            }
        }
    }
}
