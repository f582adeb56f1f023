//! Tax: the rates that apply at a place, and the tax on an amount.
//!
//! Rules:
//! - a [`TaxRule`] sets the rate of one tax class in a country (ISO 3166-1
//!   alpha-2) or in one region of it (the caller's region code, e.g. an
//!   ISO 3166-2 subdivision such as `US-CA`); codes compare case-insensitively
//!   and ignore surrounding spaces, tax class codes compare exactly;
//! - for a class, a rule for the place's region beats the country-wide rule;
//!   among rules for the same place and class, the first given wins;
//! - a place no rule applies to at all (no country-wide rule, no rule for its
//!   region) is untaxed: every class gets rate 0, because a merchant configures
//!   the places where it collects tax and collects none elsewhere;
//! - a place some rule applies to must have a rule for every class its carts
//!   use: a class left out is a configuration error, which
//!   [`price_cart`](super::price_cart) reports as
//!   [`UnknownTaxClass`](super::PricingError::UnknownTaxClass) rather than
//!   silently taxing it at 0;
//! - tax on an amount is rounded half-up to the minor unit.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{PricingError, round_half_up};

/// Whether a channel's prices already contain tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxMode {
    /// Prices are gross (EU VAT style): tax is the part of the price that is
    /// tax, and the total does not add it again.
    Inclusive,
    /// Prices are net (US sales tax style): tax is added on top of the total.
    Exclusive,
}

/// Tax rates by tax class code, as fractions (`0.20` for 20 %), for one place.
///
/// Built from pairs (`collect()` or [`TaxRates::with_rate`]), by
/// [`rates_for`], or as [`TaxRates::untaxed`] (every class at 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaxRates {
    rates: BTreeMap<String, Decimal>,
    /// Rate of a class with no entry; `None`: such a class has no rate.
    fallback: Option<Decimal>,
}

impl TaxRates {
    /// No rates at all: every class is unknown until given a rate.
    pub fn new() -> Self {
        Self::default()
    }

    /// A place where no tax is collected: every class has rate 0.
    pub fn untaxed() -> Self {
        Self {
            rates: BTreeMap::new(),
            fallback: Some(Decimal::ZERO),
        }
    }

    /// These rates with `class` at `rate` (replacing any rate it had).
    #[must_use]
    pub fn with_rate(mut self, class: impl Into<String>, rate: Decimal) -> Self {
        self.rates.insert(class.into(), rate);
        self
    }

    /// The rate of `class`, or `None` when it has none.
    pub fn rate(&self, class: &str) -> Option<Decimal> {
        self.rates.get(class).copied().or(self.fallback)
    }
}

impl FromIterator<(String, Decimal)> for TaxRates {
    fn from_iter<I: IntoIterator<Item = (String, Decimal)>>(iter: I) -> Self {
        Self {
            rates: iter.into_iter().collect(),
            fallback: None,
        }
    }
}

/// One configured rate: `tax_class` is taxed at `rate` in `country`, or only
/// in `region` of it when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRule {
    /// ISO 3166-1 alpha-2 country code (`DE`, `us`: case does not matter).
    pub country: String,
    /// A region of the country (`US-CA`); `None` for the whole country.
    pub region: Option<String>,
    /// The tax class code the rule sets a rate for.
    pub tax_class: String,
    /// The rate, as a fraction (`0.0725` for 7.25 %).
    pub rate: Decimal,
}

