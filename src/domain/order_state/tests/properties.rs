//! Random event sequences keep every invariant.

use super::*;

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
