//! Worked scenarios: payments, fulfilment, cancellation and returns, step by step.

use super::*;

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
