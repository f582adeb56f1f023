//! From checked rows to writes: rows grouped into products, compared with
//! what is stored, and only the differences written, in batches, in one
//! transaction with their audit entries.

use crate::domain::tx::begin_write;
use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{
    media, product, product_option, product_option_value, product_status::ProductStatus,
    product_tag, stock_location, variant, variant_option_value, variant_price,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::json;

use super::{
    Options, Problem, Report,
    csv_rows::{ProductCells, Row},
};
use crate::domain::{
    audit::{self, Actor, Change},
    catalog_admin::{clean_tags, snapshot as product_snapshot},
    channel::{self, Channel},
    error::{DomainError, DomainResult},
    inventory::{self, RowStatus, SetRow, VariantRef},
    money::Money,
};

/// Where an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading rows (done so far).
    Reading,
    /// Comparing with the catalog.
    Checking,
    /// Writing (products done, of total).
    Writing,
}

type Progress<'a> = &'a (dyn Fn(Stage, usize, usize) + Send + Sync);

/// Batch size of multi-row statements (within both backends' parameter limits).
const BATCH: usize = 500;

/// A product-level value and the line it came from.
type Cell<T> = Option<(T, u64)>;

#[derive(Default)]
struct Fields {
    title: Cell<String>,
    description: Cell<String>,
    vendor: Cell<String>,
    product_type: Cell<String>,
    tags: Cell<Vec<String>>,
    status: Cell<ProductStatus>,
}

/// The rows of one handle.
struct Group {
    handle: String,
    first_line: u64,
    fields: Fields,
    names: Cell<Vec<Option<String>>>,
    rows: Vec<Row>,
}

fn merge<T: PartialEq>(
    slot: &mut Cell<T>,
    value: Option<T>,
    line: u64,
    column: &str,
    problems: &mut Vec<Problem>,
) {
    let Some(v) = value else { return };
    match slot {
        None => *slot = Some((v, line)),
        Some((first, first_line)) if *first != v => problems.push(Problem::at(
            line,
            Some(column),
            format!("differs from line {first_line} of the same product"),
        )),
        Some(_) => {}
    }
}

fn group(rows: Vec<Row>, problems: &mut Vec<Problem>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut skus: HashMap<String, u64> = HashMap::new();
    for mut row in rows {
        if let Some(first) = skus.get(&row.sku) {
            problems.push(Problem::at(
                row.line,
                Some("sku"),
                format!("SKU `{}` is already on line {first}", row.sku),
            ));
            continue;
        }
        skus.insert(row.sku.clone(), row.line);
        let i = *index.entry(row.handle.clone()).or_insert_with(|| {
            groups.push(Group {
                handle: row.handle.clone(),
                first_line: row.line,
                fields: Fields::default(),
                names: None,
                rows: Vec::new(),
            });
            groups.len() - 1
        });
        let g = &mut groups[i];
        let cells = std::mem::take(&mut row.product);
        let ProductCells {
            title,
            description,
            vendor,
            product_type,
            tags,
            status,
        } = cells;
        let line = row.line;
        let f = &mut g.fields;
        merge(&mut f.title, title, line, "title", problems);
        merge(
            &mut f.description,
            description,
            line,
            "description",
            problems,
        );
        merge(&mut f.vendor, vendor, line, "vendor", problems);
        merge(&mut f.product_type, product_type, line, "type", problems);
        merge(
            &mut f.tags,
            tags.map(|t| clean_tags(&t)),
            line,
            "tags",
            problems,
        );
        merge(&mut f.status, status, line, "status", problems);
        if row.option_names.iter().any(Option::is_some) {
            let lower = |n: &[Option<String>]| -> Vec<Option<String>> {
                n.iter()
                    .map(|x| x.as_ref().map(|s| s.to_lowercase()))
                    .collect()
            };
            match &g.names {
                None => g.names = Some((row.option_names.clone(), line)),
                Some((names, first)) if lower(names) != lower(&row.option_names) => {
                    problems.push(Problem::at(
                        line,
                        Some("option1_name"),
                        format!("option names differ from line {first} of the same product"),
                    ));
                }
                Some(_) => {}
            }
        }
        g.rows.push(row);
    }
    groups
}

