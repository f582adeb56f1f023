//! Catalog administration: products with their options, variants and
//! prices, changed by staff (`catalog:write`, `prices:write`) or partner
//! apps. Every input mistake is a field-level user error and nothing is
//! written; every change is audited in the same transaction.
//!
//! Invariants kept here:
//! - SKUs are unique; within a product no two variants share an option
//!   combination, and every variant has one value of every option.
//! - A product keeps at least one variant.
//! - A variant has at most one price per channel, customer group and
//!   quantity tier. A tier or customer-group price refines a base price (no
//!   group, from one unit): it needs one in its channel, and a variant keeps
//!   at least one base price.

use crate::domain::tx::begin_write;
use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{
    customer_group, product, product_option, product_option_value, product_status::ProductStatus,
    product_tag, variant, variant_option_value, variant_price,
};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter,
};
use serde_json::json;

mod options;

pub use options::{OptionUpdate, create_options, delete_options, update_option};

use super::{
    audit::{self, Actor, Change},
    channel::{self, Channel},
    error::{DomainResult, UserError, UserErrorCode},
    money::Money,
};

/// Most options a product may have.
pub const MAX_OPTIONS: usize = 3;
/// Most variants one call may create.
pub const MAX_VARIANTS: usize = 250;

/// A price of a variant in a channel.
#[derive(Debug, Clone)]
pub struct PriceInput {
    /// Channel code.
    pub channel: String,
    /// Amount in the channel's currency.
    pub amount: Decimal,
    /// The currency the caller means; must be the channel's.
    pub currency: Option<String>,
    /// The "was" price.
    pub compare_at: Option<Decimal>,
    /// Quantity tier: the price applies from this many units (default 1,
    /// the base price).
    pub min_quantity: Option<i32>,
    /// Code of the customer group the price is for; none: everyone.
    pub customer_group: Option<String>,
}

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

/// An option and its values, in order.
#[derive(Debug, Clone)]
pub struct OptionInput {
    /// Name, e.g. `Size`.
    pub name: String,
    /// Values, e.g. `S`, `M`, `L`.
    pub values: Vec<String>,
}

/// A new product.
#[derive(Debug, Clone, Default)]
pub struct ProductInput {
    /// URL handle; default: made from the title.
    pub handle: Option<String>,
    /// Title.
    pub title: String,
    /// Plain-text description.
    pub description: Option<String>,
    /// Brand.
    pub vendor: Option<String>,
    /// Category.
    pub product_type: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Status (default draft).
    pub status: Option<ProductStatus>,
    /// Options.
    pub options: Vec<OptionInput>,
    /// Variants (at least one).
    pub variants: Vec<VariantInput>,
}

/// Changes to a product (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct ProductUpdate {
    /// URL handle.
    pub handle: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Brand.
    pub vendor: Option<String>,
    /// Category.
    pub product_type: Option<String>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    /// Status.
    pub status: Option<ProductStatus>,
}

/// Makes a URL handle from a title: lower-case ASCII letters, digits and dashes.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(200).collect()
}

/// The handle asked for (trimmed), or one made from the title.
pub(crate) fn handle_or_slug(given: Option<&str>, title: &str) -> String {
    given.map_or_else(|| slug(title), |h| h.trim().to_owned())
}

/// Whether a handle is valid; if not, a user error on `input.handle`.
pub(crate) fn check_handle(handle: &str, errors: &mut Vec<UserError>) -> bool {
    let ok = valid_handle(handle);
    if !ok {
        errors.push(UserError::new(
            &["input", "handle"],
            UserErrorCode::Invalid,
            "a handle is lower-case letters, digits and dashes",
        ));
    }
    ok
}

/// Whether `h` is a valid handle or code: lower-case ASCII letters, digits
/// and dashes, 1 to 255 of them.
pub fn valid_handle(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn status_name(s: ProductStatus) -> &'static str {
    match s {
        ProductStatus::Draft => "draft",
        ProductStatus::Active => "active",
        ProductStatus::Archived => "archived",
    }
}

/// A product's own fields and tags, as audit entries keep them.
pub(crate) fn snapshot(p: &product::Model, tags: &[String]) -> serde_json::Value {
    json!({
        "handle": p.handle, "title": p.title, "description": p.description,
        "status": status_name(p.status), "vendor": p.vendor, "productType": p.product_type,
        "tags": tags,
    })
}

