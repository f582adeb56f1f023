//! Storage: parts round-trip, and exactly the reachable states are accepted.

use super::*;

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
