//! Promotions, shipping discounts and tax: worked carts with buy-X-get-Y,
//! free shipping and exclusive discounts.

use super::*;
use crate::domain::money::Currency;

fn bxgy(buy: u32, get: u32, percentage: i64, max_applications: Option<u32>) -> DiscountValue {
    DiscountValue::BuyXGetY(BuyXGetY {
        buy,
        get,
        percentage: Decimal::new(percentage, 2),
        max_applications,
    })
}

fn on_products(id: i64, value: DiscountValue, products: &[i64], stacking: Stacking) -> Discount {
    Discount {
        id,
        value,
        target: DiscountTarget::Lines {
            variant_ids: vec![],
            product_ids: products.to_vec(),
        },
        min_subtotal: 0,
        stacking,
    }
}

fn rejected(id: i64, reason: Rejection) -> RejectedDiscount {
    RejectedDiscount { id, reason }
}

fn applied(id: i64, amount: i64, allocations: Vec<i64>, shipping: i64) -> AppliedDiscount {
    AppliedDiscount {
        id,
        amount,
        allocations,
        shipping,
    }
}

/// EUR, prices include VAT (20 % standard, 10 % reduced), shipping taxed as
/// standard. Buy 2 get 1 half price on shirts and socks (stackable); free
/// shipping from 50.00 beats 3.00 off (both exclusive); 15 % off books from
/// 20.00 does not qualify.
#[test]
fn eur_tax_inclusive_cart_with_buy_x_get_y_and_free_shipping() {
    let vat = rates(&[
        ("standard", Decimal::new(20, 2)),
        ("reduced", Decimal::new(10, 2)),
    ]);
    let lines = [
        line(1, 1999, 2, "standard", 200), // shirt
        line(2, 499, 1, "standard", 50),   // socks
        line(3, 1250, 1, "reduced", 400),  // book
    ];
    let discounts = [
        on_products(1, bxgy(2, 1, 50, None), &[100, 200], Stacking::Stackable),
        Discount {
            min_subtotal: 5000,
            ..order_discount(2, DiscountValue::FreeShipping, Stacking::Exclusive)
        },
        order_discount(3, DiscountValue::FixedAmount(300), Stacking::Exclusive),
        Discount {
            min_subtotal: 2000,
            ..on_products(4, percent(15), &[300], Stacking::Stackable)
        },
    ];
    let shipping = ShippingMethod::Flat { amount: 590 };
    let totals = price_cart(&CartInput {
        tax_mode: TaxMode::Inclusive,
        lines: &lines,
        tax_rates: &vat,
        discounts: &discounts,
        shipping: Some(&shipping),
        shipping_tax_class: Some("standard"),
    });
    // Subtotal 39.98 + 4.99 + 12.50 = 57.47. Books are 12.50 < 20.00: id 4 is
    // below its minimum.
    // Buy 2 get 1: units ranked 19.99, 19.99, 4.99 make one group whose
    // cheapest unit, the socks, is half price: 2.495 -> 2.50 (half-up).
    // Exclusive: 3.00 off is worth 3.00; free shipping is worth the 5.90 it
    // takes off (flat, whatever the subtotal), so it wins and comes first.
    // Tax = gross - gross / (1 + rate): 39.98 -> 6.6633 -> 6.66; socks 2.49
    // -> 0.415 -> 0.42 (half-up); 12.50 at 10 % -> 1.1364 -> 1.14; shipping
    // 5.90 - 5.90 = 0 -> 0.
    let expected = CartTotals {
        lines: vec![
            line_totals(3998, 0, 666, 3998),
            line_totals(499, 250, 42, 249),
            line_totals(1250, 0, 114, 1250),
        ],
        applied_discounts: vec![
            applied(2, 590, vec![0, 0, 0], 590),
            applied(1, 250, vec![0, 250, 0], 0),
        ],
        rejected_discounts: vec![
            rejected(3, Rejection::LostToExclusive),
            rejected(4, Rejection::BelowMinimumSubtotal),
        ],
        subtotal: 5747,
        // 2.50 off the socks + 5.90 off shipping.
        discounts: 840,
        shipping: 590,
        shipping_discount: 590,
        shipping_tax: 0,
        tax: 822,
        // Tax is inside the prices: 57.47 - 8.40 + 5.90 = 39.98 + 2.49 + 12.50.
        total: 5497,
    };
    assert_eq!(totals, Ok(expected));
}