/// What is stored for the products and SKUs a file names.
#[derive(Default)]
struct Stored {
    products: HashMap<String, product::Model>,
    /// Options of each product, in order, each with its values in order.
    options: HashMap<i64, Vec<(product_option::Model, Vec<product_option_value::Model>)>>,
    tags: HashMap<i64, Vec<String>>,
    media: HashMap<i64, Vec<media::Model>>,
    variants_by_sku: HashMap<String, variant::Model>,
    variants_of: HashMap<i64, Vec<variant::Model>>,
    /// Option value ids of each variant.
    values_of: HashMap<i64, Vec<i64>>,
    /// Base prices by (variant, channel).
    prices: HashMap<(i64, i64), variant_price::Model>,
}

async fn load(
    db: &impl ConnectionTrait,
    handles: &[String],
    skus: &[String],
) -> DomainResult<Stored> {
    let mut s = Stored::default();
    for chunk in handles.chunks(BATCH) {
        for p in product::Entity::find()
            .filter(product::Column::Handle.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            s.products.insert(p.handle.clone(), p);
        }
    }
    let ids: Vec<i64> = s.products.values().map(|p| p.id).collect();
    let mut option_ids = Vec::new();
    for chunk in ids.chunks(BATCH) {
        let c = chunk.iter().copied();
        for o in product_option::Entity::find()
            .filter(product_option::Column::ProductId.is_in(c.clone()))
            .order_by_asc(product_option::Column::Position)
            .order_by_asc(product_option::Column::Id)
            .all(db)
            .await?
        {
            option_ids.push(o.id);
            s.options
                .entry(o.product_id)
                .or_default()
                .push((o, Vec::new()));
        }
        for t in product_tag::Entity::find()
            .filter(product_tag::Column::ProductId.is_in(c.clone()))
            .all(db)
            .await?
        {
            s.tags.entry(t.product_id).or_default().push(t.tag);
        }
        for m in media::Entity::find()
            .filter(media::Column::ProductId.is_in(c.clone()))
            .all(db)
            .await?
        {
            s.media.entry(m.product_id).or_default().push(m);
        }
        for v in variant::Entity::find()
            .filter(variant::Column::ProductId.is_in(c))
            .all(db)
            .await?
        {
            s.variants_by_sku.insert(v.sku.clone(), v.clone());
            s.variants_of.entry(v.product_id).or_default().push(v);
        }
    }
    let mut value_owner: HashMap<i64, (i64, usize)> = HashMap::new();
    for (product_id, opts) in &s.options {
        for (i, (o, _)) in opts.iter().enumerate() {
            value_owner.insert(o.id, (*product_id, i));
        }
    }
    for chunk in option_ids.chunks(BATCH) {
        for v in product_option_value::Entity::find()
            .filter(product_option_value::Column::OptionId.is_in(chunk.iter().copied()))
            .order_by_asc(product_option_value::Column::Position)
            .order_by_asc(product_option_value::Column::Id)
            .all(db)
            .await?
        {
            if let Some((p, i)) = value_owner.get(&v.option_id)
                && let Some(opts) = s.options.get_mut(p)
            {
                opts[*i].1.push(v);
            }
        }
    }
    let unknown: Vec<String> = skus
        .iter()
        .filter(|k| !s.variants_by_sku.contains_key(*k))
        .cloned()
        .collect();
    for chunk in unknown.chunks(BATCH) {
        for v in variant::Entity::find()
            .filter(variant::Column::Sku.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            s.variants_by_sku.insert(v.sku.clone(), v);
        }
    }
    let variant_ids: Vec<i64> = s.variants_by_sku.values().map(|v| v.id).collect();
    for chunk in variant_ids.chunks(BATCH) {
        for l in variant_option_value::Entity::find()
            .filter(variant_option_value::Column::VariantId.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            s.values_of
                .entry(l.variant_id)
                .or_default()
                .push(l.option_value_id);
        }
        for p in variant_price::Entity::find()
            .filter(variant_price::Column::VariantId.is_in(chunk.iter().copied()))
            .filter(variant_price::Column::CustomerGroupId.is_null())
            .filter(variant_price::Column::MinQuantity.eq(1))
            .all(db)
            .await?
        {
            s.prices.insert((p.variant_id, p.channel_id), p);
        }
    }
    Ok(s)
}

