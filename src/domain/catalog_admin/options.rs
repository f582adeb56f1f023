//! The options of an existing product: adding options, renaming one or
//! changing its list of values, and removing options.
//!
//! Besides the invariants of [`super`], these keep: a product has at most
//! [`MAX_OPTIONS`] options, their names distinct ignoring case, each with at
//! least one value, distinct ignoring case; an option value no variant uses
//! is the only kind that can be removed. A variant whose title is the
//! generated default (its option values joined by " / ") keeps following
//! its values; a title someone wrote stays.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{product, product_option, product_option_value, variant, variant_option_value};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter,
};
use serde_json::json;

use super::{
    MAX_OPTIONS, not_found,
    shape::{Shape, open_product},
    variants::{default_title, variant_snapshot},
};
use crate::domain::{
    audit::{self, Actor, Change},
    error::{DomainResult, Outcome, UserError, UserErrorCode},
};

/// An option and its values, in order.
#[derive(Debug, Clone)]
pub struct OptionInput {
    /// Name, e.g. `Size`.
    pub name: String,
    /// Values, e.g. `S`, `M`, `L`.
    pub values: Vec<String>,
}

/// Checks an option name: given, and not one of `taken` (the lower-case
/// names of the product's other options), which it joins.
fn check_option_name(
    name: &str,
    taken: &mut HashSet<String>,
    field: &[&str],
    errors: &mut Vec<UserError>,
) -> String {
    let name = name.trim().to_owned();
    if name.is_empty() {
        errors.push(UserError::new(
            field,
            UserErrorCode::Blank,
            "an option name is required",
        ));
    } else if !taken.insert(name.to_lowercase()) {
        errors.push(UserError::new(
            field,
            UserErrorCode::Taken,
            format!("the product already has an option `{name}`"),
        ));
    }
    name
}

/// Checks an option's values, in order: at least one, each given and none
/// twice (ignoring case); returns them trimmed.
fn check_option_values(
    values: &[String],
    field: &[&str],
    errors: &mut Vec<UserError>,
) -> Vec<String> {
    let values: Vec<String> = values.iter().map(|v| v.trim().to_owned()).collect();
    if values.is_empty() {
        errors.push(UserError::new(
            field,
            UserErrorCode::Blank,
            "an option has at least one value",
        ));
    }
    let mut seen = HashSet::new();
    for (j, value) in values.iter().enumerate() {
        let jdx = j.to_string();
        let field = [field, &[jdx.as_str()]].concat();
        if value.is_empty() {
            errors.push(UserError::new(
                &field,
                UserErrorCode::Blank,
                "an option value is required",
            ));
        } else if !seen.insert(value.to_lowercase()) {
            errors.push(UserError::new(
                &field,
                UserErrorCode::Taken,
                format!("value `{value}` appears twice"),
            ));
        }
    }
    values
}

/// Checks new options at `prefix`: names given and distinct from `taken`
/// (lower-case names already used) and from each other, values checked by
/// [`check_option_values`].
pub(super) fn check_options(
    options: &[OptionInput],
    taken: &mut HashSet<String>,
    prefix: &[&str],
    errors: &mut Vec<UserError>,
) -> Vec<(String, Vec<String>)> {
    options
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let idx = i.to_string();
            let field = |f: &'static str| [prefix, &[idx.as_str(), f]].concat();
            let name = check_option_name(&o.name, taken, &field("name"), errors);
            let values = check_option_values(&o.values, &field("values"), errors);
            (name, values)
        })
        .collect()
}

/// Inserts an option at `position` with its values in order; returns its
/// id and the values' ids.
pub(super) async fn insert_option(
    tx: &DatabaseTransaction,
    product_id: i64,
    position: i32,
    name: &str,
    values: &[String],
) -> DomainResult<(i64, Vec<i64>)> {
    let option = product_option::ActiveModel {
        product_id: Set(product_id),
        name: Set(name.to_owned()),
        position: Set(position),
        ..Default::default()
    }
    .insert(tx)
    .await?;
    let mut ids = Vec::new();
    for (vpos, value) in values.iter().enumerate() {
        ids.push(insert_option_value(tx, option.id, vpos, value).await?);
    }
    Ok((option.id, ids))
}

/// Inserts one value of an option at `position`; returns its id.
async fn insert_option_value(
    tx: &DatabaseTransaction,
    option_id: i64,
    position: usize,
    value: &str,
) -> DomainResult<i64> {
    let row = product_option_value::ActiveModel {
        option_id: Set(option_id),
        value: Set(value.to_owned()),
        position: Set(i32::try_from(position).unwrap_or(0)),
        ..Default::default()
    }
    .insert(tx)
    .await?;
    Ok(row.id)
}

/// Changes to one option (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct OptionUpdate {
    /// New name.
    pub name: Option<String>,
    /// The complete new list of values, in order. A value is matched to the
    /// current ones ignoring case (so this cannot rename a value, only add,
    /// reorder and remove); a value left out is removed unless a variant
    /// uses it.
    pub values: Option<Vec<String>>,
}

