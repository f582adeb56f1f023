//! Order state machine: the order, payment and fulfillment statuses of an
//! order, and the events that move them, as pure functions over plain values
//! (no database, no GraphQL).
//!
//! An [`OrderState`] tracks amounts in `i64` minor units (order total,
//! authorized, captured, refunded) and item quantities (ordered, fulfilled,
//! returned; `ordered` counts the items still to deliver or delivered, so
//! cancelling lines lowers it). The three statuses of a [`Status`] are derived from those
//! numbers plus two facts the numbers cannot hold: whether the order was
//! closed (cancelled or completed) and whether the last payment attempt
//! failed or was voided while no money was held. [`OrderState::apply`]
//! validates an [`OrderEvent`] against the current state and either returns
//! the next state with a [`Transition`] record, or a [`TransitionError`]
//! naming the current status, the event and why it was refused; the state it
//! was called on is never changed.
//!
//! Invariants of every state reachable from [`OrderState::new`]:
//! - `0 <= refunded <= captured <= authorized <= total`;
//! - `returned <= fulfilled <= ordered`; `ordered` is at least one when
//!   the order is placed and reaches zero only when every item was
//!   cancelled before anything was fulfilled (the order then awaits
//!   [`OrderEvent::Cancelled`] or its refunds; it never completes);
//! - the order is `Open` exactly when it is not closed and
//!   `authorized >= total` (the whole amount is secured, by an authorization
//!   or a capture); otherwise `Pending` until closed;
//! - a `Cancelled` order has nothing fulfilled and holds no money
//!   (`authorized == captured == refunded`);
//! - a `Completed` order has `captured == total` and `fulfilled == ordered`
//!   (refunds and returns may follow completion; they never lower those two).
//!
//! Rules chosen where commerce APIs differ:
//! - A capture draws on the open authorization (`authorized - captured`)
//!   when there is one. With no open authorization it is a sale, which
//!   authorizes and captures at once, up to what is left of the total.
//! - A full authorization confirms the order (`Pending` → `Open`), as it does
//!   on Shopify; an async payment with no authorization stays `Pending`
//!   until captured in full. Voiding the authorization of an `Open` order
//!   that is not fully captured returns it to `Pending`.
//! - Cancelling voids any open authorization as part of the cancellation,
//!   but refuses while captured money has not been refunded: refunds are
//!   money movement with their own ledger rows and must be explicit events.
//! - Fulfillment needs an `Open` order: nothing ships before payment is
//!   secured.
//! - A fulfilment cancelled before delivery un-fulfils its items
//!   ([`OrderEvent::FulfillmentCancelled`]) on an order that is not closed;
//!   items that came back are returns, not un-fulfilments, so only
//!   `fulfilled - returned` items can be un-fulfilled.
//! - Lines of an open order may be cancelled while unfulfilled
//!   ([`OrderEvent::LinesCancelled`], e.g. cancelling what is left of a
//!   partly shipped order, or refunding units that will not ship): they
//!   stop counting as ordered, so an order whose remaining items all
//!   shipped is `Fulfilled`. Their money is not touched: refunds are
//!   their own events.
//!
//! Storage: [`OrderState::parts`] gives the numbers and the two facts as a
//! plain [`Parts`] value to keep in columns (the enums have stable
//! snake_case forms), and [`OrderState::from_parts`] rebuilds the state,
//! refusing any combination no sequence of events can reach.

#[cfg(test)]
mod tests;

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

/// Why [`OrderState::new`] refused to open an order, or
/// [`OrderState::from_parts`] to rebuild one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOrder {
    /// A negative order total.
    #[error("negative order total")]
    NegativeTotal,
    /// An order with no items.
    #[error("an order needs at least one item")]
    NoItems,
    /// Amounts not ordered as `0 <= refunded <= captured <= authorized <=
    /// total` ([`OrderState::from_parts`] only).
    #[error("amounts must satisfy 0 <= refunded <= captured <= authorized <= total")]
    AmountsOutOfOrder,
    /// Quantities not ordered as `returned <= fulfilled <= ordered`
    /// ([`OrderState::from_parts`] only).
    #[error("quantities must satisfy returned <= fulfilled <= ordered")]
    QuantitiesOutOfOrder,
    /// A cancelled order with fulfilled items or money still held
    /// ([`OrderState::from_parts`] only).
    #[error("a cancelled order has nothing fulfilled and holds no money")]
    CancelledNotSettled,
    /// A completed order not captured in full or not fulfilled in full
    /// ([`OrderState::from_parts`] only).
    #[error("a completed order is captured and fulfilled in full")]
    CompletedNotSettled,
    /// A payment mark the amounts contradict: `voided` with an authorization
    /// still open or the total captured, `failed` with the total secured
    /// ([`OrderState::from_parts`] only).
    #[error("the payment mark contradicts the amounts")]
    InconsistentPaymentMark,
    /// Items fulfilled while nothing is authorized and no void explains it:
    /// fulfillment needs the total secured first, and only a void lowers
    /// the authorized amount ([`OrderState::from_parts`] only).
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