/// A variant as the file wants it.
struct PlannedVariant {
    line: u64,
    sku: String,
    existing: Option<variant::Model>,
    /// Index of the chosen value of each option.
    picks: Vec<usize>,
    barcode: Option<String>,
    weight_grams: Option<i32>,
    allow_backorder: Option<bool>,
    track_inventory: Option<bool>,
    /// (channel id, amount, compare-at; `None`: unchanged).
    prices: Vec<(i64, Option<i64>, Option<i64>)>,
    inventory: Vec<(String, i32)>,
}

/// A product as the file wants it.
struct PlannedProduct {
    handle: String,
    existing: Option<product::Model>,
    fields: Fields,
    /// Option names, and each option's values (stored ones first).
    options: Vec<(String, Vec<String>)>,
    /// How many values of each option are stored already.
    stored_values: Vec<usize>,
    variants: Vec<PlannedVariant>,
    images: Vec<(String, Option<String>)>,
}

struct Lookups {
    channels: HashMap<String, Channel>,
    default_channel: Option<Channel>,
    locations: HashSet<String>,
}

/// Checks one product's rows against the catalog; its plan, or `None` when
/// a product-level problem leaves all its rows out.
fn plan_product(
    g: Group,
    stored: &Stored,
    look: &Lookups,
    problems: &mut Vec<Problem>,
) -> Option<PlannedProduct> {
    let existing = stored.products.get(&g.handle).cloned();
    let before = problems.len();
    if existing.is_none() && g.fields.title.is_none() {
        problems.push(Problem::at(
            g.first_line,
            Some("title"),
            format!("new product `{}` needs a title", g.handle),
        ));
    }
    // Options: the stored ones for an existing product, else the file's.
    let stored_options = existing
        .as_ref()
        .and_then(|p| stored.options.get(&p.id))
        .cloned()
        .unwrap_or_default();
    let file_names: Vec<String> = match &g.names {
        None => Vec::new(),
        Some((names, line)) => {
            let given: Vec<String> = names.iter().map_while(Clone::clone).collect();
            let mut seen = HashSet::new();
            if given.len() != names.iter().flatten().count()
                || !given.iter().all(|n| seen.insert(n.to_lowercase()))
            {
                problems.push(Problem::at(
                    *line,
                    Some("option1_name"),
                    "option names must be distinct and fill option1, option2, option3 in order",
                ));
            }
            given
        }
    };
    let mut options: Vec<(String, Vec<String>)> = if let Some(p) = &existing {
        let names: Vec<String> = stored_options.iter().map(|(o, _)| o.name.clone()).collect();
        let differs = !file_names.is_empty()
            && (file_names.len() != names.len()
                || file_names
                    .iter()
                    .zip(&names)
                    .any(|(a, b)| !a.eq_ignore_ascii_case(b)));
        let has_variants = stored.variants_of.get(&p.id).is_some_and(|v| !v.is_empty());
        if differs && (has_variants || !names.is_empty()) {
            problems.push(Problem::at(
                g.names.as_ref().map_or(g.first_line, |(_, l)| *l),
                Some("option1_name"),
                format!(
                    "`{}` has options [{}]; an import does not change a product's options",
                    g.handle,
                    names.join(", ")
                ),
            ));
        }
        stored_options
            .iter()
            .map(|(o, vs)| (o.name.clone(), vs.iter().map(|v| v.value.clone()).collect()))
            .collect()
    } else {
        file_names.iter().map(|n| (n.clone(), Vec::new())).collect()
    };
    let stored_values: Vec<usize> = options.iter().map(|(_, v)| v.len()).collect();
    if problems.len() > before {
        return None;
    }
    let product_id = existing.as_ref().map(|p| p.id);
    // Option combinations already taken by stored variants the file leaves alone.
    let file_skus: HashSet<&str> = g.rows.iter().map(|r| r.sku.as_str()).collect();
    let value_index: HashMap<i64, (usize, usize)> = stored_options
        .iter()
        .enumerate()
        .flat_map(|(i, (_, vs))| vs.iter().enumerate().map(move |(j, v)| (v.id, (i, j))))
        .collect();
    let picks_of = |variant_id: i64| -> Vec<usize> {
        let mut picks = vec![0; stored_options.len()];
        for id in stored.values_of.get(&variant_id).into_iter().flatten() {
            if let Some((i, j)) = value_index.get(id) {
                picks[*i] = *j;
            }
        }
        picks
    };
    let mut combos: HashMap<Vec<usize>, String> = HashMap::new();
    for v in product_id
        .and_then(|id| stored.variants_of.get(&id))
        .into_iter()
        .flatten()
    {
        if !file_skus.contains(v.sku.as_str()) {
            combos.insert(picks_of(v.id), v.sku.clone());
        }
    }
    let mut variants = Vec::new();
    let mut images: Vec<(String, Option<String>)> = Vec::new();
    let known_images: HashSet<&str> = product_id
        .and_then(|id| stored.media.get(&id))
        .into_iter()
        .flatten()
        .map(|m| m.url.as_str())
        .collect();
    for row in g.rows {
        let line = row.line;
        let before = problems.len();
        let existing_variant = stored.variants_by_sku.get(&row.sku).cloned();
        if let Some(v) = &existing_variant
            && Some(v.product_id) != product_id
        {
            problems.push(Problem::at(
                line,
                Some("sku"),
                format!("SKU `{}` belongs to another product", row.sku),
            ));
        }
        // Values: one per option, each mapped to its one spelling.
        let mut picks = Vec::new();
        let mut added = Vec::new();
        for (i, value) in row.option_values.iter().enumerate() {
            match (options.get_mut(i), value) {
                (Some((_, values)), Some(v)) => {
                    let pick = match values.iter().position(|x| x.eq_ignore_ascii_case(v)) {
                        Some(p) => p,
                        None => {
                            values.push(v.clone());
                            added.push(i);
                            values.len() - 1
                        }
                    };
                    picks.push(pick);
                }
                (Some((name, _)), None) => problems.push(Problem::at(
                    line,
                    Some(&format!("option{}_value", i + 1)),
                    format!("a value for option `{name}` is required"),
                )),
                (None, Some(v)) => problems.push(Problem::at(
                    line,
                    Some(&format!("option{}_value", i + 1)),
                    format!("value `{v}` for an option the product does not have"),
                )),
                (None, None) => {}
            }
        }
        if picks.len() == options.len() {
            if let Some(other) = combos.get(&picks) {
                problems.push(Problem::at(
                    line,
                    Some("option1_value"),
                    format!("SKU `{other}` already has these option values"),
                ));
            } else if problems.len() == before {
                combos.insert(picks.clone(), row.sku.clone());
            }
        }
        // Prices.
        let mut prices = Vec::new();
        for (code, amount, compare) in &row.prices {
            let column = |base: &str| match code {
                Some(c) => format!("{base}:{c}"),
                None => base.to_owned(),
            };
            let ch = match code {
                Some(c) => look.channels.get(c),
                None => look.default_channel.as_ref(),
            };
            let Some(ch) = ch else {
                problems.push(Problem::at(
                    line,
                    Some(&column("price")),
                    format!(
                        "no channel `{}`",
                        code.as_deref().unwrap_or("(the import's channel)")
                    ),
                ));
                continue;
            };
            let minor = |d: rust_decimal::Decimal| Money::from_decimal(d, ch.currency).to_minor();
            let amount_minor = amount.map(minor);
            let compare_minor = compare.map(minor);
            if amount_minor == Some(None) || compare_minor == Some(None) {
                problems.push(Problem::at(
                    line,
                    Some(&column("price")),
                    "the price is too large",
                ));
                continue;
            }
            prices.push((ch.id, amount_minor.flatten(), compare_minor.flatten()));
        }
        let priced = |v: &variant::Model| {
            look.channels
                .values()
                .any(|c| stored.prices.contains_key(&(v.id, c.id)))
        };
        let has_price = prices.iter().any(|(_, a, _)| a.is_some());
        if !has_price && !existing_variant.as_ref().is_some_and(priced) {
            problems.push(Problem::at(
                line,
                Some("price"),
                "a new variant needs a price",
            ));
        }
        for (_, a, _) in &prices {
            if a.is_none() && !existing_variant.as_ref().is_some_and(priced) {
                problems.push(Problem::at(
                    line,
                    Some("compare_at_price"),
                    "a compare-at price needs a price in its channel",
                ));
                break;
            }
        }
        for (location, _) in &row.inventory {
            if !look.locations.contains(location) {
                problems.push(Problem::at(
                    line,
                    Some(&format!("inventory:{location}")),
                    format!("no stock location `{location}`"),
                ));
            }
        }
        if problems.len() > before {
            // Leave out what only this row brought.
            for i in added {
                options[i].1.pop();
            }
            combos.retain(|_, sku| *sku != row.sku);
            continue;
        }
        if let Some((url, alt)) = row.image
            && !known_images.contains(url.as_str())
            && !images.iter().any(|(u, _)| *u == url)
        {
            images.push((url, alt));
        }
        variants.push(PlannedVariant {
            line,
            sku: row.sku,
            existing: existing_variant,
            picks,
            barcode: row.barcode,
            weight_grams: row.weight_grams,
            allow_backorder: row.allow_backorder,
            track_inventory: row.track_inventory,
            prices,
            inventory: row.inventory,
        });
    }
    // A product none of whose rows passed is left alone.
    if variants.is_empty() {
        return None;
    }
    Some(PlannedProduct {
        handle: g.handle,
        existing,
        fields: g.fields,
        options: std::mem::take(&mut options),
        stored_values,
        variants,
        images,
    })
}