/// USD, prices exclude tax (8.875 % on goods, 10 % on shipping). Buy 1 get
/// 1 free on mugs, once (stackable); 10 % off the order beats free shipping
/// (both exclusive); a discount on a product not in the cart and a buy 2 get
/// 1 on a single coffee do not apply.
#[test]
fn usd_tax_exclusive_cart_where_a_percentage_beats_free_shipping() {
    let tax = rates(&[
        ("general", Decimal::new(8875, 5)),
        ("shipping", Decimal::new(10, 2)),
    ]);
    let lines = [
        line(1, 1200, 2, "general", 300), // big mug
        line(2, 900, 2, "general", 250),  // small mug
        line(3, 1500, 1, "general", 500), // coffee
    ];
    let discounts = [
        on_products(
            11,
            bxgy(1, 1, 100, Some(1)),
            &[100, 200],
            Stacking::Stackable,
        ),
        order_discount(12, DiscountValue::FreeShipping, Stacking::Exclusive),
        order_discount(13, percent(10), Stacking::Exclusive),
        on_products(
            14,
            DiscountValue::FixedAmount(500),
            &[900],
            Stacking::Stackable,
        ),
        on_products(15, bxgy(2, 1, 100, None), &[300], Stacking::Stackable),
    ];
    let shipping = ShippingMethod::Flat { amount: 495 };
    let totals = price_cart(&CartInput {
        tax_mode: TaxMode::Exclusive,
        lines: &lines,
        tax_rates: &tax,
        discounts: &discounts,
        shipping: Some(&shipping),
        shipping_tax_class: Some("shipping"),
    });
    // Subtotal 24.00 + 18.00 + 15.00 = 57.00. Id 14 targets no line in the
    // cart; id 15 needs 3 coffees, the cart has 1.
    // Exclusive: 10 % is worth 5.70; free shipping 4.95: 10 % wins. Its
    // shares are exact: 2.40, 1.80, 1.50.
    // Then buy 1 get 1 on what is left: big mugs are 21.60 / 2 = 10.80 each,
    // small ones 8.10; ranked 10.80, 10.80, 8.10, 8.10: two groups, but
    // only one application, the dearest: one big mug free, 10.80.
    // Tax: 10.80 -> 0.9585 -> 0.96; 16.20 -> 1.43775 -> 1.44; 13.50 ->
    // 1.198125 -> 1.20; shipping 4.95 at 10 % = 0.495 -> 0.50 (half-up).
    let expected = CartTotals {
        lines: vec![
            line_totals(2400, 1320, 96, 1176),
            line_totals(1800, 180, 144, 1764),
            line_totals(1500, 150, 120, 1470),
        ],
        applied_discounts: vec![
            applied(13, 570, vec![240, 180, 150], 0),
            applied(11, 1080, vec![1080, 0, 0], 0),
        ],
        rejected_discounts: vec![
            rejected(12, Rejection::LostToExclusive),
            rejected(14, Rejection::NoMatchingLines),
            rejected(15, Rejection::NotEnoughUnits),
        ],
        subtotal: 5700,
        discounts: 1650,
        shipping: 495,
        shipping_discount: 0,
        shipping_tax: 50,
        tax: 410,
        // Tax on top: 57.00 - 16.50 + 4.95 + 4.10 = 44.10 + 4.95 + 0.50.
        total: 4955,
    };
    assert_eq!(totals, Ok(expected));
}

/// Prices a cart in a tax-exclusive channel with no tax, shipping given.
fn cart_with_shipping(
    lines: &[Line],
    discounts: &[Discount],
    shipping: Option<&ShippingMethod>,
) -> Result<CartTotals, PricingError> {
    price_cart(&CartInput {
        tax_mode: TaxMode::Exclusive,
        lines,
        tax_rates: &TaxRates::untaxed(),
        discounts,
        shipping,
        shipping_tax_class: None,
    })
}