/// Everything an [`OrderState`] holds, as plain public fields: the form to
/// store it in (one column each) and to rebuild it from with
/// [`OrderState::from_parts`]. Amounts are minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Parts {
    /// The order total.
    pub total: i64,
    /// See [`OrderState::authorized`].
    pub authorized: i64,
    /// Captured.
    pub captured: i64,
    /// Refunded.
    pub refunded: i64,
    /// Items ordered.
    pub ordered: u32,
    /// Items fulfilled (returned ones included).
    pub fulfilled: u32,
    /// Items returned.
    pub returned: u32,
    /// How the order was closed, if it was.
    pub closure: Option<Closure>,
    /// The last void or failure, if no authorization or capture came after
    /// it.
    pub payment_mark: Option<PaymentMark>,
}

/// The numbers an order's statuses derive from. Built by [`OrderState::new`]
/// (or rebuilt by [`OrderState::from_parts`]) and moved only by
/// [`OrderState::apply`], so the invariants in the module documentation hold
/// for every value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderState {
    total: i64,
    authorized: i64,
    captured: i64,
    refunded: i64,
    ordered: u32,
    fulfilled: u32,
    returned: u32,
    closure: Option<Closure>,
    mark: Option<PaymentMark>,
}

impl OrderState {
    /// A new order awaiting payment: `total` minor units for `ordered` items.
    ///
    /// A zero total (a fully discounted order) is paid from the start, so
    /// the order is `Open` at once.
    pub fn new(total: i64, ordered: u32) -> Result<Self, InvalidOrder> {
        if total < 0 {
            return Err(InvalidOrder::NegativeTotal);
        }
        if ordered == 0 {
            return Err(InvalidOrder::NoItems);
        }
        Ok(Self {
            total,
            authorized: 0,
            captured: 0,
            refunded: 0,
            ordered,
            fulfilled: 0,
            returned: 0,
            closure: None,
            mark: None,
        })
    }

    /// Rebuilds a stored state, refusing `parts` that no sequence of events
    /// from [`OrderState::new`] reaches: besides the invariants in the
    /// module documentation, a `voided` mark means
    /// `authorized == captured < total`, a `failed` mark means
    /// `authorized < total`, a completed order carries no mark, and items
    /// fulfilled with nothing authorized on an order that costs something
    /// need a mark (only a void lowers the authorized amount, and only an
    /// authorization or capture clears a mark).
    pub fn from_parts(parts: Parts) -> Result<Self, InvalidOrder> {
        let Parts {
            total,
            authorized,
            captured,
            refunded,
            ordered,
            fulfilled,
            returned,
            closure,
            payment_mark: mark,
        } = parts;
        if total < 0 {
            return Err(InvalidOrder::NegativeTotal);
        }
        // Zero items: every item was cancelled before any shipped.
        let mut state = Self::new(total, ordered.max(1))?;
        state.ordered = ordered;
        if !(0 <= refunded && refunded <= captured && captured <= authorized && authorized <= total)
        {
            return Err(InvalidOrder::AmountsOutOfOrder);
        }
        if !(returned <= fulfilled && fulfilled <= ordered) {
            return Err(InvalidOrder::QuantitiesOutOfOrder);
        }
        match closure {
            Some(Closure::Cancelled)
                if fulfilled > 0 || authorized != captured || captured != refunded =>
            {
                return Err(InvalidOrder::CancelledNotSettled);
            }
            Some(Closure::Completed)
                if captured != total || fulfilled != ordered || ordered == 0 =>
            {
                return Err(InvalidOrder::CompletedNotSettled);
            }
            _ => {}
        }
        let mark_consistent = match mark {
            None => true,
            Some(PaymentMark::Voided) => authorized == captured && captured < total,
            Some(PaymentMark::Failed) => authorized < total,
        };
        if !mark_consistent {
            return Err(InvalidOrder::InconsistentPaymentMark);
        }
        if mark.is_none() && fulfilled > 0 && authorized == 0 && total > 0 {
            return Err(InvalidOrder::FulfilledWithoutPayment);
        }
        state.authorized = authorized;
        state.captured = captured;
        state.refunded = refunded;
        state.fulfilled = fulfilled;
        state.returned = returned;
        state.closure = closure;
        state.mark = mark;
        Ok(state)
    }

