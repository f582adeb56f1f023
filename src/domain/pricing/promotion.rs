//! Promotion eligibility: whether a promotion (or discount code) may be used
//! now, by this customer, before it is offered to [`price_cart`](super::price_cart).
//!
//! Rules, checked in this order (the first that fails is the reason given):
//! 1. the promotion runs from `starts_at` (inclusive) ...
//! 2. ... until `ends_at` (exclusive): at `ends_at` it has expired;
//! 3. it has been used fewer than `usage_limit` times in all;
//! 4. a per-customer limit needs a known customer: guests cannot use it;
//! 5. the customer has used it fewer than `per_customer_limit` times.
//!
//! What the cart must contain (minimum subtotal, targeted products) is not
//! checked here: [`price_cart`](super::price_cart) reports that in
//! [`CartTotals::rejected_discounts`](super::CartTotals::rejected_discounts).
//! Uses are counted by the caller (from orders placed with the promotion);
//! checking is no reservation, so the order placement re-checks in its
//! transaction.

use chrono::{DateTime, Utc};

/// When and how often a promotion may be used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PromotionRules {
    /// Usable from this instant on; `None`: from the start.
    pub starts_at: Option<DateTime<Utc>>,
    /// Usable until just before this instant; `None`: no end.
    pub ends_at: Option<DateTime<Utc>>,
    /// How many times it may be used in all; `None`: no limit.
    pub usage_limit: Option<u32>,
    /// How many times one customer may use it; `None`: no limit. A limit
    /// requires a signed-in customer.
    pub per_customer_limit: Option<u32>,
}

/// How much a promotion has been used, as counted by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PromotionUsage {
    /// Uses by everyone.
    pub times_used: u32,
    /// Uses by the customer asking, when signed in; `None` for a guest.
    pub customer_uses: Option<u32>,
}

/// Why a promotion cannot be used (a customer-facing reason, for
/// `userErrors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Ineligible {
    /// Before `starts_at`.
    #[error("the promotion has not started yet")]
    NotStarted,
    /// At or after `ends_at`.
    #[error("the promotion has expired")]
    Expired,
    /// Used `usage_limit` times already.
    #[error("the promotion has been used up")]
    UsageLimitReached,
    /// The customer used it `per_customer_limit` times already.
    #[error("you have already used this promotion as often as allowed")]
    CustomerLimitReached,
    /// A per-customer limit applies and the customer is a guest.
    #[error("sign in to use this promotion")]
    SignInRequired,
}

