//! Transactional mail to customers about their orders: confirmation,
//! shipped (with tracking), delivered, cancelled and refunded.
//!
//! Notifications leave from the outbox after commit, never from the
//! transaction that changed the order: the outbox relay enqueues one
//! `notification` row per event and kind of mail ([`enqueue`], in the
//! relay's transaction; the pair is unique, so an event relayed twice
//! still sends once), and a worker on any node claims due rows
//! ([`queue::claim`]: `FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's one
//! writer otherwise), renders them from the shop's templates
//! ([`templates`]), sends them and records the outcome. A send that fails
//! (the mail server down or refusing) is retried with exponential backoff,
//! capped, for as long as it takes: a notification is never dropped. A
//! sent notification writes a `notified` entry on the order's timeline.
//!
//! Which event sends what:
//!
//! | event | mail |
//! | --- | --- |
//! | `order.created` | `order_confirmation` (every placed order, whatever its payment: a bank transfer's buyer needs it most) |
//! | `order.fulfilled` | `order_shipped`, with the fulfilment's carrier, number and tracking link |
//! | `fulfillment.updated` with status `delivered` | `order_delivered` |
//! | `order.cancelled` | `order_cancelled` |
//! | `order.refunded` | `order_refunded` |
//!
//! The last four send only when the event's `notify_customer` is set (the
//! `notifyCustomer` argument of the staff operation).

pub mod context;
pub mod queue;
pub mod templates;

use std::{fmt, str::FromStr};

use crate::domain::events::DomainEvent;

/// A kind of customer notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The order was placed.
    OrderConfirmation,
    /// Units shipped.
    OrderShipped,
    /// A shipment was delivered.
    OrderDelivered,
    /// The order was cancelled.
    OrderCancelled,
    /// Money was paid back.
    OrderRefunded,
}

impl Kind {
    /// Every kind.
    pub const ALL: &'static [Kind] = &[
        Kind::OrderConfirmation,
        Kind::OrderShipped,
        Kind::OrderDelivered,
        Kind::OrderCancelled,
        Kind::OrderRefunded,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderConfirmation => "order_confirmation",
            Self::OrderShipped => "order_shipped",
            Self::OrderDelivered => "order_delivered",
            Self::OrderCancelled => "order_cancelled",
            Self::OrderRefunded => "order_refunded",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown notification kind `{s}`"))
    }
}

/// What an event asks to send: the kind, the order and the fulfilment or
/// refund it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    /// Which mail.
    pub kind: Kind,
    /// The order.
    pub order_id: i64,
    /// The fulfilment or refund.
    pub subject_id: Option<i64>,
}

/// The notification `event` asks for, if any (see the module table).
pub fn wanted(event: &DomainEvent) -> Option<Wanted> {
    let want = |kind, order_id, subject_id| {
        Some(Wanted {
            kind,
            order_id,
            subject_id,
        })
    };
    match event {
        DomainEvent::OrderCreated { order_id, .. } => {
            want(Kind::OrderConfirmation, *order_id, None)
        }
        DomainEvent::OrderFulfilled {
            order_id,
            fulfillment_id,
            notify_customer: true,
            ..
        } => want(Kind::OrderShipped, *order_id, Some(*fulfillment_id)),
        DomainEvent::FulfillmentUpdated {
            order_id,
            fulfillment_id,
            shipment_status,
            notify_customer: true,
            ..
        } if shipment_status == "delivered" => {
            want(Kind::OrderDelivered, *order_id, Some(*fulfillment_id))
        }
        DomainEvent::OrderCancelled {
            order_id,
            notify_customer: true,
            ..
        } => want(Kind::OrderCancelled, *order_id, None),
        DomainEvent::OrderRefunded {
            order_id,
            refund_id,
            notify_customer: true,
            ..
        } => want(Kind::OrderRefunded, *order_id, Some(*refund_id)),
        DomainEvent::StockChanged { .. }
        | DomainEvent::OrderPaid { .. }
        | DomainEvent::OrderUpdated { .. }
        | DomainEvent::CatalogChanged { .. }
        | DomainEvent::OrderFulfilled { .. }
        | DomainEvent::FulfillmentUpdated { .. }
        | DomainEvent::OrderCancelled { .. }
        | DomainEvent::OrderRefunded { .. } => None,
    }
}

pub use queue::enqueue;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order_state::{FulfillmentStatus, OrderStatus, PaymentStatus, Status};

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>(), Ok(*k));
        }
        assert!("nope".parse::<Kind>().is_err());
    }

    #[test]
    fn events_ask_for_their_mail_unless_told_not_to() {
        let status = Status {
            order: OrderStatus::Open,
            payment: PaymentStatus::Paid,
            fulfillment: FulfillmentStatus::Fulfilled,
        };
        let shipped = |notify| DomainEvent::OrderFulfilled {
            order_id: 1,
            customer_id: None,
            fulfillment_id: 4,
            status,
            notify_customer: notify,
        };
        assert_eq!(
            wanted(&shipped(true)),
            Some(Wanted {
                kind: Kind::OrderShipped,
                order_id: 1,
                subject_id: Some(4)
            })
        );
        assert_eq!(wanted(&shipped(false)), None);
        let moved = |s: &str| DomainEvent::FulfillmentUpdated {
            order_id: 1,
            customer_id: None,
            fulfillment_id: 4,
            shipment_status: s.into(),
            notify_customer: true,
        };
        assert_eq!(wanted(&moved("in_transit")), None);
        assert_eq!(
            wanted(&moved("delivered")).map(|w| w.kind),
            Some(Kind::OrderDelivered)
        );
        assert_eq!(
            wanted(&DomainEvent::OrderPaid {
                order_id: 1,
                customer_id: None,
                status
            }),
            None
        );
        // An event recorded before `notifyCustomer` existed notifies.
        let old: DomainEvent = serde_json::from_str(
            r#"{"type":"orderCancelled","orderId":1,"customerId":null,"reason":"x",
                "status":{"order":"cancelled","payment":"voided","fulfillment":"unfulfilled"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(wanted(&old).map(|w| w.kind), Some(Kind::OrderCancelled));
    }
}