    /// Everything the state holds, to store; [`OrderState::from_parts`]
    /// rebuilds the same state from it.
    pub fn parts(&self) -> Parts {
        Parts {
            total: self.total,
            authorized: self.authorized,
            captured: self.captured,
            refunded: self.refunded,
            ordered: self.ordered,
            fulfilled: self.fulfilled,
            returned: self.returned,
            closure: self.closure,
            payment_mark: self.mark,
        }
    }

    /// The order total, in minor units.
    pub fn total(&self) -> i64 {
        self.total
    }

    /// Minor units ever authorized, including what was captured (a sale
    /// counts as authorized and captured); a void lowers it to `captured`.
    pub fn authorized(&self) -> i64 {
        self.authorized
    }

    /// Minor units captured.
    pub fn captured(&self) -> i64 {
        self.captured
    }

    /// Minor units refunded.
    pub fn refunded(&self) -> i64 {
        self.refunded
    }

    /// Items ordered.
    pub fn ordered(&self) -> u32 {
        self.ordered
    }

    /// Items fulfilled (returned ones included).
    pub fn fulfilled(&self) -> u32 {
        self.fulfilled
    }

    /// Items returned.
    pub fn returned(&self) -> u32 {
        self.returned
    }

    /// The three statuses, derived from the numbers.
    pub fn status(&self) -> Status {
        Status {
            order: self.order_status(),
            payment: self.payment_status(),
            fulfillment: self.fulfillment_status(),
        }
    }

    fn order_status(&self) -> OrderStatus {
        match self.closure {
            Some(Closure::Cancelled) => OrderStatus::Cancelled,
            Some(Closure::Completed) => OrderStatus::Completed,
            None if self.authorized >= self.total => OrderStatus::Open,
            None => OrderStatus::Pending,
        }
    }

    fn payment_status(&self) -> PaymentStatus {
        if self.refunded > 0 {
            if self.refunded == self.captured {
                PaymentStatus::Refunded
            } else {
                PaymentStatus::PartiallyRefunded
            }
        } else if self.captured >= self.total {
            PaymentStatus::Paid
        } else if self.captured > 0 {
            PaymentStatus::PartiallyPaid
        } else if self.authorized > 0 {
            PaymentStatus::Authorized
        } else {
            match self.mark {
                Some(PaymentMark::Voided) => PaymentStatus::Voided,
                Some(PaymentMark::Failed) => PaymentStatus::Failed,
                None => PaymentStatus::Pending,
            }
        }
    }

    fn fulfillment_status(&self) -> FulfillmentStatus {
        if self.returned > 0 {
            if self.returned == self.fulfilled {
                FulfillmentStatus::Returned
            } else {
                FulfillmentStatus::PartiallyReturned
            }
        } else if self.fulfilled == 0 {
            FulfillmentStatus::Unfulfilled
        } else if self.fulfilled < self.ordered {
            FulfillmentStatus::PartiallyFulfilled
        } else {
            FulfillmentStatus::Fulfilled
        }
    }

