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

// --- worked scenarios -------------------------------------------------------

#[test]
fn new_order_is_pending_and_unfulfilled() {
    assert_eq!(
        order(1000, 2).status(),
        status(O::Pending, P::Pending, F::Unfulfilled)
    );
    assert_eq!(OrderState::new(-1, 1), Err(InvalidOrder::NegativeTotal));
    assert_eq!(OrderState::new(100, 0), Err(InvalidOrder::NoItems));
    // A fully discounted order owes nothing: it is paid and open at once.
    assert_eq!(
        order(0, 1).status(),
        status(O::Open, P::Paid, F::Unfulfilled)
    );
}

#[test]
fn pay_then_fulfil_then_complete() {
    let (state, transitions) = run(
        order(1000, 2),
        vec![
            E::PaymentAuthorized { amount: 1000 },
            E::PaymentCaptured { amount: 1000 },
            E::Fulfilled { quantity: 2 },
            E::Completed,
        ],
    );
    let path: Vec<_> = transitions.iter().map(|t| (t.from, t.to)).collect();
    assert_eq!(
        path,
        vec![
            (
                status(O::Pending, P::Pending, F::Unfulfilled),
                status(O::Open, P::Authorized, F::Unfulfilled)
            ),
            (
                status(O::Open, P::Authorized, F::Unfulfilled),
                status(O::Open, P::Paid, F::Unfulfilled)
            ),
            (
                status(O::Open, P::Paid, F::Unfulfilled),
                status(O::Open, P::Paid, F::Fulfilled)
            ),
            (
                status(O::Open, P::Paid, F::Fulfilled),
                status(O::Completed, P::Paid, F::Fulfilled)
            ),
        ]
    );
    assert_eq!(transitions[3].event, E::Completed);
    assert_eq!(transitions[3].actor, "staff:1");
    assert_eq!(transitions[3].at, at());
    assert_eq!((state.captured(), state.fulfilled()), (1000, 2));
}

#[test]
fn async_payment_stays_pending_until_captured() {
    // A bank transfer: no authorization, the money arrives later as a sale.
    let state = order(1000, 1);
    let (state, _) = run(state, vec![E::PaymentFailed]);
    assert_eq!(state.status().order, O::Pending);
    assert_eq!(
        refusal(&state, E::Fulfilled { quantity: 1 }),
        Refusal::AwaitingPayment
    );
    let (state, _) = run(state, vec![E::PaymentCaptured { amount: 1000 }]);
    assert_eq!(state.status(), status(O::Open, P::Paid, F::Unfulfilled));
    assert_eq!(state.authorized(), 1000);
}

#[test]
fn declined_payment_keeps_the_order_pending() {
    let (state, transitions) = run(order(1000, 1), vec![E::PaymentFailed]);
    assert_eq!(
        state.status(),
        status(O::Pending, P::Failed, F::Unfulfilled)
    );
    assert_eq!(transitions[0].from.payment, P::Pending);
    // A retry that succeeds clears the failure.
    let (state, _) = run(state, vec![E::PaymentAuthorized { amount: 1000 }]);
    assert_eq!(
        state.status(),
        status(O::Open, P::Authorized, F::Unfulfilled)
    );
    // Once confirmed, a failure report is refused.
    assert_eq!(
        refusal(&state, E::PaymentFailed),
        Refusal::NotAwaitingPayment
    );
}

#[test]
fn partial_capture_then_full() {
    let (state, _) = run(
        order(1000, 1),
        vec![
            E::PaymentAuthorized { amount: 1000 },
            E::PaymentCaptured { amount: 400 },
        ],
    );
    assert_eq!(
        state.status(),
        status(O::Open, P::PartiallyPaid, F::Unfulfilled)
    );
    let (state, _) = run(state, vec![E::PaymentCaptured { amount: 600 }]);
    assert_eq!(state.status(), status(O::Open, P::Paid, F::Unfulfilled));
}

#[test]
fn partial_sale_keeps_the_order_pending() {
    let (state, _) = run(order(1000, 1), vec![E::PaymentCaptured { amount: 300 }]);
    assert_eq!(
        state.status(),
        status(O::Pending, P::PartiallyPaid, F::Unfulfilled)
    );
    assert_eq!(
        refusal(&state, E::PaymentCaptured { amount: 701 }),
        Refusal::Exceeds {
            limit: Limit::OrderTotal,
            requested: 701,
            available: 700
        }
    );
}

