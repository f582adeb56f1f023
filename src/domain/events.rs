//! Domain events and the transactional outbox.
//!
//! A change that raises events records them with [`record`] in its own
//! transaction: they commit or roll back with it, so none is lost when the
//! process dies between commit and publish. A relay (`infra::events`) then
//! moves them to the event bus, at least once; each carries a unique id so
//! consumers can drop duplicates.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use chrono::{DateTime, SubsecRound, Utc};
use entity::outbox_event;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};

use super::error::DomainResult;
use super::order_state::Status;

/// Something that happened, for subscribers and webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum DomainEvent {
    /// A variant's on-hand quantity changed at a location.
    #[serde(rename_all = "camelCase")]
    StockChanged {
        /// The variant.
        variant_id: i64,
        /// The stock location.
        location_id: i64,
        /// On hand before.
        on_hand_before: i32,
        /// On hand now.
        on_hand: i32,
        /// Reserved at the location.
        reserved: i32,
        /// Why (`sync`, `received`, `import`, `reserved`, `released` ...).
        reason: String,
    },
    /// An order was placed.
    #[serde(rename_all = "camelCase")]
    OrderCreated {
        /// The order.
        order_id: i64,
        /// Its owner, if signed in.
        customer_id: Option<i64>,
        /// Order total in minor units.
        total_minor: i64,
        /// Currency code.
        currency: String,
        /// Statuses after the event.
        status: Status,
    },
    /// An order's payment was secured in full (captured).
    #[serde(rename_all = "camelCase")]
    OrderPaid {
        /// The order.
        order_id: i64,
        /// Its owner, if signed in.
        customer_id: Option<i64>,
        /// Statuses after the event.
        status: Status,
    },
    /// Catalog data changed (products, variants, prices, options, media,
    /// collections, channels ...): what caches must forget.
    #[serde(rename_all = "camelCase")]
    CatalogChanged {
        /// Products whose own data changed.
        product_ids: Vec<i64>,
        /// Variants whose data, prices or stock changed.
        variant_ids: Vec<i64>,
        /// Something not tied to a product changed (a collection, a
        /// channel, an option): anything may be affected.
        everything: bool,
    },
    /// An order's statuses changed for another reason (authorized, payment
    /// failed, cancelled ...).
    #[serde(rename_all = "camelCase")]
    OrderUpdated {
        /// The order.
        order_id: i64,
        /// Its owner, if signed in.
        customer_id: Option<i64>,
        /// Statuses after the event.
        status: Status,
    },
    /// Units of an order shipped (a fulfilment was created).
    #[serde(rename_all = "camelCase")]
    OrderFulfilled {
        /// The order.
        order_id: i64,
        /// Its owner, if signed in.
        customer_id: Option<i64>,
        /// The fulfilment.
        fulfillment_id: i64,
        /// Statuses after the event.
        status: Status,
        /// Whether the customer is told by mail (absent in events recorded
        /// before the field existed: yes).
        #[serde(default = "yes")]
        notify_customer: bool,
    },
    /// A fulfilment's tracking or shipment status changed (tracking
    /// updated, in transit, out for delivery, delivered, failure,
    /// cancelled).
    #[serde(rename_all = "camelCase")]
    FulfillmentUpdated {
        /// The order.
        order_id: i64,
        /// Its owner, if signed in.
        customer_id: Option<i64>,
        /// The fulfilment.
        fulfillment_id: i64,
        /// Its shipment status now (`shipped`, `in_transit`,
        /// `out_for_delivery`, `delivered`, `failure`, `cancelled`).
        shipment_status: String,
        /// Whether the customer is told by mail (absent in events recorded
        /// before the field existed: yes).
        #[serde(default = "yes")]
        notify_customer: bool,
    },
    /// An order was cancelled.
    #[serde(rename_all = "camelCase")]
    OrderCancelled {
        /// The order.
        order_id: i64,
        /// Its owner, if signed in.
        customer_id: Option<i64>,
        /// Why, as staff told it.
        reason: String,
        /// Statuses after the event.
        status: Status,
        /// Whether the customer is told by mail (absent in events recorded
        /// before the field existed: yes).
        #[serde(default = "yes")]
        notify_customer: bool,
    },
    /// Money was paid back on an order.
    #[serde(rename_all = "camelCase")]
    OrderRefunded {
        /// The order.
        order_id: i64,
        /// Its owner, if signed in.
        customer_id: Option<i64>,
        /// The refund.
        refund_id: i64,
        /// Minor units paid back.
        amount_minor: i64,
        /// Currency code.
        currency: String,
        /// Statuses after the event.
        status: Status,
        /// Whether the customer is told by mail (absent in events recorded
        /// before the field existed: yes).
        #[serde(default = "yes")]
        notify_customer: bool,
    },
}

