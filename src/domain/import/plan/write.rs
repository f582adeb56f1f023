//! Writing a plan: new products, options, values, variants, prices and
//! media in multi-row batches, changed ones one by one, only what differs
//! from what is stored, each change audited; then stock, as movements like
//! any other stock sync.

use std::collections::HashMap;

use chrono::Utc;
use entity::{
    media, product, product_option, product_option_value, product_status::ProductStatus,
    product_tag, variant, variant_option_value, variant_price,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait,
    QueryFilter,
};
use serde_json::json;

use super::{BATCH, Progress, Stage, product::PlannedProduct, stored::Stored};
use crate::domain::{
    audit::{self, Actor, Change},
    catalog_admin::snapshot as product_snapshot,
    error::DomainResult,
    import::{Options, Report},
    inventory::{self, RowStatus, SetRow, VariantRef},
};

/// Variant title from its option values.
fn variant_title(p: &PlannedProduct, picks: &[usize]) -> String {
    if picks.is_empty() {
        return "Default".into();
    }
    picks
        .iter()
        .zip(&p.options)
        .map(|(i, (_, values))| values[*i].as_str())
        .collect::<Vec<_>>()
        .join(" / ")
}

#[allow(clippy::too_many_arguments)]
/// Writes the planned products and their audit entries, then their stock;
/// counts what it did in `report`.
pub(super) async fn write(
    tx: &DatabaseTransaction,
    head: &mut audit::Head,
    actor: &Actor,
    opts: &Options,
    stored: &Stored,
    planned: Vec<PlannedProduct>,
    report: &mut Report,
    progress: Progress<'_>,
) -> DomainResult<()> {
    let now = Utc::now();
    let total = planned.len();
    let mut changes: Vec<Change> = Vec::new();
    // 1. Products: new ones in batches, changed ones one by one.
    let mut new_products = Vec::new();
    let mut product_ids: HashMap<String, i64> = HashMap::new();
    for p in &planned {
        let f = &p.fields;
        let tags = f.tags.as_ref().map(|(t, _)| t.clone());
        match &p.existing {
            None => {
                let status = f.status.as_ref().map_or(ProductStatus::Active, |s| s.0);
                new_products.push(product::ActiveModel {
                    handle: Set(p.handle.clone()),
                    title: Set(f.title.as_ref().map(|t| t.0.clone()).unwrap_or_default()),
                    description: Set(f
                        .description
                        .as_ref()
                        .map(|d| d.0.clone())
                        .unwrap_or_default()),
                    status: Set(status),
                    vendor: Set(f.vendor.as_ref().map(|v| v.0.clone())),
                    product_type: Set(f.product_type.as_ref().map(|v| v.0.clone())),
                    created_at: Set(now),
                    updated_at: Set(now),
                    published_at: Set((status == ProductStatus::Active).then_some(now)),
                    ..Default::default()
                });
            }
            Some(e) => {
                product_ids.insert(p.handle.clone(), e.id);
                let mut row: product::ActiveModel = e.clone().into();
                let mut changed = false;
                let mut set =
                    |field: &mut ActiveValue<String>, old: &str, new: Option<&(String, u64)>| {
                        if let Some((v, _)) = new
                            && v != old
                        {
                            *field = Set(v.clone());
                            changed = true;
                        }
                    };
                set(&mut row.title, &e.title, f.title.as_ref());
                set(&mut row.description, &e.description, f.description.as_ref());
                let mut set_opt = |field: &mut ActiveValue<Option<String>>,
                                   old: &Option<String>,
                                   new: Option<&(String, u64)>| {
                    if let Some((v, _)) = new
                        && old.as_deref() != Some(v.as_str())
                    {
                        *field = Set(Some(v.clone()));
                        changed = true;
                    }
                };
                set_opt(&mut row.vendor, &e.vendor, f.vendor.as_ref());
                set_opt(
                    &mut row.product_type,
                    &e.product_type,
                    f.product_type.as_ref(),
                );
                if let Some((s, _)) = f.status
                    && s != e.status
                {
                    row.status = Set(s);
                    if s == ProductStatus::Active && e.published_at.is_none() {
                        row.published_at = Set(Some(now));
                    }
                    changed = true;
                }
                let old_tags = stored.tags.get(&e.id).cloned().unwrap_or_default();
                let tags_changed = tags.as_ref().is_some_and(|t| {
                    let mut a: Vec<String> = t.iter().map(|x| x.to_lowercase()).collect();
                    let mut b: Vec<String> = old_tags.iter().map(|x| x.to_lowercase()).collect();
                    a.sort();
                    b.sort();
                    a != b
                });
                if changed || tags_changed {
                    row.updated_at = Set(now);
                    let updated = row.update(tx).await?;
                    let new_tags = if tags_changed {
                        product_tag::Entity::delete_many()
                            .filter(product_tag::Column::ProductId.eq(e.id))
                            .exec(tx)
                            .await?;
                        let t = tags.clone().unwrap_or_default();
                        insert_tags(tx, e.id, &t).await?;
                        t
                    } else {
                        old_tags.clone()
                    };
                    changes.push(Change {
                        action: "product.import",
                        entity_type: "product",
                        entity_id: e.id.to_string(),
                        before: Some(product_snapshot(e, &old_tags)),
                        after: Some(product_snapshot(&updated, &new_tags)),
                    });
                    report.products_updated += 1;
                } else {
                    report.products_unchanged += 1;
                }
            }
        }
    }
    for chunk in new_products.chunks(BATCH) {
        product::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await?;
    }
    let new_handles: Vec<String> = planned
        .iter()
        .filter(|p| p.existing.is_none())
        .map(|p| p.handle.clone())
        .collect();
    let mut created: HashMap<i64, product::Model> = HashMap::new();
    for chunk in new_handles.chunks(BATCH) {
        for p in product::Entity::find()
            .filter(product::Column::Handle.is_in(chunk.iter().cloned()))
            .all(tx)
            .await?
        {
            product_ids.insert(p.handle.clone(), p.id);
            created.insert(p.id, p);
        }
    }
    report.products_created = created.len();
    for p in &planned {
        if p.existing.is_none()
            && let Some((t, _)) = &p.fields.tags
        {
            insert_tags(tx, product_ids[&p.handle], t).await?;
        }
    }
    progress(Stage::Writing, 0, total);
    // 2. Options and values the catalog lacks.
    let mut option_ids: HashMap<(i64, usize), i64> = HashMap::new();
    let mut new_options = Vec::new();
    for p in &planned {
        let pid = product_ids[&p.handle];
        let stored_opts = p.existing.as_ref().and_then(|e| stored.options.get(&e.id));
        for (i, (name, _)) in p.options.iter().enumerate() {
            match stored_opts.and_then(|o| o.get(i)) {
                Some((o, _)) => {
                    option_ids.insert((pid, i), o.id);
                }
                None => new_options.push(product_option::ActiveModel {
                    product_id: Set(pid),
                    name: Set(name.clone()),
                    position: Set(i32::try_from(i).unwrap_or(0)),
                    ..Default::default()
                }),
            }
        }
    }
    for chunk in new_options.chunks(BATCH) {
        product_option::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await?;
    }
    let created_ids: Vec<i64> = created.keys().copied().collect();
    for chunk in created_ids.chunks(BATCH) {
        for o in product_option::Entity::find()
            .filter(product_option::Column::ProductId.is_in(chunk.iter().copied()))
            .all(tx)
            .await?
        {
            option_ids.insert(
                (o.product_id, usize::try_from(o.position).unwrap_or(0)),
                o.id,
            );
        }
    }
    let mut new_values = Vec::new();
    let mut value_ids: HashMap<(i64, String), i64> = HashMap::new();
    let mut touched_options = Vec::new();
    for p in &planned {
        let pid = product_ids[&p.handle];
        let stored_opts = p.existing.as_ref().and_then(|e| stored.options.get(&e.id));
        for (i, (_, values)) in p.options.iter().enumerate() {
            let oid = option_ids[&(pid, i)];
            if let Some((_, vs)) = stored_opts.and_then(|o| o.get(i)) {
                for v in vs {
                    value_ids.insert((oid, v.value.to_lowercase()), v.id);
                }
            }
            let from = p.stored_values.get(i).copied().unwrap_or(0);
            if values.len() > from {
                touched_options.push(oid);
            }
            for (pos, v) in values.iter().enumerate().skip(from) {
                new_values.push(product_option_value::ActiveModel {
                    option_id: Set(oid),
                    value: Set(v.clone()),
                    position: Set(i32::try_from(pos).unwrap_or(0)),
                    ..Default::default()
                });
            }
        }
    }
    for chunk in new_values.chunks(BATCH) {
        product_option_value::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await?;
    }
    for chunk in touched_options.chunks(BATCH) {
        for v in product_option_value::Entity::find()
            .filter(product_option_value::Column::OptionId.is_in(chunk.iter().copied()))
            .all(tx)
            .await?
        {
            value_ids.insert((v.option_id, v.value.to_lowercase()), v.id);
        }
    }
    let value_id = |pid: i64, p: &PlannedProduct, picks: &[usize]| -> Vec<i64> {
        picks
            .iter()
            .enumerate()
            .filter_map(|(i, j)| {
                let oid = option_ids.get(&(pid, i))?;
                value_ids
                    .get(&(*oid, p.options[i].1[*j].to_lowercase()))
                    .copied()
            })
            .collect()
    };
    // 3. Variants: new ones in batches, changed ones one by one.
    let mut new_variants = Vec::new();
    let mut links = Vec::new();
    let mut variant_changes: Vec<(String, Vec<i64>)> = Vec::new();
    for p in &planned {
        let pid = product_ids[&p.handle];
        let mut position = stored
            .variants_of
            .get(&pid)
            .into_iter()
            .flatten()
            .map(|v| v.position + 1)
            .max()
            .unwrap_or(0);
        for v in &p.variants {
            let values = value_id(pid, p, &v.picks);
            match &v.existing {
                None => {
                    new_variants.push(variant::ActiveModel {
                        product_id: Set(pid),
                        sku: Set(v.sku.clone()),
                        title: Set(variant_title(p, &v.picks)),
                        position: Set(position),
                        weight_grams: Set(v.weight_grams),
                        barcode: Set(v.barcode.clone()),
                        track_inventory: Set(v.track_inventory.unwrap_or(true)),
                        allow_backorder: Set(v.allow_backorder.unwrap_or(false)),
                        tax_class: Set("standard".into()),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    });
                    variant_changes.push((v.sku.clone(), values));
                    position += 1;
                }
                Some(e) => {
                    let mut row: variant::ActiveModel = e.clone().into();
                    let mut changed = false;
                    if let Some(b) = &v.barcode
                        && e.barcode.as_ref() != Some(b)
                    {
                        row.barcode = Set(Some(b.clone()));
                        changed = true;
                    }
                    if v.weight_grams.is_some() && v.weight_grams != e.weight_grams {
                        row.weight_grams = Set(v.weight_grams);
                        changed = true;
                    }
                    if let Some(b) = v.allow_backorder
                        && b != e.allow_backorder
                    {
                        row.allow_backorder = Set(b);
                        changed = true;
                    }
                    if let Some(b) = v.track_inventory
                        && b != e.track_inventory
                    {
                        row.track_inventory = Set(b);
                        changed = true;
                    }
                    let mut old_values = stored.values_of.get(&e.id).cloned().unwrap_or_default();
                    old_values.sort_unstable();
                    let mut sorted = values.clone();
                    sorted.sort_unstable();
                    let values_changed = old_values != sorted;
                    if values_changed {
                        row.title = Set(variant_title(p, &v.picks));
                        variant_option_value::Entity::delete_many()
                            .filter(variant_option_value::Column::VariantId.eq(e.id))
                            .exec(tx)
                            .await?;
                        links.extend(values.iter().map(|vid| variant_option_value::ActiveModel {
                            variant_id: Set(e.id),
                            option_value_id: Set(*vid),
                        }));
                        changed = true;
                    }
                    if changed {
                        row.updated_at = Set(now);
                        let after = row.update(tx).await?;
                        changes.push(Change {
                            action: "variant.import",
                            entity_type: "variant",
                            entity_id: e.id.to_string(),
                            before: Some(variant_snapshot(e, &old_values)),
                            after: Some(variant_snapshot(&after, &sorted)),
                        });
                        report.variants_updated += 1;
                    } else {
                        report.variants_unchanged += 1;
                    }
                }
            }
        }
    }
    for chunk in new_variants.chunks(BATCH) {
        variant::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await?;
    }
    let mut variant_ids: HashMap<String, i64> = stored
        .variants_by_sku
        .iter()
        .map(|(k, v)| (k.clone(), v.id))
        .collect();
    let new_skus: Vec<String> = variant_changes.iter().map(|(s, _)| s.clone()).collect();
    for chunk in new_skus.chunks(BATCH) {
        for v in variant::Entity::find()
            .filter(variant::Column::Sku.is_in(chunk.iter().cloned()))
            .all(tx)
            .await?
        {
            variant_ids.insert(v.sku.clone(), v.id);
        }
    }
    report.variants_created = new_skus.len();
    for (sku, values) in &variant_changes {
        let id = variant_ids[sku];
        links.extend(values.iter().map(|vid| variant_option_value::ActiveModel {
            variant_id: Set(id),
            option_value_id: Set(*vid),
        }));
    }
    for chunk in links.chunks(BATCH) {
        variant_option_value::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await?;
    }
    // 4. Prices.
    let mut new_prices = Vec::new();
    for p in &planned {
        for v in &p.variants {
            let vid = variant_ids[&v.sku];
            for (channel_id, amount, compare) in &v.prices {
                let old = stored.prices.get(&(vid, *channel_id));
                let amount_minor = amount.or(old.map(|o| o.amount_minor)).unwrap_or(0);
                let compare_minor = compare.or(old.and_then(|o| o.compare_at_minor));
                if old.is_some_and(|o| {
                    o.amount_minor == amount_minor && o.compare_at_minor == compare_minor
                }) {
                    continue;
                }
                let snapshot =
                    |a: i64, c: Option<i64>| json!({ "amountMinor": a, "compareAtMinor": c });
                changes.push(Change {
                    action: "price.import",
                    entity_type: "variant_price",
                    entity_id: format!("{vid}@{channel_id}"),
                    before: old.map(|o| snapshot(o.amount_minor, o.compare_at_minor)),
                    after: Some(snapshot(amount_minor, compare_minor)),
                });
                report.prices_changed += 1;
                match old {
                    Some(o) => {
                        let mut row: variant_price::ActiveModel = o.clone().into();
                        row.amount_minor = Set(amount_minor);
                        row.compare_at_minor = Set(compare_minor);
                        row.update(tx).await?;
                    }
                    None => new_prices.push(variant_price::ActiveModel {
                        variant_id: Set(vid),
                        channel_id: Set(*channel_id),
                        customer_group_id: Set(None),
                        min_quantity: Set(1),
                        amount_minor: Set(amount_minor),
                        compare_at_minor: Set(compare_minor),
                        ..Default::default()
                    }),
                }
            }
        }
    }
    for chunk in new_prices.chunks(BATCH) {
        variant_price::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await?;
    }
    // 5. Images.
    let mut new_media = Vec::new();
    for p in &planned {
        let pid = product_ids[&p.handle];
        let first = stored
            .media
            .get(&pid)
            .into_iter()
            .flatten()
            .map(|m| m.position + 1)
            .max()
            .unwrap_or(0);
        for (position, (url, alt)) in (first..).zip(&p.images) {
            new_media.push(media::ActiveModel {
                product_id: Set(pid),
                url: Set(url.clone()),
                alt: Set(alt.clone()),
                position: Set(position),
                media_type: Set("image".into()),
                ..Default::default()
            });
            changes.push(Change {
                action: "media.import",
                entity_type: "product",
                entity_id: pid.to_string(),
                before: None,
                after: Some(json!({ "url": url, "alt": alt, "position": position })),
            });
        }
    }
    report.media_added = new_media.len();
    for chunk in new_media.chunks(BATCH) {
        media::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await?;
    }
    // Audit of the created products, whole.
    for p in &planned {
        let Some(c) = product_ids.get(&p.handle).and_then(|id| created.get(id)) else {
            continue;
        };
        let tags = p
            .fields
            .tags
            .as_ref()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        let mut after = product_snapshot(c, &tags);
        after["options"] = json!(
            p.options
                .iter()
                .map(|(n, v)| json!({ "name": n, "values": v }))
                .collect::<Vec<_>>()
        );
        after["variants"] = json!(p.variants.iter().map(|v| v.sku.clone()).collect::<Vec<_>>());
        changes.push(Change {
            action: "product.import",
            entity_type: "product",
            entity_id: c.id.to_string(),
            before: None,
            after: Some(after),
        });
    }
    audit::append(tx, head, actor, changes).await?;
    progress(Stage::Writing, total, total);
    // 6. Stock, as movements like any other sync.
    let stock: Vec<SetRow> = planned
        .iter()
        .flat_map(|p| &p.variants)
        .flat_map(|v| {
            v.inventory.iter().map(|(location, on_hand)| SetRow {
                variant: VariantRef::Sku(v.sku.clone()),
                location: location.clone(),
                on_hand: *on_hand,
                compare_quantity: None,
                source_at: None,
            })
        })
        .collect();
    if !stock.is_empty() {
        let ctx = inventory::Context {
            actor: actor.clone(),
            reason: "import".into(),
            reference: opts.reference.clone(),
            mode: inventory::Mode::Atomic,
        };
        let (results, _) = inventory::set_quantities_in(tx, head, &ctx, &stock).await?;
        report.stock_changed = results
            .iter()
            .filter(|r| r.status == RowStatus::Applied)
            .count();
    }
    Ok(())
}

/// Inserts a product's tags.
async fn insert_tags(
    tx: &DatabaseTransaction,
    product_id: i64,
    tags: &[String],
) -> DomainResult<()> {
    if tags.is_empty() {
        return Ok(());
    }
    product_tag::Entity::insert_many(tags.iter().map(|t| product_tag::ActiveModel {
        product_id: Set(product_id),
        tag: Set(t.clone()),
    }))
    .exec_without_returning(tx)
    .await?;
    Ok(())
}

/// A variant's fields and option values, as audit entries keep them.
fn variant_snapshot(v: &variant::Model, value_ids: &[i64]) -> serde_json::Value {
    json!({
        "sku": v.sku, "title": v.title, "barcode": v.barcode, "weightGrams": v.weight_grams,
        "allowBackorder": v.allow_backorder, "trackInventory": v.track_inventory,
        "optionValueIds": value_ids,
    })
}