#[test]
fn partial_refund_then_full_refund() {
    let (state, _) = run(order(1000, 1), vec![E::PaymentCaptured { amount: 1000 }]);
    let (state, _) = run(state, vec![E::Refunded { amount: 250 }]);
    assert_eq!(state.status().payment, P::PartiallyRefunded);
    let (state, _) = run(state, vec![E::Refunded { amount: 750 }]);
    assert_eq!(state.status().payment, P::Refunded);
    assert_eq!((state.captured(), state.refunded()), (1000, 1000));
}

#[test]
fn cancel_before_fulfilment_voids_the_authorization() {
    let (state, transitions) = run(
        order(1000, 1),
        vec![
            E::PaymentAuthorized { amount: 1000 },
            E::Cancelled {
                reason: "customer request".to_owned(),
            },
        ],
    );
    assert_eq!(
        state.status(),
        status(O::Cancelled, P::Voided, F::Unfulfilled)
    );
    assert_eq!(state.authorized(), 0);
    assert_eq!(transitions[1].from.order, O::Open);
    // Nothing moves a cancelled order again but money and goods coming back.
    for event in [
        E::PaymentAuthorized { amount: 1 },
        E::PaymentCaptured { amount: 1 },
        E::PaymentFailed,
        E::Completed,
    ] {
        assert_eq!(refusal(&state, event), Refusal::Closed);
    }
}

#[test]
fn cancel_requires_captured_money_to_be_refunded_first() {
    let (state, _) = run(order(1000, 1), vec![E::PaymentCaptured { amount: 1000 }]);
    let cancel = || E::Cancelled {
        reason: "fraud".to_owned(),
    };
    assert_eq!(refusal(&state, cancel()), Refusal::UnrefundedCapture);
    let (state, _) = run(state, vec![E::Refunded { amount: 1000 }, cancel()]);
    assert_eq!(
        state.status(),
        status(O::Cancelled, P::Refunded, F::Unfulfilled)
    );
}

#[test]
fn cancel_is_refused_once_something_is_fulfilled() {
    let (state, _) = run(
        order(1000, 2),
        vec![
            E::PaymentAuthorized { amount: 1000 },
            E::Fulfilled { quantity: 1 },
        ],
    );
    assert_eq!(
        refusal(
            &state,
            E::Cancelled {
                reason: "late".to_owned()
            }
        ),
        Refusal::FulfilledItems
    );
}

#[test]
fn cancelling_the_unshipped_rest_of_a_partly_fulfilled_order() {
    let (state, _) = run(
        order(1000, 3),
        vec![
            E::PaymentCaptured { amount: 1000 },
            E::Fulfilled { quantity: 1 },
        ],
    );
    // More than is left to ship is refused ...
    assert_eq!(
        refusal(&state, E::LinesCancelled { quantity: 3 }),
        Refusal::Exceeds {
            limit: Limit::Unfulfilled,
            requested: 3,
            available: 2,
        }
    );
    // ... the rest is cancelled, and what shipped is all there is.
    let (state, _) = run(
        state,
        vec![
            E::LinesCancelled { quantity: 2 },
            E::Refunded { amount: 600 },
        ],
    );
    assert_eq!(state.ordered(), 1);
    assert_eq!(
        state.status(),
        status(O::Open, P::PartiallyRefunded, F::Fulfilled)
    );
    assert_eq!(
        refusal(&state, E::LinesCancelled { quantity: 1 }),
        Refusal::Exceeds {
            limit: Limit::Unfulfilled,
            requested: 1,
            available: 0,
        }
    );
}

#[test]
fn cancelling_every_item_before_shipping_leaves_an_order_to_cancel() {
    let (state, _) = run(
        order(1000, 2),
        vec![
            E::PaymentCaptured { amount: 1000 },
            E::LinesCancelled { quantity: 2 },
            E::Refunded { amount: 1000 },
        ],
    );
    assert_eq!(state.ordered(), 0);
    assert_eq!(
        refusal(&state, E::Fulfilled { quantity: 1 }),
        Refusal::Exceeds {
            limit: Limit::Unfulfilled,
            requested: 1,
            available: 0,
        }
    );
    assert_eq!(refusal(&state, E::Completed), Refusal::NotPaid);
    let (state, _) = run(
        state,
        vec![E::Cancelled {
            reason: "refunded".to_owned(),
        }],
    );
    assert_eq!(
        state.status(),
        status(O::Cancelled, P::Refunded, F::Unfulfilled)
    );
    assert_eq!(OrderState::from_parts(state.parts()), Ok(state));
}