fn allocations_of(totals: &Result<CartTotals, PricingError>) -> Vec<Vec<i64>> {
    totals.as_ref().map_or_else(
        |_| vec![],
        |t| {
            t.applied_discounts
                .iter()
                .map(|d| d.allocations.clone())
                .collect()
        },
    )
}

fn rejections_of(totals: &Result<CartTotals, PricingError>) -> Vec<RejectedDiscount> {
    totals
        .as_ref()
        .map_or_else(|_| vec![], |t| t.rejected_discounts.clone())
}

#[test]
fn buy_x_get_y_discounts_the_cheapest_unit_of_each_group() {
    let lines = [
        line(1, 1000, 1, "standard", 0),
        line(2, 800, 2, "standard", 0),
        line(3, 500, 1, "standard", 0),
        line(4, 300, 2, "standard", 0),
    ];
    // Ranked 10.00, 8.00, 8.00 | 5.00, 3.00, 3.00: one 8.00 and one 3.00 free.
    let free = order_discount(1, bxgy(2, 1, 100, None), Stacking::Stackable);
    let totals = cart_with_shipping(&lines, std::slice::from_ref(&free), None);
    assert_eq!(allocations_of(&totals), vec![vec![0, 800, 0, 300]]);
    // Capped at one application: the dearest group only.
    let once = order_discount(1, bxgy(2, 1, 100, Some(1)), Stacking::Stackable);
    let totals = cart_with_shipping(&lines, &[once], None);
    assert_eq!(allocations_of(&totals), vec![vec![0, 800, 0, 0]]);
    // Buy 1 get 2 at 25 % off: 10.00 | 8.00, 8.00 ; 5.00 | 3.00, 3.00.
    let two = order_discount(1, bxgy(1, 2, 25, None), Stacking::Stackable);
    let totals = cart_with_shipping(&lines, &[two], None);
    assert_eq!(allocations_of(&totals), vec![vec![0, 400, 0, 150]]);
    // A group left incomplete gets nothing: 7 units, groups of 3, two groups.
    let extra = [lines.as_slice(), &[line(5, 100, 1, "standard", 0)]].concat();
    let totals = cart_with_shipping(&extra, &[free], None);
    assert_eq!(allocations_of(&totals), vec![vec![0, 800, 0, 300, 0]]);
}

#[test]
fn buy_x_get_y_ties_go_by_line_order() {
    // Same price: the earlier line ranks first, so the later one's unit is
    // the cheapest of the group.
    let lines = [
        line(1, 500, 1, "standard", 0),
        line(2, 500, 1, "standard", 0),
    ];
    let discount = order_discount(1, bxgy(1, 1, 100, None), Stacking::Stackable);
    let totals = cart_with_shipping(&lines, &[discount], None);
    assert_eq!(allocations_of(&totals), vec![vec![0, 500]]);
}

#[test]
fn buy_x_get_y_only_counts_its_targeted_units() {
    let lines = [
        line(1, 5000, 1, "standard", 0),
        line(2, 700, 3, "standard", 0),
    ];
    // The 50.00 item is not targeted: the socks form the group on their own.
    let socks = on_products(1, bxgy(2, 1, 100, None), &[200], Stacking::Stackable);
    let totals = cart_with_shipping(&lines, &[socks], None);
    assert_eq!(allocations_of(&totals), vec![vec![0, 700]]);
}