fn option_snapshot(product_id: i64, name: &str, values: &[String]) -> serde_json::Value {
    json!({ "productId": product_id, "name": name, "values": values })
}

/// Lower-case names of the product's options, but for option `except`.
fn names_but(shape: &Shape, except: Option<usize>) -> HashSet<String> {
    shape
        .options
        .iter()
        .enumerate()
        .filter(|(o, _)| Some(*o) != except)
        .map(|(_, (name, _))| name.to_lowercase())
        .collect()
}

/// Gives every variant its new option values: where its title was the
/// default of its old values, it becomes the default of the new ones. One
/// audit change per variant.
async fn follow_options(
    tx: &DatabaseTransaction,
    shape: &Shape,
    new_values: impl Fn(&[usize]) -> Vec<String>,
) -> DomainResult<Vec<Change>> {
    let now = Utc::now();
    let mut changes = Vec::new();
    for v in &shape.variants {
        let picks = shape.picks.get(&v.id).map_or(&[][..], |p| p);
        let before = shape.chosen(picks);
        let after = new_values(picks);
        let mut row: variant::ActiveModel = v.clone().into();
        if v.title == default_title(&before) {
            row.title = Set(default_title(&after));
        }
        row.updated_at = Set(now);
        let updated = row.update(tx).await?;
        changes.push(Change {
            action: "variant.update",
            entity_type: "variant",
            entity_id: v.id.to_string(),
            before: Some(variant_snapshot(v, &before)),
            after: Some(variant_snapshot(&updated, &after)),
        });
    }
    Ok(changes)
}

/// Adds options to a product, all or none. Each existing variant gets the
/// new option's first value.
pub async fn create_options(
    db: &DatabaseConnection,
    actor: &Actor,
    product_id: i64,
    options: &[OptionInput],
) -> Outcome<product::Model> {
    let Some((tx, mut head, product, shape)) = open_product(db, product_id).await? else {
        return Ok(Err(not_found(&["productId"], "product")));
    };
    let mut errors = Vec::new();
    if options.is_empty() || shape.options.len() + options.len() > MAX_OPTIONS {
        errors.push(UserError::new(
            &["options"],
            UserErrorCode::Invalid,
            format!(
                "a product has at most {MAX_OPTIONS} options (this one has {}); give 1 to {}",
                shape.options.len(),
                MAX_OPTIONS.saturating_sub(shape.options.len()),
            ),
        ));
    }
    let checked = check_options(
        options,
        &mut names_but(&shape, None),
        &["options"],
        &mut errors,
    );
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let mut changes = Vec::new();
    let mut first_values = Vec::new();
    for (i, (name, values)) in checked.iter().enumerate() {
        let position = shape
            .next_option_position
            .saturating_add(i32::try_from(i).unwrap_or(0));
        let (option_id, value_ids) = insert_option(&tx, product_id, position, name, values).await?;
        for v in &shape.variants {
            variant_option_value::ActiveModel {
                variant_id: Set(v.id),
                option_value_id: Set(value_ids[0]),
            }
            .insert(&tx)
            .await?;
        }
        first_values.push(values[0].clone());
        changes.push(Change {
            action: "product_option.create",
            entity_type: "product_option",
            entity_id: option_id.to_string(),
            before: None,
            after: Some(option_snapshot(product_id, name, values)),
        });
    }
    changes.extend(
        follow_options(&tx, &shape, |picks| {
            [shape.chosen(picks), first_values.clone()].concat()
        })
        .await?,
    );
    audit::append(&tx, &mut head, actor, changes).await?;
    tx.commit().await?;
    Ok(Ok(product))
}

