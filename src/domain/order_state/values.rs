//! The state machine's vocabulary: statuses, events, transitions,
//! refusals and the stored facts, with their stable snake_case forms.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where the order stands as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Awaiting payment: the total is not yet authorized or captured.
    Pending,
    /// Confirmed: payment is secured; the order can be fulfilled.
    Open,
    /// Paid and fulfilled, closed by a [`OrderEvent::Completed`] event.
    Completed,
    /// Cancelled before anything was fulfilled.
    Cancelled,
}

/// Where the order's money stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Nothing authorized or captured yet.
    Pending,
    /// Money is authorized but none captured.
    Authorized,
    /// Some money is captured, less than the total.
    PartiallyPaid,
    /// The total is captured.
    Paid,
    /// Part of the captured money is refunded.
    PartiallyRefunded,
    /// All the captured money is refunded.
    Refunded,
    /// The authorization was voided and no money is held.
    Voided,
    /// The last payment attempt failed and no money is held.
    Failed,
}

/// Where the order's items stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStatus {
    /// Nothing fulfilled.
    Unfulfilled,
    /// Some items fulfilled, fewer than ordered.
    PartiallyFulfilled,
    /// Every item ordered is fulfilled.
    Fulfilled,
    /// Some fulfilled items came back, fewer than were fulfilled.
    PartiallyReturned,
    /// Every fulfilled item came back.
    Returned,
}

/// The three status dimensions of an order at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Status {
    /// The order as a whole.
    pub order: OrderStatus,
    /// Its money.
    pub payment: PaymentStatus,
    /// Its items.
    pub fulfillment: FulfillmentStatus,
}

/// Something that happened to an order, as a command to validate.
///
/// Amounts are minor units and must be positive; quantities must be at
/// least one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderEvent {
    /// The gateway authorized `amount` (held, not yet captured).
    PaymentAuthorized {
        /// Minor units authorized.
        amount: i64,
    },
    /// The gateway captured `amount`, from the open authorization or as a
    /// sale.
    PaymentCaptured {
        /// Minor units captured.
        amount: i64,
    },
    /// A payment attempt was declined or failed.
    PaymentFailed,
    /// The open (uncaptured) authorization was voided.
    PaymentVoided,
    /// `amount` of the captured money was refunded.
    Refunded {
        /// Minor units refunded.
        amount: i64,
    },
    /// `quantity` items were fulfilled (shipped or handed over).
    Fulfilled {
        /// Items fulfilled.
        quantity: u32,
    },
    /// A fulfilment of `quantity` items was cancelled before it reached
    /// the customer: the items are unfulfilled again.
    FulfillmentCancelled {
        /// Items un-fulfilled.
        quantity: u32,
    },
    /// `quantity` fulfilled items came back.
    Returned {
        /// Items returned.
        quantity: u32,
    },
    /// The order was cancelled.
    Cancelled {
        /// Why, as the caller tells it (customer request, fraud, stock ...).
        reason: String,
    },
    /// The order was closed as done.
    Completed,
    /// `quantity` unfulfilled items were cancelled: they will not ship and
    /// no longer count as ordered.
    LinesCancelled {
        /// Items cancelled.
        quantity: u32,
    },
}

/// An [`OrderEvent`]'s name without its data, for errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// [`OrderEvent::PaymentAuthorized`].
    PaymentAuthorized,
    /// [`OrderEvent::PaymentCaptured`].
    PaymentCaptured,
    /// [`OrderEvent::PaymentFailed`].
    PaymentFailed,
    /// [`OrderEvent::PaymentVoided`].
    PaymentVoided,
    /// [`OrderEvent::Refunded`].
    Refunded,
    /// [`OrderEvent::Fulfilled`].
    Fulfilled,
    /// [`OrderEvent::FulfillmentCancelled`].
    FulfillmentCancelled,
    /// [`OrderEvent::Returned`].
    Returned,
    /// [`OrderEvent::Cancelled`].
    Cancelled,
    /// [`OrderEvent::Completed`].
    Completed,
    /// [`OrderEvent::LinesCancelled`].
    LinesCancelled,
}

impl OrderEvent {
    /// The event's name.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::PaymentAuthorized { .. } => EventKind::PaymentAuthorized,
            Self::PaymentCaptured { .. } => EventKind::PaymentCaptured,
            Self::PaymentFailed => EventKind::PaymentFailed,
            Self::PaymentVoided => EventKind::PaymentVoided,
            Self::Refunded { .. } => EventKind::Refunded,
            Self::Fulfilled { .. } => EventKind::Fulfilled,
            Self::FulfillmentCancelled { .. } => EventKind::FulfillmentCancelled,
            Self::Returned { .. } => EventKind::Returned,
            Self::Cancelled { .. } => EventKind::Cancelled,
            Self::Completed => EventKind::Completed,
            Self::LinesCancelled { .. } => EventKind::LinesCancelled,
        }
    }
}

/// The record of one applied event, for the order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Statuses before the event.
    pub from: Status,
    /// Statuses after it (may equal `from`, e.g. a second failed attempt).
    pub to: Status,
    /// The event applied.
    pub event: OrderEvent,
    /// Who caused it (staff user, customer, gateway webhook, job), as the
    /// caller names it.
    pub actor: String,
    /// When, as the caller's clock says.
    pub at: DateTime<Utc>,
}

