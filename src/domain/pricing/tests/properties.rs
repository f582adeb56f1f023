//! Properties of the pricing engine over random carts with every discount
//! kind, both tax modes, shipping and shipping tax.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::super::*;
use crate::domain::money::Currency;

const TAX_CLASSES: [&str; 3] = ["standard", "reduced", "zero"];

/// An amount below `max`, often zero or a round figure, so that unit prices
/// and discounts tie often enough for tie-breaking to be exercised.
fn arb_amount(max: i64) -> impl Strategy<Value = i64> {
    prop_oneof![
        1 => Just(0_i64),
        3 => prop::sample::select(vec![100_i64, 500, 999, 1000]),
        4 => 1..max,
    ]
}

fn arb_line() -> impl Strategy<Value = Line> {
    (
        1_i64..6,
        1_i64..4,
        arb_amount(50_000),
        0_u32..10,
        0_usize..3,
        0_u32..3000,
    )
        .prop_map(
            |(variant_id, product_id, unit_price, quantity, class, weight_grams)| Line {
                variant_id,
                product_id,
                unit_price,
                quantity,
                tax_class: TAX_CLASSES.get(class).copied().unwrap_or("zero").to_owned(),
                weight_grams,
            },
        )
}

fn arb_percentage() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (0_i64..=100).prop_map(|p| Decimal::new(p, 2)),
        (0_i64..=10_000).prop_map(|p| Decimal::new(p, 4)),
    ]
}

fn arb_buy_x_get_y() -> impl Strategy<Value = BuyXGetY> {
    (
        0_u32..4,
        1_u32..4,
        arb_percentage(),
        prop::option::of(0_u32..4),
    )
        .prop_map(|(buy, get, percentage, max_applications)| BuyXGetY {
            buy,
            get,
            percentage,
            max_applications,
        })
}

fn arb_value() -> impl Strategy<Value = DiscountValue> {
    prop_oneof![
        arb_percentage().prop_map(DiscountValue::Percentage),
        arb_amount(60_000).prop_map(DiscountValue::FixedAmount),
        arb_buy_x_get_y().prop_map(DiscountValue::BuyXGetY),
        Just(DiscountValue::FreeShipping),
    ]
}

/// The tax on `net` at `rate`, worked out from the definition: a share of
/// the net amount on top (exclusive) or within it (inclusive), rounded half
/// up to a whole minor unit.
fn tax_by_definition(net: i64, rate: Decimal, mode: TaxMode) -> Decimal {
    let net = Decimal::from(net);
    let exact = match mode {
        TaxMode::Exclusive => net * rate,
        TaxMode::Inclusive => net * rate / (Decimal::ONE + rate),
    };
    (exact + Decimal::new(5, 1)).floor()
}

fn arb_target() -> impl Strategy<Value = DiscountTarget> {
    prop_oneof![
        Just(DiscountTarget::Order),
        (
            prop::collection::vec(1_i64..6, 0..3),
            prop::collection::vec(1_i64..4, 0..2)
        )
            .prop_map(|(variant_ids, product_ids)| DiscountTarget::Lines {
                variant_ids,
                product_ids
            }),
    ]
}

fn arb_discount() -> impl Strategy<Value = Discount> {
    (
        arb_value(),
        arb_target(),
        prop_oneof![Just(0_i64), 0_i64..40_000],
        any::<bool>(),
    )
        .prop_map(|(value, target, min_subtotal, exclusive)| Discount {
            id: 0,
            value,
            target,
            min_subtotal,
            stacking: if exclusive {
                Stacking::Exclusive
            } else {
                Stacking::Stackable
            },
        })
}

fn arb_shipping() -> impl Strategy<Value = Option<ShippingMethod>> {
    let bracket = (0_u64..30_000, 0_i64..5000).prop_map(|(up_to_grams, amount)| WeightBracket {
        up_to_grams,
        amount,
    });
    prop_oneof![
        Just(None),
        arb_amount(5000).prop_map(|amount| Some(ShippingMethod::Flat { amount })),
        (0_i64..5000, 0_i64..100_000)
            .prop_map(|(amount, threshold)| Some(ShippingMethod::FreeOver { amount, threshold })),
        prop::collection::vec(bracket, 0..4).prop_map(|mut brackets| {
            brackets.push(WeightBracket {
                up_to_grams: u64::MAX,
                amount: 9999,
            });
            Some(ShippingMethod::ByWeight { brackets })
        }),
    ]
}

fn arb_rates() -> impl Strategy<Value = TaxRates> {
    prop::collection::vec(0_i64..=30_000, 3).prop_map(|rates| {
        TAX_CLASSES
            .iter()
            .zip(rates)
            .map(|(class, r)| ((*class).to_owned(), Decimal::new(r, 5)))
            .collect()
    })
}