/// Whether a promotion with `rules`, used as `usage` says, may be used at
/// `now`; the first failing rule (module docs order) otherwise.
pub fn check(
    rules: &PromotionRules,
    usage: &PromotionUsage,
    now: DateTime<Utc>,
) -> Result<(), Ineligible> {
    if rules.starts_at.is_some_and(|start| now < start) {
        return Err(Ineligible::NotStarted);
    }
    if rules.ends_at.is_some_and(|end| now >= end) {
        return Err(Ineligible::Expired);
    }
    if rules
        .usage_limit
        .is_some_and(|limit| usage.times_used >= limit)
    {
        return Err(Ineligible::UsageLimitReached);
    }
    if let Some(limit) = rules.per_customer_limit {
        let uses = usage.customer_uses.ok_or(Ineligible::SignInRequired)?;
        if uses >= limit {
            return Err(Ineligible::CustomerLimitReached);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
    }

    const SIGNED_IN: PromotionUsage = PromotionUsage {
        times_used: 0,
        customer_uses: Some(0),
    };

    #[test]
    fn runs_from_start_inclusive_to_end_exclusive() {
        let rules = PromotionRules {
            starts_at: Some(at(100)),
            ends_at: Some(at(200)),
            ..PromotionRules::default()
        };
        assert_eq!(
            check(&rules, &SIGNED_IN, at(99)),
            Err(Ineligible::NotStarted)
        );
        assert_eq!(check(&rules, &SIGNED_IN, at(100)), Ok(()));
        assert_eq!(check(&rules, &SIGNED_IN, at(199)), Ok(()));
        assert_eq!(check(&rules, &SIGNED_IN, at(200)), Err(Ineligible::Expired));
        let open = PromotionRules::default();
        assert_eq!(check(&open, &PromotionUsage::default(), at(0)), Ok(()));
    }

    #[test]
    fn usage_limits() {
        let rules = PromotionRules {
            usage_limit: Some(10),
            per_customer_limit: Some(1),
            ..PromotionRules::default()
        };
        let usage = |times_used, customer_uses| PromotionUsage {
            times_used,
            customer_uses,
        };
        assert_eq!(check(&rules, &usage(9, Some(0)), at(0)), Ok(()));
        assert_eq!(
            check(&rules, &usage(10, Some(0)), at(0)),
            Err(Ineligible::UsageLimitReached)
        );
        assert_eq!(
            check(&rules, &usage(9, Some(1)), at(0)),
            Err(Ineligible::CustomerLimitReached)
        );
        assert_eq!(
            check(&rules, &usage(0, None), at(0)),
            Err(Ineligible::SignInRequired)
        );
        // Without a per-customer limit, guests are welcome.
        let no_per_customer = PromotionRules {
            per_customer_limit: None,
            ..rules
        };
        assert_eq!(check(&no_per_customer, &usage(0, None), at(0)), Ok(()));
        // A limit of zero stops everyone.
        let zero = PromotionRules {
            usage_limit: Some(0),
            ..PromotionRules::default()
        };
        assert_eq!(
            check(&zero, &SIGNED_IN, at(0)),
            Err(Ineligible::UsageLimitReached)
        );
    }

    #[test]
    fn the_first_failing_rule_is_reported() {
        let everything_wrong = PromotionRules {
            starts_at: Some(at(100)),
            ends_at: Some(at(50)),
            usage_limit: Some(0),
            per_customer_limit: Some(0),
        };
        let guest = PromotionUsage::default();
        assert_eq!(
            check(&everything_wrong, &guest, at(0)),
            Err(Ineligible::NotStarted)
        );
        assert_eq!(
            check(&everything_wrong, &guest, at(100)),
            Err(Ineligible::Expired)
        );
    }

    proptest! {
        #[test]
        fn check_is_the_conjunction_of_the_rules(
            start in prop::option::of(0_i64..100),
            end in prop::option::of(0_i64..100),
            usage_limit in prop::option::of(0_u32..5),
            per_customer_limit in prop::option::of(0_u32..5),
            times_used in 0_u32..6,
            customer_uses in prop::option::of(0_u32..6),
            now in 0_i64..100,
        ) {
            let rules = PromotionRules {
                starts_at: start.map(at),
                ends_at: end.map(at),
                usage_limit,
                per_customer_limit,
            };
            let usage = PromotionUsage { times_used, customer_uses };
            let started = start.is_none_or(|s| now >= s);
            let not_ended = end.is_none_or(|e| now < e);
            let under_limit = usage_limit.is_none_or(|l| times_used < l);
            let customer_ok = per_customer_limit
                .is_none_or(|l| customer_uses.is_some_and(|u| u < l));
            let result = check(&rules, &usage, at(now));
            prop_assert_eq!(
                result.is_ok(),
                started && not_ended && under_limit && customer_ok
            );
            match result {
                Err(Ineligible::NotStarted) => prop_assert!(!started),
                Err(Ineligible::Expired) => prop_assert!(started && !not_ended),
                Err(Ineligible::UsageLimitReached) => {
                    prop_assert!(started && not_ended && !under_limit);
                }
                Err(Ineligible::SignInRequired) => {
                    prop_assert!(under_limit && customer_uses.is_none());
                }
                Err(Ineligible::CustomerLimitReached) => {
                    prop_assert!(under_limit && customer_uses.is_some() && !customer_ok);
                }
                Ok(()) => {}
            }
        }
    }
}