/// Tags trimmed, blank ones dropped, one per spelling regardless of case.
pub(crate) fn clean_tags(tags: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    tags.iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && seen.insert(t.to_lowercase()))
        .collect()
}

/// Which price of a variant a row is: its channel, customer group (none:
/// everyone) and quantity tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Slot {
    channel_id: i64,
    customer_group_id: Option<i64>,
    min_quantity: i32,
}

impl Slot {
    fn of(row: &variant_price::Model) -> Self {
        Self {
            channel_id: row.channel_id,
            customer_group_id: row.customer_group_id,
            min_quantity: row.min_quantity,
        }
    }

    /// The base price: everyone, from one unit.
    fn is_base(self) -> bool {
        self.customer_group_id.is_none() && self.min_quantity == 1
    }

    /// The audit entity id: `<variant>@<channel>`, plus the group and tier
    /// when the price is not the base one.
    fn entity_id(self, variant_id: i64) -> String {
        let mut id = format!("{variant_id}@{}", self.channel_id);
        if let Some(g) = self.customer_group_id {
            id.push_str(&format!("/group:{g}"));
        }
        if self.min_quantity != 1 {
            id.push_str(&format!("/min:{}", self.min_quantity));
        }
        id
    }
}

/// A price checked against its channel, in minor units.
struct CheckedPrice {
    slot: Slot,
    amount_minor: i64,
    compare_at_minor: Option<i64>,
}

impl CheckedPrice {
    fn snapshot(&self) -> serde_json::Value {
        json!({
            "channelId": self.slot.channel_id, "customerGroupId": self.slot.customer_group_id,
            "minQuantity": self.slot.min_quantity, "amountMinor": self.amount_minor,
            "compareAtMinor": self.compare_at_minor,
        })
    }
}

fn price_row_snapshot(row: &variant_price::Model) -> serde_json::Value {
    CheckedPrice {
        slot: Slot::of(row),
        amount_minor: row.amount_minor,
        compare_at_minor: row.compare_at_minor,
    }
    .snapshot()
}

/// What prices may name: channels and customer groups, by code.
struct PriceTargets {
    channels: HashMap<String, Channel>,
    groups: HashMap<String, i64>,
}

async fn price_targets(db: &impl ConnectionTrait) -> DomainResult<PriceTargets> {
    Ok(PriceTargets {
        channels: channel::list(db)
            .await?
            .into_iter()
            .map(|c| (c.code.clone(), c))
            .collect(),
        groups: customer_group::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|g| (g.code, g.id))
            .collect(),
    })
}

/// Resolves the channel, customer group and tier a price row names.
fn check_slot<'a>(
    channel: &str,
    customer_group: Option<&str>,
    min_quantity: Option<i32>,
    targets: &'a PriceTargets,
    field: &[&str],
    errors: &mut Vec<UserError>,
) -> Option<(Slot, &'a Channel)> {
    let Some(ch) = targets.channels.get(channel.trim()) else {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            format!("no channel `{}`", channel.trim()),
        ));
        return None;
    };
    let customer_group_id = match customer_group.map(str::trim) {
        None => None,
        Some(code) => match targets.groups.get(code) {
            Some(id) => Some(*id),
            None => {
                errors.push(UserError::new(
                    &[field, &["customerGroup"]].concat(),
                    UserErrorCode::NotFound,
                    format!("no customer group `{code}`"),
                ));
                return None;
            }
        },
    };
    let min_quantity = min_quantity.unwrap_or(1);
    if min_quantity < 1 {
        errors.push(UserError::new(
            &[field, &["minQuantity"]].concat(),
            UserErrorCode::Invalid,
            "a quantity tier starts at 1 or more units",
        ));
        return None;
    }
    Some((
        Slot {
            channel_id: ch.id,
            customer_group_id,
            min_quantity,
        },
        ch,
    ))
}

