//! Product feeds for marketplaces and ads channels: the active catalog of a
//! channel, one item per variant, as CSV or JSON, produced page by page so a
//! large catalog streams out in constant memory.
//!
//! Columns (the names Google Merchant Center and most marketplaces read):
//! `id` (SKU), `item_group_id` (product handle), `title`, `description`,
//! `link`, `image_link`, `availability` (`in_stock`, `out_of_stock`,
//! `backorder`), `price` (`34.99 USD`), `brand` (vendor), `gtin` (barcode).
//! Variants without a price in the channel are left out: they cannot be sold
//! there.
//!
//! Links percent-encode the handle and SKU they carry. In CSV, a cell that
//! starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
//! `'`, so a spreadsheet opening the feed shows the text instead of running
//! it as a formula; JSON carries values as they are.

use std::{borrow::Cow, collections::HashMap};

use bytes::Bytes;
use entity::{product, product_status::ProductStatus};
use futures_util::Stream;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::{
    catalog,
    channel::Channel,
    error::{DomainError, DomainResult},
    money::Money,
};

/// Products read per page.
const PAGE: u64 = 200;

/// What a path segment or query value of a link escapes: everything but
/// the unreserved characters of RFC 3986.
const URL_PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `value` as CSV shows it safely: with a leading `'` when a spreadsheet
/// would take it for a formula.
fn csv_cell(value: &str) -> Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// One feed item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// The variant's SKU.
    pub id: String,
    /// The product's handle: variants of one product share it.
    pub item_group_id: String,
    /// Product title, with the variant's title unless it is the only one.
    pub title: String,
    /// Product description.
    pub description: String,
    /// The product page on the storefront.
    pub link: String,
    /// The product's first image.
    pub image_link: Option<String>,
    /// `in_stock`, `out_of_stock` or `backorder`.
    pub availability: &'static str,
    /// Price with currency, e.g. `34.99 USD`.
    pub price: String,
    /// Vendor.
    pub brand: Option<String>,
    /// Barcode (GTIN).
    pub gtin: Option<String>,
}

/// The feed's encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// One JSON array of objects.
    Json,
}

impl Format {
    /// The media type of the encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            _ => Err("expected `csv` or `json`".into()),
        }
    }
}

/// The items of active products with ids above `after`, at most `PAGE`
/// products; also the last product id read (`None` at the end).
pub async fn page(
    db: &DatabaseConnection,
    channel: &Channel,
    after: i64,
    link_base: &str,
) -> DomainResult<(Vec<Item>, Option<i64>)> {
    let products = product::Entity::find()
        .filter(product::Column::Status.eq(ProductStatus::Active))
        .filter(product::Column::Id.gt(after))
        .order_by_asc(product::Column::Id)
        .limit(PAGE)
        .all(db)
        .await?;
    let Some(last) = products.last().map(|p| p.id) else {
        return Ok((Vec::new(), None));
    };
    let ids: Vec<i64> = products.iter().map(|p| p.id).collect();
    let variants = catalog::variants_of_products(db, &ids).await?;
    let variant_ids: Vec<i64> = variants.iter().map(|v| v.id).collect();
    let prices: HashMap<i64, i64> = catalog::base_prices(db, &variant_ids, &[channel.id])
        .await?
        .into_iter()
        .map(|p| (p.variant_id, p.amount_minor))
        .collect();
    let stock: HashMap<i64, catalog::StockSummary> = catalog::stock_of_variants(db, &variant_ids)
        .await?
        .into_iter()
        .map(|s| (s.variant_id, s))
        .collect();
    let mut images: HashMap<i64, String> = HashMap::new();
    for m in catalog::media_of_products(db, &ids).await? {
        images.entry(m.product_id).or_insert(m.url);
    }
    let mut per_product: HashMap<i64, usize> = HashMap::new();
    for v in &variants {
        *per_product.entry(v.product_id).or_default() += 1;
    }
    let by_id: HashMap<i64, &product::Model> = products.iter().map(|p| (p.id, p)).collect();
    let base = link_base.trim_end_matches('/');
    let mut items = Vec::with_capacity(variants.len());
    for v in &variants {
        let (Some(p), Some(minor)) = (by_id.get(&v.product_id), prices.get(&v.id)) else {
            continue;
        };
        let a = catalog::availability(v, stock.get(&v.id), true);
        let availability = if a.currently_not_in_stock {
            "backorder"
        } else if a.available_for_sale {
            "in_stock"
        } else {
            "out_of_stock"
        };
        let single = per_product.get(&p.id).copied().unwrap_or(1) <= 1;
        items.push(Item {
            id: v.sku.clone(),
            item_group_id: p.handle.clone(),
            title: if single || v.title.is_empty() {
                p.title.clone()
            } else {
                format!("{} - {}", p.title, v.title)
            },
            description: p.description.clone(),
            link: format!(
                "{base}/products/{}?variant={}",
                utf8_percent_encode(&p.handle, URL_PART),
                utf8_percent_encode(&v.sku, URL_PART)
            ),
            image_link: images.get(&p.id).cloned(),
            availability,
            price: Money::from_minor(*minor, channel.currency).to_string(),
            brand: p.vendor.clone(),
            gtin: v.barcode.clone(),
        });
    }
    Ok((items, Some(last)))
}

