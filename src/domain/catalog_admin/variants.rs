//! Variants of an existing product: checking new ones against the
//! product's options and the catalog's SKUs, inserting them with their
//! option values and prices, changing and deleting them.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{product, variant, variant_option_value};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter,
};
use serde_json::json;

use super::{
    MAX_VARIANTS, not_found,
    prices::{
        CheckedPrice, PriceInput, PriceTargets, Slot, check_variant_prices, price_targets,
        prices_of, write_price,
    },
    shape::open_product,
};
use crate::domain::{
    audit::{self, Actor, Change},
    error::{DomainResult, Outcome, UserError, UserErrorCode},
};

/// A new variant.
#[derive(Debug, Clone, Default)]
pub struct VariantInput {
    /// Unique SKU.
    pub sku: String,
    /// Title; default: its option values joined by " / ".
    pub title: Option<String>,
    /// One value per product option, in the options' order.
    pub option_values: Vec<String>,
    /// Barcode (GTIN).
    pub barcode: Option<String>,
    /// Weight in grams.
    pub weight_grams: Option<i32>,
    /// Whether stock is tracked (default true).
    pub track_inventory: Option<bool>,
    /// Whether it sells when out of stock (default false).
    pub allow_backorder: Option<bool>,
    /// Tax class (default `standard`).
    pub tax_class: Option<String>,
    /// Prices per channel.
    pub prices: Vec<PriceInput>,
}

/// Changes to one existing variant (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct VariantUpdate {
    /// The variant.
    pub id: i64,
    /// New SKU.
    pub sku: Option<String>,
    /// New title; when only the option values change, it follows them.
    pub title: Option<String>,
    /// New option values, one per option in the options' order.
    pub option_values: Option<Vec<String>>,
    /// Barcode (empty clears it).
    pub barcode: Option<String>,
    /// Weight in grams.
    pub weight_grams: Option<i32>,
    /// Whether stock is tracked.
    pub track_inventory: Option<bool>,
    /// Whether it sells when out of stock.
    pub allow_backorder: Option<bool>,
    /// Tax class.
    pub tax_class: Option<String>,
    /// Prices to set (others stay).
    pub prices: Vec<PriceInput>,
}

/// Checks a SKU's form.
fn check_sku<'a>(sku: &'a str, field: &[&str], errors: &mut Vec<UserError>) -> Option<&'a str> {
    let sku = sku.trim();
    if sku.is_empty() || sku.len() > 128 {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            "a SKU has 1 to 128 characters",
        ));
        return None;
    }
    Some(sku)
}

/// Which value of each option `given` names, in the options' order.
fn pick_values(
    given: &[String],
    options: &[(String, Vec<String>)],
    field: &[&str],
    errors: &mut Vec<UserError>,
) -> Option<Vec<usize>> {
    if given.len() != options.len() {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            format!("give one value for each of the {} options", options.len()),
        ));
        return None;
    }
    let mut picks = Vec::new();
    for (value, (name, values)) in given.iter().zip(options) {
        match values
            .iter()
            .position(|x| x.eq_ignore_ascii_case(value.trim()))
        {
            Some(p) => picks.push(p),
            None => errors.push(UserError::new(
                field,
                UserErrorCode::Invalid,
                format!("`{}` is not a value of option `{name}`", value.trim()),
            )),
        }
    }
    (picks.len() == options.len()).then_some(picks)
}

/// A new variant that passed its checks.
pub(super) struct CheckedVariant {
    picks: Vec<usize>,
    prices: Vec<CheckedPrice>,
}

/// Checks new variants against the product's options and among themselves;
/// `combos` holds the option combinations already taken. SKUs are checked
/// against the database by [`skus_taken`].
pub(super) fn check_new_variants(
    variants: &[VariantInput],
    options: &[(String, Vec<String>)],
    targets: &PriceTargets,
    prefix: &[&str],
    combos: &mut HashSet<Vec<usize>>,
    errors: &mut Vec<UserError>,
) -> Vec<CheckedVariant> {
    if variants.is_empty() || variants.len() > MAX_VARIANTS {
        errors.push(UserError::new(
            prefix,
            UserErrorCode::Invalid,
            format!("give 1 to {MAX_VARIANTS} variants"),
        ));
    }
    let mut skus = HashSet::new();
    let mut out = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let idx = i.to_string();
        let field = |f: &'static str| [prefix, &[idx.as_str(), f]].concat();
        if let Some(sku) = check_sku(&v.sku, &field("sku"), errors)
            && !skus.insert(sku)
        {
            errors.push(UserError::new(
                &field("sku"),
                UserErrorCode::Taken,
                format!("SKU `{sku}` appears twice"),
            ));
        }
        let picks = pick_values(&v.option_values, options, &field("optionValues"), errors);
        if let Some(picks) = &picks
            && !combos.insert(picks.clone())
        {
            errors.push(UserError::new(
                &field("optionValues"),
                UserErrorCode::Taken,
                "two variants have the same option values",
            ));
        }
        let prices = check_variant_prices(
            &v.prices,
            targets,
            &HashSet::new(),
            &[prefix, &[idx.as_str()]].concat(),
            errors,
        );
        out.push(CheckedVariant {
            picks: picks.unwrap_or_default(),
            prices,
        });
    }
    out
}

