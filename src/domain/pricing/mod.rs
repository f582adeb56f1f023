//! Pricing engine: unit prices, discounts, shipping, tax, cart totals,
//! promotion eligibility and tenders, as pure functions over plain values (no
//! database, no GraphQL).
//!
//! Every amount is an `i64` count of the channel currency's minor units
//! (cents, yen, fils), so rounding "half-up to the currency's minor unit" is
//! rounding a [`Decimal`] to a whole number. Rates (tax, percentage discounts)
//! are [`Decimal`] fractions: `0.20` is 20 %. Nothing passes through a float.
//!
//! The flow of a cart: [`unit_price`] picks each line's price; the caller
//! keeps the promotions that pass [`promotion::check`] and resolves their
//! collections into product ids; [`rates_for`] gives the tax rates of the
//! shipping address; [`price_cart`] computes the totals; [`apply_tenders`]
//! pays the total with gift cards and store credit.
//!
//! Invariants of a [`CartTotals`] built by [`price_cart`]:
//! - no amount is negative;
//! - each line: `total = subtotal - discount` in a tax-inclusive channel,
//!   `total = subtotal - discount + tax` in a tax-exclusive one;
//! - `shipping` is the chosen method's amount before discounts, and
//!   `shipping_discount <= shipping`;
//! - `discounts` is the sum of the line discounts plus `shipping_discount`,
//!   and also the sum of the applied discounts' amounts;
//! - `tax` is the sum of the line taxes plus `shipping_tax`;
//! - `total = subtotal - discounts + shipping (+ tax when exclusive)`, which
//!   equals the sum of the line totals plus `shipping - shipping_discount`
//!   (plus `shipping_tax` when exclusive);
//! - each applied discount's allocations never exceed what was left of a line
//!   when it was applied, and they sum with its shipping part to its amount;
//! - every discount offered is either applied or rejected with a reason;
//! - tax is computed per line on the discounted line amount, and on shipping
//!   after its discount, each rounded half-up.
//!
//! Shipping is in the channel's price convention (gross when prices include
//! tax) and taxed at the rate of [`CartInput::shipping_tax_class`], in the
//! channel's tax mode; with no class it is untaxed.

mod discount;
pub mod promotion;
mod shipping;
mod tax;
pub mod tender;
mod unit_price;

#[cfg(test)]
mod tests;

use rust_decimal::{Decimal, RoundingStrategy};

pub use discount::{
    AppliedDiscount, BuyXGetY, Discount, DiscountTarget, DiscountValue, RejectedDiscount,
    Rejection, Stacking, allocate,
};
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
    /// Rate for every tax class the lines (and shipping) use, at the place
    /// the cart ships to (see [`rates_for`]).
    pub tax_rates: &'a TaxRates,
    /// Candidate discounts (codes entered, automatic promotions), already
    /// past [`promotion::check`]; those that do not qualify or lose to a
    /// bigger exclusive one come back in [`CartTotals::rejected_discounts`].
    pub discounts: &'a [Discount],
    /// The chosen shipping method, if any yet.
    pub shipping: Option<&'a ShippingMethod>,
    /// Tax class of shipping, looked up in `tax_rates` like a line's (even
    /// before a method is chosen); `None`: shipping is not taxed.
    pub shipping_tax_class: Option<&'a str>,
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

/// Totals of a cart, in minor units (what the API shows as
/// `cost { subtotal discounts shipping tax total }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartTotals {
    /// Per line, in input order.
    pub lines: Vec<LineTotals>,
    /// The discounts that applied, in the order they were applied (the winning
    /// exclusive one first, then the stackable ones in input order).
    pub applied_discounts: Vec<AppliedDiscount>,
    /// The discounts offered that did not apply, in input order, with why.
    pub rejected_discounts: Vec<RejectedDiscount>,
    /// Sum of line subtotals.
    pub subtotal: i64,
    /// Sum of applied discounts: line discounts plus `shipping_discount`.
    pub discounts: i64,
    /// The shipping method's amount, before shipping discounts (zero without
    /// a method).
    pub shipping: i64,
    /// What shipping discounts took off `shipping` (at most `shipping`).
    pub shipping_discount: i64,
    /// Tax on `shipping - shipping_discount` (part of it when prices include
    /// tax); zero when shipping is untaxed.
    pub shipping_tax: i64,
    /// Sum of line taxes plus `shipping_tax`.
    pub tax: i64,
    /// `subtotal - discounts + shipping`, plus `tax` when prices exclude tax.
    pub total: i64,
}