const COLUMNS: [&str; 10] = [
    "id",
    "item_group_id",
    "title",
    "description",
    "link",
    "image_link",
    "availability",
    "price",
    "brand",
    "gtin",
];

/// Encodes `items`; `written` is how many items came before (JSON needs a
/// comma between items). The CSV header and the JSON brackets are written by
/// [`stream`].
fn encode(format: Format, items: &[Item], written: usize) -> DomainResult<Vec<u8>> {
    let fail = |e: String| DomainError::Inconsistent(format!("cannot encode the feed: {e}"));
    match format {
        Format::Csv => {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
            for item in items {
                let row = (
                    csv_cell(&item.id),
                    csv_cell(&item.item_group_id),
                    csv_cell(&item.title),
                    csv_cell(&item.description),
                    csv_cell(&item.link),
                    item.image_link.as_deref().map(csv_cell),
                    item.availability,
                    csv_cell(&item.price),
                    item.brand.as_deref().map(csv_cell),
                    item.gtin.as_deref().map(csv_cell),
                );
                w.serialize(row).map_err(|e| fail(e.to_string()))?;
            }
            w.into_inner().map_err(|e| fail(e.to_string()))
        }
        Format::Json => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if written + i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut out, item).map_err(|e| fail(e.to_string()))?;
            }
            Ok(out)
        }
    }
}

fn opening(format: Format) -> DomainResult<Vec<u8>> {
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(COLUMNS)
                .map_err(|e| DomainError::Inconsistent(format!("cannot encode the feed: {e}")))?;
            w.into_inner()
                .map_err(|e| DomainError::Inconsistent(format!("cannot encode the feed: {e}")))
        }
        Format::Json => Ok(b"[".to_vec()),
    }
}

/// The whole feed of `channel`, as chunks of bytes, one page at a time.
pub fn stream(
    db: DatabaseConnection,
    channel: Channel,
    format: Format,
    link_base: String,
) -> impl Stream<Item = DomainResult<Bytes>> + Send {
    enum State {
        /// Next page after this product id, with this many items written.
        Next(i64, usize),
        Done,
    }
    let start = futures_util::stream::once(async move { opening(format).map(Bytes::from) });
    let pages = futures_util::stream::unfold(State::Next(0, 0), move |state| {
        let (db, channel, link_base) = (db.clone(), channel.clone(), link_base.clone());
        async move {
            let State::Next(after, written) = state else {
                return None;
            };
            let (items, last) = match page(&db, &channel, after, &link_base).await {
                Ok(p) => p,
                Err(e) => return Some((Err(e), State::Done)),
            };
            let mut chunk = match encode(format, &items, written) {
                Ok(bytes) => bytes,
                Err(e) => return Some((Err(e), State::Done)),
            };
            let next = match last {
                Some(last) => State::Next(last, written + items.len()),
                None => {
                    if format == Format::Json {
                        chunk.push(b']');
                    }
                    State::Done
                }
            };
            Some((Ok(Bytes::from(chunk)), next))
        }
    });
    futures_util::StreamExt::chain(start, pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_quoted_and_the_rest_is_left_alone() {
        for (raw, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1 555", "'+1 555"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Linen shirt", "Linen shirt"),
            ("34.99 USD", "34.99 USD"),
            ("", ""),
        ] {
            assert_eq!(csv_cell(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn link_parts_are_percent_encoded() {
        let part = |s: &str| utf8_percent_encode(s, URL_PART).to_string();
        assert_eq!(part("linen-shirt_2.0~x"), "linen-shirt_2.0~x");
        assert_eq!(part("A B&c=d#e?f/g"), "A%20B%26c%3Dd%23e%3Ff%2Fg");
        assert_eq!(part("é"), "%C3%A9");
    }
}