#[test]
fn voiding_an_open_authorization_returns_the_order_to_pending() {
    let (state, _) = run(
        order(1000, 1),
        vec![
            E::PaymentAuthorized { amount: 1000 },
            E::PaymentCaptured { amount: 400 },
            E::PaymentVoided,
        ],
    );
    assert_eq!(
        state.status(),
        status(O::Pending, P::PartiallyPaid, F::Unfulfilled)
    );
    assert_eq!(state.authorized(), 400);
    assert_eq!(
        refusal(&state, E::PaymentVoided),
        Refusal::NoOpenAuthorization
    );
}

#[test]
fn returns_after_completion() {
    let (state, _) = run(
        order(1000, 3),
        vec![
            E::PaymentCaptured { amount: 1000 },
            E::Fulfilled { quantity: 3 },
            E::Completed,
            E::Returned { quantity: 1 },
            E::Refunded { amount: 300 },
        ],
    );
    assert_eq!(
        state.status(),
        status(O::Completed, P::PartiallyRefunded, F::PartiallyReturned)
    );
    let (state, _) = run(state, vec![E::Returned { quantity: 2 }]);
    assert_eq!(state.status().fulfillment, F::Returned);
}

// --- refusals ---------------------------------------------------------------

#[test]
fn refuses_capture_above_authorized() {
    let (state, _) = run(order(1000, 1), vec![E::PaymentAuthorized { amount: 500 }]);
    assert_eq!(
        state.status(),
        status(O::Pending, P::Authorized, F::Unfulfilled)
    );
    assert_eq!(
        refusal(&state, E::PaymentCaptured { amount: 501 }),
        Refusal::Exceeds {
            limit: Limit::Authorization,
            requested: 501,
            available: 500
        }
    );
    assert_eq!(
        refusal(&state, E::PaymentAuthorized { amount: 501 }),
        Refusal::Exceeds {
            limit: Limit::OrderTotal,
            requested: 501,
            available: 500
        }
    );
}

#[test]
fn refuses_refund_above_captured() {
    let (state, _) = run(
        order(1000, 1),
        vec![
            E::PaymentCaptured { amount: 600 },
            E::Refunded { amount: 100 },
        ],
    );
    assert_eq!(
        refusal(&state, E::Refunded { amount: 501 }),
        Refusal::Exceeds {
            limit: Limit::Refundable,
            requested: 501,
            available: 500
        }
    );
    assert_eq!(
        refusal(&order(1000, 1), E::Refunded { amount: 1 }),
        Refusal::Exceeds {
            limit: Limit::Refundable,
            requested: 1,
            available: 0
        }
    );
}

#[test]
fn refuses_fulfilling_a_cancelled_order() {
    let (state, _) = run(
        order(0, 1),
        vec![E::Cancelled {
            reason: "duplicate".to_owned(),
        }],
    );
    assert_eq!(
        refusal(&state, E::Fulfilled { quantity: 1 }),
        Refusal::Closed
    );
}

#[test]
fn refuses_fulfilling_beyond_ordered() {
    let (state, _) = run(
        order(1000, 2),
        vec![
            E::PaymentCaptured { amount: 1000 },
            E::Fulfilled { quantity: 1 },
        ],
    );
    assert_eq!(
        refusal(&state, E::Fulfilled { quantity: 2 }),
        Refusal::Exceeds {
            limit: Limit::Unfulfilled,
            requested: 2,
            available: 1
        }
    );
}

#[test]
fn refuses_returning_more_than_fulfilled() {
    let (state, _) = run(
        order(1000, 3),
        vec![
            E::PaymentCaptured { amount: 1000 },
            E::Fulfilled { quantity: 2 },
        ],
    );
    assert_eq!(
        refusal(&state, E::Returned { quantity: 3 }),
        Refusal::Exceeds {
            limit: Limit::Returnable,
            requested: 3,
            available: 2
        }
    );
}

