//! Reading the import CSV: header names to columns, cells to typed,
//! normalized values, and a problem (with its line) for every bad cell.

use std::collections::HashMap;

use entity::product_status::ProductStatus;
use rust_decimal::{Decimal, prelude::ToPrimitive};

use super::Problem;
use crate::domain::catalog_admin::{MAX_OPTIONS, valid_handle};

/// Most options a product may have (as in catalog administration).
const OPTIONS: usize = MAX_OPTIONS;

/// What a header names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Col {
    Handle,
    Title,
    Description,
    Vendor,
    Type,
    Tags,
    Status,
    OptionName(usize),
    OptionValue(usize),
    Sku,
    Barcode,
    Weight,
    WeightUnit,
    AllowBackorder,
    TrackInventory,
    /// Price in a channel (`None`: the import's channel).
    Price(Option<String>),
    /// Compare-at price in a channel.
    CompareAt(Option<String>),
    /// On-hand quantity at a stock location.
    Inventory(String),
    ImageSrc,
    ImageAlt,
}

/// The column a header names, matched without regard to case, spaces,
/// dashes or a `variant_` prefix, so exports of other shops mostly load.
pub(super) fn column(header: &str) -> Option<Col> {
    let h = header.trim().trim_start_matches('\u{feff}');
    if let Some((kind, qualifier)) = h.split_once(':') {
        let q = qualifier.trim().to_owned();
        if q.is_empty() {
            return None;
        }
        return match canonical(kind).as_str() {
            "price" => Some(Col::Price(Some(q))),
            "compare_at_price" => Some(Col::CompareAt(Some(q))),
            "inventory" | "inventory_qty" => Some(Col::Inventory(q)),
            _ => None,
        };
    }
    let name = canonical(h);
    let option = |rest: &str| -> Option<(usize, bool)> {
        let (n, what) = rest.split_once('_')?;
        let n: usize = n.parse().ok()?;
        (1..=OPTIONS)
            .contains(&n)
            .then_some((n - 1, what == "name"))
            .filter(|_| what == "name" || what == "value")
    };
    if let Some(rest) = name.strip_prefix("option") {
        return option(rest).map(|(i, is_name)| {
            if is_name {
                Col::OptionName(i)
            } else {
                Col::OptionValue(i)
            }
        });
    }
    Some(match name.as_str() {
        "handle" => Col::Handle,
        "title" => Col::Title,
        "description" | "body" | "body_html" => Col::Description,
        "vendor" | "brand" => Col::Vendor,
        "type" | "product_type" => Col::Type,
        "tags" => Col::Tags,
        "status" => Col::Status,
        "sku" => Col::Sku,
        "barcode" | "gtin" => Col::Barcode,
        "weight" | "grams" | "weight_grams" => Col::Weight,
        "weight_unit" => Col::WeightUnit,
        "allow_backorder" => Col::AllowBackorder,
        "track_inventory" => Col::TrackInventory,
        "price" => Col::Price(None),
        "compare_at_price" => Col::CompareAt(None),
        "image_src" | "image" | "image_url" => Col::ImageSrc,
        "image_alt" | "image_alt_text" => Col::ImageAlt,
        _ => return None,
    })
}

fn canonical(h: &str) -> String {
    let lower = h.trim().to_lowercase().replace([' ', '-'], "_");
    lower.strip_prefix("variant_").unwrap_or(&lower).to_owned()
}

/// One product-level field as a row gives it (`None`: blank, unchanged).
#[derive(Debug, Clone, Default)]
pub(super) struct ProductCells {
    pub title: Option<String>,
    pub description: Option<String>,
    pub vendor: Option<String>,
    pub product_type: Option<String>,
    pub tags: Option<Vec<String>>,
    pub status: Option<ProductStatus>,
}

