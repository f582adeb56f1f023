//! Domain events and the transactional outbox.
//!
//! A change that raises events records them with [`record`] in its own
//! transaction: they commit or roll back with it, so none is lost when the
//! process dies between commit and publish. A relay (`infra::events`) then
//! moves them to the event bus, at least once; each carries a unique id so
//! consumers can drop duplicates.

use chrono::{DateTime, SubsecRound, Utc};
use entity::outbox_event;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};

use super::error::DomainResult;

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
        status: crate::domain::order_state::Status,
    },
    /// An order's payment was secured in full (captured).
    #[serde(rename_all = "camelCase")]
    OrderPaid {
        /// The order.
        order_id: i64,
        /// Its owner, if signed in.
        customer_id: Option<i64>,
        /// Statuses after the event.
        status: crate::domain::order_state::Status,
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
        status: crate::domain::order_state::Status,
    },
}

/// Every topic an event is published under (what webhook subscriptions
/// may name).
pub const TOPICS: &[&str] = &[
    "stock.changed",
    "order.created",
    "order.paid",
    "order.updated",
];

impl DomainEvent {
    /// The topic the event is published under (one of [`TOPICS`]).
    pub fn topic(&self) -> &'static str {
        match self {
            Self::StockChanged { .. } => "stock.changed",
            Self::OrderCreated { .. } => "order.created",
            Self::OrderPaid { .. } => "order.paid",
            Self::OrderUpdated { .. } => "order.updated",
        }
    }
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

/// Records events in the caller's transaction.
pub async fn record(db: &impl ConnectionTrait, events: Vec<DomainEvent>) -> DomainResult<()> {
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
        ];
        let topics: Vec<&str> = events.iter().map(DomainEvent::topic).collect();
        assert_eq!(topics, TOPICS);
    }
}