#[test]
fn free_shipping_needs_a_method_and_something_to_take_off() {
    let lines = [line(1, 6000, 1, "standard", 0)];
    let free = order_discount(1, DiscountValue::FreeShipping, Stacking::Stackable);
    let totals = cart_with_shipping(&lines, std::slice::from_ref(&free), None);
    assert_eq!(
        rejections_of(&totals),
        vec![rejected(1, Rejection::NoShippingMethod)]
    );
    // Already free over 50.00.
    let free_over = ShippingMethod::FreeOver {
        amount: 490,
        threshold: 5000,
    };
    let totals = cart_with_shipping(&lines, std::slice::from_ref(&free), Some(&free_over));
    assert_eq!(
        rejections_of(&totals),
        vec![rejected(1, Rejection::NothingToDiscount)]
    );
    // A second free shipping finds nothing left.
    let flat = ShippingMethod::Flat { amount: 490 };
    let twice = [free.clone(), Discount { id: 2, ..free }];
    let totals = cart_with_shipping(&lines, &twice, Some(&flat));
    assert_eq!(
        totals
            .as_ref()
            .map(|t| (t.shipping, t.shipping_discount, t.total)),
        Ok((490, 490, 6000))
    );
    assert_eq!(
        rejections_of(&totals),
        vec![rejected(2, Rejection::NothingToDiscount)]
    );
}

#[test]
fn free_shipping_can_hinge_on_a_product() {
    let flat = ShippingMethod::Flat { amount: 490 };
    let free = on_products(1, DiscountValue::FreeShipping, &[200], Stacking::Stackable);
    let without = [line(1, 6000, 1, "standard", 0)];
    let totals = cart_with_shipping(&without, std::slice::from_ref(&free), Some(&flat));
    assert_eq!(
        rejections_of(&totals),
        vec![rejected(1, Rejection::NoMatchingLines)]
    );
    let with = [
        line(1, 6000, 1, "standard", 0),
        line(2, 100, 1, "standard", 0),
    ];
    let totals = cart_with_shipping(&with, &[free], Some(&flat));
    assert_eq!(totals.map(|t| t.total), Ok(6100));
}

#[test]
fn free_shipping_is_worth_the_shipping_left_by_stackable_line_discounts() {
    // 49.00 after 1.00 off stays under the 50.00 threshold, so shipping
    // costs 6.00 and free shipping (6.00) beats 5 % (2.50).
    let lines = [line(1, 5000, 1, "standard", 0)];
    let method = ShippingMethod::FreeOver {
        amount: 600,
        threshold: 5000,
    };
    let discounts = [
        order_discount(1, percent(5), Stacking::Exclusive),
        order_discount(2, DiscountValue::FreeShipping, Stacking::Exclusive),
        order_discount(3, DiscountValue::FixedAmount(100), Stacking::Stackable),
    ];
    let totals = cart_with_shipping(&lines, &discounts, Some(&method));
    assert_eq!(
        totals
            .as_ref()
            .map(|t| (t.shipping, t.shipping_discount, t.discounts, t.total)),
        Ok((600, 600, 700, 4900))
    );
    assert_eq!(
        rejections_of(&totals),
        vec![rejected(1, Rejection::LostToExclusive)]
    );
}

#[test]
fn shipping_tax_follows_the_tax_mode_and_the_shipping_discount() {
    let lines = [line(1, 1000, 1, "standard", 0)];
    let vat = rates(&[("standard", Decimal::new(20, 2))]);
    let flat = ShippingMethod::Flat { amount: 600 };
    let price = |tax_mode, discounts: &[Discount]| {
        price_cart(&CartInput {
            tax_mode,
            lines: &lines,
            tax_rates: &vat,
            discounts,
            shipping: Some(&flat),
            shipping_tax_class: Some("standard"),
        })
        .map(|t| (t.shipping_tax, t.tax, t.total))
    };
    // Inclusive: 6.00 gross holds 1.00 of tax; 10.00 holds 1.67.
    assert_eq!(price(TaxMode::Inclusive, &[]), Ok((100, 267, 1600)));
    // Exclusive: 1.20 on top of 6.00, 2.00 on top of 10.00.
    assert_eq!(price(TaxMode::Exclusive, &[]), Ok((120, 320, 1920)));
    // Free shipping leaves no shipping tax.
    let free = [order_discount(
        1,
        DiscountValue::FreeShipping,
        Stacking::Stackable,
    )];
    assert_eq!(price(TaxMode::Exclusive, &free), Ok((0, 200, 1200)));
    // No class: untaxed; an unknown class is a configuration error.
    let untaxed = price_cart(&CartInput {
        tax_mode: TaxMode::Exclusive,
        lines: &lines,
        tax_rates: &vat,
        discounts: &[],
        shipping: Some(&flat),
        shipping_tax_class: None,
    });
    assert_eq!(untaxed.map(|t| (t.shipping_tax, t.total)), Ok((0, 1800)));
    let unknown = price_cart(&CartInput {
        tax_mode: TaxMode::Exclusive,
        lines: &lines,
        tax_rates: &vat,
        discounts: &[],
        shipping: Some(&flat),
        shipping_tax_class: Some("freight"),
    });
    assert_eq!(
        unknown,
        Err(PricingError::UnknownTaxClass("freight".to_owned()))
    );
}