/// One data row, checked cell by cell.
#[derive(Debug, Clone, Default)]
pub(super) struct Row {
    pub line: u64,
    pub handle: String,
    pub product: ProductCells,
    /// Option names given on this row (normalized), in order.
    pub option_names: Vec<Option<String>>,
    /// Option values given on this row (normalized), in order.
    pub option_values: Vec<Option<String>>,
    pub sku: String,
    pub barcode: Option<String>,
    pub weight_grams: Option<i32>,
    pub allow_backorder: Option<bool>,
    pub track_inventory: Option<bool>,
    /// (channel code or `None` for the import's channel, price, compare-at).
    pub prices: Vec<(Option<String>, Option<Decimal>, Option<Decimal>)>,
    /// (location code, on hand).
    pub inventory: Vec<(String, i32)>,
    pub image: Option<(String, Option<String>)>,
}

/// The header, mapped; unknown or repeated headers are problems on line 1.
pub(super) fn header(record: &csv::StringRecord) -> Result<Vec<Col>, Vec<Problem>> {
    let mut cols = Vec::with_capacity(record.len());
    let mut problems = Vec::new();
    for h in record {
        match column(h) {
            Some(c) if cols.contains(&c) => problems.push(Problem::at(
                1,
                Some(h),
                format!("column `{}` appears twice", h.trim()),
            )),
            Some(c) => cols.push(c),
            None => problems.push(Problem::at(
                1,
                Some(h),
                format!("unknown column `{}`", h.trim()),
            )),
        }
    }
    for (needed, name) in [(Col::Handle, "handle"), (Col::Sku, "sku")] {
        if !cols.contains(&needed) {
            problems.push(Problem::at(
                1,
                None,
                format!("the `{name}` column is required"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(cols)
    } else {
        Err(problems)
    }
}

/// Collapses runs of whitespace and trims.
pub(super) fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Units an option value may carry, with their one spelling.
const UNITS: &[(&str, &str)] = &[
    ("mg", "mg"),
    ("g", "g"),
    ("kg", "kg"),
    ("ml", "ml"),
    ("cl", "cl"),
    ("l", "L"),
    ("mm", "mm"),
    ("cm", "cm"),
    ("m", "m"),
    ("oz", "oz"),
    ("lb", "lb"),
    ("lbs", "lb"),
    ("in", "in"),
];

/// One spelling per value: whitespace squashed, and a number with a unit
/// written `250 ml` whether the file says `250ML`, `250 ml` or `250 Ml`.
pub(super) fn normalize_value(raw: &str) -> String {
    let v = squash(raw);
    let split = v
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == ','))
        .map_or(v.len(), |(i, _)| i);
    let (number, unit) = v.split_at(split);
    let unit = unit.trim();
    if number.is_empty() || number.starts_with(['.', ',']) || unit.is_empty() {
        return v;
    }
    match UNITS.iter().find(|(u, _)| u.eq_ignore_ascii_case(unit)) {
        Some((_, spelling)) => format!("{number} {spelling}"),
        None => v,
    }
}

/// An option name: squashed, first letter upper-case (`size ` → `Size`).
pub(super) fn normalize_name(raw: &str) -> String {
    let v = squash(raw);
    let mut chars = v.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => v,
    }
}

/// Grams in one unit.
fn grams_per(unit: &str) -> Option<Decimal> {
    Some(match unit.trim().to_lowercase().as_str() {
        "" | "g" | "gram" | "grams" => Decimal::ONE,
        "kg" | "kilogram" | "kilograms" => Decimal::from(1000),
        "mg" => Decimal::new(1, 3),
        "lb" | "lbs" | "pound" | "pounds" => Decimal::new(45_359_237, 5),
        "oz" | "ounce" | "ounces" => Decimal::new(28_349_523_125, 9),
        _ => return None,
    })
}

/// A weight (`250`, `250 g`, `1.2kg`, `8 oz`) in whole grams.
pub(super) fn weight_grams(cell: &str, unit_column: Option<&str>) -> Result<i32, String> {
    let cell = cell.trim();
    let split = cell
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map_or(cell.len(), |(i, _)| i);
    let (number, unit) = cell.split_at(split);
    let unit = if unit.trim().is_empty() {
        unit_column.unwrap_or("")
    } else {
        unit
    };
    let number: Decimal = number
        .parse()
        .map_err(|_| format!("`{cell}` is not a weight such as `250 g` or `1.2 kg`"))?;
    let per = grams_per(unit).ok_or_else(|| format!("unknown weight unit `{}`", unit.trim()))?;
    (number * per)
        .round()
        .to_i32()
        .filter(|g| *g <= 10_000_000)
        .ok_or_else(|| format!("`{cell}` is too heavy"))
}

fn boolean(cell: &str) -> Option<bool> {
    match cell.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

fn money(cell: &str) -> Result<Decimal, String> {
    let d: Decimal = cell
        .trim()
        .parse()
        .map_err(|_| format!("`{}` is not an amount such as `19.90`", cell.trim()))?;
    if d.is_sign_negative() {
        return Err("prices cannot be negative".into());
    }
    Ok(d)
}

fn valid_url(u: &str) -> bool {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !r.chars().any(char::is_whitespace)
    }) && u.len() <= 2048
}

