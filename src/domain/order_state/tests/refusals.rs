//! Refused events, and the stable names of statuses and events.

use super::*;

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
