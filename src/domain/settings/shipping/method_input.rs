//! A shipping method's fields as given, and their checks: amounts in the
//! channel's currency, weight brackets, codes and tax classes.

use std::collections::HashSet;

use entity::shipping_method;
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use super::MethodKind;
use crate::domain::{
    catalog_admin::valid_handle,
    channel::Channel,
    checkout::setup::Bracket,
    error::{DomainResult, UserError, UserErrorCode},
    money::Money,
    settings::check_tax_class,
};

/// One weight bracket as given: carts up to `up_to_grams` cost `amount`.
#[derive(Debug, Clone, Copy)]
pub struct BracketInput {
    /// Upper weight limit, inclusive.
    pub up_to_grams: i64,
    /// Amount in the channel's currency.
    pub amount: Decimal,
}

/// A method's fields (absent: left alone). On creation `zone_id`,
/// `channel`, `code`, `name` and `kind` are required, and `amount` for
/// `flat` and `free_over`.
#[derive(Debug, Clone, Default)]
pub struct MethodInput {
    /// The zone it serves.
    pub zone_id: Option<i64>,
    /// Channel code (creation only).
    pub channel: Option<String>,
    /// Code storefronts select it by, unique in the channel.
    pub code: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// How it charges.
    pub kind: Option<MethodKind>,
    /// Flat amount, or the amount below the free threshold.
    pub amount: Option<Decimal>,
    /// `free_over`: the subtotal after discounts from which it is free.
    pub free_over: Option<Decimal>,
    /// `by_weight`: the brackets.
    pub brackets: Option<Vec<BracketInput>>,
    /// Tax class shipping is taxed as; `Some(None)` clears it (untaxed).
    pub tax_class: Option<Option<String>>,
    /// Offered at all.
    pub active: Option<bool>,
    /// Display order (lower first).
    pub position: Option<i32>,
}

/// An amount in the channel's currency, checked: not negative, no more
/// decimals than the currency has.
fn check_amount(
    amount: Decimal,
    ch: &Channel,
    field: &[&str],
    errors: &mut Vec<UserError>,
) -> Option<i64> {
    if amount.is_sign_negative() && !amount.is_zero() {
        errors.push(UserError::new(
            field,
            UserErrorCode::OutOfRange,
            "an amount cannot be negative",
        ));
        return None;
    }
    let minor = Money::exact_minor(amount, ch.currency);
    if minor.is_none() {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            format!(
                "`{amount}` is not an amount in {} (at most {} decimals)",
                ch.currency.code(),
                ch.currency.minor_units()
            ),
        ));
    }
    minor
}

/// What a method stores for its kind, from the existing row (if any) and
/// the input: `(amount, threshold, brackets)`.
pub(super) fn priced(
    kind: MethodKind,
    existing: Option<&shipping_method::Model>,
    input: &MethodInput,
    ch: &Channel,
    errors: &mut Vec<UserError>,
) -> (i64, Option<i64>, Option<String>) {
    let kind_changed = existing.is_some_and(|e| e.kind != kind.as_str());
    let amount = match input.amount {
        Some(a) => check_amount(a, ch, &["price"], errors).unwrap_or(0),
        None => match existing {
            _ if kind == MethodKind::ByWeight => existing.map_or(0, |e| e.amount_minor),
            // A by-weight method's amount was not a price: ask for one.
            Some(e) if e.kind != MethodKind::ByWeight.as_str() => e.amount_minor,
            _ => {
                errors.push(UserError::new(
                    &["price"],
                    UserErrorCode::Blank,
                    "a flat or free-over method needs a price",
                ));
                0
            }
        },
    };
    let threshold = match (kind, input.free_over) {
        (MethodKind::FreeOver, Some(t)) => check_amount(t, ch, &["freeOver"], errors),
        (MethodKind::FreeOver, None) => {
            let kept = existing
                .filter(|_| !kind_changed)
                .and_then(|e| e.threshold_minor);
            if kept.is_none() {
                errors.push(UserError::new(
                    &["freeOver"],
                    UserErrorCode::Blank,
                    "a free-over method needs the subtotal it is free from",
                ));
            }
            kept
        }
        (_, Some(_)) => {
            errors.push(UserError::new(
                &["freeOver"],
                UserErrorCode::Invalid,
                "only a FREE_OVER method has a free-over threshold",
            ));
            None
        }
        (_, None) => None,
    };
    let brackets = match (kind, &input.brackets) {
        (MethodKind::ByWeight, Some(b)) => check_brackets(b, ch, errors),
        (MethodKind::ByWeight, None) => {
            let kept = existing
                .filter(|_| !kind_changed)
                .and_then(|e| e.brackets.clone());
            if kept.is_none() {
                errors.push(UserError::new(
                    &["weightBrackets"],
                    UserErrorCode::Blank,
                    "a by-weight method needs at least one weight bracket",
                ));
            }
            kept
        }
        (_, Some(_)) => {
            errors.push(UserError::new(
                &["weightBrackets"],
                UserErrorCode::Invalid,
                "only a BY_WEIGHT method has weight brackets",
            ));
            None
        }
        (_, None) => None,
    };
    (amount, threshold, brackets)
}

