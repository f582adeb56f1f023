//! Shipping amounts: flat rate, free over a threshold, weight brackets.
//!
//! The amount is in the channel's price convention (gross in a tax-inclusive
//! channel, net in an exclusive one). Shipping discounts and shipping tax are
//! applied on top of it by [`price_cart`](super::price_cart).

use super::PricingError;

/// How a shipping method charges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShippingMethod {
    /// The same amount whatever the cart.
    Flat {
        /// Amount in minor units.
        amount: i64,
    },
    /// `amount`, or nothing once the subtotal after discounts reaches
    /// `threshold` (free from `threshold` on, inclusive).
    FreeOver {
        /// Amount below the threshold, in minor units.
        amount: i64,
        /// Subtotal after discounts from which shipping is free.
        threshold: i64,
    },
    /// The amount of the lightest bracket the cart's weight fits in.
    ByWeight {
        /// Brackets in any order; a cart heavier than all of them cannot use
        /// the method.
        brackets: Vec<WeightBracket>,
    },
}

/// One bracket of a [`ShippingMethod::ByWeight`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightBracket {
    /// Carts up to this weight (inclusive) fall in the bracket.
    pub up_to_grams: u64,
    /// Amount in minor units.
    pub amount: i64,
}

/// The shipping amount for a cart whose subtotal after discounts is
/// `discounted_subtotal` and whose lines weigh `weight_grams` in all.
pub fn shipping_amount(
    method: &ShippingMethod,
    discounted_subtotal: i64,
    weight_grams: u64,
) -> Result<i64, PricingError> {
    let amount = match method {
        ShippingMethod::Flat { amount } => *amount,
        ShippingMethod::FreeOver { amount, threshold } => {
            if discounted_subtotal >= *threshold {
                0
            } else {
                *amount
            }
        }
        ShippingMethod::ByWeight { brackets } => brackets
            .iter()
            .filter(|b| weight_grams <= b.up_to_grams)
            .min_by_key(|b| b.up_to_grams)
            .map(|b| b.amount)
            .ok_or(PricingError::NoShippingBracket(weight_grams))?,
    };
    if amount < 0 {
        return Err(PricingError::NegativeAmount);
    }
    Ok(amount)
}