/// Reads one data row; every bad cell is a problem on its line.
pub(super) fn row(
    line: u64,
    cols: &[Col],
    record: &csv::StringRecord,
    problems: &mut Vec<Problem>,
) -> Option<Row> {
    let before = problems.len();
    let mut r = Row {
        line,
        option_names: vec![None; OPTIONS],
        option_values: vec![None; OPTIONS],
        ..Default::default()
    };
    let mut prices: HashMap<Option<String>, (Option<Decimal>, Option<Decimal>)> = HashMap::new();
    let mut weight = None;
    let mut weight_unit = None;
    let mut image_alt = None;
    let mut image_src = None;
    for (col, cell) in cols.iter().zip(record.iter()) {
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        let mut bad = |message: String| {
            problems.push(Problem::at(line, Some(&header_name(col)), message));
        };
        match col {
            Col::Handle => r.handle = cell.to_lowercase(),
            Col::Title => r.product.title = Some(squash(cell)),
            Col::Description => r.product.description = Some(cell.to_owned()),
            Col::Vendor => r.product.vendor = Some(squash(cell)),
            Col::Type => r.product.product_type = Some(squash(cell)),
            Col::Tags => r.product.tags = Some(cell.split(',').map(squash).collect()),
            Col::Status => match cell.to_lowercase().as_str() {
                "draft" => r.product.status = Some(ProductStatus::Draft),
                "active" => r.product.status = Some(ProductStatus::Active),
                "archived" => r.product.status = Some(ProductStatus::Archived),
                _ => bad(format!(
                    "status `{cell}` is not one of draft, active, archived"
                )),
            },
            Col::OptionName(i) => r.option_names[*i] = Some(normalize_name(cell)),
            Col::OptionValue(i) => r.option_values[*i] = Some(normalize_value(cell)),
            Col::Sku => r.sku = cell.to_owned(),
            Col::Barcode => r.barcode = Some(cell.to_owned()),
            Col::Weight => weight = Some(cell),
            Col::WeightUnit => weight_unit = Some(cell),
            Col::AllowBackorder | Col::TrackInventory => match boolean(cell) {
                Some(b) if *col == Col::AllowBackorder => r.allow_backorder = Some(b),
                Some(b) => r.track_inventory = Some(b),
                None => bad(format!("`{cell}` is not true or false")),
            },
            Col::Price(ch) => match money(cell) {
                Ok(d) => prices.entry(ch.clone()).or_default().0 = Some(d),
                Err(e) => bad(e),
            },
            Col::CompareAt(ch) => match money(cell) {
                Ok(d) => prices.entry(ch.clone()).or_default().1 = Some(d),
                Err(e) => bad(e),
            },
            Col::Inventory(location) => match cell.parse::<i32>() {
                Ok(n) if n >= 0 => r.inventory.push((location.clone(), n)),
                _ => bad(format!("`{cell}` is not a quantity of 0 or more")),
            },
            Col::ImageSrc => {
                if valid_url(cell) {
                    image_src = Some(cell.to_owned());
                } else {
                    bad(format!("`{cell}` is not an http(s) URL"));
                }
            }
            Col::ImageAlt => image_alt = Some(squash(cell)),
        }
    }
    if let Some(w) = weight {
        match weight_grams(w, weight_unit) {
            Ok(g) => r.weight_grams = Some(g),
            Err(e) => problems.push(Problem::at(line, Some("weight"), e)),
        }
    }
    r.image = image_src.map(|src| (src, image_alt));
    if r.handle.is_empty() {
        problems.push(Problem::at(line, Some("handle"), "the handle is required"));
    } else if !valid_handle(&r.handle) {
        problems.push(Problem::at(
            line,
            Some("handle"),
            format!(
                "handle `{}`: lower-case letters, digits and dashes only",
                r.handle
            ),
        ));
    }
    if r.sku.is_empty() || r.sku.len() > 128 {
        problems.push(Problem::at(
            line,
            Some("sku"),
            "a SKU has 1 to 128 characters",
        ));
    }
    let mut prices: Vec<_> = prices
        .into_iter()
        .map(|(ch, (price, compare))| (ch, price, compare))
        .collect();
    prices.sort_by(|a, b| a.0.cmp(&b.0));
    r.prices = prices;
    (problems.len() == before).then_some(r)
}

