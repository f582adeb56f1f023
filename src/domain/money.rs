//! Money: an exact decimal amount in a currency.
//!
//! Amounts are stored as integers in the currency's minor unit (cents, yen,
//! fils) and turned into `Decimal` with the currency's exponent, so no value
//! ever passes through a float and totals always add up.

use std::{fmt, str::FromStr};

use rust_decimal::{Decimal, RoundingStrategy};

macro_rules! currencies {
    ($($code:ident => $minor:literal, $name:literal;)*) => {
        /// An ISO 4217 currency emporium can price in.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Currency {
            $(#[doc = $name] $code,)*
        }

        impl Currency {
            /// Digits after the decimal point of the currency's minor unit.
            pub fn minor_units(self) -> u32 {
                match self { $(Self::$code => $minor,)* }
            }

            /// The three-letter ISO code.
            pub fn code(self) -> &'static str {
                match self { $(Self::$code => stringify!($code),)* }
            }
        }

        impl FromStr for Currency {
            type Err = UnknownCurrency;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_uppercase().as_str() {
                    $(stringify!($code) => Ok(Self::$code),)*
                    _ => Err(UnknownCurrency(s.to_owned())),
                }
            }
        }
    };
}

/// Calls `$m!` with the list of supported currencies (`CODE => minor units, "name";`),
/// so other layers (the GraphQL enum) are generated from this one list.
#[macro_export]
macro_rules! with_currencies {
    ($m:ident) => {
        $m! {
                    AUD => 2, "Australian dollar";
                    BHD => 3, "Bahraini dinar";
                    BRL => 2, "Brazilian real";
                    CAD => 2, "Canadian dollar";
                    CHF => 2, "Swiss franc";
                    CNY => 2, "Chinese yuan";
                    CZK => 2, "Czech koruna";
                    DKK => 2, "Danish krone";
                    EUR => 2, "Euro";
                    GBP => 2, "Pound sterling";
                    HKD => 2, "Hong Kong dollar";
                    INR => 2, "Indian rupee";
                    JPY => 0, "Japanese yen";
                    KRW => 0, "South Korean won";
                    KWD => 3, "Kuwaiti dinar";
                    MXN => 2, "Mexican peso";
                    NOK => 2, "Norwegian krone";
                    NZD => 2, "New Zealand dollar";
                    PLN => 2, "Polish zloty";
                    SEK => 2, "Swedish krona";
                    SGD => 2, "Singapore dollar";
                    USD => 2, "United States dollar";
                    ZAR => 2, "South African rand";
        }
    };
}

with_currencies!(currencies);

/// A currency code that is not one emporium knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown currency code `{0}`")]
pub struct UnknownCurrency(pub String);

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money in one currency, always at the currency's precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Money from an integer count of minor units (as stored).
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self {
            amount: Decimal::new(minor, currency.minor_units()),
            currency,
        }
    }

    /// Money from a decimal amount, rounded half-up to the currency's minor unit.
    pub fn from_decimal(amount: Decimal, currency: Currency) -> Self {
        Self {
            amount: amount.round_dp_with_strategy(
                currency.minor_units(),
                RoundingStrategy::MidpointAwayFromZero,
            ),
            currency,
        }
    }

    /// The amount as a decimal with the currency's scale (`19.90`, `1200`).
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// `amount` in minor units of `currency`, only if it has no more decimals
    /// than the currency has (no rounding) and fits: what input amounts
    /// (a promotion's, a gift card's) must be.
    pub fn exact_minor(amount: Decimal, currency: Currency) -> Option<i64> {
        (amount.normalize().scale() <= currency.minor_units())
            .then(|| Self::from_decimal(amount, currency).to_minor())
            .flatten()
    }

    /// The amount as an integer count of minor units, or `None` if it does not fit.
    pub fn to_minor(&self) -> Option<i64> {
        let scaled = self.amount * Decimal::from(10_i64.pow(self.currency.minor_units()));
        i64::try_from(scaled.trunc()).ok()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_round_trip_per_currency() {
        let usd = Money::from_minor(1999, Currency::USD);
        assert_eq!(usd.amount().to_string(), "19.99");
        assert_eq!(usd.to_minor(), Some(1999));
        let jpy = Money::from_minor(1200, Currency::JPY);
        assert_eq!(jpy.amount().to_string(), "1200");
        let kwd = Money::from_minor(1500, Currency::KWD);
        assert_eq!(kwd.amount().to_string(), "1.500");
    }

    #[test]
    fn decimal_rounds_half_up_to_minor_unit() {
        let m = Money::from_decimal(Decimal::new(10005, 3), Currency::EUR);
        assert_eq!(m.amount().to_string(), "10.01");
        let m = Money::from_decimal(Decimal::new(-10005, 3), Currency::EUR);
        assert_eq!(m.amount().to_string(), "-10.01");
        assert_eq!(
            Money::from_decimal(Decimal::new(5, 1), Currency::JPY).to_minor(),
            Some(1)
        );
    }

    #[test]
    fn currency_codes_parse_case_insensitively() {
        assert_eq!("usd".parse::<Currency>(), Ok(Currency::USD));
        assert!("XXX".parse::<Currency>().is_err());
    }
}