/// Why an event was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// An amount of zero or less.
    #[error("amount must be positive")]
    NonPositiveAmount,
    /// A quantity of zero.
    #[error("quantity must be positive")]
    ZeroQuantity,
    /// The order is cancelled or completed; nothing but refunds and returns
    /// may follow.
    #[error("the order is closed")]
    Closed,
    /// Fulfillment before payment is secured.
    #[error("the order is awaiting payment")]
    AwaitingPayment,
    /// An amount or quantity beyond what the order has left for it.
    #[error("{requested} exceeds the {available} left ({limit:?})")]
    Exceeds {
        /// Which limit.
        limit: Limit,
        /// Minor units or items asked for.
        requested: i64,
        /// Minor units or items left under the limit.
        available: i64,
    },
    /// A void with no authorization left to void.
    #[error("no open authorization")]
    NoOpenAuthorization,
    /// A failed payment reported for an order no longer awaiting payment.
    #[error("the order is not awaiting payment")]
    NotAwaitingPayment,
    /// Cancelling after items were fulfilled.
    #[error("items were fulfilled")]
    FulfilledItems,
    /// Cancelling while captured money is not refunded.
    #[error("captured money must be refunded first")]
    UnrefundedCapture,
    /// Completing an order that is not fully paid (or was refunded).
    #[error("the order is not paid")]
    NotPaid,
    /// Completing an order that is not fully fulfilled (or had returns).
    #[error("the order is not fulfilled")]
    NotFulfilled,
}

/// The limits an amount or quantity is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// An authorization or sale: `total - authorized`.
    OrderTotal,
    /// A capture from the open authorization: `authorized - captured`.
    Authorization,
    /// A refund: `captured - refunded`.
    Refundable,
    /// A fulfillment: `ordered - fulfilled` items.
    Unfulfilled,
    /// A return, or cancelling a fulfilment: `fulfilled - returned` items.
    Returnable,
}

/// An event refused in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{event:?} refused while the order is {status:?}: {refusal}")]
pub struct TransitionError {
    /// The statuses when the event was refused (unchanged by it).
    pub status: Status,
    /// The event refused.
    pub event: EventKind,
    /// Why.
    pub refusal: Refusal,
}

/// Why [`OrderState::new`](super::OrderState::new) refused to open an order, or
/// [`OrderState::from_parts`](super::OrderState::from_parts) to rebuild one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOrder {
    /// A negative order total.
    #[error("negative order total")]
    NegativeTotal,
    /// An order with no items.
    #[error("an order needs at least one item")]
    NoItems,
    /// Amounts not ordered as `0 <= refunded <= captured <= authorized <=
    /// total` ([`OrderState::from_parts`](super::OrderState::from_parts) only).
    #[error("amounts must satisfy 0 <= refunded <= captured <= authorized <= total")]
    AmountsOutOfOrder,
    /// Quantities not ordered as `returned <= fulfilled <= ordered`
    /// ([`OrderState::from_parts`](super::OrderState::from_parts) only).
    #[error("quantities must satisfy returned <= fulfilled <= ordered")]
    QuantitiesOutOfOrder,
    /// A cancelled order with fulfilled items or money still held
    /// ([`OrderState::from_parts`](super::OrderState::from_parts) only).
    #[error("a cancelled order has nothing fulfilled and holds no money")]
    CancelledNotSettled,
    /// A completed order not captured in full or not fulfilled in full
    /// ([`OrderState::from_parts`](super::OrderState::from_parts) only).
    #[error("a completed order is captured and fulfilled in full")]
    CompletedNotSettled,
    /// A payment mark the amounts contradict: `voided` with an authorization
    /// still open or the total captured, `failed` with the total secured
    /// ([`OrderState::from_parts`](super::OrderState::from_parts) only).
    #[error("the payment mark contradicts the amounts")]
    InconsistentPaymentMark,
    /// Items fulfilled while nothing is authorized and no void explains it:
    /// fulfillment needs the total secured first, and only a void lowers
    /// the authorized amount ([`OrderState::from_parts`](super::OrderState::from_parts) only).
    #[error("items fulfilled without payment")]
    FulfilledWithoutPayment,
}

/// How a closed order was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Closure {
    /// By an [`OrderEvent::Cancelled`] event.
    Cancelled,
    /// By an [`OrderEvent::Completed`] event.
    Completed,
}

/// A payment outcome the amounts cannot show; the payment status shows it
/// while no money is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMark {
    /// The last authorization was voided (by [`OrderEvent::PaymentVoided`]
    /// or by cancelling).
    Voided,
    /// The last payment attempt failed ([`OrderEvent::PaymentFailed`]).
    Failed,
}

/// A stored string that names no variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stored value `{0}`")]
pub struct UnknownStoredValue(pub String);

impl Closure {
    /// The stored form: `cancelled` or `completed` (as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }
}

impl FromStr for Closure {
    type Err = UnknownStoredValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cancelled" => Ok(Self::Cancelled),
            "completed" => Ok(Self::Completed),
            _ => Err(UnknownStoredValue(s.to_owned())),
        }
    }
}

impl PaymentMark {
    /// The stored form: `voided` or `failed` (as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Voided => "voided",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for PaymentMark {
    type Err = UnknownStoredValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "voided" => Ok(Self::Voided),
            "failed" => Ok(Self::Failed),
            _ => Err(UnknownStoredValue(s.to_owned())),
        }
    }
}