fn check_price(
    p: &PriceInput,
    targets: &PriceTargets,
    field: &[&str],
    errors: &mut Vec<UserError>,
) -> Option<CheckedPrice> {
    let (slot, ch) = check_slot(
        &p.channel,
        p.customer_group.as_deref(),
        p.min_quantity,
        targets,
        field,
        errors,
    )?;
    if let Some(cur) = &p.currency
        && !cur.trim().eq_ignore_ascii_case(ch.currency.code())
    {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            format!(
                "channel `{}` sells in {}, not {}",
                ch.code,
                ch.currency.code(),
                cur.trim()
            ),
        ));
        return None;
    }
    if p.amount.is_sign_negative() || p.compare_at.is_some_and(|c| c.is_sign_negative()) {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            "prices cannot be negative",
        ));
        return None;
    }
    let minor = |d: Decimal| Money::from_decimal(d, ch.currency).to_minor();
    let Some(amount_minor) = minor(p.amount) else {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            "the price is too large",
        ));
        return None;
    };
    Some(CheckedPrice {
        slot,
        amount_minor,
        compare_at_minor: p.compare_at.and_then(minor),
    })
}

const NEEDS_BASE: &str = "a tier or customer-group price needs a base price in its channel";

/// Checks the prices of one variant; `based` holds the channels where it
/// already has a base price.
fn check_variant_prices(
    prices: &[PriceInput],
    targets: &PriceTargets,
    based: &HashSet<i64>,
    field: &[&str],
    errors: &mut Vec<UserError>,
) -> Vec<CheckedPrice> {
    let mut checked: Vec<CheckedPrice> = Vec::new();
    let mut indexes = Vec::new();
    for (j, p) in prices.iter().enumerate() {
        let jdx = j.to_string();
        let field = [field, &["prices", jdx.as_str()]].concat();
        if let Some(c) = check_price(p, targets, &field, errors) {
            if checked.iter().any(|o| o.slot == c.slot) {
                errors.push(UserError::new(
                    &field,
                    UserErrorCode::Taken,
                    "one price per channel, customer group and quantity",
                ));
            }
            checked.push(c);
            indexes.push(jdx);
        }
    }
    let mut with_base = based.clone();
    with_base.extend(
        checked
            .iter()
            .filter(|c| c.slot.is_base())
            .map(|c| c.slot.channel_id),
    );
    for (c, jdx) in checked.iter().zip(&indexes) {
        if !with_base.contains(&c.slot.channel_id) {
            let field = [field, &["prices", jdx.as_str()]].concat();
            errors.push(UserError::new(&field, UserErrorCode::Invalid, NEEDS_BASE));
        }
    }
    checked
}

/// Writes a price over the row in its slot (if any); the audit change, or
/// none when the price is already that.
async fn write_price(
    tx: &DatabaseTransaction,
    variant_id: i64,
    p: &CheckedPrice,
    existing: Option<&variant_price::Model>,
) -> DomainResult<Option<Change>> {
    if existing.is_some_and(|e| {
        e.amount_minor == p.amount_minor && e.compare_at_minor == p.compare_at_minor
    }) {
        return Ok(None);
    }
    match existing {
        Some(e) => {
            let mut row: variant_price::ActiveModel = e.clone().into();
            row.amount_minor = Set(p.amount_minor);
            row.compare_at_minor = Set(p.compare_at_minor);
            row.update(tx).await?;
        }
        None => {
            variant_price::ActiveModel {
                variant_id: Set(variant_id),
                channel_id: Set(p.slot.channel_id),
                customer_group_id: Set(p.slot.customer_group_id),
                min_quantity: Set(p.slot.min_quantity),
                amount_minor: Set(p.amount_minor),
                compare_at_minor: Set(p.compare_at_minor),
                ..Default::default()
            }
            .insert(tx)
            .await?;
        }
    }
    Ok(Some(Change {
        action: "price.set",
        entity_type: "variant_price",
        entity_id: p.slot.entity_id(variant_id),
        before: existing.map(price_row_snapshot),
        after: Some(p.snapshot()),
    }))
}

/// Price rows of these variants, by variant.
async fn prices_of(
    db: &impl ConnectionTrait,
    variant_ids: &[i64],
) -> DomainResult<HashMap<i64, Vec<variant_price::Model>>> {
    let mut out: HashMap<i64, Vec<variant_price::Model>> = HashMap::new();
    for chunk in variant_ids.chunks(500) {
        for row in variant_price::Entity::find()
            .filter(variant_price::Column::VariantId.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            out.entry(row.variant_id).or_default().push(row);
        }
    }
    Ok(out)
}

/// One price row of a variant with what it names.
#[derive(Debug, Clone)]
pub struct PriceRow {
    /// The row.
    pub row: variant_price::Model,
    /// Its channel.
    pub channel: Channel,
    /// Its customer group; none: everyone.
    pub customer_group: Option<customer_group::Model>,
}

