//! Discounts: what qualifies, which exclusive one wins, how each is spread
//! over its lines or taken off shipping, and why the others did not apply.
//!
//! Kinds ([`DiscountValue`]):
//! - a percentage or a fixed amount off the targeted lines;
//! - buy X get Y ([`BuyXGetY`]): the targeted lines' units are ranked by unit
//!   price, dearest first (ties: earlier line first; units with nothing left
//!   to pay, such as free samples, are left out), and cut into groups of
//!   `buy + get` units; in each whole group the last `get` units (the
//!   cheapest of the group) are discounted by `percentage` (`1` = free). Only
//!   whole groups count, at most `max_applications` of them, the dearest
//!   groups first. Within a line the discount is rounded half-up, so it is
//!   exact per line, not per unit;
//! - free shipping: takes off whatever shipping is left to pay; it needs a
//!   chosen shipping method, and its target only decides whether it
//!   qualifies (say, free shipping when the cart holds a given product).
//!
//! Percentage, fixed amount and buy X get Y discounts never touch shipping;
//! free shipping never touches the lines.
//!
//! Targets name variants and products; a discount on a collection is resolved
//! by the caller into the ids of the collection's products.
//!
//! Rules:
//! - a discount qualifies when the subtotal (before any discount) of the lines
//!   it targets is positive and at least its minimum subtotal, a buy X get Y
//!   has at least `buy + get` targeted units with a positive price, and free
//!   shipping has a shipping method to work on;
//! - of the qualifying exclusive discounts, only the one worth most to the
//!   customer applies (ties: the first given). A line discount is worth its
//!   amount on the undiscounted lines; free shipping is worth the shipping it
//!   would take off if it won (the shipping method's amount for the subtotal
//!   left by the stackable line discounts). The knock-on effect of a line
//!   discount on a threshold-based shipping amount is not weighed;
//! - stackable ones then apply in the order given, each on what the previous
//!   ones left: line discounts on what is left of their lines, free shipping
//!   on what is left of shipping; the winning exclusive one applies first;
//! - the shipping amount is computed on the subtotal after all line
//!   discounts, and only then do free shipping discounts apply to it;
//! - a percentage or fixed amount is spread over its lines in proportion to
//!   what is left of them, by the largest-remainder method, so the allocations
//!   sum exactly to the amount and none exceeds its line; buy X get Y
//!   allocates per line what its discounted units are worth, a unit being
//!   worth what is left of its line divided by the line's quantity (its unit
//!   price when nothing was taken off before);
//! - every discount offered ends up either applied (with a positive amount)
//!   or rejected with a [`Rejection`] saying why.

use rust_decimal::Decimal;

use super::{Line, PricingError, checked_sum, round_half_up};

/// How much a discount takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountValue {
    /// A fraction of the targeted lines (`0.10` for 10 % off), rounded half-up.
    Percentage(Decimal),
    /// A fixed amount in minor units off the targeted lines, capped at them.
    FixedAmount(i64),
    /// Some of the targeted units cheaper or free, per group of units bought.
    BuyXGetY(BuyXGetY),
    /// The whole shipping amount off (whatever is left of it).
    FreeShipping,
}

/// A buy X get Y offer: for every `buy + get` targeted units, the `get`
/// cheapest of the group are `percentage` off (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuyXGetY {
    /// Units paid in full per group (may be 0: every unit discounted).
    pub buy: u32,
    /// Units discounted per group; at least 1.
    pub get: u32,
    /// Fraction off the discounted units, `0..=1` (`1` = free).
    pub percentage: Decimal,
    /// How many groups at most get the discount; `None`: every whole group.
    pub max_applications: Option<u32>,
}

/// What a discount applies to (or, for free shipping, qualifies on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscountTarget {
    /// Every line of the order.
    Order,
    /// The lines whose variant or product is listed (a collection is given as
    /// its product ids).
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
    /// At most one exclusive discount applies: the one worth most.
    Exclusive,
    /// Applies after the exclusive one, on what remains.
    Stackable,
}