/// A random cart with everything [`price_cart`] takes.
#[derive(Debug, Clone)]
struct Cart {
    lines: Vec<Line>,
    discounts: Vec<Discount>,
    shipping: Option<ShippingMethod>,
    tax_rates: TaxRates,
    shipping_tax_class: Option<&'static str>,
    tax_mode: TaxMode,
}

impl Cart {
    fn price(&self, discounts: &[Discount]) -> Result<CartTotals, TestCaseError> {
        price_cart(&CartInput {
            tax_mode: self.tax_mode,
            lines: &self.lines,
            tax_rates: &self.tax_rates,
            discounts,
            shipping: self.shipping.as_ref(),
            shipping_tax_class: self.shipping_tax_class,
        })
        .map_err(|e| TestCaseError::fail(format!("{e}")))
    }

    fn discount(&self, id: i64) -> Result<&Discount, TestCaseError> {
        self.discounts
            .iter()
            .find(|d| d.id == id)
            .ok_or_else(|| TestCaseError::fail(format!("unknown discount {id}")))
    }
}

fn arb_cart() -> impl Strategy<Value = Cart> {
    (
        prop::collection::vec(arb_line(), 0..6),
        prop::collection::vec(arb_discount(), 0..6),
        arb_shipping(),
        arb_rates(),
        prop::option::of(prop::sample::select(TAX_CLASSES.to_vec())),
        any::<bool>(),
    )
        .prop_map(
            |(lines, discounts, shipping, tax_rates, shipping_tax_class, inclusive)| Cart {
                lines,
                // Unique ids, in the order offered.
                discounts: discounts
                    .into_iter()
                    .zip(1..)
                    .map(|(d, id)| Discount { id, ..d })
                    .collect(),
                shipping,
                tax_rates,
                shipping_tax_class,
                tax_mode: if inclusive {
                    TaxMode::Inclusive
                } else {
                    TaxMode::Exclusive
                },
            },
        )
}

/// Per line, how many units a buy X get Y discounts, by listing every unit:
/// ranked by unit price, dearest first, earlier line first on ties, zero
/// priced units left out.
fn discounted_units(lines: &[Line], discount: &Discount, offer: &BuyXGetY) -> Vec<u64> {
    let mut units: Vec<(i64, usize)> = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| discount.applies_to(line) && line.unit_price > 0)
        .flat_map(|(index, line)| (0..line.quantity).map(move |_| (line.unit_price, index)))
        .collect();
    units.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let group = usize::try_from(offer.buy + offer.get).unwrap_or(usize::MAX);
    let mut counts = vec![0_u64; lines.len()];
    let groups = units.chunks_exact(group);
    let limit = offer
        .max_applications
        .map_or(usize::MAX, |max| usize::try_from(max).unwrap_or(usize::MAX));
    for chunk in groups.take(limit) {
        for &(_, index) in chunk.iter().skip(usize::try_from(offer.buy).unwrap_or(0)) {
            if let Some(count) = counts.get_mut(index) {
                *count += 1;
            }
        }
    }
    counts
}

