//! Prices of variants: base prices, quantity tiers and customer-group
//! prices per channel, checked against their channel and written with
//! their audit entries; set and removed by SKU in bulk.

use std::collections::{HashMap, HashSet};

use entity::{customer_group, variant_price};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter,
};
use serde_json::json;

use super::variants::skus_taken;
use crate::domain::{
    audit::{self, Actor, Change},
    channel::{self, Channel},
    error::{DomainError, DomainResult, Outcome, UserError, UserErrorCode},
    money::Money,
    tx::begin_write,
};

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

/// Which price of a variant a row is: its channel, customer group (none:
/// everyone) and quantity tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Slot {
    channel_id: i64,
    customer_group_id: Option<i64>,
    min_quantity: i32,
}

impl Slot {
    pub(super) fn of(row: &variant_price::Model) -> Self {
        Self {
            channel_id: row.channel_id,
            customer_group_id: row.customer_group_id,
            min_quantity: row.min_quantity,
        }
    }

    /// The base price: everyone, from one unit.
    pub(super) fn is_base(self) -> bool {
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
pub(super) struct CheckedPrice {
    pub(super) slot: Slot,
    amount_minor: i64,
    compare_at_minor: Option<i64>,
}

impl CheckedPrice {
    pub(super) fn snapshot(&self) -> serde_json::Value {
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
pub(super) struct PriceTargets {
    channels: HashMap<String, Channel>,
    groups: HashMap<String, i64>,
}

pub(super) async fn price_targets(db: &impl ConnectionTrait) -> DomainResult<PriceTargets> {
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
pub(super) fn check_variant_prices(
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
pub(super) async fn write_price(
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
pub(super) async fn prices_of(
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
        let channel = channels
            .get(&row.channel_id)
            .cloned()
            .ok_or_else(|| DomainError::Inconsistent(format!("price {} has no channel", row.id)))?;
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

/// What a price operation by SKU works on, read in its transaction.
struct BySku {
    /// What prices may name.
    targets: PriceTargets,
    /// The variant of each row's SKU, none for an unknown one.
    ids: Vec<Option<i64>>,
    /// The price rows of those variants.
    existing: HashMap<i64, Vec<variant_price::Model>>,
}

/// Finds the variants of these SKUs, with their prices and what prices may
/// name; an unknown SKU is a NOT_FOUND at `["prices", i]`.
async fn by_sku<'a>(
    db: &impl ConnectionTrait,
    skus: impl Iterator<Item = &'a str> + Clone,
    errors: &mut Vec<UserError>,
) -> DomainResult<BySku> {
    let targets = price_targets(db).await?;
    let found = skus_taken(db, skus.clone()).await?;
    let ids: Vec<Option<i64>> = skus
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
        .collect();
    let variant_ids: Vec<i64> = ids.iter().flatten().copied().collect();
    let existing = prices_of(db, &variant_ids).await?;
    Ok(BySku {
        targets,
        ids,
        existing,
    })
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
) -> Outcome<usize> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let mut errors = Vec::new();
    let BySku {
        targets,
        ids,
        existing,
    } = by_sku(&tx, rows.iter().map(|r| r.sku.as_str()), &mut errors).await?;
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
) -> Outcome<usize> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let mut errors = Vec::new();
    let BySku {
        targets,
        ids,
        existing,
    } = by_sku(&tx, rows.iter().map(|r| r.sku.as_str()), &mut errors).await?;
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