/// A discount offered to a cart (an automatic promotion or an entered code
/// that passed [`promotion::check`](super::promotion::check)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discount {
    /// The caller's id for it (promotion or code id), echoed back.
    pub id: i64,
    /// How much it takes off.
    pub value: DiscountValue,
    /// What it applies to.
    pub target: DiscountTarget,
    /// Minimum subtotal (before discounts) of the lines it targets.
    pub min_subtotal: i64,
    /// Whether it combines with others.
    pub stacking: Stacking,
}

/// A discount that applied, and where its amount went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedDiscount {
    /// The [`Discount::id`].
    pub id: i64,
    /// What it took off in all, in minor units: the allocations plus
    /// `shipping`; always positive.
    pub amount: i64,
    /// Its share of each cart line, in line order (zero for lines it does
    /// not apply to, and everywhere for free shipping).
    pub allocations: Vec<i64>,
    /// What it took off shipping (zero except for free shipping).
    pub shipping: i64,
}

/// Why an offered discount did not apply (for `userErrors` on an entered
/// code, or a "spend 10.00 more" hint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// No targeted line with a positive subtotal is in the cart.
    NoMatchingLines,
    /// The targeted lines' subtotal is below the minimum.
    BelowMinimumSubtotal,
    /// Free shipping, but no shipping method is chosen yet.
    NoShippingMethod,
    /// Buy X get Y with fewer than `buy + get` targeted units.
    NotEnoughUnits,
    /// It qualified but had nothing to take off (shipping already free,
    /// lines already fully discounted, a zero rate).
    NothingToDiscount,
    /// An exclusive discount that lost to one worth more (or as much and
    /// given earlier).
    LostToExclusive,
}

/// An offered discount that did not apply, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectedDiscount {
    /// The [`Discount::id`].
    pub id: i64,
    /// Why it did not apply.
    pub reason: Rejection,
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

    /// Whether the discount comes off shipping rather than the lines.
    pub fn is_shipping(&self) -> bool {
        matches!(self.value, DiscountValue::FreeShipping)
    }

    /// `amounts` restricted to the lines this discount applies to.
    fn eligible(&self, lines: &[Line], amounts: &[i64]) -> Vec<i64> {
        lines
            .iter()
            .zip(amounts)
            .map(|(line, &amount)| if self.applies_to(line) { amount } else { 0 })
            .collect()
    }

    /// Refuses a percentage outside `0..=1`, a negative fixed amount or
    /// minimum, and a buy X get Y that gives nothing per group.
    fn validate(&self) -> Result<(), PricingError> {
        let in_unit_range = |rate: Decimal| (Decimal::ZERO..=Decimal::ONE).contains(&rate);
        if self.min_subtotal < 0 {
            return Err(PricingError::NegativeAmount);
        }
        match self.value {
            DiscountValue::Percentage(rate) if !in_unit_range(rate) => {
                Err(PricingError::InvalidPercentage(rate))
            }
            DiscountValue::FixedAmount(amount) if amount < 0 => Err(PricingError::NegativeAmount),
            DiscountValue::BuyXGetY(offer) if !in_unit_range(offer.percentage) => {
                Err(PricingError::InvalidPercentage(offer.percentage))
            }
            DiscountValue::BuyXGetY(offer) if offer.get == 0 => Err(PricingError::InvalidBuyXGetY),
            _ => Ok(()),
        }
    }

    /// Why the discount does not qualify on a cart whose undiscounted line
    /// amounts are `subtotals`, if it does not.
    fn rejection(
        &self,
        lines: &[Line],
        subtotals: &[i64],
        has_shipping: bool,
    ) -> Result<Option<Rejection>, PricingError> {
        let base = checked_sum(self.eligible(lines, subtotals))?;
        if base <= 0 {
            return Ok(Some(Rejection::NoMatchingLines));
        }
        if base < self.min_subtotal {
            return Ok(Some(Rejection::BelowMinimumSubtotal));
        }
        Ok(match self.value {
            DiscountValue::FreeShipping if !has_shipping => Some(Rejection::NoShippingMethod),
            DiscountValue::BuyXGetY(offer) => {
                // Units priced at zero are left out, as in the ranking.
                let units: u64 = lines
                    .iter()
                    .filter(|line| self.applies_to(line) && line.unit_price > 0)
                    .map(|line| u64::from(line.quantity))
                    .sum();
                (units < offer.group_size()).then_some(Rejection::NotEnoughUnits)
            }
            _ => None,
        })
    }

    /// What this line discount takes off each line, given what is left of
    /// them (`remaining`). Zero everywhere for free shipping.
    fn line_allocations(
        &self,
        lines: &[Line],
        remaining: &[i64],
    ) -> Result<Vec<i64>, PricingError> {
        let weights = self.eligible(lines, remaining);
        let base = checked_sum(weights.iter().copied())?;
        let amount = match self.value {
            DiscountValue::Percentage(rate) => round_half_up(
                Decimal::from(base)
                    .checked_mul(rate)
                    .ok_or(PricingError::Overflow)?,
            )?,
            DiscountValue::FixedAmount(amount) => amount,
            DiscountValue::BuyXGetY(offer) => return offer.allocations(lines, &weights),
            DiscountValue::FreeShipping => 0,
        };
        Ok(allocate(amount.min(base), &weights))
    }
}