/// Which of these SKUs the database already holds.
pub(super) async fn skus_taken<'a>(
    db: &impl ConnectionTrait,
    skus: impl IntoIterator<Item = &'a str>,
) -> DomainResult<HashMap<String, variant::Model>> {
    let skus: Vec<String> = skus.into_iter().map(str::to_owned).collect();
    let mut taken = HashMap::new();
    for chunk in skus.chunks(500) {
        for v in variant::Entity::find()
            .filter(variant::Column::Sku.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            taken.insert(v.sku.clone(), v);
        }
    }
    Ok(taken)
}

/// Reports each new variant whose SKU the catalog already holds, at
/// `prefix`, its index, `sku`.
pub(super) async fn check_skus_free(
    db: &impl ConnectionTrait,
    variants: &[VariantInput],
    prefix: &[&str],
    errors: &mut Vec<UserError>,
) -> DomainResult<()> {
    let taken = skus_taken(db, variants.iter().map(|v| v.sku.trim())).await?;
    for (i, v) in variants.iter().enumerate() {
        if taken.contains_key(v.sku.trim()) {
            let idx = i.to_string();
            errors.push(UserError::new(
                &[prefix, &[idx.as_str(), "sku"]].concat(),
                UserErrorCode::Taken,
                format!("SKU `{}` is taken", v.sku.trim()),
            ));
        }
    }
    Ok(())
}

pub(super) fn default_title(chosen: &[String]) -> String {
    if chosen.is_empty() {
        "Default".into()
    } else {
        chosen.join(" / ")
    }
}