#[test]
fn refuses_completing_an_unpaid_or_unfulfilled_order() {
    assert_eq!(refusal(&order(1000, 1), E::Completed), Refusal::NotPaid);
    let (authorized, _) = run(order(1000, 1), vec![E::PaymentAuthorized { amount: 1000 }]);
    assert_eq!(refusal(&authorized, E::Completed), Refusal::NotPaid);
    let (paid, _) = run(order(1000, 1), vec![E::PaymentCaptured { amount: 1000 }]);
    assert_eq!(refusal(&paid, E::Completed), Refusal::NotFulfilled);
}

#[test]
fn refuses_non_positive_amounts_and_zero_quantities() {
    let state = order(1000, 1);
    for amount in [0, -5, i64::MIN] {
        assert_eq!(
            refusal(&state, E::PaymentCaptured { amount }),
            Refusal::NonPositiveAmount
        );
        assert_eq!(
            refusal(&state, E::Refunded { amount }),
            Refusal::NonPositiveAmount
        );
    }
    assert_eq!(
        refusal(&state, E::Returned { quantity: 0 }),
        Refusal::ZeroQuantity
    );
}

// --- serde ------------------------------------------------------------------

#[test]
fn statuses_and_events_serialize_with_stable_snake_case_names() -> serde_json::Result<()> {
    assert_eq!(
        serde_json::to_value(status(O::Open, P::PartiallyRefunded, F::PartiallyReturned))?,
        serde_json::json!({
            "order": "open",
            "payment": "partially_refunded",
            "fulfillment": "partially_returned"
        })
    );
    assert_eq!(
        serde_json::to_value(E::PaymentCaptured { amount: 250 })?,
        serde_json::json!({ "type": "payment_captured", "amount": 250 })
    );
    assert_eq!(
        serde_json::to_value(E::PaymentVoided)?,
        serde_json::json!({ "type": "payment_voided" })
    );
    let cancelled = E::Cancelled {
        reason: "fraud".to_owned(),
    };
    assert_eq!(
        serde_json::from_value::<OrderEvent>(serde_json::json!({
            "type": "cancelled",
            "reason": "fraud"
        }))?,
        cancelled
    );
    let (_, transitions) = run(order(1000, 1), vec![E::PaymentAuthorized { amount: 1000 }]);
    let round_trip: Transition = serde_json::from_value(serde_json::to_value(&transitions[0])?)?;
    assert_eq!(round_trip, transitions[0]);
    Ok(())
}

// --- property ---------------------------------------------------------------

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

proptest! {
    #[test]
    fn accepted_events_keep_the_invariants(
        total in prop::sample::select(vec![0_i64, 500, 1000, 999]),
        ordered in 1_u32..5,
        events in prop::collection::vec(event(), 0..40),
    ) {
        let mut state = order(total, ordered);
        check_invariants(&state)?;
        for event in events {
            let before = state;
            let kind = event.kind();
            match state.apply(event.clone(), "prop", at()) {
                Ok((next, transition)) => {
                    prop_assert_eq!(transition.from, before.status());
                    prop_assert_eq!(transition.to, next.status());
                    prop_assert_eq!(&transition.event, &event);
                    // Once closed, an order stays closed the same way.
                    if matches!(before.status().order, O::Cancelled | O::Completed) {
                        prop_assert_eq!(next.status().order, before.status().order);
                    }
                    if before.status().order == O::Cancelled {
                        prop_assert!(next.fulfilled() == 0);
                    }
                    if kind == EventKind::Completed {
                        prop_assert_eq!(before.status().payment, P::Paid);
                        prop_assert_eq!(before.status().fulfillment, F::Fulfilled);
                    }
                    if kind == EventKind::PaymentFailed {
                        prop_assert_eq!(next.status().order, O::Pending);
                    }
                    state = next;
                }
                Err(err) => {
                    // `apply` takes `&self`: the state cannot change, but the
                    // error must still describe it.
                    prop_assert_eq!(state, before);
                    prop_assert_eq!(err.status, before.status());
                    prop_assert_eq!(err.event, kind);
                }
            }
            check_invariants(&state)?;
        }
    }
}

// --- storage ----------------------------------------------------------------