/// The header a column is read from, for problems.
fn header_name(col: &Col) -> String {
    match col {
        Col::Handle => "handle".into(),
        Col::Title => "title".into(),
        Col::Description => "description".into(),
        Col::Vendor => "vendor".into(),
        Col::Type => "type".into(),
        Col::Tags => "tags".into(),
        Col::Status => "status".into(),
        Col::OptionName(i) => format!("option{}_name", i + 1),
        Col::OptionValue(i) => format!("option{}_value", i + 1),
        Col::Sku => "sku".into(),
        Col::Barcode => "barcode".into(),
        Col::Weight => "weight".into(),
        Col::WeightUnit => "weight_unit".into(),
        Col::AllowBackorder => "allow_backorder".into(),
        Col::TrackInventory => "track_inventory".into(),
        Col::Price(None) => "price".into(),
        Col::Price(Some(c)) => format!("price:{c}"),
        Col::CompareAt(None) => "compare_at_price".into(),
        Col::CompareAt(Some(c)) => format!("compare_at_price:{c}"),
        Col::Inventory(l) => format!("inventory:{l}"),
        Col::ImageSrc => "image_src".into(),
        Col::ImageAlt => "image_alt".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_from_other_shops_map_to_columns() {
        assert_eq!(column("Variant SKU"), Some(Col::Sku));
        assert_eq!(column("Body (HTML)"), None);
        assert_eq!(column("body_html"), Some(Col::Description));
        assert_eq!(column("Option1 Name"), Some(Col::OptionName(0)));
        assert_eq!(column("option3_value"), Some(Col::OptionValue(2)));
        assert_eq!(column("Option4 Name"), None);
        assert_eq!(column("Price: eu"), Some(Col::Price(Some("eu".into()))));
        assert_eq!(
            column("inventory:warehouse"),
            Some(Col::Inventory("warehouse".into()))
        );
        assert_eq!(
            column("Variant Compare At Price"),
            Some(Col::CompareAt(None))
        );
    }

    #[test]
    fn values_get_one_spelling() {
        assert_eq!(normalize_value("  250ML "), "250 ml");
        assert_eq!(normalize_value("250 ml"), "250 ml");
        assert_eq!(normalize_value("1l"), "1 L");
        assert_eq!(normalize_value("Extra   Large"), "Extra Large");
        assert_eq!(normalize_value("XL"), "XL");
        assert_eq!(normalize_value("2 Pack"), "2 Pack");
        assert_eq!(normalize_name(" size "), "Size");
    }

    #[test]
    fn weights_become_grams() {
        assert_eq!(weight_grams("250", None), Ok(250));
        assert_eq!(weight_grams("1.2kg", None), Ok(1200));
        assert_eq!(weight_grams("1.2", Some("kg")), Ok(1200));
        assert_eq!(weight_grams("8 oz", None), Ok(227));
        assert_eq!(weight_grams("1 lb", None), Ok(454));
        assert!(weight_grams("heavy", None).is_err());
        assert!(weight_grams("3 stone", None).is_err());
    }
}
