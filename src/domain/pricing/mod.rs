//! Pricing engine: unit prices, discounts, shipping, tax and cart totals, as
//! pure functions over plain values (no database, no GraphQL).
//!
//! Every amount is an `i64` count of the channel currency's minor units
//! (cents, yen, fils), so rounding "half-up to the currency's minor unit" is
//! rounding a [`Decimal`] to a whole number. Rates (tax, percentage discounts)
//! are [`Decimal`] fractions: `0.20` is 20 %. Nothing passes through a float.
//!
//! Invariants of a [`CartTotals`] built by [`price_cart`]:
//! - no amount is negative;
//! - each line: `total = subtotal - discount` in a tax-inclusive channel,
//!   `total = subtotal - discount + tax` in a tax-exclusive one;
//! - the cart: `subtotal`, `discounts` and `tax` are the sums over the lines,
//!   and `total = subtotal - discounts + shipping (+ tax when exclusive)`, which
//!   equals the sum of the line totals plus shipping;
//! - each applied discount's allocations sum exactly to its amount and never
//!   exceed what was left of a line when it was applied;
//! - tax is computed per line on the discounted line amount, rounded half-up.
//!
//! Shipping is not taxed here: the shipping amount is added as given, in the
//! channel's price convention.

mod discount;
pub mod promotion;
mod shipping;
mod tax;
pub mod tender;
mod unit_price;

#[cfg(test)]
mod tests;

use rust_decimal::{Decimal, RoundingStrategy};

pub use discount::{AppliedDiscount, Discount, DiscountTarget, DiscountValue, Stacking, allocate};
pub use promotion::{Ineligible, PromotionRules, PromotionUsage};
pub use shipping::{ShippingMethod, WeightBracket, shipping_amount};
pub use tax::{TaxMode, TaxRates, TaxRule, line_tax, rates_for};
pub use tender::{Balance, GiftCardBalance, GiftCardDebit, TenderError, Tenders, apply_tenders};
pub use unit_price::{PriceRow, unit_price};

/// A cart line as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The variant bought (discounts can target it).
    pub variant_id: i64,
    /// The variant's product (discounts can target it).
    pub product_id: i64,
    /// Unit price in minor units, as chosen by [`unit_price`].
    pub unit_price: i64,
    /// How many units.
    pub quantity: u32,
    /// Tax class code, looked up in [`TaxRates`].
    pub tax_class: String,
    /// Weight of one unit in grams, for weight-based shipping.
    pub weight_grams: u32,
}

/// Everything [`price_cart`] needs.
#[derive(Debug, Clone, Copy)]
pub struct CartInput<'a> {
    /// Whether the channel's prices include tax.
    pub tax_mode: TaxMode,
    /// The lines, in display order; the output keeps that order.
    pub lines: &'a [Line],
    /// Rate for every tax class the lines use, at the place the cart ships
    /// to (see [`rates_for`]).
    pub tax_rates: &'a TaxRates,
    /// Candidate discounts (codes entered, automatic promotions); those that
    /// do not qualify or lose to a bigger exclusive one are left out.
    pub discounts: &'a [Discount],
    /// The chosen shipping method, if any yet.
    pub shipping: Option<&'a ShippingMethod>,
}

/// Totals of one line, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTotals {
    /// `unit_price × quantity`, before discounts.
    pub subtotal: i64,
    /// Sum of the discount allocations on this line.
    pub discount: i64,
    /// Tax on `subtotal - discount` (included in it when prices include tax).
    pub tax: i64,
    /// What the customer pays for the line: `subtotal - discount`, plus `tax`
    /// when prices exclude tax.
    pub total: i64,
}

/// Totals of a cart, in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartTotals {
    /// Per line, in input order.
    pub lines: Vec<LineTotals>,
    /// The discounts that applied, in the order they were applied (the winning
    /// exclusive one first, then the stackable ones in input order).
    pub applied_discounts: Vec<AppliedDiscount>,
    /// Sum of line subtotals.
    pub subtotal: i64,
    /// Sum of applied discounts.
    pub discounts: i64,
    /// Shipping amount (untaxed by this module).
    pub shipping: i64,
    /// Sum of line taxes.
    pub tax: i64,
    /// `subtotal - discounts + shipping`, plus `tax` when prices exclude tax.
    pub total: i64,
}