fn parts(total: i64, authorized: i64, captured: i64, refunded: i64) -> Parts {
    Parts {
        total,
        authorized,
        captured,
        refunded,
        ordered: 2,
        fulfilled: 0,
        returned: 0,
        closure: None,
        payment_mark: None,
    }
}

#[test]
fn parts_round_trip_through_storage() -> serde_json::Result<()> {
    let (state, _) = run(
        order(1000, 3),
        vec![
            E::PaymentAuthorized { amount: 1000 },
            E::PaymentCaptured { amount: 1000 },
            E::Fulfilled { quantity: 3 },
            E::Completed,
            E::Returned { quantity: 1 },
            E::Refunded { amount: 300 },
        ],
    );
    let stored = state.parts();
    assert_eq!(stored.closure, Some(Closure::Completed));
    assert_eq!(OrderState::from_parts(stored), Ok(state));
    assert_eq!(
        serde_json::to_value(stored)?,
        serde_json::json!({
            "total": 1000, "authorized": 1000, "captured": 1000, "refunded": 300,
            "ordered": 3, "fulfilled": 3, "returned": 1,
            "closure": "completed", "payment_mark": null
        })
    );
    for closure in [Closure::Cancelled, Closure::Completed] {
        assert_eq!(closure.as_str().parse::<Closure>(), Ok(closure));
        assert_eq!(serde_json::to_value(closure)?, closure.as_str());
    }
    for mark in [PaymentMark::Voided, PaymentMark::Failed] {
        assert_eq!(mark.as_str().parse::<PaymentMark>(), Ok(mark));
        assert_eq!(serde_json::to_value(mark)?, mark.as_str());
    }
    assert_eq!(
        "Voided".parse::<PaymentMark>(),
        Err(UnknownStoredValue("Voided".to_owned()))
    );
    Ok(())
}

#[test]
fn from_parts_refuses_each_broken_invariant() {
    let refused = |p: Parts| match OrderState::from_parts(p) {
        Ok(state) => panic!("accepted {p:?} as {:?}", state.status()),
        Err(err) => err,
    };
    assert_eq!(refused(parts(-1, 0, 0, 0)), InvalidOrder::NegativeTotal);
    // No items left (all cancelled before shipping) is a stored state, but
    // never a completed one.
    assert!(
        OrderState::from_parts(Parts {
            ordered: 0,
            ..parts(100, 0, 0, 0)
        })
        .is_ok()
    );
    assert_eq!(
        refused(Parts {
            ordered: 0,
            closure: Some(Closure::Completed),
            ..parts(0, 0, 0, 0)
        }),
        InvalidOrder::CompletedNotSettled
    );
    for broken in [
        parts(100, 101, 0, 0),
        parts(100, 50, 60, 0),
        parts(100, 50, 40, 41),
        parts(100, 50, 40, -1),
    ] {
        assert_eq!(refused(broken), InvalidOrder::AmountsOutOfOrder);
    }
    for (fulfilled, returned) in [(3, 0), (1, 2)] {
        let broken = Parts {
            fulfilled,
            returned,
            ..parts(100, 100, 0, 0)
        };
        assert_eq!(refused(broken), InvalidOrder::QuantitiesOutOfOrder);
    }
    let cancelled = |p: Parts| Parts {
        closure: Some(Closure::Cancelled),
        ..p
    };
    for broken in [
        cancelled(parts(100, 100, 0, 0)),
        cancelled(parts(100, 100, 100, 50)),
        cancelled(Parts {
            fulfilled: 1,
            ..parts(100, 100, 100, 100)
        }),
    ] {
        assert_eq!(refused(broken), InvalidOrder::CancelledNotSettled);
    }
    let completed = |p: Parts| Parts {
        closure: Some(Closure::Completed),
        ..p
    };
    for broken in [
        completed(Parts {
            fulfilled: 2,
            ..parts(100, 100, 90, 0)
        }),
        completed(Parts {
            fulfilled: 1,
            ..parts(100, 100, 100, 0)
        }),
    ] {
        assert_eq!(refused(broken), InvalidOrder::CompletedNotSettled);
    }
    let marked = |p: Parts, mark| Parts {
        payment_mark: Some(mark),
        ..p
    };
    for broken in [
        marked(parts(100, 50, 0, 0), PaymentMark::Voided),
        marked(parts(100, 100, 100, 0), PaymentMark::Voided),
        marked(parts(100, 100, 0, 0), PaymentMark::Failed),
        completed(marked(
            Parts {
                fulfilled: 2,
                ..parts(100, 100, 100, 0)
            },
            PaymentMark::Failed,
        )),
    ] {
        assert_eq!(refused(broken), InvalidOrder::InconsistentPaymentMark);
    }
    assert_eq!(
        refused(Parts {
            fulfilled: 1,
            ..parts(100, 0, 0, 0)
        }),
        InvalidOrder::FulfilledWithoutPayment
    );
    // The same numbers are reachable with a void behind them ...
    assert!(
        OrderState::from_parts(Parts {
            fulfilled: 1,
            payment_mark: Some(PaymentMark::Voided),
            ..parts(100, 0, 0, 0)
        })
        .is_ok()
    );
    // ... or when the order costs nothing.
    assert!(
        OrderState::from_parts(Parts {
            fulfilled: 1,
            ..parts(0, 0, 0, 0)
        })
        .is_ok()
    );
}

