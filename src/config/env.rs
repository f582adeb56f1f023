//! Reading variables: set and not blank, parsed into their type, rate
//! budgets (or `off`); a value that does not parse is an error naming its
//! variable.

use std::{fmt::Display, str::FromStr};

use super::ConfigError;
use crate::infra::ratelimit::Budget;

/// The variables, looked up by name.
pub(super) struct Env<'a>(pub(super) &'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// A set, non-blank variable.
    pub(super) fn string(&self, var: &str) -> Option<String> {
        (self.0)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A rate budget, or `None` for `off`.
    pub(super) fn budget(
        &self,
        var: &'static str,
        default: Option<Budget>,
    ) -> Result<Option<Budget>, ConfigError> {
        match self.string(var) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("off") => Ok(None),
            Some(value) => Budget::parse(&value)
                .map(Some)
                .map_err(|reason| ConfigError::Invalid { var, reason, value }),
        }
    }

    /// A variable parsed into its type, or `default` when it is not set.
    pub(super) fn parse<T>(&self, var: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.string(var) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|e: T::Err| ConfigError::Invalid {
                var,
                reason: e.to_string(),
                value,
            }),
        }
    }
}
