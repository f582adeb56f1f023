//! Custom scalars.
//!
//! `Decimal` travels as a string in both directions: a JSON number would be
//! read as a float by most clients and lose cents, so inputs that are not
//! strings are refused (async-graphql's built-in Decimal accepts floats).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// An exact decimal number, serialized as a string such as `"19.99"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Decimal(pub rust_decimal::Decimal);

/// An exact decimal number as a string (`"19.99"`); never a JSON number.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => s
                .trim()
                .parse::<rust_decimal::Decimal>()
                .map(Decimal)
                .map_err(|_| InputValueError::custom(format!("`{s}` is not a decimal number"))),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(_))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

macro_rules! currency_enum {
    ($($code:ident => $minor:literal, $name:literal;)*) => {
        /// ISO 4217 currency codes.
        #[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
        #[graphql(remote = "crate::domain::money::Currency")]
        pub enum CurrencyCode {
            $(#[doc = $name] $code,)*
        }
    };
}

crate::with_currencies!(currency_enum);