fn check_brackets(b: &[BracketInput], ch: &Channel, errors: &mut Vec<UserError>) -> Option<String> {
    if b.is_empty() {
        errors.push(UserError::new(
            &["weightBrackets"],
            UserErrorCode::Blank,
            "a by-weight method needs at least one weight bracket",
        ));
        return None;
    }
    let before = errors.len();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, x) in b.iter().enumerate() {
        let index = i.to_string();
        let grams = ["weightBrackets", index.as_str(), "upToGrams"];
        let Ok(up_to_grams) = u64::try_from(x.up_to_grams) else {
            errors.push(UserError::new(
                &grams,
                UserErrorCode::OutOfRange,
                "a weight cannot be negative",
            ));
            continue;
        };
        if up_to_grams == 0 {
            errors.push(UserError::new(
                &grams,
                UserErrorCode::OutOfRange,
                "a bracket's weight limit is above 0 grams",
            ));
        } else if !seen.insert(up_to_grams) {
            errors.push(UserError::new(
                &grams,
                UserErrorCode::Taken,
                "another bracket has the same weight limit",
            ));
        }
        let amount_field = ["weightBrackets", index.as_str(), "price"];
        if let Some(amount_minor) = check_amount(x.amount, ch, &amount_field, errors) {
            out.push(Bracket {
                up_to_grams,
                amount_minor,
            });
        }
    }
    if errors.len() > before {
        return None;
    }
    out.sort_by_key(|x| x.up_to_grams);
    serde_json::to_string(&out).ok()
}

pub(super) fn check_method_code(code: &str, errors: &mut Vec<UserError>) -> String {
    let code = code.trim().to_owned();
    if code.is_empty() {
        errors.push(UserError::new(
            &["code"],
            UserErrorCode::Blank,
            "a code is required",
        ));
    } else if !valid_handle(&code) || code.len() > 64 {
        errors.push(UserError::new(
            &["code"],
            UserErrorCode::Invalid,
            "a code is 1 to 64 lower-case letters, digits and dashes",
        ));
    }
    code
}

pub(super) async fn method_code_taken(
    tx: &DatabaseTransaction,
    channel_id: i64,
    code: &str,
    except: Option<i64>,
) -> DomainResult<bool> {
    Ok(shipping_method::Entity::find()
        .filter(shipping_method::Column::ChannelId.eq(channel_id))
        .filter(shipping_method::Column::Code.eq(code))
        .one(tx)
        .await?
        .is_some_and(|m| Some(m.id) != except))
}

pub(super) fn taken_code(code: &str, ch: &Channel) -> UserError {
    UserError::new(
        &["code"],
        UserErrorCode::Taken,
        format!(
            "channel `{}` has another shipping method with code `{code}`",
            ch.code
        ),
    )
}

pub(super) fn tax_class_of(
    input: &MethodInput,
    errors: &mut Vec<UserError>,
) -> Option<Option<String>> {
    input.tax_class.as_ref().map(|c| {
        c.as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(|c| check_tax_class(c, &["taxClass"], errors))
    })
}
