//! Live feeds for subscriptions: one task per node turns the domain events
//! of the bus into what subscribers are sent, once per event and node, not
//! once per subscriber.
//!
//! - Stock: for the variants whose stock changed, the task reads their
//!   availability (three statements per batch of events, however many
//!   subscribers there are) and broadcasts one [`StockUpdate`] per variant.
//! - Orders: for the orders an event names, it reads the order rows (one
//!   statement per batch) and broadcasts them.
//!
//! Both channels are bounded broadcast channels: a subscriber that falls
//! behind skips ahead to the newest updates (for stock, the newest value is
//! the one that counts), so a slow consumer never grows the server's memory.
//! Delivery on the bus is at least once: events are de-duplicated by id over
//! a bounded window before anything is read.

use std::{
    collections::{HashSet, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
};

use entity::shop_order;
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::domain::{
    catalog, channel,
    checkout::orders,
    events::{DomainEvent, Envelope},
};

/// Updates buffered per subscriber before it skips ahead.
pub const CAPACITY: usize = 1024;
/// Event ids remembered to drop duplicates.
const SEEN: usize = 16_384;
/// Events handled together at most (when many arrive at once).
const BATCH: usize = 512;

/// A variant's availability after a stock change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockUpdate {
    /// The variant.
    pub variant_id: i64,
    /// Units available, or `None` when its stock is not tracked.
    pub quantity_available: Option<i64>,
    /// Whether it can be bought now (in the default channel).
    pub available_for_sale: bool,
}

/// The node's live feeds and the gauge of open subscriptions.
pub struct LiveFeeds {
    stock: broadcast::Sender<Arc<StockUpdate>>,
    orders: broadcast::Sender<Arc<shop_order::Model>>,
    open: AtomicI64,
}

impl Default for LiveFeeds {
    fn default() -> Self {
        Self {
            stock: broadcast::channel(CAPACITY).0,
            orders: broadcast::channel(CAPACITY).0,
            open: AtomicI64::new(0),
        }
    }
}

impl LiveFeeds {
    /// Stock updates from now on.
    pub fn stock(&self) -> broadcast::Receiver<Arc<StockUpdate>> {
        self.stock.subscribe()
    }

    /// Changed orders from now on.
    pub fn orders(&self) -> broadcast::Receiver<Arc<shop_order::Model>> {
        self.orders.subscribe()
    }

    /// Subscriptions open on this node now (a gauge for `/metrics`).
    pub fn open_subscriptions(&self) -> i64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Counts one open subscription until the guard is dropped.
    pub fn track(self: &Arc<Self>) -> OpenSubscription {
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenSubscription(self.clone())
    }
}

/// One open subscription on the gauge.
pub struct OpenSubscription(Arc<LiveFeeds>);

impl Drop for OpenSubscription {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Event ids seen lately, to drop a redelivered event.
#[derive(Default)]
struct Seen {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl Seen {
    /// Whether `id` is new (and remembers it).
    fn first(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() == SEEN
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.order.push_back(id.to_owned());
        self.set.insert(id.to_owned());
        true
    }
}

/// Feeds `feeds` from the events `rx` receives until the bus closes. Take
/// `rx` from the bus before serving so nothing published after start is
/// missed.
pub async fn run(
    db: DatabaseConnection,
    mut rx: broadcast::Receiver<Arc<Envelope>>,
    feeds: Arc<LiveFeeds>,
    default_channel: Option<String>,
) {
    let mut seen = Seen::default();
    let mut channel_id: Option<i64> = None;
    loop {
        let first = match rx.recv().await {
            Ok(e) => e,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(skipped = n, "live feeds fell behind the event bus");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let mut variants = Vec::new();
        let mut order_ids = Vec::new();
        for e in batch.iter().filter(|e| seen.first(&e.id)) {
            match &e.event {
                DomainEvent::StockChanged { variant_id, .. } => variants.push(*variant_id),
                // A price change may change whether a variant is for sale.
                DomainEvent::CatalogChanged { variant_ids, .. } => {
                    variants.extend(variant_ids.iter().copied());
                }
                DomainEvent::OrderCreated { order_id, .. }
                | DomainEvent::OrderPaid { order_id, .. }
                | DomainEvent::OrderUpdated { order_id, .. }
                | DomainEvent::OrderFulfilled { order_id, .. }
                | DomainEvent::FulfillmentUpdated { order_id, .. }
                | DomainEvent::OrderCancelled { order_id, .. }
                | DomainEvent::OrderRefunded { order_id, .. } => order_ids.push(*order_id),
            }
        }
        if !variants.is_empty() && feeds.stock.receiver_count() > 0 {
            variants.sort_unstable();
            variants.dedup();
            if channel_id.is_none() {
                match channel::resolve(&db, None, default_channel.as_deref()).await {
                    Ok(c) => channel_id = Some(c.id),
                    Err(e) => tracing::error!(error = %e, "live stock: no default channel"),
                }
            }
            if let Some(channel_id) = channel_id {
                match catalog::availability_of_variants(&db, &variants, channel_id).await {
                    Ok(rows) => {
                        for (variant_id, a) in rows {
                            let _ = feeds.stock.send(Arc::new(StockUpdate {
                                variant_id,
                                quantity_available: a.quantity_available,
                                available_for_sale: a.available_for_sale,
                            }));
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "live stock: cannot read availability"),
                }
            }
        }
        if !order_ids.is_empty() && feeds.orders.receiver_count() > 0 {
            order_ids.sort_unstable();
            order_ids.dedup();
            match orders::get_many(&db, &order_ids).await {
                Ok(rows) => {
                    for row in rows {
                        let _ = feeds.orders.send(Arc::new(row));
                    }
                }
                Err(e) => tracing::error!(error = %e, "live orders: cannot read orders"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redelivered_event_is_seen_once_within_the_window() {
        let mut seen = Seen::default();
        assert!(seen.first("a"));
        assert!(!seen.first("a"));
        for i in 0..SEEN {
            assert!(seen.first(&i.to_string()));
        }
        // "a" has left the bounded window.
        assert!(seen.first("a"));
        assert_eq!(seen.order.len(), SEEN);
        assert_eq!(seen.set.len(), SEEN);
    }
}