#[test]
fn a_place_without_tax_rules_prices_every_class_at_zero() {
    let rules = [TaxRule {
        country: "DE".to_owned(),
        region: None,
        tax_class: "standard".to_owned(),
        rate: Decimal::new(19, 2),
    }];
    let lines = [line(1, 1000, 1, "anything", 0)];
    let price = |rates: &TaxRates| {
        price_cart(&CartInput {
            tax_mode: TaxMode::Exclusive,
            lines: &lines,
            tax_rates: rates,
            discounts: &[],
            shipping: None,
            shipping_tax_class: None,
        })
        .map(|t| t.tax)
    };
    assert_eq!(price(&rates_for(&rules, "US", Some("US-OR"))), Ok(0));
    assert_eq!(
        price(&rates_for(&rules, "de", None)),
        Err(PricingError::UnknownTaxClass("anything".to_owned()))
    );
}

#[test]
fn a_stackable_discount_after_everything_is_off_has_nothing_to_discount() {
    let lines = [line(1, 1000, 1, "standard", 0)];
    let discounts = [
        order_discount(1, percent(100), Stacking::Exclusive),
        order_discount(2, percent(10), Stacking::Stackable),
        order_discount(3, percent(0), Stacking::Exclusive),
    ];
    let totals = cart_with_shipping(&lines, &discounts, None);
    assert_eq!(
        rejections_of(&totals),
        vec![
            rejected(2, Rejection::NothingToDiscount),
            rejected(3, Rejection::NothingToDiscount),
        ]
    );
    assert_eq!(totals.map(|t| t.total), Ok(0));
}

#[test]
fn bad_promotions_are_refused() {
    let lines = [line(1, 1000, 1, "standard", 0)];
    let no_get = order_discount(1, bxgy(1, 0, 100, None), Stacking::Stackable);
    assert_eq!(
        cart_with_shipping(&lines, &[no_get], None),
        Err(PricingError::InvalidBuyXGetY)
    );
    let too_much = order_discount(1, bxgy(1, 1, 150, None), Stacking::Stackable);
    assert_eq!(
        cart_with_shipping(&lines, &[too_much], None),
        Err(PricingError::InvalidPercentage(Decimal::new(150, 2)))
    );
    let negative_minimum = Discount {
        min_subtotal: -1,
        ..order_discount(1, percent(10), Stacking::Stackable)
    };
    assert_eq!(
        cart_with_shipping(&lines, &[negative_minimum], None),
        Err(PricingError::NegativeAmount)
    );
}

#[test]
fn totals_feed_the_tenders() {
    // The tax-exclusive example above totals 49.55: a 20.00 gift card and
    // 40.00 of store credit leave nothing due.
    let total = 4955;
    let card = GiftCardBalance {
        id: 5,
        balance: 2000,
        currency: Currency::USD,
    };
    let credit = Balance {
        balance: 4000,
        currency: Currency::USD,
    };
    let tenders = apply_tenders(total, Currency::USD, &[card], Some(credit));
    assert_eq!(
        tenders,
        Ok(Tenders {
            gift_cards: vec![GiftCardDebit {
                id: 5,
                amount: 2000
            }],
            store_credit: 2955,
            amount_due: 0,
        })
    );
}
