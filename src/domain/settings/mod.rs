//! Shop settings that price a cart besides the catalog: shipping zones and
//! their methods (`shipping`), tax rates and the tax classes they define
//! (`tax`), and the configuration warnings a shop owner should act on.
//!
//! Invariants kept here:
//! - A zone has a non-blank name no other zone has, and at least one country;
//!   countries are ISO 3166-1 alpha-2 codes, stored upper case, each once.
//! - A shipping method's code is unique in its channel and slug-like (it is
//!   what a storefront selects); its amounts are in its channel's currency,
//!   never negative, with no more decimals than the currency has. What a
//!   method stores matches its kind: a threshold only for `free_over`,
//!   brackets (non-empty, distinct weights) only for `by_weight`. A method's
//!   channel is fixed at creation (its amounts are in that currency).
//! - A tax rate is one (country, region, tax class) and no other rate has
//!   the same three; its rate is a fraction from 0 to 1 with at most six
//!   decimals (stored in parts per million).
//! - A tax class is not a row: it exists because a rate, a variant or a
//!   shipping method names it (the catalog sets a variant's class).
//!
//! Like catalog administration, every mistake is a field-level user error
//! with nothing written, every change one audit entry in the same
//! transaction, checked after the audit head is locked so concurrent writers
//! see each other's results. Carts are priced from these rows on every read
//! (nothing caches them), so a change prices the next quote.

pub mod shipping;
pub mod tax;

use std::collections::HashSet;

use crate::domain::error::{UserError, UserErrorCode};

/// Every ISO 3166-1 alpha-2 code officially assigned.
const ISO_COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH \
BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR \
GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR \
KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV \
MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE \
RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL \
TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// `code` upper-cased and trimmed, if it is an assigned ISO 3166-1 alpha-2
/// code (`uk` is not: the United Kingdom is `GB`).
pub fn country_code(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    (code.len() == 2
        && code.chars().all(|c| c.is_ascii_uppercase())
        && ISO_COUNTRIES.split_whitespace().any(|c| c == code))
    .then_some(code)
}

/// Checks a required name, trimmed, at most 128 characters.
fn check_name(name: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let name = name.trim().to_owned();
    if name.is_empty() {
        errors.push(UserError::new(
            field,
            UserErrorCode::Blank,
            "a name is required",
        ));
    } else if name.chars().count() > 128 {
        errors.push(UserError::new(
            field,
            UserErrorCode::TooLong,
            "a name has at most 128 characters",
        ));
    }
    name
}

/// Checks a list of countries (`field` is the list's path; a bad entry is
/// reported at its index). Returns them upper-cased, each once, in the
/// order given.
fn check_countries(codes: &[String], field: &[&str], errors: &mut Vec<UserError>) -> Vec<String> {
    if codes.iter().all(|c| c.trim().is_empty()) {
        errors.push(UserError::new(
            field,
            UserErrorCode::Blank,
            "a zone needs at least one country",
        ));
        return Vec::new();
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, c) in codes.iter().enumerate() {
        match country_code(c) {
            Some(code) => {
                if seen.insert(code.clone()) {
                    out.push(code);
                }
            }
            None => {
                let index = i.to_string();
                let mut path = field.to_vec();
                path.push(&index);
                errors.push(UserError::new(
                    &path,
                    UserErrorCode::InvalidCountryCode,
                    format!(
                        "`{}` is not an ISO 3166-1 alpha-2 country code (e.g. US, DE, GB)",
                        c.trim()
                    ),
                ));
            }
        }
    }
    out
}

/// Checks a tax class name: non-blank, at most 64 characters (classes
/// compare exactly, as variants name them).
fn check_tax_class(class: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let class = class.trim().to_owned();
    if class.is_empty() {
        errors.push(UserError::new(
            field,
            UserErrorCode::Blank,
            "a tax class is required",
        ));
    } else if class.chars().count() > 64 {
        errors.push(UserError::new(
            field,
            UserErrorCode::TooLong,
            "a tax class has at most 64 characters",
        ));
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_assigned_iso_codes() {
        assert_eq!(country_code(" de "), Some("DE".to_owned()));
        assert_eq!(country_code("GB"), Some("GB".to_owned()));
        for bad in ["UK", "EU", "XX", "D", "DEU", "", "1A", "*"] {
            assert_eq!(country_code(bad), None, "{bad}");
        }
        assert_eq!(ISO_COUNTRIES.split_whitespace().count(), 249);
    }

    #[test]
    fn country_lists_are_checked_entry_by_entry() {
        let mut errors = Vec::new();
        let codes = ["de", "FR", "DE", "UK"].map(str::to_owned);
        let out = check_countries(&codes, &["countries"], &mut errors);
        assert_eq!(out, ["DE", "FR"]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, ["countries", "3"]);
        assert_eq!(errors[0].code, UserErrorCode::InvalidCountryCode);
        let mut errors = Vec::new();
        assert!(check_countries(&[], &["countries"], &mut errors).is_empty());
        assert_eq!(errors[0].code, UserErrorCode::Blank);
    }
}
