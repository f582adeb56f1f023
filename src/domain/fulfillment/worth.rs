//! What a fulfilment is worth: the amount capture mode `on_fulfillment`
//! captures when it ships. Pure.
//!
//! - Each line contributes its share of the line's snapshot total (unit
//!   price, less its discounts, with its tax: `order_line.total_minor`) for
//!   the units shipped. Shares are cumulative: units `before..before + q`
//!   of a line of `n` units totalling `T` are worth
//!   `round(T × (before + q) / n) - round(T × before / n)` (half-up), so the
//!   fulfilments of a line always add up to exactly its total, whatever the
//!   split.
//! - The first fulfilment of an order also carries the shipping part: the
//!   order total less the sum of the line totals (shipping after its
//!   discounts, with its tax), never below zero. "First" means no
//!   fulfilment was ever created for the order before, cancelled ones
//!   included, so shipping is never counted twice.
//! - Hence all fulfilments of a fully shipped order are worth exactly its
//!   total. What is paid by gift card or store credit is not card money:
//!   the capture caps the amount at what the card authorization has left.

/// The units of one order line a fulfilment ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineShare {
    /// The line's snapshot total (minor units).
    pub line_total_minor: i64,
    /// Units the line was ordered with.
    pub line_quantity: i32,
    /// Units of the line already fulfilled before this fulfilment.
    pub fulfilled_before: i32,
    /// Units this fulfilment ships.
    pub quantity: i32,
}

/// `round(total × units / quantity)`, half away from zero.
fn cumulative(total: i64, units: i32, quantity: i32) -> i64 {
    if quantity <= 0 {
        return 0;
    }
    let units = i128::from(units.clamp(0, quantity));
    let (num, den) = (i128::from(total) * units, i128::from(quantity));
    let rounded = (2 * num + den * num.signum()) / (2 * den);
    i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX })
}

/// What a fulfilment shipping `lines` is worth, in minor units (see the
/// module documentation). `order_total_minor` and `all_lines_total_minor`
/// (the sum of every line's total) give the shipping part, added when
/// `first`.
pub fn fulfillment_worth(
    order_total_minor: i64,
    all_lines_total_minor: i64,
    lines: &[LineShare],
    first: bool,
) -> i64 {
    let goods: i64 = lines
        .iter()
        .map(|l| {
            cumulative(
                l.line_total_minor,
                l.fulfilled_before + l.quantity,
                l.line_quantity,
            ) - cumulative(l.line_total_minor, l.fulfilled_before, l.line_quantity)
        })
        .sum();
    let shipping = if first {
        (order_total_minor - all_lines_total_minor).max(0)
    } else {
        0
    };
    goods + shipping
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(total: i64, n: i32, before: i32, q: i32) -> LineShare {
        LineShare {
            line_total_minor: total,
            line_quantity: n,
            fulfilled_before: before,
            quantity: q,
        }
    }

    #[test]
    fn whole_lines_and_shipping_on_the_first() {
        // Two lines (30.00 and 12.50) and 5.00 of shipping.
        let lines = [share(3000, 3, 0, 3), share(1250, 1, 0, 1)];
        assert_eq!(fulfillment_worth(4750, 4250, &lines, true), 4750);
        assert_eq!(fulfillment_worth(4750, 4250, &lines, false), 4250);
    }

    #[test]
    fn splits_add_up_to_the_line_total() {
        // 10.00 for 3 units: 3.33 + 3.34 + 3.33, never a cent lost.
        let parts: Vec<i64> = (0..3)
            .map(|i| fulfillment_worth(0, 0, &[share(1000, 3, i, 1)], false))
            .collect();
        assert_eq!(parts, vec![333, 334, 333]);
        assert_eq!(parts.iter().sum::<i64>(), 1000);
        // Any split of 7 units of 9.99 sums to 9.99.
        for first in 0..=7 {
            let a = fulfillment_worth(0, 0, &[share(999, 7, 0, first)], false);
            let b = fulfillment_worth(0, 0, &[share(999, 7, first, 7 - first)], false);
            assert_eq!(a + b, 999, "split at {first}");
        }
    }

    #[test]
    fn shipping_is_never_negative_and_odd_inputs_are_bounded() {
        // Line totals above the order total (a discount on the order):
        // no negative shipping part.
        assert_eq!(
            fulfillment_worth(900, 1000, &[share(1000, 1, 0, 1)], true),
            1000
        );
        // More than the line has is capped at the line.
        assert_eq!(fulfillment_worth(0, 0, &[share(1000, 2, 1, 5)], false), 500);
        assert_eq!(fulfillment_worth(0, 0, &[share(1000, 0, 0, 1)], false), 0);
    }
}