/// Every price row of each variant (base prices, tiers, customer-group
/// prices), by channel, then everyone's before each group's, then tier:
/// three statements whatever the number of variants (up to 500).
pub async fn price_lists(
    db: &impl ConnectionTrait,
    variant_ids: &[i64],
) -> DomainResult<HashMap<i64, Vec<PriceRow>>> {
    let mut out: HashMap<i64, Vec<PriceRow>> =
        variant_ids.iter().map(|v| (*v, Vec::new())).collect();
    if variant_ids.is_empty() {
        return Ok(out);
    }
    let mut rows = Vec::new();
    for chunk in variant_ids.chunks(500) {
        rows.extend(
            variant_price::Entity::find()
                .filter(variant_price::Column::VariantId.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    // Sorted here: the backends disagree on where NULL (everyone) sorts.
    rows.sort_by_key(|r| (r.channel_id, r.customer_group_id, r.min_quantity, r.id));
    let channels: HashMap<i64, Channel> = channel::list(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let groups: HashMap<i64, customer_group::Model> = customer_group::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.id, g))
        .collect();
    for row in rows {
        let channel = channels.get(&row.channel_id).cloned().ok_or_else(|| {
            super::error::DomainError::Inconsistent(format!("price {} has no channel", row.id))
        })?;
        let customer_group = row.customer_group_id.and_then(|g| groups.get(&g).cloned());
        if let Some(list) = out.get_mut(&row.variant_id) {
            list.push(PriceRow {
                row,
                channel,
                customer_group,
            });
        }
    }
    Ok(out)
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
struct CheckedVariant {
    picks: Vec<usize>,
    prices: Vec<CheckedPrice>,
}

/// Checks new variants against the product's options and among themselves;
/// `combos` holds the option combinations already taken. SKUs are checked
/// against the database by [`skus_taken`].
fn check_new_variants(
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
async fn skus_taken<'a>(
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

fn default_title(chosen: &[String]) -> String {
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

fn variant_snapshot(v: &variant::Model, chosen: &[String]) -> serde_json::Value {
    json!({
        "sku": v.sku, "title": v.title, "options": chosen, "barcode": v.barcode,
        "weightGrams": v.weight_grams, "trackInventory": v.track_inventory,
        "allowBackorder": v.allow_backorder, "taxClass": v.tax_class,
    })
}

/// Inserts a checked variant with its option values and prices; returns the
/// row and its audit snapshot.
#[allow(clippy::too_many_arguments)]
async fn insert_variant(
    tx: &DatabaseTransaction,
    product_id: i64,
    position: i32,
    v: &VariantInput,
    checked: &CheckedVariant,
    options: &[(String, Vec<String>)],
    value_ids: &[Vec<i64>],
    now: chrono::DateTime<Utc>,
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
fn check_options(
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
async fn insert_option(
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

/// Creates a product with its options, variants and prices.
pub async fn create_product(
    db: &DatabaseConnection,
    actor: &Actor,
    input: ProductInput,
) -> DomainResult<Result<product::Model, Vec<UserError>>> {
    let mut errors = Vec::new();
    let title = input.title.trim().to_owned();
    if title.is_empty() {
        errors.push(UserError::new(
            &["input", "title"],
            UserErrorCode::Blank,
            "the title is required",
        ));
    }
    let handle = handle_or_slug(input.handle.as_deref(), &title);
    check_handle(&handle, &mut errors);
    // Options.
    if input.options.len() > MAX_OPTIONS {
        errors.push(UserError::new(
            &["input", "options"],
            UserErrorCode::Invalid,
            format!("at most {MAX_OPTIONS} options"),
        ));
    }
    let options = check_options(
        &input.options,
        &mut HashSet::new(),
        &["input", "options"],
        &mut errors,
    );
    // Variants.
    let targets = price_targets(db).await?;
    let checked = check_new_variants(
        &input.variants,
        &options,
        &targets,
        &["input", "variants"],
        &mut HashSet::new(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    // Uniqueness against the database.
    if product::Entity::find()
        .filter(product::Column::Handle.eq(handle.as_str()))
        .one(db)
        .await?
        .is_some()
    {
        errors.push(UserError::new(
            &["input", "handle"],
            UserErrorCode::Taken,
            format!("handle `{handle}` is taken"),
        ));
    }
    let taken = skus_taken(db, input.variants.iter().map(|v| v.sku.trim())).await?;
    for (i, v) in input.variants.iter().enumerate() {
        if taken.contains_key(v.sku.trim()) {
            errors.push(UserError::new(
                &["input", "variants", &i.to_string(), "sku"],
                UserErrorCode::Taken,
                format!("SKU `{}` is taken", v.sku.trim()),
            ));
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }

    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let now = Utc::now();
    let status = input.status.unwrap_or(ProductStatus::Draft);
    let created = product::ActiveModel {
        handle: Set(handle),
        title: Set(title),
        description: Set(input.description.unwrap_or_default().trim().to_owned()),
        status: Set(status),
        vendor: Set(input
            .vendor
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())),
        product_type: Set(input
            .product_type
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())),
        created_at: Set(now),
        updated_at: Set(now),
        published_at: Set((status == ProductStatus::Active).then_some(now)),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    let tags = clean_tags(&input.tags);
    for tag in &tags {
        product_tag::ActiveModel {
            product_id: Set(created.id),
            tag: Set(tag.clone()),
        }
        .insert(&tx)
        .await?;
    }
    let mut value_ids: Vec<Vec<i64>> = Vec::new();
    for (pos, (name, values)) in options.iter().enumerate() {
        let position = i32::try_from(pos).unwrap_or(0);
        let (_, ids) = insert_option(&tx, created.id, position, name, values).await?;
        value_ids.push(ids);
    }
    let mut variant_snapshots = Vec::new();
    for (pos, (v, c)) in input.variants.iter().zip(&checked).enumerate() {
        let position = i32::try_from(pos).unwrap_or(0);
        let (_, snap) =
            insert_variant(&tx, created.id, position, v, c, &options, &value_ids, now).await?;
        variant_snapshots.push(snap);
    }
    let mut after = snapshot(&created, &tags);
    after["options"] = json!(
        options
            .iter()
            .map(|(n, v)| json!({ "name": n, "values": v }))
            .collect::<Vec<_>>()
    );
    after["variants"] = json!(variant_snapshots);
    audit::append(
        &tx,
        &mut head,
        actor,
        vec![Change {
            action: "product.create",
            entity_type: "product",
            entity_id: created.id.to_string(),
            before: None,
            after: Some(after),
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(created))
}

/// The one error of an operation on an object that does not exist.
pub fn not_found(field: &[&str], what: &str) -> Vec<UserError> {
    vec![UserError::new(
        field,
        UserErrorCode::NotFound,
        format!("no such {what}"),
    )]
}

async fn tags_of(db: &impl sea_orm::ConnectionTrait, product_id: i64) -> DomainResult<Vec<String>> {
    Ok(product_tag::Entity::find()
        .filter(product_tag::Column::ProductId.eq(product_id))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.tag)
        .collect())
}

/// Changes a product's own fields (not its variants).
pub async fn update_product(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    input: ProductUpdate,
) -> DomainResult<Result<product::Model, Vec<UserError>>> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = product::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "product")));
    };
    let before_tags = tags_of(&tx, id).await?;
    let mut errors = Vec::new();
    let mut row: product::ActiveModel = existing.clone().into();
    if let Some(title) = input.title.map(|t| t.trim().to_owned()) {
        if title.is_empty() {
            errors.push(UserError::new(
                &["input", "title"],
                UserErrorCode::Blank,
                "the title is required",
            ));
        }
        row.title = Set(title);
    }
    if let Some(handle) = input.handle.map(|h| h.trim().to_owned()) {
        if check_handle(&handle, &mut errors)
            && handle != existing.handle
            && product::Entity::find()
                .filter(product::Column::Handle.eq(handle.as_str()))
                .one(&tx)
                .await?
                .is_some()
        {
            errors.push(UserError::new(
                &["input", "handle"],
                UserErrorCode::Taken,
                format!("handle `{handle}` is taken"),
            ));
        }
        row.handle = Set(handle);
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    if let Some(d) = input.description {
        row.description = Set(d.trim().to_owned());
    }
    if let Some(v) = input.vendor {
        row.vendor = Set(Some(v.trim().to_owned()).filter(|v| !v.is_empty()));
    }
    if let Some(t) = input.product_type {
        row.product_type = Set(Some(t.trim().to_owned()).filter(|t| !t.is_empty()));
    }
    if let Some(s) = input.status {
        row.status = Set(s);
        if s == ProductStatus::Active && existing.published_at.is_none() {
            row.published_at = Set(Some(Utc::now()));
        }
    }
    row.updated_at = Set(Utc::now());
    let updated = row.update(&tx).await?;
    let tags = match input.tags {
        Some(tags) => {
            let tags = clean_tags(&tags);
            product_tag::Entity::delete_many()
                .filter(product_tag::Column::ProductId.eq(id))
                .exec(&tx)
                .await?;
            for tag in &tags {
                product_tag::ActiveModel {
                    product_id: Set(id),
                    tag: Set(tag.clone()),
                }
                .insert(&tx)
                .await?;
            }
            tags
        }
        None => before_tags.clone(),
    };
    audit::append(
        &tx,
        &mut head,
        actor,
        vec![Change {
            action: "product.update",
            entity_type: "product",
            entity_id: id.to_string(),
            before: Some(snapshot(&existing, &before_tags)),
            after: Some(snapshot(&updated, &tags)),
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(updated))
}

/// Deletes a product with its variants, prices and stock.
pub async fn delete_product(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<Result<i64, Vec<UserError>>> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = product::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "product")));
    };
    let tags = tags_of(&tx, id).await?;
    product::Entity::delete_by_id(id).exec(&tx).await?;
    audit::append(
        &tx,
        &mut head,
        actor,
        vec![Change {
            action: "product.delete",
            entity_type: "product",
            entity_id: id.to_string(),
            before: Some(snapshot(&existing, &tags)),
            after: None,
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// One price to set, by SKU: a base price, a quantity tier or a customer
/// group's price.
#[derive(Debug, Clone)]
pub struct SkuPrice {
    /// The variant's SKU.
    pub sku: String,
    /// The price.
    pub price: PriceInput,
}

/// One price to remove, by SKU: which channel, customer group and tier.
#[derive(Debug, Clone)]
pub struct SkuPriceKey {
    /// The variant's SKU.
    pub sku: String,
    /// Channel code.
    pub channel: String,
    /// Customer group code; none: everyone.
    pub customer_group: Option<String>,
    /// Quantity tier (default 1).
    pub min_quantity: Option<i32>,
}

/// Finds the variants of these SKUs; an unknown one is a NOT_FOUND at
/// `["prices", i]`.
async fn variants_by_sku<'a>(
    db: &impl ConnectionTrait,
    skus: impl Iterator<Item = &'a str> + Clone,
    errors: &mut Vec<UserError>,
) -> DomainResult<Vec<Option<i64>>> {
    let found = skus_taken(db, skus.clone()).await?;
    Ok(skus
        .enumerate()
        .map(|(i, sku)| {
            let id = found.get(sku.trim()).map(|v| v.id);
            if id.is_none() {
                errors.push(UserError::new(
                    &["prices", &i.to_string()],
                    UserErrorCode::NotFound,
                    format!("no variant with SKU `{}`", sku.trim()),
                ));
            }
            id
        })
        .collect())
}

/// Orders errors of `["prices", i, ...]` rows by row, keeping each row's
/// errors in the order they were found.
fn by_row(mut errors: Vec<UserError>) -> Vec<UserError> {
    errors.sort_by_key(|e| e.field.get(1).and_then(|i| i.parse::<usize>().ok()));
    errors
}

/// Sets prices by SKU (base prices, quantity tiers, customer-group prices),
/// all or none; returns how many changed.
pub async fn set_prices(
    db: &DatabaseConnection,
    actor: &Actor,
    rows: &[SkuPrice],
) -> DomainResult<Result<usize, Vec<UserError>>> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let targets = price_targets(&tx).await?;
    let mut errors = Vec::new();
    let ids = variants_by_sku(&tx, rows.iter().map(|r| r.sku.as_str()), &mut errors).await?;
    let mut checked: Vec<(usize, i64, CheckedPrice)> = Vec::new();
    for (i, (r, id)) in rows.iter().zip(&ids).enumerate() {
        let idx = i.to_string();
        let field = ["prices", idx.as_str()];
        let Some(variant_id) = *id else { continue };
        if let Some(p) = check_price(&r.price, &targets, &field, &mut errors) {
            if checked
                .iter()
                .any(|(_, v, o)| *v == variant_id && o.slot == p.slot)
            {
                errors.push(UserError::new(
                    &field,
                    UserErrorCode::Taken,
                    "the same price is given twice",
                ));
            }
            checked.push((i, variant_id, p));
        }
    }
    let variant_ids: Vec<i64> = ids.iter().flatten().copied().collect();
    let existing = prices_of(&tx, &variant_ids).await?;
    let mut based: HashSet<(i64, i64)> = existing
        .values()
        .flatten()
        .filter(|r| Slot::of(r).is_base())
        .map(|r| (r.variant_id, r.channel_id))
        .collect();
    based.extend(
        checked
            .iter()
            .filter(|(_, _, p)| p.slot.is_base())
            .map(|(_, v, p)| (*v, p.slot.channel_id)),
    );
    for (i, variant_id, p) in &checked {
        if !based.contains(&(*variant_id, p.slot.channel_id)) {
            errors.push(UserError::new(
                &["prices", &i.to_string()],
                UserErrorCode::Invalid,
                NEEDS_BASE,
            ));
        }
    }
    if !errors.is_empty() {
        return Ok(Err(by_row(errors)));
    }
    let mut changes = Vec::new();
    for (_, variant_id, p) in &checked {
        let current = existing
            .get(variant_id)
            .and_then(|rows| rows.iter().find(|r| Slot::of(r) == p.slot));
        changes.extend(write_price(&tx, *variant_id, p, current).await?);
    }
    let changed = changes.len();
    audit::append(&tx, &mut head, actor, changes).await?;
    tx.commit().await?;
    Ok(Ok(changed))
}

/// Removes prices by SKU, all or none; returns how many. A base price goes
/// only when the variant keeps another one, and only with its channel's
/// tier and group prices.
pub async fn delete_prices(
    db: &DatabaseConnection,
    actor: &Actor,
    rows: &[SkuPriceKey],
) -> DomainResult<Result<usize, Vec<UserError>>> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let targets = price_targets(&tx).await?;
    let mut errors = Vec::new();
    let ids = variants_by_sku(&tx, rows.iter().map(|r| r.sku.as_str()), &mut errors).await?;
    let variant_ids: Vec<i64> = ids.iter().flatten().copied().collect();
    let existing = prices_of(&tx, &variant_ids).await?;
    let mut doomed: Vec<(usize, &variant_price::Model)> = Vec::new();
    for (i, (r, id)) in rows.iter().zip(&ids).enumerate() {
        let idx = i.to_string();
        let field = ["prices", idx.as_str()];
        let Some(variant_id) = *id else { continue };
        let Some((slot, _)) = check_slot(
            &r.channel,
            r.customer_group.as_deref(),
            r.min_quantity,
            &targets,
            &field,
            &mut errors,
        ) else {
            continue;
        };
        match existing
            .get(&variant_id)
            .and_then(|rows| rows.iter().find(|p| Slot::of(p) == slot))
        {
            Some(row) if !doomed.iter().any(|(_, d)| d.id == row.id) => doomed.push((i, row)),
            Some(_) => {}
            None => errors.push(UserError::new(
                &field,
                UserErrorCode::NotFound,
                format!("SKU `{}` has no such price", r.sku.trim()),
            )),
        }
    }
    for (i, row) in &doomed {
        if !Slot::of(row).is_base() {
            continue;
        }
        let left: Vec<&variant_price::Model> = existing
            .get(&row.variant_id)
            .into_iter()
            .flatten()
            .filter(|p| !doomed.iter().any(|(_, d)| d.id == p.id))
            .collect();
        let message = if !left.iter().any(|p| Slot::of(p).is_base()) {
            "a variant keeps at least one base price"
        } else if left.iter().any(|p| p.channel_id == row.channel_id) {
            "remove the channel's tier and customer-group prices first"
        } else {
            continue;
        };
        errors.push(UserError::new(
            &["prices", &i.to_string()],
            UserErrorCode::Invalid,
            message,
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(by_row(errors)));
    }
    let mut changes = Vec::new();
    for (_, row) in &doomed {
        variant_price::Entity::delete_by_id(row.id)
            .exec(&tx)
            .await?;
        changes.push(Change {
            action: "price.delete",
            entity_type: "variant_price",
            entity_id: Slot::of(row).entity_id(row.variant_id),
            before: Some(price_row_snapshot(row)),
            after: None,
        });
    }
    let removed = changes.len();
    audit::append(&tx, &mut head, actor, changes).await?;
    tx.commit().await?;
    Ok(Ok(removed))
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

/// A product's options and variants as the variant operations see them.
struct Shape {
    /// Options with their values, in order.
    options: Vec<(String, Vec<String>)>,
    /// Row ids of the options, like `options`.
    option_ids: Vec<i64>,
    /// The position after the last option's (stored positions may start at
    /// 0 or 1).
    next_option_position: i32,
    /// Row ids of the values, like `options`.
    value_ids: Vec<Vec<i64>>,
    /// Variants by position.
    variants: Vec<variant::Model>,
    /// Each variant's value index per option.
    picks: HashMap<i64, Vec<usize>>,
}

impl Shape {
    fn chosen(&self, picks: &[usize]) -> Vec<String> {
        picks
            .iter()
            .zip(&self.options)
            .map(|(p, (_, values))| values[*p].clone())
            .collect()
    }
}

/// Loads the product (locked by the caller's audit transaction) and its shape.
async fn shape_of(
    tx: &DatabaseTransaction,
    product_id: i64,
) -> DomainResult<Option<(product::Model, Shape)>> {
    let Some(product) = product::Entity::find_by_id(product_id).one(tx).await? else {
        return Ok(None);
    };
    let opts = super::catalog::options_of_products(tx, &[product_id]).await?;
    let mut position_of: HashMap<i64, (usize, usize)> = HashMap::new();
    for (o, opt) in opts.iter().enumerate() {
        for (v, value) in opt.values.iter().enumerate() {
            position_of.insert(value.id, (o, v));
        }
    }
    let variants = super::catalog::variants_of_products(tx, &[product_id]).await?;
    let links = variant_option_value::Entity::find()
        .filter(variant_option_value::Column::VariantId.is_in(variants.iter().map(|v| v.id)))
        .all(tx)
        .await?;
    let mut picks: HashMap<i64, Vec<usize>> = variants
        .iter()
        .map(|v| (v.id, vec![0; opts.len()]))
        .collect();
    for link in links {
        if let (Some(p), Some((o, v))) = (
            picks.get_mut(&link.variant_id),
            position_of.get(&link.option_value_id),
        ) {
            p[*o] = *v;
        }
    }
    let shape = Shape {
        options: opts
            .iter()
            .map(|o| {
                (
                    o.option.name.clone(),
                    o.values.iter().map(|v| v.value.clone()).collect(),
                )
            })
            .collect(),
        option_ids: opts.iter().map(|o| o.option.id).collect(),
        next_option_position: opts
            .iter()
            .map(|o| o.option.position + 1)
            .max()
            .unwrap_or(0),
        value_ids: opts
            .iter()
            .map(|o| o.values.iter().map(|v| v.id).collect())
            .collect(),
        variants,
        picks,
    };
    Ok(Some((product, shape)))
}

/// Opens an audited transaction on a product: locks the audit head, then
/// loads the product and its shape; none when there is no such product.
async fn open_product(
    db: &DatabaseConnection,
    product_id: i64,
) -> DomainResult<Option<(DatabaseTransaction, audit::Head, product::Model, Shape)>> {
    let tx = begin_write(db).await?;
    let head = audit::lock(&tx).await?;
    Ok(shape_of(&tx, product_id)
        .await?
        .map(|(product, shape)| (tx, head, product, shape)))
}

/// Adds variants to an existing product, all or none.
pub async fn create_variants(
    db: &DatabaseConnection,
    actor: &Actor,
    product_id: i64,
    variants: Vec<VariantInput>,
) -> DomainResult<Result<product::Model, Vec<UserError>>> {
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
    let taken = skus_taken(&tx, variants.iter().map(|v| v.sku.trim())).await?;
    for (i, v) in variants.iter().enumerate() {
        if taken.contains_key(v.sku.trim()) {
            errors.push(UserError::new(
                &["variants", &i.to_string(), "sku"],
                UserErrorCode::Taken,
                format!("SKU `{}` is taken", v.sku.trim()),
            ));
        }
    }
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
) -> DomainResult<Result<product::Model, Vec<UserError>>> {
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
) -> DomainResult<Result<product::Model, Vec<UserError>>> {
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