/// The default of `notify_customer`.
fn yes() -> bool {
    true
}

/// Every topic an event is published under (what webhook subscriptions
/// may name).
pub const TOPICS: &[&str] = &[
    "stock.changed",
    "order.created",
    "order.paid",
    "order.updated",
    "catalog.changed",
    "order.fulfilled",
    "fulfillment.updated",
    "order.cancelled",
    "order.refunded",
];

impl DomainEvent {
    /// The topic the event is published under (one of [`TOPICS`]).
    pub fn topic(&self) -> &'static str {
        match self {
            Self::StockChanged { .. } => "stock.changed",
            Self::OrderCreated { .. } => "order.created",
            Self::OrderPaid { .. } => "order.paid",
            Self::OrderUpdated { .. } => "order.updated",
            Self::CatalogChanged { .. } => "catalog.changed",
            Self::OrderFulfilled { .. } => "order.fulfilled",
            Self::FulfillmentUpdated { .. } => "fulfillment.updated",
            Self::OrderCancelled { .. } => "order.cancelled",
            Self::OrderRefunded { .. } => "order.refunded",
        }
    }
}

/// The `catalog.changed` event for audited changes, if any is to catalog
/// data. Every catalog write is audited, so deriving the event from the
/// audit entries covers them all; an unknown catalog entity conservatively
/// counts as "everything".
pub fn catalog_changed<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<DomainEvent> {
    let (mut products, mut variants, mut everything, mut any) = (vec![], vec![], false, false);
    // Entity ids start with the row id (`12`, `12@3`, `12@3/min:5`).
    let lead = |id: &str| -> Option<i64> {
        let digits = id.split(|c: char| !c.is_ascii_digit()).next()?;
        digits.parse().ok()
    };
    for (kind, id) in entries {
        let target = match kind {
            "product" => Some(&mut products),
            "variant" | "variant_price" => Some(&mut variants),
            // Stock writes raise `stock.changed` themselves.
            "stock_level" => continue,
            "product_option" | "collection" | "channel" | "customer_group" | "stock_location"
            | "media" => None,
            _ => continue,
        };
        any = true;
        match (target, lead(id)) {
            (Some(list), Some(n)) => list.push(n),
            _ => everything = true,
        }
    }
    products.sort_unstable();
    products.dedup();
    variants.sort_unstable();
    variants.dedup();
    any.then_some(DomainEvent::CatalogChanged {
        product_ids: products,
        variant_ids: variants,
        everything,
    })
}

/// An event as the bus carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Unique id (consumers de-duplicate by it).
    pub id: String,
    /// Outbox order.
    pub sequence: i64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// The event.
    pub event: DomainEvent,
}

/// Rows per insert statement.
const BATCH: usize = 500;

tokio::task_local! {
    /// Set when events are recorded inside a [`noting`] scope.
    static RECORDED: Arc<AtomicBool>;
}

/// Runs `fut`, setting `flag` if it records any event, so a caller can wait
/// for the relay only when there is something to relay.
pub async fn noting<F: std::future::Future>(flag: Arc<AtomicBool>, fut: F) -> F::Output {
    RECORDED.scope(flag, fut).await
}