/// Every state reachable from small orders, by breadth-first search over
/// events with small amounts and quantities.
fn reachable_parts(max_total: i64, max_ordered: u32) -> std::collections::HashSet<Parts> {
    let mut events = vec![
        E::PaymentFailed,
        E::PaymentVoided,
        E::Completed,
        E::Cancelled {
            reason: "test".to_owned(),
        },
    ];
    for amount in 1..=max_total {
        events.push(E::PaymentAuthorized { amount });
        events.push(E::PaymentCaptured { amount });
        events.push(E::Refunded { amount });
    }
    for quantity in 1..=max_ordered {
        events.push(E::Fulfilled { quantity });
        events.push(E::FulfillmentCancelled { quantity });
        events.push(E::Returned { quantity });
        events.push(E::LinesCancelled { quantity });
    }
    let mut seen = std::collections::HashSet::new();
    let mut queue = std::collections::VecDeque::new();
    for total in 0..=max_total {
        for ordered in 1..=max_ordered {
            queue.push_back(order(total, ordered));
        }
    }
    while let Some(state) = queue.pop_front() {
        if !seen.insert(state.parts()) {
            continue;
        }
        for event in &events {
            if let Ok((next, _)) = state.apply(event.clone(), "bfs", at()) {
                queue.push_back(next);
            }
        }
    }
    seen
}

