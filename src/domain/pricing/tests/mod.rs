use rust_decimal::Decimal;

use super::*;

fn line(variant_id: i64, unit_price: i64, quantity: u32, tax_class: &str, weight: u32) -> Line {
    Line {
        variant_id,
        product_id: variant_id * 100,
        unit_price,
        quantity,
        tax_class: tax_class.to_owned(),
        weight_grams: weight,
    }
}

fn rates(pairs: &[(&str, Decimal)]) -> TaxRates {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn order_discount(id: i64, value: DiscountValue, stacking: Stacking) -> Discount {
    Discount {
        id,
        value,
        target: DiscountTarget::Order,
        min_subtotal: 0,
        stacking,
    }
}

fn line_totals(subtotal: i64, discount: i64, tax: i64, total: i64) -> LineTotals {
    LineTotals {
        subtotal,
        discount,
        tax,
        total,
    }
}

fn percent(p: i64) -> DiscountValue {
    DiscountValue::Percentage(Decimal::new(p, 2))
}

// --- unit price selection ---------------------------------------------------

fn row(channel_id: i64, group: Option<i64>, min_quantity: i32, amount_minor: i64) -> PriceRow {
    PriceRow {
        channel_id,
        customer_group_id: group,
        min_quantity,
        amount_minor,
    }
}

#[test]
fn unit_price_takes_the_lowest_applicable_row() {
    let rows = [
        row(1, None, 1, 1000),
        row(1, None, 10, 900),
        row(1, Some(7), 1, 850),
        row(1, Some(8), 1, 500),
        row(2, None, 1, 1100),
    ];
    assert_eq!(unit_price(&rows, 1, None, 1), Some(1000));
    assert_eq!(unit_price(&rows, 1, None, 9), Some(1000));
    assert_eq!(unit_price(&rows, 1, None, 10), Some(900));
    // Group 7's price beats the everyone tier; another group's is never seen.
    assert_eq!(unit_price(&rows, 1, Some(7), 10), Some(850));
    assert_eq!(unit_price(&rows, 1, Some(9), 1), Some(1000));
    assert_eq!(unit_price(&rows, 2, Some(8), 1), Some(1100));
    assert_eq!(unit_price(&rows, 3, None, 1), None);
    assert_eq!(unit_price(&[row(1, None, 5, 100)], 1, None, 4), None);
}

#[test]
fn group_tier_applies_only_from_its_quantity() {
    let rows = [row(1, None, 1, 1000), row(1, Some(7), 20, 700)];
    assert_eq!(unit_price(&rows, 1, Some(7), 19), Some(1000));
    assert_eq!(unit_price(&rows, 1, Some(7), 20), Some(700));
}

// --- worked examples ----------------------------------------------------------

/// EUR, prices include 20 % VAT, 10 % off the order over three lines, free
/// shipping from 50.00.
#[test]
fn eur_tax_inclusive_cart_with_percentage_order_discount() {
    let vat = rates(&[("standard", Decimal::new(20, 2))]);
    let lines = [
        line(1, 1999, 1, "standard", 0),
        line(2, 500, 3, "standard", 0),
        line(3, 1234, 2, "standard", 0),
    ];
    let discounts = [order_discount(1, percent(10), Stacking::Exclusive)];
    let shipping = ShippingMethod::FreeOver {
        amount: 490,
        threshold: 5000,
    };
    let totals = price_cart(&CartInput {
        tax_mode: TaxMode::Inclusive,
        lines: &lines,
        tax_rates: &vat,
        discounts: &discounts,
        shipping: Some(&shipping),
        shipping_tax_class: None,
    });
    // Subtotal 59.67; 10 % = 5.967 -> 5.97. Exact shares 200.0005, 150.075,
    // 246.924: floors 200 + 150 + 246 = 596, the one cent left goes to the
    // largest remainder (line 3).
    // Tax = gross - gross / 1.2: 17.99 -> 2.998 -> 3.00; 13.50 -> 2.25;
    // 22.21 -> 3.7016 -> 3.70.
    let expected = CartTotals {
        lines: vec![
            line_totals(1999, 200, 300, 1799),
            line_totals(1500, 150, 225, 1350),
            line_totals(2468, 247, 370, 2221),
        ],
        applied_discounts: vec![AppliedDiscount {
            id: 1,
            amount: 597,
            allocations: vec![200, 150, 247],
            shipping: 0,
        }],
        rejected_discounts: vec![],
        subtotal: 5967,
        discounts: 597,
        shipping: 0,
        shipping_discount: 0,
        shipping_tax: 0,
        tax: 895,
        // Tax is inside the prices: 59.67 - 5.97 + 0.
        total: 5370,
    };
    assert_eq!(totals, Ok(expected));
}

/// USD, prices exclude 8.875 % sales tax; two exclusive discounts (the bigger
/// wins), a stackable fixed amount on one variant, weight-bracket shipping.
#[test]
fn usd_tax_exclusive_cart_with_exclusive_and_stackable_discounts() {
    let tax = rates(&[("general", Decimal::new(8875, 5))]);
    let lines = [
        line(1, 1000, 3, "general", 500),
        line(2, 2499, 1, "general", 1200),
        line(3, 99, 7, "general", 100),
    ];
    let discounts = [
        order_discount(1, DiscountValue::FixedAmount(500), Stacking::Exclusive),
        order_discount(2, percent(10), Stacking::Exclusive),
        Discount {
            id: 3,
            value: DiscountValue::FixedAmount(200),
            target: DiscountTarget::Lines {
                variant_ids: vec![3],
                product_ids: vec![],
            },
            min_subtotal: 0,
            stacking: Stacking::Stackable,
        },
    ];
    let shipping = ShippingMethod::ByWeight {
        brackets: vec![
            WeightBracket {
                up_to_grams: 20_000,
                amount: 1995,
            },
            WeightBracket {
                up_to_grams: 1000,
                amount: 500,
            },
            WeightBracket {
                up_to_grams: 5000,
                amount: 995,
            },
        ],
    };
    let totals = price_cart(&CartInput {
        tax_mode: TaxMode::Exclusive,
        lines: &lines,
        tax_rates: &tax,
        discounts: &discounts,
        shipping: Some(&shipping),
        shipping_tax_class: None,
    });
    // Subtotal 61.92: 10 % (6.19) beats 5.00. Shares 299.90, 249.82, 69.28:
    // floors 617, two cents left go to lines 1 and 2. Then 2.00 off line 3.
    // Tax 8.875 %: 27.00 -> 2.39625 -> 2.40; 22.49 -> 1.99599 -> 2.00;
    // 4.24 -> 0.3763 -> 0.38. Weight 3.4 kg -> the 5 kg bracket.
    let expected = CartTotals {
        lines: vec![
            line_totals(3000, 300, 240, 2940),
            line_totals(2499, 250, 200, 2449),
            line_totals(693, 269, 38, 462),
        ],
        applied_discounts: vec![
            AppliedDiscount {
                id: 2,
                amount: 619,
                allocations: vec![300, 250, 69],
                shipping: 0,
            },
            AppliedDiscount {
                id: 3,
                amount: 200,
                allocations: vec![0, 0, 200],
                shipping: 0,
            },
        ],
        rejected_discounts: vec![RejectedDiscount {
            id: 1,
            reason: Rejection::LostToExclusive,
        }],
        subtotal: 6192,
        discounts: 819,
        shipping: 995,
        shipping_discount: 0,
        shipping_tax: 0,
        tax: 478,
        // Tax on top: 61.92 - 8.19 + 9.95 + 4.78.
        total: 6846,
    };
    assert_eq!(totals, Ok(expected));
}

fn simple_cart(lines: &[Line], discounts: &[Discount]) -> Result<CartTotals, PricingError> {
    price_cart(&CartInput {
        tax_mode: TaxMode::Exclusive,
        lines,
        tax_rates: &rates(&[("standard", Decimal::ZERO)]),
        discounts,
        shipping: None,
        shipping_tax_class: None,
    })
}

#[test]
fn fixed_discount_is_capped_at_what_it_applies_to() {
    let lines = [
        line(1, 300, 1, "standard", 0),
        line(2, 1000, 1, "standard", 0),
    ];
    let on_line_1 = Discount {
        id: 1,
        value: DiscountValue::FixedAmount(1000),
        target: DiscountTarget::Lines {
            variant_ids: vec![],
            product_ids: vec![100],
        },
        min_subtotal: 0,
        stacking: Stacking::Stackable,
    };
    let totals = simple_cart(&lines, &[on_line_1]);
    assert_eq!(totals.as_ref().map(|t| t.discounts), Ok(300));
    assert_eq!(totals.map(|t| t.total), Ok(1000));
}

#[test]
fn stackable_discounts_apply_on_what_remains() {
    let lines = [line(1, 1000, 1, "standard", 0)];
    let discounts = [
        order_discount(1, percent(50), Stacking::Stackable),
        order_discount(2, percent(50), Stacking::Stackable),
    ];
    let totals = simple_cart(&lines, &discounts);
    let amounts = totals.map(|t| t.applied_discounts.iter().map(|d| d.amount).collect());
    assert_eq!(amounts, Ok(vec![500, 250]));
}

#[test]
fn minimum_subtotal_is_checked_before_discounts_on_the_targeted_lines() {
    let lines = [
        line(1, 4000, 1, "standard", 0),
        line(2, 2000, 1, "standard", 0),
    ];
    let mut discount = Discount {
        id: 1,
        value: DiscountValue::FixedAmount(500),
        target: DiscountTarget::Lines {
            variant_ids: vec![2],
            product_ids: vec![],
        },
        min_subtotal: 2001,
        stacking: Stacking::Exclusive,
    };
    let applied = |d: &Discount| simple_cart(&lines, std::slice::from_ref(d)).map(|t| t.discounts);
    assert_eq!(applied(&discount), Ok(0));
    discount.min_subtotal = 2000;
    assert_eq!(applied(&discount), Ok(500));
}

#[test]
fn exclusive_tie_keeps_the_first_given() {
    let lines = [line(1, 1000, 1, "standard", 0)];
    let discounts = [
        order_discount(1, DiscountValue::FixedAmount(100), Stacking::Exclusive),
        order_discount(2, percent(10), Stacking::Exclusive),
    ];
    let ids = simple_cart(&lines, &discounts)
        .map(|t| t.applied_discounts.iter().map(|d| d.id).collect::<Vec<_>>());
    assert_eq!(ids, Ok(vec![1]));
}

#[test]
fn shipping_methods() {
    let flat = ShippingMethod::Flat { amount: 490 };
    assert_eq!(shipping_amount(&flat, 0, 0), Ok(490));
    let free = ShippingMethod::FreeOver {
        amount: 490,
        threshold: 5000,
    };
    assert_eq!(shipping_amount(&free, 4999, 0), Ok(490));
    assert_eq!(shipping_amount(&free, 5000, 0), Ok(0));
    let by_weight = ShippingMethod::ByWeight {
        brackets: vec![WeightBracket {
            up_to_grams: 1000,
            amount: 500,
        }],
    };
    assert_eq!(shipping_amount(&by_weight, 0, 1000), Ok(500));
    assert_eq!(
        shipping_amount(&by_weight, 0, 1001),
        Err(PricingError::NoShippingBracket(1001))
    );
}

#[test]
fn bad_input_is_refused() {
    let lines = [line(1, 1000, 1, "standard", 0)];
    let too_much = order_discount(1, percent(101), Stacking::Stackable);
    assert_eq!(
        simple_cart(&lines, &[too_much]),
        Err(PricingError::InvalidPercentage(Decimal::new(101, 2)))
    );
    let negative = order_discount(1, DiscountValue::FixedAmount(-1), Stacking::Stackable);
    assert_eq!(
        simple_cart(&lines, &[negative]),
        Err(PricingError::NegativeAmount)
    );
    let unknown = [line(1, 1000, 1, "reduced", 0)];
    assert_eq!(
        simple_cart(&unknown, &[]),
        Err(PricingError::UnknownTaxClass("reduced".to_owned()))
    );
    let huge = [line(1, i64::MAX, 2, "standard", 0)];
    assert_eq!(simple_cart(&huge, &[]), Err(PricingError::Overflow));
}

#[test]
fn allocation_spreads_remainders_to_the_largest_fractions() {
    assert_eq!(allocate(10, &[1, 1, 1]), vec![4, 3, 3]);
    assert_eq!(allocate(2, &[1, 2, 3]), vec![0, 1, 1]);
    assert_eq!(allocate(6, &[1, 2, 3]), vec![1, 2, 3]);
    assert_eq!(allocate(5, &[0, 0]), vec![0, 0]);
}

mod promotions;

// --- properties: see `tests/properties.rs` -------------------------------------

mod properties;