    /// Applies `event`, caused by `actor` at `at`: the next state and the
    /// record of the transition, or why the event is refused in this state.
    pub fn apply(
        &self,
        event: OrderEvent,
        actor: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Result<(Self, Transition), TransitionError> {
        let from = self.status();
        let next = self.next(&event).map_err(|refusal| TransitionError {
            status: from,
            event: event.kind(),
            refusal,
        })?;
        let transition = Transition {
            from,
            to: next.status(),
            event,
            actor: actor.into(),
            at,
        };
        Ok((next, transition))
    }

    /// The state after `event`, or why it is refused.
    fn next(&self, event: &OrderEvent) -> Result<Self, Refusal> {
        let mut next = *self;
        match *event {
            OrderEvent::PaymentAuthorized { amount } => {
                self.require_unclosed()?;
                require_positive(amount)?;
                within(Limit::OrderTotal, amount, self.total - self.authorized)?;
                next.authorized += amount;
                next.mark = None;
            }
            OrderEvent::PaymentCaptured { amount } => {
                self.require_unclosed()?;
                require_positive(amount)?;
                let open_authorization = self.authorized - self.captured;
                if open_authorization > 0 {
                    within(Limit::Authorization, amount, open_authorization)?;
                } else {
                    within(Limit::OrderTotal, amount, self.total - self.authorized)?;
                    next.authorized += amount;
                }
                next.captured += amount;
                next.mark = None;
            }
            OrderEvent::PaymentFailed => {
                self.require_unclosed()?;
                if self.order_status() != OrderStatus::Pending {
                    return Err(Refusal::NotAwaitingPayment);
                }
                next.mark = Some(PaymentMark::Failed);
            }
            OrderEvent::PaymentVoided => {
                if self.authorized == self.captured {
                    return Err(Refusal::NoOpenAuthorization);
                }
                next.authorized = self.captured;
                next.mark = Some(PaymentMark::Voided);
            }
            OrderEvent::Refunded { amount } => {
                require_positive(amount)?;
                within(Limit::Refundable, amount, self.captured - self.refunded)?;
                next.refunded += amount;
            }
            OrderEvent::Fulfilled { quantity } => {
                self.require_unclosed()?;
                require_some(quantity)?;
                if self.order_status() != OrderStatus::Open {
                    return Err(Refusal::AwaitingPayment);
                }
                within(
                    Limit::Unfulfilled,
                    i64::from(quantity),
                    i64::from(self.ordered - self.fulfilled),
                )?;
                next.fulfilled += quantity;
            }
            OrderEvent::FulfillmentCancelled { quantity } => {
                self.require_unclosed()?;
                require_some(quantity)?;
                within(
                    Limit::Returnable,
                    i64::from(quantity),
                    i64::from(self.fulfilled - self.returned),
                )?;
                next.fulfilled -= quantity;
            }
            OrderEvent::Returned { quantity } => {
                require_some(quantity)?;
                within(
                    Limit::Returnable,
                    i64::from(quantity),
                    i64::from(self.fulfilled - self.returned),
                )?;
                next.returned += quantity;
            }
            OrderEvent::Cancelled { .. } => {
                self.require_unclosed()?;
                if self.fulfilled > 0 {
                    return Err(Refusal::FulfilledItems);
                }
                if self.captured > self.refunded {
                    return Err(Refusal::UnrefundedCapture);
                }
                if self.authorized > self.captured {
                    next.authorized = self.captured;
                    next.mark = Some(PaymentMark::Voided);
                }
                next.closure = Some(Closure::Cancelled);
            }
            OrderEvent::LinesCancelled { quantity } => {
                self.require_unclosed()?;
                require_some(quantity)?;
                within(
                    Limit::Unfulfilled,
                    i64::from(quantity),
                    i64::from(self.ordered - self.fulfilled),
                )?;
                next.ordered -= quantity;
            }
            OrderEvent::Completed => {
                self.require_unclosed()?;
                if self.payment_status() != PaymentStatus::Paid {
                    return Err(Refusal::NotPaid);
                }
                if self.fulfillment_status() != FulfillmentStatus::Fulfilled {
                    return Err(Refusal::NotFulfilled);
                }
                next.closure = Some(Closure::Completed);
            }
        }
        Ok(next)
    }

    fn require_unclosed(&self) -> Result<(), Refusal> {
        match self.closure {
            Some(_) => Err(Refusal::Closed),
            None => Ok(()),
        }
    }
}

fn require_positive(amount: i64) -> Result<(), Refusal> {
    if amount > 0 {
        Ok(())
    } else {
        Err(Refusal::NonPositiveAmount)
    }
}

fn within(limit: Limit, requested: i64, available: i64) -> Result<(), Refusal> {
    if requested <= available {
        Ok(())
    } else {
        Err(Refusal::Exceeds {
            limit,
            requested,
            available,
        })
    }
}

fn require_some(quantity: u32) -> Result<(), Refusal> {
    if quantity > 0 {
        Ok(())
    } else {
        Err(Refusal::ZeroQuantity)
    }
}