/// The flag of the enclosing [`noting`] scope, to carry into a spawned task.
pub fn current_note() -> Option<Arc<AtomicBool>> {
    RECORDED.try_with(Arc::clone).ok()
}

/// Records events in the caller's transaction.
pub async fn record(db: &impl ConnectionTrait, events: Vec<DomainEvent>) -> DomainResult<()> {
    if !events.is_empty() {
        let _ = RECORDED.try_with(|f| f.store(true, Ordering::Release));
    }
    let at = Utc::now().trunc_subsecs(6);
    let rows: Vec<outbox_event::ActiveModel> = events
        .into_iter()
        .map(|e| outbox_event::ActiveModel {
            event_id: Set(uuid::Uuid::new_v4().to_string()),
            topic: Set(e.topic().to_owned()),
            payload: Set(serde_json::to_string(&e).unwrap_or_default()),
            created_at: Set(at),
            published_at: Set(None),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(BATCH) {
        outbox_event::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// An outbox row as the event it holds (`None` if it no longer parses).
pub fn envelope(row: &outbox_event::Model) -> Option<Envelope> {
    Some(Envelope {
        id: row.event_id.clone(),
        sequence: row.id,
        at: row.created_at,
        event: serde_json::from_str(&row.payload).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order_state::{FulfillmentStatus, OrderStatus, PaymentStatus, Status};

    #[test]
    fn every_event_topic_is_listed() {
        let status = Status {
            order: OrderStatus::Pending,
            payment: PaymentStatus::Pending,
            fulfillment: FulfillmentStatus::Unfulfilled,
        };
        let events = [
            DomainEvent::StockChanged {
                variant_id: 1,
                location_id: 1,
                on_hand_before: 0,
                on_hand: 1,
                reserved: 0,
                reason: "sync".into(),
            },
            DomainEvent::OrderCreated {
                order_id: 1,
                customer_id: None,
                total_minor: 0,
                currency: "USD".into(),
                status,
            },
            DomainEvent::OrderPaid {
                order_id: 1,
                customer_id: None,
                status,
            },
            DomainEvent::OrderUpdated {
                order_id: 1,
                customer_id: None,
                status,
            },
            DomainEvent::CatalogChanged {
                product_ids: vec![],
                variant_ids: vec![],
                everything: true,
            },
            DomainEvent::OrderFulfilled {
                order_id: 1,
                customer_id: None,
                fulfillment_id: 1,
                status,
                notify_customer: true,
            },
            DomainEvent::FulfillmentUpdated {
                order_id: 1,
                customer_id: None,
                fulfillment_id: 1,
                shipment_status: "in_transit".into(),
                notify_customer: true,
            },
            DomainEvent::OrderCancelled {
                order_id: 1,
                customer_id: None,
                reason: "customer".into(),
                status,
                notify_customer: true,
            },
            DomainEvent::OrderRefunded {
                order_id: 1,
                customer_id: None,
                refund_id: 1,
                amount_minor: 100,
                currency: "USD".into(),
                status,
                notify_customer: true,
            },
        ];
        let topics: Vec<&str> = events.iter().map(DomainEvent::topic).collect();
        assert_eq!(topics, TOPICS);
    }

    #[test]
    fn catalog_changes_are_derived_from_audit_entries() {
        let e = catalog_changed([
            ("product", "7"),
            ("variant_price", "12@1/min:5"),
            ("stock_level", "14@2"),
            ("variant", "3"),
            ("customer", "9"),
        ]);
        assert_eq!(
            e,
            Some(DomainEvent::CatalogChanged {
                product_ids: vec![7],
                variant_ids: vec![3, 12],
                everything: false,
            })
        );
        assert!(matches!(
            catalog_changed([("collection", "2")]),
            Some(DomainEvent::CatalogChanged {
                everything: true,
                ..
            })
        ));
        assert_eq!(
            catalog_changed([("customer", "1"), ("promotion", "4")]),
            None
        );
    }
}
