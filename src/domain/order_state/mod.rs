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
mod values;

pub use values::*;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
