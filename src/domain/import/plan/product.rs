//! One product's plan: its rows checked against the catalog (options,
//! option values, combinations, prices, stock locations), giving the
//! product and variants as the file wants them, or nothing when a
//! product-level problem leaves all its rows out.

use std::collections::{HashMap, HashSet};

use entity::{product, variant};
use rust_decimal::Decimal;

use super::{
    group::{Fields, Group},
    stored::Stored,
};
use crate::domain::{channel::Channel, import::Problem, money::Money};

/// A variant as the file wants it.
pub(super) struct PlannedVariant {
    pub(super) line: u64,
    pub(super) sku: String,
    pub(super) existing: Option<variant::Model>,
    /// Index of the chosen value of each option.
    pub(super) picks: Vec<usize>,
    pub(super) barcode: Option<String>,
    pub(super) weight_grams: Option<i32>,
    pub(super) allow_backorder: Option<bool>,
    pub(super) track_inventory: Option<bool>,
    /// (channel id, amount, compare-at; `None`: unchanged).
    pub(super) prices: Vec<(i64, Option<i64>, Option<i64>)>,
    pub(super) inventory: Vec<(String, i32)>,
}

/// A product as the file wants it.
pub(super) struct PlannedProduct {
    pub(super) handle: String,
    pub(super) existing: Option<product::Model>,
    pub(super) fields: Fields,
    /// Option names, and each option's values (stored ones first).
    pub(super) options: Vec<(String, Vec<String>)>,
    /// How many values of each option are stored already.
    pub(super) stored_values: Vec<usize>,
    pub(super) variants: Vec<PlannedVariant>,
    pub(super) images: Vec<(String, Option<String>)>,
}

/// What rows may name: channels by code, the import's channel, and
/// stock locations by code.
pub(super) struct Lookups {
    pub(super) channels: HashMap<String, Channel>,
    pub(super) default_channel: Option<Channel>,
    pub(super) locations: HashSet<String>,
}

/// Checks one product's rows against the catalog; its plan, or `None` when
/// a product-level problem leaves all its rows out.
pub(super) fn plan_product(
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
            let minor = |d: Decimal| Money::from_decimal(d, ch.currency).to_minor();
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