fn same_code(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// The rates that apply in `country` (and `region`, when known), by the rules
/// in the module docs: region-specific rules beat country-wide ones, first
/// given wins among equals, and a place no rule applies to is untaxed.
pub fn rates_for(rules: &[TaxRule], country: &str, region: Option<&str>) -> TaxRates {
    let in_country = || rules.iter().filter(|r| same_code(&r.country, country));
    let regional = in_country().filter(|r| match (&r.region, region) {
        (Some(rule_region), Some(region)) => same_code(rule_region, region),
        _ => false,
    });
    let country_wide = in_country().filter(|r| r.region.is_none());

    let mut rates = BTreeMap::new();
    // Regional rules first, so they take the class before country-wide ones.
    for rule in regional.chain(country_wide) {
        rates.entry(rule.tax_class.clone()).or_insert(rule.rate);
    }
    if rates.is_empty() {
        return TaxRates::untaxed();
    }
    TaxRates {
        rates,
        fallback: None,
    }
}

/// Tax on an amount in minor units (already discounted), rounded half-up.
///
/// Inclusive: `amount - amount / (1 + rate)`; exclusive: `amount × rate`.
pub fn line_tax(amount: i64, rate: Decimal, mode: TaxMode) -> Result<i64, PricingError> {
    let amount = Decimal::from(amount);
    let tax = match mode {
        TaxMode::Exclusive => amount.checked_mul(rate),
        TaxMode::Inclusive => Decimal::ONE
            .checked_add(rate)
            .and_then(|divisor| amount.checked_div(divisor))
            .and_then(|net| amount.checked_sub(net)),
    };
    round_half_up(tax.ok_or(PricingError::Overflow)?)
}

/// The rate of `class` in `rates`, refusing an unknown class or a negative rate.
pub(super) fn rate_of(rates: &TaxRates, class: &str) -> Result<Decimal, PricingError> {
    let rate = rates
        .rate(class)
        .ok_or_else(|| PricingError::UnknownTaxClass(class.to_owned()))?;
    if rate < Decimal::ZERO {
        return Err(PricingError::NegativeTaxRate(class.to_owned()));
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn rule(country: &str, region: Option<&str>, class: &str, rate: i64) -> TaxRule {
        TaxRule {
            country: country.to_owned(),
            region: region.map(str::to_owned),
            tax_class: class.to_owned(),
            rate: Decimal::new(rate, 4),
        }
    }

    fn rules() -> Vec<TaxRule> {
        vec![
            rule("DE", None, "standard", 1900),
            rule("DE", None, "reduced", 700),
            rule("us", Some("us-ca"), "standard", 725),
            rule("US", Some("US-NY"), "standard", 400),
            rule("US", Some("US-NY"), "clothing", 0),
            rule("CA", None, "standard", 500),
            rule("CA", Some("CA-QC"), "standard", 14_975),
            // A later duplicate loses to the first given.
            rule("DE", None, "standard", 1600),
        ]
    }

    #[test]
    fn country_wide_rules_apply_everywhere_in_the_country() {
        let de = rates_for(&rules(), "de", Some("DE-BY"));
        assert_eq!(de.rate("standard"), Some(Decimal::new(1900, 4)));
        assert_eq!(de.rate("reduced"), Some(Decimal::new(700, 4)));
        // A configured place must cover its classes: no silent zero.
        assert_eq!(de.rate("books"), None);
    }

    #[test]
    fn a_region_rule_beats_the_country_rule_for_its_class() {
        let quebec = rates_for(&rules(), "CA", Some("ca-qc"));
        assert_eq!(quebec.rate("standard"), Some(Decimal::new(14_975, 4)));
        let ontario = rates_for(&rules(), " ca ", Some("CA-ON"));
        assert_eq!(ontario.rate("standard"), Some(Decimal::new(500, 4)));
        let unknown_region = rates_for(&rules(), "CA", None);
        assert_eq!(unknown_region.rate("standard"), Some(Decimal::new(500, 4)));
    }

    #[test]
    fn region_codes_compare_case_insensitively() {
        let california = rates_for(&rules(), "US", Some("US-CA"));
        assert_eq!(california.rate("standard"), Some(Decimal::new(725, 4)));
        assert_eq!(california.rate("clothing"), None);
        let new_york = rates_for(&rules(), "US", Some("us-ny"));
        assert_eq!(new_york.rate("clothing"), Some(Decimal::ZERO));
    }

    #[test]
    fn a_place_no_rule_applies_to_is_untaxed() {
        // The US has only state rules: a state without any is untaxed.
        let oregon = rates_for(&rules(), "US", Some("US-OR"));
        assert_eq!(oregon, TaxRates::untaxed());
        assert_eq!(oregon.rate("anything"), Some(Decimal::ZERO));
        assert_eq!(rates_for(&rules(), "JP", None), TaxRates::untaxed());
        assert_eq!(rates_for(&[], "DE", None), TaxRates::untaxed());
    }

    #[test]
    fn tax_rounds_half_up() {
        // 0.03 gross at 20 %: 0.03 - 0.025 = 0.005 -> 0.01.
        assert_eq!(line_tax(3, Decimal::new(20, 2), TaxMode::Inclusive), Ok(1));
        // 0.04 net at 12.5 %: 0.005 -> 0.01.
        assert_eq!(line_tax(4, Decimal::new(125, 3), TaxMode::Exclusive), Ok(1));
        assert_eq!(line_tax(3, Decimal::new(125, 3), TaxMode::Exclusive), Ok(0));
        assert_eq!(line_tax(0, Decimal::new(20, 2), TaxMode::Inclusive), Ok(0));
    }

    #[test]
    fn unknown_and_negative_rates_are_refused() {
        let rates = TaxRates::new().with_rate("bad", Decimal::new(-1, 2));
        assert_eq!(
            rate_of(&rates, "bad"),
            Err(PricingError::NegativeTaxRate("bad".to_owned()))
        );
        assert_eq!(
            rate_of(&rates, "other"),
            Err(PricingError::UnknownTaxClass("other".to_owned()))
        );
    }

    const COUNTRIES: [&str; 3] = ["DE", "us", "Fr"];
    const REGIONS: [&str; 3] = ["A", "b", "C"];
    const CLASSES: [&str; 3] = ["standard", "reduced", "zero"];

    fn arb_rule() -> impl Strategy<Value = TaxRule> {
        (
            0_usize..3,
            prop::option::of(0_usize..3),
            0_usize..3,
            0_i64..3000,
        )
            .prop_map(|(country, region, class, rate)| TaxRule {
                country: COUNTRIES[country].to_owned(),
                region: region.map(|r| REGIONS[r].to_owned()),
                tax_class: CLASSES[class].to_owned(),
                rate: Decimal::new(rate, 4),
            })
    }

    proptest! {
        #[test]
        fn rates_follow_the_most_specific_first_rule(
            rules in prop::collection::vec(arb_rule(), 0..12),
            country in 0_usize..3,
            region in prop::option::of(0_usize..3),
            upper in any::<bool>(),
        ) {
            let mut country = COUNTRIES[country].to_owned();
            let mut region = region.map(|r| REGIONS[r].to_owned());
            if upper {
                country = country.to_ascii_uppercase();
                region = region.map(|r| r.to_ascii_uppercase());
            }
            let rates = rates_for(&rules, &country, region.as_deref());
            let applies = |r: &&TaxRule| {
                same_code(&r.country, &country)
                    && r.region.as_deref().is_none_or(|rr| {
                        region.as_deref().is_some_and(|g| same_code(rr, g))
                    })
            };
            let applicable: Vec<&TaxRule> = rules.iter().filter(applies).collect();
            if applicable.is_empty() {
                prop_assert_eq!(rates, TaxRates::untaxed());
                return Ok(());
            }
            for class in CLASSES {
                let of_class = || applicable.iter().filter(|r| r.tax_class == class);
                let expected = of_class()
                    .find(|r| r.region.is_some())
                    .or_else(|| of_class().next())
                    .map(|r| r.rate);
                prop_assert_eq!(rates.rate(class), expected);
            }
        }
    }
}