/// Why a cart cannot be priced. All of them are caller bugs or bad
/// configuration, not customer mistakes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// A line uses a tax class that has no rate.
    #[error("no tax rate for tax class `{0}`")]
    UnknownTaxClass(String),
    /// A tax rate below zero.
    #[error("tax rate for `{0}` is negative")]
    NegativeTaxRate(String),
    /// A price, discount or shipping amount below zero.
    #[error("negative amount")]
    NegativeAmount,
    /// A percentage discount outside `0..=1`.
    #[error("percentage {0} is outside 0..=1")]
    InvalidPercentage(Decimal),
    /// The cart weighs more than the heaviest bracket of the shipping method.
    #[error("no shipping bracket for {0} g")]
    NoShippingBracket(u64),
    /// An amount does not fit in 64 bits.
    #[error("amount overflow")]
    Overflow,
}

/// Rounds a decimal count of minor units to a whole one, halves away from
/// zero (half-up for the non-negative amounts priced here).
pub(crate) fn round_half_up(value: Decimal) -> Result<i64, PricingError> {
    i64::try_from(value.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero))
        .map_err(|_| PricingError::Overflow)
}

fn checked_sum(values: impl IntoIterator<Item = i64>) -> Result<i64, PricingError> {
    values
        .into_iter()
        .try_fold(0_i64, i64::checked_add)
        .ok_or(PricingError::Overflow)
}

/// Prices a cart: line subtotals, discounts (exclusive winner, then stackable
/// ones on what remains), shipping on the discounted subtotal, tax per line on
/// the discounted amounts, and totals that add up exactly.
pub fn price_cart(input: &CartInput<'_>) -> Result<CartTotals, PricingError> {
    let subtotals = input
        .lines
        .iter()
        .map(|line| {
            if line.unit_price < 0 {
                return Err(PricingError::NegativeAmount);
            }
            line.unit_price
                .checked_mul(i64::from(line.quantity))
                .ok_or(PricingError::Overflow)
        })
        .collect::<Result<Vec<_>, _>>()?;

    let applied_discounts = discount::apply(input.lines, &subtotals, input.discounts)?;
    let mut line_discounts = vec![0_i64; input.lines.len()];
    for applied in &applied_discounts {
        for (sum, part) in line_discounts.iter_mut().zip(&applied.allocations) {
            *sum += part;
        }
    }

    let lines = input
        .lines
        .iter()
        .zip(subtotals.iter().zip(&line_discounts))
        .map(|(line, (&subtotal, &discount))| {
            let rate = tax::rate_of(input.tax_rates, &line.tax_class)?;
            // Allocations never exceed the line, so this stays non-negative.
            let discounted = subtotal - discount;
            let tax = line_tax(discounted, rate, input.tax_mode)?;
            let total = match input.tax_mode {
                TaxMode::Inclusive => discounted,
                TaxMode::Exclusive => discounted.checked_add(tax).ok_or(PricingError::Overflow)?,
            };
            Ok(LineTotals {
                subtotal,
                discount,
                tax,
                total,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let subtotal = checked_sum(lines.iter().map(|l| l.subtotal))?;
    let discounts = checked_sum(lines.iter().map(|l| l.discount))?;
    let tax = checked_sum(lines.iter().map(|l| l.tax))?;
    let shipping = match input.shipping {
        Some(method) => {
            let weight = input.lines.iter().try_fold(0_u64, |sum, line| {
                u64::from(line.weight_grams)
                    .checked_mul(u64::from(line.quantity))
                    .and_then(|w| sum.checked_add(w))
            });
            shipping_amount(
                method,
                subtotal - discounts,
                weight.ok_or(PricingError::Overflow)?,
            )?
        }
        None => 0,
    };
    let goods = checked_sum(lines.iter().map(|l| l.total))?;
    let total = goods.checked_add(shipping).ok_or(PricingError::Overflow)?;
    Ok(CartTotals {
        lines,
        applied_discounts,
        subtotal,
        discounts,
        shipping,
        tax,
        total,
    })
}