impl BuyXGetY {
    /// Units per group: `buy + get`.
    fn group_size(&self) -> u64 {
        u64::from(self.buy) + u64::from(self.get)
    }

    /// Per line, what the discounted units are worth, given what is left of
    /// the targeted lines (`remaining`, zero for the others).
    fn allocations(&self, lines: &[Line], remaining: &[i64]) -> Result<Vec<i64>, PricingError> {
        // (line index, what is left of it, its units), targeted lines only.
        let mut runs: Vec<(usize, i64, u32)> = lines
            .iter()
            .zip(remaining)
            .enumerate()
            .filter(|(_, (line, left))| **left > 0 && line.quantity > 0)
            .map(|(index, (line, &left))| (index, left, line.quantity))
            .collect();
        // Dearest unit first: compare left_a / qty_a with left_b / qty_b
        // exactly, by cross-multiplying; ties keep line order.
        runs.sort_by(|a, b| {
            let worth_a = i128::from(a.1) * i128::from(b.2);
            let worth_b = i128::from(b.1) * i128::from(a.2);
            worth_b.cmp(&worth_a).then(a.0.cmp(&b.0))
        });

        let group = self.group_size();
        let units: u64 = runs.iter().map(|run| u64::from(run.2)).sum();
        let mut groups = units / group;
        if let Some(max) = self.max_applications {
            groups = groups.min(u64::from(max));
        }
        let covered = groups * group;
        // Discounted units among the first `n` in the ranking: `get` per whole
        // group, plus the positions past `buy` in the group `n` ends inside.
        let discounted_before = |n: u64| {
            let n = n.min(covered);
            (n / group) * u64::from(self.get) + (n % group).saturating_sub(u64::from(self.buy))
        };

        // Lines left out of `runs`, or without discounted units, keep zero.
        let mut parts = vec![0_i64; lines.len()];
        let mut position = 0_u64;
        for (index, left, quantity) in runs {
            let end = position + u64::from(quantity);
            let discounted = discounted_before(end) - discounted_before(position);
            position = end;
            if discounted == 0 {
                continue;
            }
            let worth =
                Decimal::try_from_i128_with_scale(i128::from(left) * i128::from(discounted), 0)
                    .ok()
                    .and_then(|worth| worth.checked_mul(self.percentage))
                    .and_then(|worth| worth.checked_div(Decimal::from(quantity)))
                    .ok_or(PricingError::Overflow)?;
            // At most `left`: discounted <= quantity and percentage <= 1.
            if let Some(part) = parts.get_mut(index) {
                *part = round_half_up(worth)?.min(left);
            }
        }
        Ok(parts)
    }
}

/// What [`apply`] decided.
pub(super) struct Decision {
    /// The discounts that applied, winning exclusive one first.
    pub applied: Vec<AppliedDiscount>,
    /// The others, in the order offered.
    pub rejected: Vec<RejectedDiscount>,
    /// The shipping amount before shipping discounts (zero without a method).
    pub shipping: i64,
}

/// The shipping amount for a subtotal after line discounts.
pub(super) type ShippingFor<'a> = &'a dyn Fn(i64) -> Result<i64, PricingError>;

/// One way of applying discounts: the given ones (with their index among
/// those offered) in order, each `None` when it took nothing off.
struct Scenario {
    results: Vec<(usize, Option<AppliedDiscount>)>,
    shipping: i64,
}