proptest! {
    #[test]
    fn allocations_are_exact_and_bounded(
        weights in prop::collection::vec(0_i64..1_000_000, 1..8),
        fraction in 0_u32..=1000,
    ) {
        let total: i64 = weights.iter().sum();
        let amount = total * i64::from(fraction) / 1000;
        let parts = allocate(amount, &weights);
        prop_assert_eq!(parts.iter().sum::<i64>(), amount);
        for (part, weight) in parts.iter().zip(&weights) {
            prop_assert!(*part >= 0 && part <= weight);
            // Within one unit of the exact share.
            if total > 0 {
                let exact = i128::from(amount) * i128::from(*weight);
                let floor = exact / i128::from(total);
                prop_assert!(i128::from(*part) == floor || i128::from(*part) == floor + 1);
            }
        }
    }

    #[test]
    fn cart_totals_add_up(
        cart in arb_cart(),
        balances in prop::collection::vec(0_i64..100_000, 0..3),
        store_credit in prop::option::of(0_i64..100_000),
    ) {
        let totals = cart.price(&cart.discounts)?;
        let inclusive = cart.tax_mode == TaxMode::Inclusive;

        // Each line's tax is its rate's share of what is left after the
        // discount, and so is shipping's.
        for (l, line) in totals.lines.iter().zip(&cart.lines) {
            let rate = cart.tax_rates.rate(&line.tax_class).unwrap_or_default();
            prop_assert_eq!(
                Decimal::from(l.tax),
                tax_by_definition(l.subtotal - l.discount, rate, cart.tax_mode)
            );
        }
        if let Some(class) = cart.shipping_tax_class {
            let rate = cart.tax_rates.rate(class).unwrap_or_default();
            prop_assert_eq!(
                Decimal::from(totals.shipping_tax),
                tax_by_definition(totals.shipping - totals.shipping_discount, rate, cart.tax_mode)
            );
        }

        // Nothing negative; each line adds up.
        for l in &totals.lines {
            prop_assert!(l.subtotal >= 0 && l.discount >= 0 && l.tax >= 0 && l.total >= 0);
            prop_assert!(l.discount <= l.subtotal);
            let net = l.subtotal - l.discount;
            prop_assert_eq!(l.total, if inclusive { net } else { net + l.tax });
            if inclusive {
                prop_assert!(l.tax <= l.total);
            }
        }
        prop_assert!(totals.shipping >= 0 && totals.shipping_tax >= 0 && totals.total >= 0);
        prop_assert!(totals.shipping_discount >= 0);
        prop_assert!(totals.shipping_discount <= totals.shipping);
        if cart.shipping.is_none() {
            prop_assert_eq!(totals.shipping, 0);
        }
        if cart.shipping_tax_class.is_none() {
            prop_assert_eq!(totals.shipping_tax, 0);
        }
        let net_shipping = totals.shipping - totals.shipping_discount;
        if inclusive {
            prop_assert!(totals.shipping_tax <= net_shipping);
        }

        // The cart is the sum of its lines and shipping, and the total formula holds.
        let sum = |f: fn(&LineTotals) -> i64| totals.lines.iter().map(f).sum::<i64>();
        prop_assert_eq!(totals.subtotal, sum(|l| l.subtotal));
        prop_assert_eq!(totals.discounts, sum(|l| l.discount) + totals.shipping_discount);
        prop_assert_eq!(totals.tax, sum(|l| l.tax) + totals.shipping_tax);
        let shipping_tax_on_top = if inclusive { 0 } else { totals.shipping_tax };
        prop_assert_eq!(totals.total, sum(|l| l.total) + net_shipping + shipping_tax_on_top);
        let tax_on_top = if inclusive { 0 } else { totals.tax };
        prop_assert_eq!(
            totals.total,
            totals.subtotal - totals.discounts + totals.shipping + tax_on_top
        );
        prop_assert_eq!(
            totals.discounts,
            totals.applied_discounts.iter().map(|d| d.amount).sum::<i64>()
        );

        // Every discount offered is applied or rejected, exactly once.
        let mut seen: Vec<i64> = totals
            .applied_discounts
            .iter()
            .map(|d| d.id)
            .chain(totals.rejected_discounts.iter().map(|r| r.id))
            .collect();
        seen.sort_unstable();
        let offered: Vec<i64> = cart.discounts.iter().map(|d| d.id).collect();
        prop_assert_eq!(seen, offered);

        // Replay the discounts: each is exactly allocated, only to its own
        // lines (or shipping, for free shipping), never beyond what was left,
        // and at most one is exclusive (applied first).
        let mut remaining: Vec<i64> = totals.lines.iter().map(|l| l.subtotal).collect();
        let mut shipping_left = totals.shipping;
        for (n, applied) in totals.applied_discounts.iter().enumerate() {
            let discount = cart.discount(applied.id)?;
            if discount.stacking == Stacking::Exclusive {
                prop_assert_eq!(n, 0);
            }
            prop_assert!(applied.amount > 0);
            prop_assert_eq!(applied.allocations.len(), cart.lines.len());
            prop_assert_eq!(
                applied.allocations.iter().sum::<i64>() + applied.shipping,
                applied.amount
            );
            prop_assert!(applied.shipping >= 0 && applied.shipping <= shipping_left);
            shipping_left -= applied.shipping;
            if discount.is_shipping() {
                prop_assert_eq!(applied.shipping, applied.amount);
            } else {
                prop_assert_eq!(applied.shipping, 0);
            }
            let mut base = 0;
            for ((part, left), l) in applied.allocations.iter().zip(remaining.iter_mut()).zip(&cart.lines) {
                let targeted = discount.applies_to(l);
                prop_assert!(*part >= 0 && *part <= *left);
                prop_assert!(targeted || *part == 0);
                if targeted {
                    base += *left;
                }
                *left -= part;
            }
            if !discount.is_shipping() {
                prop_assert!(applied.amount <= base);
            }
            if let DiscountValue::FixedAmount(fixed) = discount.value {
                prop_assert!(applied.amount <= fixed);
            }
        }

        // Rejections give the right reason for what can be checked alone.
        for rejected in &totals.rejected_discounts {
            let discount = cart.discount(rejected.id)?;
            let base: i64 = cart
                .lines
                .iter()
                .zip(&totals.lines)
                .filter(|(l, _)| discount.applies_to(l))
                .map(|(_, t)| t.subtotal)
                .sum();
            match rejected.reason {
                Rejection::NoMatchingLines => prop_assert_eq!(base, 0),
                Rejection::BelowMinimumSubtotal => {
                    prop_assert!(base > 0 && base < discount.min_subtotal);
                }
                Rejection::NoShippingMethod => {
                    prop_assert!(discount.is_shipping() && cart.shipping.is_none());
                }
                Rejection::NotEnoughUnits => {
                    let DiscountValue::BuyXGetY(offer) = discount.value else {
                        return Err(TestCaseError::fail("not enough units, but not buy X get Y"));
                    };
                    let units: u64 = cart
                        .lines
                        .iter()
                        .filter(|l| discount.applies_to(l) && l.unit_price > 0)
                        .map(|l| u64::from(l.quantity))
                        .sum();
                    prop_assert!(units < u64::from(offer.buy) + u64::from(offer.get));
                }
                Rejection::LostToExclusive => {
                    prop_assert_eq!(discount.stacking, Stacking::Exclusive);
                }
                Rejection::NothingToDiscount => {}
            }
        }

        // The total can be paid with gift cards and store credit.
        let cards: Vec<GiftCardBalance> = balances
            .iter()
            .zip(1..)
            .map(|(&balance, id)| GiftCardBalance { id, balance, currency: Currency::EUR })
            .collect();
        let credit = store_credit.map(|balance| Balance { balance, currency: Currency::EUR });
        let tenders = apply_tenders(totals.total, Currency::EUR, &cards, credit)
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        for (debit, card) in tenders.gift_cards.iter().zip(&cards) {
            prop_assert!(debit.amount >= 0 && debit.amount <= card.balance);
        }
        prop_assert!(tenders.store_credit >= 0 && tenders.store_credit <= store_credit.unwrap_or(0));
        prop_assert!(tenders.debited() <= totals.total);
        prop_assert_eq!(tenders.amount_due, totals.total - tenders.debited());
    }

    #[test]
    fn the_exclusive_discount_worth_most_wins(cart in arb_cart()) {
        let totals = cart.price(&cart.discounts)?;
        let stackable: Vec<Discount> = cart
            .discounts
            .iter()
            .filter(|d| d.stacking == Stacking::Stackable)
            .cloned()
            .collect();
        // What an exclusive discount is worth: its amount when it is the only
        // exclusive one offered (then it applies first, if at all).
        let worth = |candidate: &Discount| -> Result<i64, TestCaseError> {
            let mut offered = vec![candidate.clone()];
            offered.extend(stackable.iter().cloned());
            let alone = cart.price(&offered)?;
            Ok(alone
                .applied_discounts
                .first()
                .filter(|d| d.id == candidate.id)
                .map_or(0, |d| d.amount))
        };
        let winner = totals
            .applied_discounts
            .first()
            .map(|d| cart.discount(d.id))
            .transpose()?
            .filter(|d| d.stacking == Stacking::Exclusive);
        let winner_worth = match winner {
            Some(w) => {
                let value = worth(w)?;
                prop_assert_eq!(Some(value), totals.applied_discounts.first().map(|d| d.amount));
                value
            }
            None => 0,
        };
        for rejected in &totals.rejected_discounts {
            let discount = cart.discount(rejected.id)?;
            if discount.stacking != Stacking::Exclusive {
                continue;
            }
            let value = worth(discount)?;
            prop_assert!(value <= winner_worth);
            match rejected.reason {
                Rejection::LostToExclusive => {
                    prop_assert!(value > 0);
                    // Ties go to the one given first.
                    if let Some(w) = winner && value == winner_worth {
                        prop_assert!(w.id < discount.id);
                    }
                }
                Rejection::NothingToDiscount => prop_assert_eq!(value, 0),
                _ => {}
            }
        }
    }

    #[test]
    fn buy_x_get_y_matches_a_unit_by_unit_count(
        lines in prop::collection::vec(arb_line(), 0..6),
        offer in arb_buy_x_get_y(),
        target in arb_target(),
    ) {
        let discount = Discount {
            id: 1,
            value: DiscountValue::BuyXGetY(offer),
            target,
            min_subtotal: 0,
            stacking: Stacking::Stackable,
        };
        let totals = price_cart(&CartInput {
            tax_mode: TaxMode::Exclusive,
            lines: &lines,
            tax_rates: &TaxRates::untaxed(),
            discounts: std::slice::from_ref(&discount),
            shipping: None,
            shipping_tax_class: None,
        })
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        // Each line's discounted units at the offer's rate, rounded half-up.
        let expected: Vec<i64> = discounted_units(&lines, &discount, &offer)
            .into_iter()
            .zip(&lines)
            .map(|(units, line)| {
                let worth = Decimal::from(line.unit_price) * Decimal::from(units) * offer.percentage;
                round_half_up(worth).unwrap_or(i64::MAX)
            })
            .collect();
        let got: Vec<i64> = totals.lines.iter().map(|l| l.discount).collect();
        prop_assert_eq!(got, expected);
    }
}