/// Why a cart cannot be priced. All of them are caller bugs or bad
/// configuration, not customer mistakes (those are [`Rejection`]s).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// A line or shipping uses a tax class that has no rate.
    #[error("no tax rate for tax class `{0}`")]
    UnknownTaxClass(String),
    /// A tax rate below zero.
    #[error("tax rate for `{0}` is negative")]
    NegativeTaxRate(String),
    /// A price, discount, minimum or shipping amount below zero.
    #[error("negative amount")]
    NegativeAmount,
    /// A percentage discount outside `0..=1`.
    #[error("percentage {0} is outside 0..=1")]
    InvalidPercentage(Decimal),
    /// A buy X get Y offer that discounts no unit per group (`get` is 0).
    #[error("buy X get Y must discount at least one unit per group")]
    InvalidBuyXGetY,
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

/// What the customer pays for an amount after discount with `tax` on it.
fn with_tax(net: i64, tax: i64, mode: TaxMode) -> Result<i64, PricingError> {
    match mode {
        TaxMode::Inclusive => Ok(net),
        TaxMode::Exclusive => net.checked_add(tax).ok_or(PricingError::Overflow),
    }
}

/// Prices a cart: line subtotals, discounts (exclusive winner, then stackable
/// ones on what remains), shipping on the discounted subtotal, shipping
/// discounts, tax per line and on shipping, and totals that add up exactly.
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

    let weight = input.lines.iter().try_fold(0_u64, |sum, line| {
        u64::from(line.weight_grams)
            .checked_mul(u64::from(line.quantity))
            .and_then(|w| sum.checked_add(w))
    });
    let shipping_for = input.shipping.map(|method| {
        move |discounted_subtotal: i64| {
            let weight = weight.ok_or(PricingError::Overflow)?;
            shipping_amount(method, discounted_subtotal, weight)
        }
    });
    let outcome = discount::apply(
        input.lines,
        &subtotals,
        input.discounts,
        shipping_for
            .as_ref()
            .map(|f| f as &dyn Fn(i64) -> Result<i64, PricingError>),
    )?;

    let mut line_discounts = vec![0_i64; input.lines.len()];
    for applied in &outcome.applied {
        for (sum, part) in line_discounts.iter_mut().zip(&applied.allocations) {
            *sum = sum.checked_add(*part).ok_or(PricingError::Overflow)?;
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
            Ok(LineTotals {
                subtotal,
                discount,
                tax,
                total: with_tax(discounted, tax, input.tax_mode)?,
            })
        })
        .collect::<Result<Vec<_>, PricingError>>()?;

    let shipping = outcome.shipping;
    let shipping_discount = checked_sum(outcome.applied.iter().map(|d| d.shipping))?;
    // Free shipping takes at most what is left of shipping.
    let net_shipping = shipping - shipping_discount;
    let shipping_tax = match input.shipping_tax_class {
        Some(class) => {
            let rate = tax::rate_of(input.tax_rates, class)?;
            line_tax(net_shipping, rate, input.tax_mode)?
        }
        None => 0,
    };

    let subtotal = checked_sum(lines.iter().map(|l| l.subtotal))?;
    let discounts = checked_sum(lines.iter().map(|l| l.discount).chain([shipping_discount]))?;
    let tax = checked_sum(lines.iter().map(|l| l.tax).chain([shipping_tax]))?;
    let total = checked_sum(lines.iter().map(|l| l.total).chain([with_tax(
        net_shipping,
        shipping_tax,
        input.tax_mode,
    )?]))?;
    Ok(CartTotals {
        lines,
        applied_discounts: outcome.applied,
        rejected_discounts: outcome.rejected,
        subtotal,
        discounts,
        shipping,
        shipping_discount,
        shipping_tax,
        tax,
        total,
    })
}