/// Applies `order` to the lines (line discounts in order), prices shipping
/// on what is left, then applies the free shipping ones in order.
fn run(
    lines: &[Line],
    subtotals: &[i64],
    order: &[(usize, &Discount)],
    shipping_for: Option<ShippingFor<'_>>,
) -> Result<Scenario, PricingError> {
    let mut remaining = subtotals.to_vec();
    let mut results = Vec::with_capacity(order.len());
    for &(index, discount) in order {
        let allocations = discount.line_allocations(lines, &remaining)?;
        let amount = checked_sum(allocations.iter().copied())?;
        for (left, part) in remaining.iter_mut().zip(&allocations) {
            *left -= part;
        }
        let applied = (amount > 0).then_some(AppliedDiscount {
            id: discount.id,
            amount,
            allocations,
            shipping: 0,
        });
        results.push((index, applied));
    }

    let shipping = match shipping_for {
        Some(shipping_for) => shipping_for(checked_sum(remaining.iter().copied())?)?,
        None => 0,
    };
    let mut shipping_left = shipping;
    for (&(_, discount), (_, applied)) in order.iter().zip(&mut results) {
        if discount.is_shipping() && shipping_left > 0 {
            *applied = Some(AppliedDiscount {
                id: discount.id,
                amount: shipping_left,
                allocations: vec![0; lines.len()],
                shipping: shipping_left,
            });
            shipping_left = 0;
        }
    }
    Ok(Scenario { results, shipping })
}

/// Applies `discounts` to lines whose undiscounted amounts are `subtotals`,
/// with shipping priced by `shipping_for` (`None`: no method chosen yet).
pub(super) fn apply(
    lines: &[Line],
    subtotals: &[i64],
    discounts: &[Discount],
    shipping_for: Option<ShippingFor<'_>>,
) -> Result<Decision, PricingError> {
    let mut reasons: Vec<Option<Rejection>> = Vec::with_capacity(discounts.len());
    for discount in discounts {
        discount.validate()?;
        reasons.push(discount.rejection(lines, subtotals, shipping_for.is_some())?);
    }
    let qualifying = |stacking: Stacking| -> Vec<(usize, &Discount)> {
        discounts
            .iter()
            .enumerate()
            .zip(&reasons)
            .filter(|((_, d), reason)| d.stacking == stacking && reason.is_none())
            .map(|(indexed, _)| indexed)
            .collect()
    };
    let stackable = qualifying(Stacking::Stackable);
    let exclusive = qualifying(Stacking::Exclusive);
    let mut reject = |index: usize, reason: Rejection| {
        if let Some(slot) = reasons.get_mut(index) {
            *slot = Some(reason);
        }
    };

    // Each exclusive candidate is tried as the winner, ahead of the stackable
    // ones; the scenario of the one worth most is kept.
    let mut best: Option<(usize, i64, Scenario)> = None;
    for &candidate in &exclusive {
        let order: Vec<(usize, &Discount)> = std::iter::once(candidate)
            .chain(stackable.iter().copied())
            .collect();
        let scenario = run(lines, subtotals, &order, shipping_for)?;
        let value = scenario
            .results
            .first()
            .and_then(|(_, applied)| applied.as_ref())
            .map_or(0, |applied| applied.amount);
        let index = candidate.0;
        if value == 0 {
            reject(index, Rejection::NothingToDiscount);
        } else if best.as_ref().is_none_or(|&(_, top, _)| value > top) {
            if let Some((beaten, _, _)) = best.replace((index, value, scenario)) {
                reject(beaten, Rejection::LostToExclusive);
            }
        } else {
            reject(index, Rejection::LostToExclusive);
        }
    }
    let scenario = match best {
        Some((_, _, scenario)) => scenario,
        None => run(lines, subtotals, &stackable, shipping_for)?,
    };

    let mut applied = Vec::new();
    for (index, result) in scenario.results {
        match result {
            Some(done) => applied.push(done),
            None => reject(index, Rejection::NothingToDiscount),
        }
    }
    let rejected = discounts
        .iter()
        .zip(reasons)
        .filter_map(|(d, reason)| reason.map(|reason| RejectedDiscount { id: d.id, reason }))
        .collect();
    Ok(Decision {
        applied,
        rejected,
        shipping: scenario.shipping,
    })
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
