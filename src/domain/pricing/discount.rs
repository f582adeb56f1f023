//! Discounts: what qualifies, which exclusive one wins, how each is spread
//! over its lines.
//!
//! Rules:
//! - a discount applies to the whole order or to the lines whose variant or
//!   product it names; its base is what is left of those lines when it is
//!   applied, and it never exceeds that base;
//! - it qualifies when the subtotal of its lines before any discount is
//!   positive and at least its minimum subtotal;
//! - of the qualifying exclusive discounts, only the one worth most to the
//!   customer applies (ties: the first given); stackable ones then apply in
//!   the order given, each on what the previous ones left;
//! - the amount is spread over the lines in proportion to what is left of
//!   them, by the largest-remainder method, so the allocations sum exactly to
//!   the amount and none exceeds its line.

use rust_decimal::Decimal;

use super::{Line, PricingError, round_half_up};

/// How much a discount takes off its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountValue {
    /// A fraction of the base (`0.10` for 10 % off), rounded half-up.
    Percentage(Decimal),
    /// A fixed amount in minor units, capped at the base.
    FixedAmount(i64),
}

/// What a discount applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscountTarget {
    /// Every line of the order.
    Order,
    /// The lines whose variant or product is listed.
    Lines {
        /// Variants the discount applies to.
        variant_ids: Vec<i64>,
        /// Products (all their variants) the discount applies to.
        product_ids: Vec<i64>,
    },
}

/// Whether a discount combines with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stacking {
    /// At most one exclusive discount applies: the biggest.
    Exclusive,
    /// Applies after the exclusive one, on what remains.
    Stackable,
}

/// A discount offered to a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discount {
    /// The caller's id for it (promotion or code id), echoed back.
    pub id: i64,
    /// How much it takes off.
    pub value: DiscountValue,
    /// What it applies to.
    pub target: DiscountTarget,
    /// Minimum subtotal (before discounts) of the lines it applies to.
    pub min_subtotal: i64,
    /// Whether it combines with others.
    pub stacking: Stacking,
}

/// A discount that applied, and how it was spread over the lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedDiscount {
    /// The [`Discount::id`].
    pub id: i64,
    /// What it took off, in minor units.
    pub amount: i64,
    /// Its share of each cart line, in line order (zero for lines it does
    /// not apply to); sums to `amount`.
    pub allocations: Vec<i64>,
}

impl Discount {
    /// Whether the discount targets `line`.
    pub fn applies_to(&self, line: &Line) -> bool {
        match &self.target {
            DiscountTarget::Order => true,
            DiscountTarget::Lines {
                variant_ids,
                product_ids,
            } => variant_ids.contains(&line.variant_id) || product_ids.contains(&line.product_id),
        }
    }

    /// `amounts` restricted to the lines this discount applies to.
    fn eligible(&self, lines: &[Line], amounts: &[i64]) -> Vec<i64> {
        lines
            .iter()
            .zip(amounts)
            .map(|(line, &amount)| if self.applies_to(line) { amount } else { 0 })
            .collect()
    }

    /// Refuses a percentage outside `0..=1` and a negative fixed amount.
    fn validate(&self) -> Result<(), PricingError> {
        match self.value {
            DiscountValue::Percentage(rate) if rate < Decimal::ZERO || rate > Decimal::ONE => {
                Err(PricingError::InvalidPercentage(rate))
            }
            DiscountValue::FixedAmount(amount) if amount < 0 => Err(PricingError::NegativeAmount),
            _ => Ok(()),
        }
    }

    /// The amount off a base, never more than the base (value validated).
    fn amount_off(&self, base: i64) -> Result<i64, PricingError> {
        let amount = match self.value {
            DiscountValue::Percentage(rate) => round_half_up(
                Decimal::from(base)
                    .checked_mul(rate)
                    .ok_or(PricingError::Overflow)?,
            )?,
            DiscountValue::FixedAmount(amount) => amount,
        };
        Ok(amount.min(base))
    }

    /// The discount applied to what is left of the lines (`remaining`), or
    /// `None` when it takes nothing off.
    fn apply_to(
        &self,
        lines: &[Line],
        remaining: &[i64],
    ) -> Result<Option<AppliedDiscount>, PricingError> {
        let weights = self.eligible(lines, remaining);
        let base = super::checked_sum(weights.iter().copied())?;
        let amount = self.amount_off(base)?;
        if amount == 0 {
            return Ok(None);
        }
        Ok(Some(AppliedDiscount {
            id: self.id,
            amount,
            allocations: allocate(amount, &weights),
        }))
    }
}

/// Applies `discounts` to lines whose undiscounted amounts are `subtotals`.
pub(super) fn apply(
    lines: &[Line],
    subtotals: &[i64],
    discounts: &[Discount],
) -> Result<Vec<AppliedDiscount>, PricingError> {
    let mut qualifying = Vec::new();
    for discount in discounts {
        discount.validate()?;
        let base = super::checked_sum(discount.eligible(lines, subtotals))?;
        if base > 0 && base >= discount.min_subtotal {
            qualifying.push(discount);
        }
    }

    let mut best: Option<AppliedDiscount> = None;
    for discount in qualifying
        .iter()
        .filter(|d| d.stacking == Stacking::Exclusive)
    {
        if let Some(candidate) = discount.apply_to(lines, subtotals)?
            && best.as_ref().is_none_or(|b| candidate.amount > b.amount)
        {
            best = Some(candidate);
        }
    }

    let mut remaining = subtotals.to_vec();
    let mut applied = Vec::new();
    let stackable = qualifying
        .iter()
        .filter(|d| d.stacking == Stacking::Stackable);
    if let Some(winner) = best {
        take(&mut remaining, &winner);
        applied.push(winner);
    }
    for discount in stackable {
        if let Some(done) = discount.apply_to(lines, &remaining)? {
            take(&mut remaining, &done);
            applied.push(done);
        }
    }
    Ok(applied)
}

fn take(remaining: &mut [i64], applied: &AppliedDiscount) {
    for (left, part) in remaining.iter_mut().zip(&applied.allocations) {
        *left -= part;
    }
}

/// Splits `amount` over `weights` in proportion, by the largest-remainder
/// method: each gets the floor of its exact share, and the units left over go
/// one each to the largest fractional remainders (ties: the earlier index).
///
/// Precondition: non-negative weights and `0 <= amount <= sum(weights)`;
/// then the result sums to `amount` and no part exceeds its weight. When the
/// weights sum to zero, everything is zero.
pub fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|&w| i128::from(w)).sum();
    if total <= 0 {
        return vec![0; weights.len()];
    }
    let amount = i128::from(amount);
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (index, &weight) in weights.iter().enumerate() {
        let exact = amount * i128::from(weight);
        parts.push(exact / total);
        remainders.push((exact % total, index));
    }
    let left_over = amount - parts.iter().sum::<i128>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, index) in remainders
        .iter()
        .take(usize::try_from(left_over).unwrap_or(0))
    {
        if let Some(part) = parts.get_mut(index) {
            *part += 1;
        }
    }
    // Each part is at most its weight, an i64.
    parts
        .into_iter()
        .map(|part| i64::try_from(part).unwrap_or(i64::MAX))
        .collect()
}