/// Renames an option and/or replaces its list of values (see
/// [`OptionUpdate`]), all or none.
pub async fn update_option(
    db: &DatabaseConnection,
    actor: &Actor,
    product_id: i64,
    option_id: i64,
    update: &OptionUpdate,
) -> Outcome<product::Model> {
    let Some((tx, mut head, product, shape)) = open_product(db, product_id).await? else {
        return Ok(Err(not_found(&["productId"], "product")));
    };
    let Some(o) = shape.option_ids.iter().position(|id| *id == option_id) else {
        return Ok(Err(not_found(&["optionId"], "option of this product")));
    };
    let (old_name, old_values) = &shape.options[o];
    let mut errors = Vec::new();
    let name = match &update.name {
        Some(name) => check_option_name(
            name,
            &mut names_but(&shape, Some(o)),
            &["name"],
            &mut errors,
        ),
        None => old_name.clone(),
    };
    // Each given value: the index of the current value it names, if any.
    let mut values: Vec<(String, Option<usize>)> = Vec::new();
    if let Some(given) = &update.values {
        for value in check_option_values(given, &["values"], &mut errors) {
            let current = old_values
                .iter()
                .position(|v| v.to_lowercase() == value.to_lowercase());
            values.push((current.map_or(value, |c| old_values[c].clone()), current));
        }
    } else {
        values = old_values.iter().cloned().zip((0..).map(Some)).collect();
    }
    let kept: HashSet<usize> = values.iter().filter_map(|(_, c)| *c).collect();
    let removed: Vec<usize> = (0..old_values.len())
        .filter(|c| !kept.contains(c))
        .collect();
    for c in &removed {
        let users: Vec<&str> = shape
            .variants
            .iter()
            .filter(|v| shape.picks.get(&v.id).is_some_and(|p| p[o] == *c))
            .map(|v| v.sku.as_str())
            .collect();
        if let Some(first) = users.first() {
            errors.push(UserError::new(
                &["values"],
                UserErrorCode::Invalid,
                format!(
                    "`{}` is left out but {} variant(s) use it (SKU `{first}`); change or delete them first",
                    old_values[*c],
                    users.len()
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let new_values: Vec<String> = values.iter().map(|(v, _)| v.clone()).collect();
    if name == *old_name && new_values == *old_values {
        return Ok(Ok(product));
    }
    if name != *old_name {
        product_option::ActiveModel {
            id: Set(option_id),
            name: Set(name.clone()),
            ..Default::default()
        }
        .update(&tx)
        .await?;
    }
    let value_ids = &shape.value_ids[o];
    if !removed.is_empty() {
        product_option_value::Entity::delete_many()
            .filter(product_option_value::Column::Id.is_in(removed.iter().map(|c| value_ids[*c])))
            .exec(&tx)
            .await?;
    }
    for (position, (value, current)) in values.iter().enumerate() {
        // Every kept value is rewritten: stored positions need not be 0, 1, 2 ...
        match current {
            Some(c) => {
                product_option_value::ActiveModel {
                    id: Set(value_ids[*c]),
                    position: Set(i32::try_from(position).unwrap_or(0)),
                    ..Default::default()
                }
                .update(&tx)
                .await?;
            }
            None => {
                insert_option_value(&tx, option_id, position, value).await?;
            }
        }
    }
    audit::append(
        &tx,
        &mut head,
        actor,
        vec![Change {
            action: "product_option.update",
            entity_type: "product_option",
            entity_id: option_id.to_string(),
            before: Some(option_snapshot(product_id, old_name, old_values)),
            after: Some(option_snapshot(product_id, &name, &new_values)),
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(product))
}

/// Removes options with their values from a product and its variants, all
/// or none; refused when two variants would be left with the same values.
pub async fn delete_options(
    db: &DatabaseConnection,
    actor: &Actor,
    product_id: i64,
    option_ids: &[i64],
) -> Outcome<product::Model> {
    let Some((tx, mut head, product, shape)) = open_product(db, product_id).await? else {
        return Ok(Err(not_found(&["productId"], "product")));
    };
    let mut errors = Vec::new();
    if option_ids.is_empty() {
        errors.push(UserError::new(
            &["optionIds"],
            UserErrorCode::Invalid,
            "give at least one option",
        ));
    }
    let mut doomed = HashSet::new();
    for (i, id) in option_ids.iter().enumerate() {
        match shape.option_ids.iter().position(|o| o == id) {
            Some(o) => {
                doomed.insert(o);
            }
            None => errors.push(UserError::new(
                &["optionIds", &i.to_string()],
                UserErrorCode::NotFound,
                "no such option of this product",
            )),
        }
    }
    let left = |picks: &[usize]| -> Vec<usize> {
        picks
            .iter()
            .enumerate()
            .filter(|(o, _)| !doomed.contains(o))
            .map(|(_, p)| *p)
            .collect()
    };
    if errors.is_empty() {
        let mut seen: HashMap<Vec<usize>, &variant::Model> = HashMap::new();
        for v in &shape.variants {
            let picks = shape.picks.get(&v.id).map_or(&[][..], |p| p);
            if let Some(other) = seen.insert(left(picks), v) {
                errors.push(UserError::new(
                    &["optionIds"],
                    UserErrorCode::Taken,
                    format!(
                        "variants `{}` and `{}` would have the same option values; delete one of them first",
                        other.sku, v.sku
                    ),
                ));
                break;
            }
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    // The links and values go with the options (the foreign keys cascade).
    product_option::Entity::delete_many()
        .filter(product_option::Column::Id.is_in(doomed.iter().map(|o| shape.option_ids[*o])))
        .exec(&tx)
        .await?;
    let mut changes = Vec::new();
    let mut position = 0;
    for (o, (name, values)) in shape.options.iter().enumerate() {
        if doomed.contains(&o) {
            changes.push(Change {
                action: "product_option.delete",
                entity_type: "product_option",
                entity_id: shape.option_ids[o].to_string(),
                before: Some(option_snapshot(product_id, name, values)),
                after: None,
            });
            continue;
        }
        product_option::ActiveModel {
            id: Set(shape.option_ids[o]),
            position: Set(position),
            ..Default::default()
        }
        .update(&tx)
        .await?;
        position += 1;
    }
    changes.extend(
        follow_options(&tx, &shape, |picks| {
            picks
                .iter()
                .enumerate()
                .filter(|(o, _)| !doomed.contains(o))
                .map(|(o, p)| shape.options[o].1[*p].clone())
                .collect()
        })
        .await?,
    );
    audit::append(&tx, &mut head, actor, changes).await?;
    tx.commit().await?;
    Ok(Ok(product))
}