/// Imports checked rows (see the module documentation of `import`).
pub(super) async fn run_rows(
    db: &DatabaseConnection,
    actor: &Actor,
    rows: Vec<Row>,
    mut problems: Vec<Problem>,
    count: usize,
    opts: &Options,
    progress: Progress<'_>,
) -> DomainResult<Report> {
    progress(Stage::Checking, 0, count);
    let groups = group(rows, &mut problems);
    let handles: Vec<String> = groups.iter().map(|g| g.handle.clone()).collect();
    let skus: Vec<String> = groups
        .iter()
        .flat_map(|g| g.rows.iter().map(|r| r.sku.clone()))
        .collect();
    let channels: HashMap<String, Channel> = channel::list(db)
        .await?
        .into_iter()
        .map(|c| (c.code.clone(), c))
        .collect();
    let default_channel = match channel::resolve(db, opts.channel.as_deref(), None).await {
        Ok(c) => Some(c),
        Err(DomainError::UnknownChannel(_)) => None,
        Err(e) => return Err(e),
    };
    if default_channel.is_none() {
        problems.push(Problem::at(
            1,
            None,
            format!(
                "no channel `{}`",
                opts.channel.as_deref().unwrap_or("(default)")
            ),
        ));
    }
    let look = Lookups {
        channels,
        default_channel,
        locations: stock_location::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|l| l.code)
            .collect(),
    };
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let stored = load(&tx, &handles, &skus).await?;
    let mut planned = Vec::with_capacity(groups.len());
    for g in groups {
        if let Some(p) = plan_product(g, &stored, &look, &mut problems) {
            planned.push(p);
        }
    }
    problems.sort_by_key(|p| p.line);
    let bad_lines: HashSet<u64> = problems.iter().map(|p| p.line).collect();
    let kept: usize = planned.iter().map(|p| p.variants.len()).sum();
    let mut report = Report {
        rows: count,
        rows_skipped: count.saturating_sub(kept),
        dry_run: opts.dry_run,
        ..Default::default()
    };
    debug_assert!(
        planned
            .iter()
            .flat_map(|p| &p.variants)
            .all(|v| !bad_lines.contains(&v.line))
    );
    if !problems.is_empty() && !opts.allow_partial {
        report.problems = problems;
        tx.rollback().await?;
        return Ok(report);
    }
    report.problems = problems;
    write(
        &tx,
        &mut head,
        actor,
        opts,
        &stored,
        planned,
        &mut report,
        progress,
    )
    .await?;
    if opts.dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
        report.applied = true;
    }
    Ok(report)
}

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
async fn write(
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
                let mut set = |field: &mut sea_orm::ActiveValue<String>,
                               old: &str,
                               new: Option<&(String, u64)>| {
                    if let Some((v, _)) = new
                        && v != old
                    {
                        *field = Set(v.clone());
                        changed = true;
                    }
                };
                set(&mut row.title, &e.title, f.title.as_ref());
                set(&mut row.description, &e.description, f.description.as_ref());
                let mut set_opt = |field: &mut sea_orm::ActiveValue<Option<String>>,
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

fn variant_snapshot(v: &variant::Model, value_ids: &[i64]) -> serde_json::Value {
    json!({
        "sku": v.sku, "title": v.title, "barcode": v.barcode, "weightGrams": v.weight_grams,
        "allowBackorder": v.allow_backorder, "trackInventory": v.track_inventory,
        "optionValueIds": value_ids,
    })
}