#[test]
fn from_parts_accepts_exactly_the_reachable_states() {
    let (max_total, max_ordered) = (3_i64, 2_u32);
    let reachable = reachable_parts(max_total, max_ordered);
    let closures = [None, Some(Closure::Cancelled), Some(Closure::Completed)];
    let marks = [None, Some(PaymentMark::Voided), Some(PaymentMark::Failed)];
    let mut accepted = 0;
    for total in -1..=max_total {
        for authorized in -1..=max_total {
            for captured in -1..=max_total {
                for refunded in -1..=max_total {
                    for ordered in 0..=max_ordered {
                        for fulfilled in 0..=max_ordered + 1 {
                            for returned in 0..=max_ordered + 1 {
                                for closure in closures {
                                    for payment_mark in marks {
                                        let p = Parts {
                                            total,
                                            authorized,
                                            captured,
                                            refunded,
                                            ordered,
                                            fulfilled,
                                            returned,
                                            closure,
                                            payment_mark,
                                        };
                                        let rebuilt = OrderState::from_parts(p);
                                        assert_eq!(
                                            rebuilt.is_ok(),
                                            reachable.contains(&p),
                                            "{p:?}: {rebuilt:?}"
                                        );
                                        if let Ok(state) = rebuilt {
                                            assert_eq!(state.parts(), p);
                                            accepted += 1;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(accepted, reachable.len());
}

fn any_parts() -> impl Strategy<Value = Parts> {
    let closure = prop::option::of(prop_oneof![
        Just(Closure::Cancelled),
        Just(Closure::Completed)
    ]);
    let mark = prop::option::of(prop_oneof![
        Just(PaymentMark::Voided),
        Just(PaymentMark::Failed)
    ]);
    (
        (amount(), amount(), amount(), amount()),
        (0_u32..5, 0_u32..5, 0_u32..5),
        closure,
        mark,
    )
        .prop_map(
            |(
                (total, authorized, captured, refunded),
                (ordered, fulfilled, returned),
                closure,
                payment_mark,
            )| {
                Parts {
                    total,
                    authorized,
                    captured,
                    refunded,
                    ordered,
                    fulfilled,
                    returned,
                    closure,
                    payment_mark,
                }
            },
        )
}

proptest! {
    #[test]
    fn stored_parts_rebuild_every_reachable_state(
        total in prop::sample::select(vec![0_i64, 500, 1000, 999]),
        ordered in 1_u32..5,
        events in prop::collection::vec(event(), 0..40),
    ) {
        let mut state = order(total, ordered);
        prop_assert_eq!(OrderState::from_parts(state.parts()), Ok(state));
        for event in events {
            if let Ok((next, _)) = state.apply(event, "prop", at()) {
                state = next;
                prop_assert_eq!(OrderState::from_parts(state.parts()), Ok(state));
            }
        }
    }

    #[test]
    fn from_parts_accepts_nothing_that_breaks_the_invariants(p in any_parts()) {
        // The invariants of the module documentation, read off the parts.
        let documented = p.total >= 0
            && 0 <= p.refunded
            && p.refunded <= p.captured
            && p.captured <= p.authorized
            && p.authorized <= p.total
            && p.returned <= p.fulfilled
            && p.fulfilled <= p.ordered
            && match p.closure {
                None => true,
                Some(Closure::Cancelled) => {
                    p.fulfilled == 0 && p.authorized == p.captured && p.captured == p.refunded
                }
                Some(Closure::Completed) => {
                    p.captured == p.total && p.fulfilled == p.ordered && p.ordered > 0
                }
            };
        // Refusing more than these (marks the numbers contradict) is
        // checked exhaustively on small orders above.
        if let Ok(state) = OrderState::from_parts(p) {
            prop_assert!(documented, "accepted {:?}", p);
            prop_assert_eq!(state.parts(), p);
            check_invariants(&state)?;
            // A rebuilt state moves on like any other.
            for event in [E::Refunded { amount: 1 }, E::Returned { quantity: 1 }] {
                if let Ok((next, _)) = state.apply(event, "prop", at()) {
                    check_invariants(&next)?;
                }
            }
        }
    }
}

#[test]
fn a_cancelled_fulfilment_unfulfils_its_items() {
    let (state, _) = run(
        order(1000, 3),
        vec![
            E::PaymentCaptured { amount: 1000 },
            E::Fulfilled { quantity: 2 },
            E::FulfillmentCancelled { quantity: 1 },
        ],
    );
    assert_eq!(state.fulfilled(), 1);
    assert_eq!(
        state.status(),
        status(O::Open, P::Paid, F::PartiallyFulfilled)
    );
    let (state, _) = run(state, vec![E::FulfillmentCancelled { quantity: 1 }]);
    assert_eq!(state.status(), status(O::Open, P::Paid, F::Unfulfilled));
    // Nothing left to un-fulfil; zero is no quantity.
    assert!(matches!(
        refusal(&state, E::FulfillmentCancelled { quantity: 1 }),
        Refusal::Exceeds {
            limit: Limit::Returnable,
            requested: 1,
            available: 0
        }
    ));
    assert_eq!(
        refusal(&state, E::FulfillmentCancelled { quantity: 0 }),
        Refusal::ZeroQuantity
    );
}

#[test]
fn returned_or_completed_items_are_not_unfulfilled() {
    let (state, _) = run(
        order(1000, 2),
        vec![
            E::PaymentCaptured { amount: 1000 },
            E::Fulfilled { quantity: 2 },
            E::Returned { quantity: 1 },
        ],
    );
    assert!(matches!(
        refusal(&state, E::FulfillmentCancelled { quantity: 2 }),
        Refusal::Exceeds { available: 1, .. }
    ));
    let (done, _) = run(
        order(1000, 2),
        vec![
            E::PaymentCaptured { amount: 1000 },
            E::Fulfilled { quantity: 2 },
            E::Completed,
        ],
    );
    assert_eq!(
        refusal(&done, E::FulfillmentCancelled { quantity: 1 }),
        Refusal::Closed
    );
}
