//! Tests of the order state machine: worked scenarios, refusals, stable
//! names, the invariants under random events, and storage.

mod properties;
mod refusals;
mod scenarios;
mod storage;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn at() -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000, 0)
        .single()
        .unwrap_or_default()
}

fn status(order: OrderStatus, payment: PaymentStatus, fulfillment: FulfillmentStatus) -> Status {
    Status {
        order,
        payment,
        fulfillment,
    }
}

fn order(total: i64, ordered: u32) -> OrderState {
    match OrderState::new(total, ordered) {
        Ok(state) => state,
        Err(err) => panic!("valid order refused: {err}"),
    }
}

/// Applies each event in turn, panicking on a refusal; returns the final
/// state and the transitions.
fn run(mut state: OrderState, events: Vec<OrderEvent>) -> (OrderState, Vec<Transition>) {
    let mut transitions = Vec::new();
    for event in events {
        match state.apply(event, "staff:1", at()) {
            Ok((next, transition)) => {
                state = next;
                transitions.push(transition);
            }
            Err(err) => panic!("refused: {err}"),
        }
    }
    (state, transitions)
}

/// The refusal of `event` in `state`, checking that the error names the
/// current status and the event.
fn refusal(state: &OrderState, event: OrderEvent) -> Refusal {
    let kind = event.kind();
    match state.apply(event, "staff:1", at()) {
        Ok((_, transition)) => panic!("accepted: {transition:?}"),
        Err(err) => {
            assert_eq!(err.status, state.status());
            assert_eq!(err.event, kind);
            err.refusal
        }
    }
}

use FulfillmentStatus as F;
use OrderEvent as E;
use OrderStatus as O;
use PaymentStatus as P;

/// Amounts around the totals drawn below, so that exact payments, refunds
/// and completions happen often, with zero, negative and too-large ones.
fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        prop::sample::select(vec![-1_i64, 0, 1, 100, 250, 500, 750, 999, 1000, 1001]),
        -10_i64..1200,
    ]
}

fn event() -> impl Strategy<Value = OrderEvent> {
    // Cancelling is rare so that most sequences get far enough to pay,
    // fulfil, complete and return.
    prop_oneof![
        3 => amount().prop_map(|amount| E::PaymentAuthorized { amount }),
        4 => amount().prop_map(|amount| E::PaymentCaptured { amount }),
        1 => Just(E::PaymentFailed),
        1 => Just(E::PaymentVoided),
        2 => amount().prop_map(|amount| E::Refunded { amount }),
        4 => (0_u32..4).prop_map(|quantity| E::Fulfilled { quantity }),
        1 => (0_u32..4).prop_map(|quantity| E::FulfillmentCancelled { quantity }),
        2 => (0_u32..4).prop_map(|quantity| E::Returned { quantity }),
        1 => Just(E::Cancelled {
            reason: "test".to_owned()
        }),
        2 => Just(E::Completed),
        1 => (0_u32..3).prop_map(|quantity| E::LinesCancelled { quantity }),
    ]
}

fn check_invariants(state: &OrderState) -> Result<(), TestCaseError> {
    let s = state.status();
    prop_assert!(0 <= state.refunded());
    prop_assert!(state.refunded() <= state.captured());
    prop_assert!(state.captured() <= state.authorized());
    prop_assert!(state.authorized() <= state.total());
    prop_assert!(state.returned() <= state.fulfilled());
    prop_assert!(state.fulfilled() <= state.ordered());

    match s.order {
        O::Pending => prop_assert!(state.authorized() < state.total()),
        O::Open => prop_assert!(state.authorized() >= state.total()),
        O::Cancelled => {
            prop_assert_eq!(state.fulfilled(), 0);
            prop_assert_eq!(state.authorized(), state.captured());
            prop_assert_eq!(state.captured(), state.refunded());
        }
        O::Completed => {
            prop_assert_eq!(state.captured(), state.total());
            prop_assert_eq!(state.fulfilled(), state.ordered());
        }
    }

    // Each status, read back as what it claims about the numbers (stated
    // independently of how `OrderState` derives it).
    let (total, authorized) = (state.total(), state.authorized());
    let (captured, refunded) = (state.captured(), state.refunded());
    let payment_consistent = match s.payment {
        P::Pending | P::Voided | P::Failed => authorized == 0 && total > 0,
        P::Authorized => authorized > 0 && captured == 0 && total > 0,
        P::PartiallyPaid => refunded == 0 && 0 < captured && captured < total,
        P::Paid => refunded == 0 && captured == total,
        P::PartiallyRefunded => 0 < refunded && refunded < captured,
        P::Refunded => 0 < refunded && refunded == captured,
    };
    prop_assert!(payment_consistent, "{:?} with {:?}", s, state);

    let (ordered, fulfilled, returned) = (state.ordered(), state.fulfilled(), state.returned());
    let fulfillment_consistent = match s.fulfillment {
        F::Unfulfilled => fulfilled == 0,
        F::PartiallyFulfilled => returned == 0 && 0 < fulfilled && fulfilled < ordered,
        F::Fulfilled => returned == 0 && fulfilled == ordered,
        F::PartiallyReturned => 0 < returned && returned < fulfilled,
        F::Returned => 0 < returned && returned == fulfilled,
    };
    prop_assert!(fulfillment_consistent, "{:?} with {:?}", s, state);
    Ok(())
}