fn trimmed(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

pub(super) fn variant_snapshot(v: &variant::Model, chosen: &[String]) -> serde_json::Value {
    json!({
        "sku": v.sku, "title": v.title, "options": chosen, "barcode": v.barcode,
        "weightGrams": v.weight_grams, "trackInventory": v.track_inventory,
        "allowBackorder": v.allow_backorder, "taxClass": v.tax_class,
    })
}

/// Inserts a checked variant with its option values and prices; returns the
/// row and its audit snapshot.
#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_variant(
    tx: &DatabaseTransaction,
    product_id: i64,
    position: i32,
    v: &VariantInput,
    checked: &CheckedVariant,
    options: &[(String, Vec<String>)],
    value_ids: &[Vec<i64>],
    now: DateTime<Utc>,
) -> DomainResult<(variant::Model, serde_json::Value)> {
    let chosen: Vec<String> = checked
        .picks
        .iter()
        .zip(options)
        .map(|(p, (_, values))| values[*p].clone())
        .collect();
    let row = variant::ActiveModel {
        product_id: Set(product_id),
        sku: Set(v.sku.trim().to_owned()),
        title: Set(trimmed(v.title.as_deref()).unwrap_or_else(|| default_title(&chosen))),
        position: Set(position),
        weight_grams: Set(v.weight_grams),
        barcode: Set(trimmed(v.barcode.as_deref())),
        track_inventory: Set(v.track_inventory.unwrap_or(true)),
        allow_backorder: Set(v.allow_backorder.unwrap_or(false)),
        tax_class: Set(trimmed(v.tax_class.as_deref()).unwrap_or_else(|| "standard".into())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(tx)
    .await?;
    for (o, p) in checked.picks.iter().enumerate() {
        variant_option_value::ActiveModel {
            variant_id: Set(row.id),
            option_value_id: Set(value_ids[o][*p]),
        }
        .insert(tx)
        .await?;
    }
    for price in &checked.prices {
        write_price(tx, row.id, price, None).await?;
    }
    let mut snapshot = variant_snapshot(&row, &chosen);
    snapshot["prices"] = json!(
        checked
            .prices
            .iter()
            .map(CheckedPrice::snapshot)
            .collect::<Vec<_>>()
    );
    Ok((row, snapshot))
}

/// Adds variants to an existing product, all or none.
pub async fn create_variants(
    db: &DatabaseConnection,
    actor: &Actor,
    product_id: i64,
    variants: Vec<VariantInput>,
) -> Outcome<product::Model> {
    let Some((tx, mut head, product, shape)) = open_product(db, product_id).await? else {
        return Ok(Err(not_found(&["productId"], "product")));
    };
    let targets = price_targets(&tx).await?;
    let mut errors = Vec::new();
    let mut combos: HashSet<Vec<usize>> = shape.picks.values().cloned().collect();
    let checked = check_new_variants(
        &variants,
        &shape.options,
        &targets,
        &["variants"],
        &mut combos,
        &mut errors,
    );
    check_skus_free(&tx, &variants, &["variants"], &mut errors).await?;
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let now = Utc::now();
    let next = shape
        .variants
        .iter()
        .map(|v| v.position + 1)
        .max()
        .unwrap_or(0);
    let mut changes = Vec::new();
    for (i, (v, c)) in variants.iter().zip(&checked).enumerate() {
        let position = next.saturating_add(i32::try_from(i).unwrap_or(0));
        let (row, snap) = insert_variant(
            &tx,
            product_id,
            position,
            v,
            c,
            &shape.options,
            &shape.value_ids,
            now,
        )
        .await?;
        changes.push(Change {
            action: "variant.create",
            entity_type: "variant",
            entity_id: row.id.to_string(),
            before: None,
            after: Some(snap),
        });
    }
    audit::append(&tx, &mut head, actor, changes).await?;
    tx.commit().await?;
    Ok(Ok(product))
}

/// Changes variants of a product, all or none.
pub async fn update_variants(
    db: &DatabaseConnection,
    actor: &Actor,
    product_id: i64,
    updates: Vec<VariantUpdate>,
) -> Outcome<product::Model> {
    let Some((tx, mut head, product, shape)) = open_product(db, product_id).await? else {
        return Ok(Err(not_found(&["productId"], "product")));
    };
    let targets = price_targets(&tx).await?;
    let mut errors = Vec::new();
    if updates.is_empty() || updates.len() > MAX_VARIANTS {
        errors.push(UserError::new(
            &["variants"],
            UserErrorCode::Invalid,
            format!("give 1 to {MAX_VARIANTS} variants"),
        ));
    }
    let existing_prices = prices_of(
        &tx,
        &shape.variants.iter().map(|v| v.id).collect::<Vec<_>>(),
    )
    .await?;
    let new_skus: Vec<&str> = updates
        .iter()
        .filter_map(|u| u.sku.as_deref().map(str::trim))
        .collect();
    let taken = skus_taken(&tx, new_skus.iter().copied()).await?;
    let mut final_picks = shape.picks.clone();
    let mut seen_ids = HashSet::new();
    let mut skus = HashSet::new();
    let mut plans = Vec::new();
    for (i, u) in updates.iter().enumerate() {
        let idx = i.to_string();
        let field = |f: &'static str| vec!["variants", idx.as_str(), f];
        let Some(current) = shape.variants.iter().find(|v| v.id == u.id) else {
            errors.push(UserError::new(
                &field("id"),
                UserErrorCode::NotFound,
                "no such variant of this product",
            ));
            continue;
        };
        if !seen_ids.insert(u.id) {
            errors.push(UserError::new(
                &field("id"),
                UserErrorCode::Invalid,
                "the variant is listed twice",
            ));
        }
        if let Some(sku) = u.sku.as_deref()
            && let Some(sku) = check_sku(sku, &field("sku"), &mut errors)
        {
            if !skus.insert(sku) {
                errors.push(UserError::new(
                    &field("sku"),
                    UserErrorCode::Taken,
                    format!("SKU `{sku}` appears twice"),
                ));
            } else if taken.get(sku).is_some_and(|v| v.id != u.id) {
                errors.push(UserError::new(
                    &field("sku"),
                    UserErrorCode::Taken,
                    format!("SKU `{sku}` is taken"),
                ));
            }
        }
        let picks = match &u.option_values {
            Some(values) => {
                let picks =
                    pick_values(values, &shape.options, &field("optionValues"), &mut errors);
                if let Some(p) = &picks {
                    final_picks.insert(u.id, p.clone());
                }
                picks
            }
            None => None,
        };
        let based: HashSet<i64> = existing_prices
            .get(&u.id)
            .into_iter()
            .flatten()
            .filter(|r| Slot::of(r).is_base())
            .map(|r| r.channel_id)
            .collect();
        let prices = check_variant_prices(
            &u.prices,
            &targets,
            &based,
            &["variants", idx.as_str()],
            &mut errors,
        );
        plans.push((i, current, u, picks, prices));
    }
    // Option combinations must stay distinct across the whole product.
    for (i, _, u, picks, _) in &plans {
        if let Some(p) = picks
            && final_picks
                .iter()
                .any(|(id, other)| id != &u.id && other == p)
        {
            errors.push(UserError::new(
                &["variants", &i.to_string(), "optionValues"],
                UserErrorCode::Taken,
                "two variants have the same option values",
            ));
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let now = Utc::now();
    let mut changes = Vec::new();
    for (_, current, u, picks, prices) in &plans {
        let before_chosen = shape.chosen(shape.picks.get(&current.id).map_or(&[], |p| p));
        let mut row: variant::ActiveModel = (*current).clone().into();
        if let Some(sku) = &u.sku {
            row.sku = Set(sku.trim().to_owned());
        }
        let chosen = match picks {
            Some(p) => {
                variant_option_value::Entity::delete_many()
                    .filter(variant_option_value::Column::VariantId.eq(current.id))
                    .exec(&tx)
                    .await?;
                for (o, v) in p.iter().enumerate() {
                    variant_option_value::ActiveModel {
                        variant_id: Set(current.id),
                        option_value_id: Set(shape.value_ids[o][*v]),
                    }
                    .insert(&tx)
                    .await?;
                }
                let chosen = shape.chosen(p);
                if u.title.is_none() {
                    row.title = Set(default_title(&chosen));
                }
                chosen
            }
            None => before_chosen.clone(),
        };
        if let Some(t) = trimmed(u.title.as_deref()) {
            row.title = Set(t);
        }
        if let Some(b) = &u.barcode {
            row.barcode = Set(trimmed(Some(b)));
        }
        if let Some(w) = u.weight_grams {
            row.weight_grams = Set(Some(w));
        }
        if let Some(t) = u.track_inventory {
            row.track_inventory = Set(t);
        }
        if let Some(b) = u.allow_backorder {
            row.allow_backorder = Set(b);
        }
        if let Some(t) = trimmed(u.tax_class.as_deref()) {
            row.tax_class = Set(t);
        }
        row.updated_at = Set(now);
        let updated = row.update(&tx).await?;
        changes.push(Change {
            action: "variant.update",
            entity_type: "variant",
            entity_id: current.id.to_string(),
            before: Some(variant_snapshot(current, &before_chosen)),
            after: Some(variant_snapshot(&updated, &chosen)),
        });
        for p in prices {
            let existing = existing_prices
                .get(&current.id)
                .and_then(|rows| rows.iter().find(|r| Slot::of(r) == p.slot));
            changes.extend(write_price(&tx, current.id, p, existing).await?);
        }
    }
    audit::append(&tx, &mut head, actor, changes).await?;
    tx.commit().await?;
    Ok(Ok(product))
}

/// Deletes variants of a product (with their prices and stock), all or
/// none; the product keeps at least one.
pub async fn delete_variants(
    db: &DatabaseConnection,
    actor: &Actor,
    product_id: i64,
    variant_ids: &[i64],
) -> Outcome<product::Model> {
    let Some((tx, mut head, product, shape)) = open_product(db, product_id).await? else {
        return Ok(Err(not_found(&["productId"], "product")));
    };
    let mut errors = Vec::new();
    let mut doomed = Vec::new();
    for (i, id) in variant_ids.iter().enumerate() {
        match shape.variants.iter().find(|v| v.id == *id) {
            Some(v) if !doomed.iter().any(|d: &&variant::Model| d.id == v.id) => doomed.push(v),
            Some(_) => {}
            None => errors.push(UserError::new(
                &["variantIds", &i.to_string()],
                UserErrorCode::NotFound,
                "no such variant of this product",
            )),
        }
    }
    if variant_ids.is_empty() || (errors.is_empty() && doomed.len() >= shape.variants.len()) {
        errors.push(UserError::new(
            &["variantIds"],
            UserErrorCode::Invalid,
            "a product keeps at least one variant",
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let mut changes = Vec::new();
    for v in doomed {
        let chosen = shape.chosen(shape.picks.get(&v.id).map_or(&[], |p| p));
        variant::Entity::delete_by_id(v.id).exec(&tx).await?;
        changes.push(Change {
            action: "variant.delete",
            entity_type: "variant",
            entity_id: v.id.to_string(),
            before: Some(variant_snapshot(v, &chosen)),
            after: None,
        });
    }
    audit::append(&tx, &mut head, actor, changes).await?;
    tx.commit().await?;
    Ok(Ok(product))
}
