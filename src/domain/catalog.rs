//! The storefront catalog: which products a shopper can see, how they are
//! filtered, sorted and paged, and what a variant costs and has in stock.
//!
//! Invariants:
//! - Only `active` products (and their variants, media, options) are visible
//!   to the storefront; drafts and archived products are never returned.
//! - A variant's storefront price in a channel is its base price there
//!   (no customer group, minimum quantity 1); without one it is not for sale
//!   in that channel.
//! - `available = on_hand - reserved` per location, never below zero; a
//!   variant is for sale when it is priced and either in stock, untracked or
//!   allowed to backorder.
//! - Every list has a total order (ties broken by id) so pages never overlap.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, JoinType,
    Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Value,
    sea_query::{Expr, Query},
};

use entity::{
    collection, collection_product, media, product, product_option, product_option_value,
    product_status::ProductStatus, product_tag, stock_level, variant, variant_option_value,
    variant_price,
};

use super::{channel::Channel, error::DomainResult, money::Money};

/// Ways to narrow a product listing. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductFilter {
    /// Words that must all appear in the title, description, vendor, type or tags.
    pub query: Option<String>,
    /// Only products in the collection with this id.
    pub collection_id: Option<i64>,
    /// Only products carrying every one of these tags.
    pub tags: Vec<String>,
    /// Only products of this vendor (case-insensitive).
    pub vendor: Option<String>,
    /// Only products of this type (case-insensitive).
    pub product_type: Option<String>,
    /// Only products with a variant priced at least this, in the channel's currency.
    pub price_min: Option<Decimal>,
    /// Only products with a variant priced at most this, in the channel's currency.
    pub price_max: Option<Decimal>,
    /// Only products with at least one variant for sale.
    pub available_only: bool,
    /// Products in these states; empty means active only, the storefront's
    /// view (other states are for callers allowed to read the whole catalog).
    pub statuses: Vec<ProductStatus>,
}

/// Orders a product listing can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProductSort {
    /// By id (creation order); the default.
    #[default]
    Id,
    /// Alphabetically by title.
    Title,
    /// By the lowest variant price in the channel; unpriced products last.
    Price,
    /// By creation time.
    CreatedAt,
    /// By how well the text query matches (title first); needs a query.
    Relevance,
    /// By the merchandiser's order in the filtered collection.
    Manual,
}

/// One page of a listing: `offset` rows skipped, at most `limit` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows to skip.
    pub offset: u64,
    /// Most rows to return.
    pub limit: u64,
}

/// Stock of one variant summed over locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, FromQueryResult)]
pub struct StockSummary {
    /// The variant.
    pub variant_id: i64,
    /// Units physically held.
    pub on_hand: i64,
    /// Units held for carts and orders.
    pub reserved: i64,
    /// Units that can still be sold: per location `max(on_hand - reserved, 0)`, summed.
    pub available: i64,
}

/// What a shopper is told about a variant's availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    /// Units available, or `None` when the variant's stock is not tracked.
    pub quantity_available: Option<i64>,
    /// Whether it can be bought now.
    pub available_for_sale: bool,
    /// For sale although none is in stock (backorder).
    pub currently_not_in_stock: bool,
}

/// Applies the availability rule to a variant, its stock and whether it is priced.
pub fn availability(
    v: &variant::Model,
    stock: Option<&StockSummary>,
    priced: bool,
) -> Availability {
    let available = stock.map_or(0, |s| std::cmp::max(s.available, 0));
    let in_stock = !v.track_inventory || available > 0;
    Availability {
        quantity_available: v.track_inventory.then_some(available),
        available_for_sale: priced && (in_stock || v.allow_backorder),
        currently_not_in_stock: priced && !in_stock && v.allow_backorder,
    }
}

/// An option of a product with its values in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductOption {
    /// The option row.
    pub option: product_option::Model,
    /// Its values, by position.
    pub values: Vec<product_option_value::Model>,
}

/// One selected option of a variant (`Size: M`).
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct SelectedOption {
    /// The variant.
    pub variant_id: i64,
    /// Option name.
    pub name: String,
    /// Chosen value.
    pub value: String,
}

// Base price of a variant in a channel (bound to the channel id): no
// customer group, from one unit.
const BASE_PRICE: &str = "p.channel_id = ? AND p.customer_group_id IS NULL AND p.min_quantity = 1";

/// Custom SQL whose `?` placeholders are bound to `values` in order, on either
/// backend: sea-query numbers PostgreSQL parameters (`$1`) but not SQLite ones.
fn sql(backend: DbBackend, template: &str, values: Vec<Value>) -> Expr {
    let text = match backend {
        DbBackend::Postgres => {
            let mut n = 0;
            let mut out = String::with_capacity(template.len() + 8);
            for c in template.chars() {
                if c == '?' {
                    n += 1;
                    out.push_str(&format!("${n}"));
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => template.to_owned(),
    };
    Expr::cust_with_values(text, values)
}

fn visible() -> Condition {
    Condition::all().add(product::Column::Status.eq(ProductStatus::Active))
}

/// Escapes LIKE wildcards so user text matches literally (with `ESCAPE '\'`).
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Lower-cased search words, at most eight.
fn words(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .map(str::to_lowercase)
        .take(8)
        .collect()
}

fn minor(amount: Decimal, channel: &Channel) -> i64 {
    let m = Money::from_decimal(amount, channel.currency);
    m.to_minor().unwrap_or(if amount.is_sign_negative() {
        i64::MIN
    } else {
        i64::MAX
    })
}

fn filter_condition(backend: DbBackend, channel: &Channel, f: &ProductFilter) -> Condition {
    let mut cond = if f.statuses.is_empty() {
        visible()
    } else {
        Condition::all().add(product::Column::Status.is_in(f.statuses.iter().cloned()))
    };
    if let Some(q) = &f.query {
        for w in words(q) {
            let contains = Value::from(format!("%{}%", like_escape(&w)));
            cond = cond.add(sql(
                backend,
                "(LOWER(product.title) LIKE LOWER(?) ESCAPE '\\' \
                 OR LOWER(product.description) LIKE LOWER(?) ESCAPE '\\' \
                 OR LOWER(COALESCE(product.vendor, '')) LIKE LOWER(?) ESCAPE '\\' \
                 OR LOWER(COALESCE(product.product_type, '')) LIKE LOWER(?) ESCAPE '\\' \
                 OR product.id IN (SELECT t.product_id FROM product_tag t WHERE LOWER(t.tag) = LOWER(?)))",
                vec![contains.clone(), contains.clone(), contains.clone(), contains, Value::from(w)],
            ));
        }
    }
    if let Some(cid) = f.collection_id {
        cond = cond.add(sql(
            backend,
            "product.id IN (SELECT cp.product_id FROM collection_product cp WHERE cp.collection_id = ?)",
            vec![cid.into()],
        ));
    }
    let mut tags: Vec<String> = f.tags.iter().map(|t| t.trim().to_owned()).collect();
    tags.sort();
    tags.dedup();
    for tag in tags {
        cond = cond.add(sql(
            backend,
            "product.id IN (SELECT t.product_id FROM product_tag t WHERE LOWER(t.tag) = LOWER(?))",
            vec![tag.into()],
        ));
    }
    if let Some(v) = &f.vendor {
        cond = cond.add(sql(
            backend,
            "LOWER(product.vendor) = LOWER(?)",
            vec![v.trim().into()],
        ));
    }
    if let Some(t) = &f.product_type {
        cond = cond.add(sql(
            backend,
            "LOWER(product.product_type) = LOWER(?)",
            vec![t.trim().into()],
        ));
    }
    if f.price_min.is_some() || f.price_max.is_some() {
        let lo = f.price_min.map_or(i64::MIN, |d| minor(d, channel));
        let hi = f.price_max.map_or(i64::MAX, |d| minor(d, channel));
        cond = cond.add(sql(
            backend,
            &format!(
                "product.id IN (SELECT v.product_id FROM variant v JOIN variant_price p ON p.variant_id = v.id \
                 WHERE {BASE_PRICE} AND p.amount_minor >= ? AND p.amount_minor <= ?)"
            ),
            vec![channel.id.into(), lo.into(), hi.into()],
        ));
    }
    if f.available_only {
        cond = cond.add(sql(
            backend,
            &format!(
                "product.id IN (SELECT v.product_id FROM variant v LEFT JOIN stock_level s ON s.variant_id = v.id \
                 WHERE EXISTS (SELECT 1 FROM variant_price p WHERE p.variant_id = v.id AND {BASE_PRICE}) \
                 GROUP BY v.id, v.product_id, v.track_inventory, v.allow_backorder \
                 HAVING v.track_inventory = FALSE OR v.allow_backorder = TRUE \
                 OR COALESCE(SUM(CASE WHEN s.on_hand > s.reserved THEN s.on_hand - s.reserved ELSE 0 END), 0) > 0)"
            ),
            vec![channel.id.into()],
        ));
    }
    cond
}

fn relevance(backend: DbBackend, query: &str) -> Expr {
    let mut template = String::from("(0");
    let mut values = Vec::new();
    for w in words(query) {
        template.push_str(
            " + CASE WHEN LOWER(product.title) LIKE LOWER(?) ESCAPE '\\' THEN 4 \
             WHEN LOWER(product.title) LIKE LOWER(?) ESCAPE '\\' THEN 3 \
             WHEN LOWER(COALESCE(product.vendor, '')) LIKE LOWER(?) ESCAPE '\\' THEN 2 ELSE 1 END",
        );
        let contains = Value::from(format!("%{}%", like_escape(&w)));
        values.push(Value::from(format!("{}%", like_escape(&w))));
        values.push(contains.clone());
        values.push(contains);
    }
    template.push(')');
    sql(backend, &template, values)
}

/// The current catalog version: it moves forward (by database trigger) with
/// every change to catalog data except stock levels, so rows read at version
/// `v` are current exactly while this still returns `v`.
pub async fn version(db: &impl ConnectionTrait) -> DomainResult<i64> {
    let row = entity::catalog_version::Entity::find_by_id(1)
        .one(db)
        .await?;
    row.map(|r| r.version).ok_or_else(|| {
        super::error::DomainError::Inconsistent("catalog_version row is missing".into())
    })
}

/// Lists one page of visible products matching `filter` in `sort` order.
#[tracing::instrument(skip(db, channel), fields(channel = %channel.code))]
pub async fn list_products(
    db: &impl ConnectionTrait,
    channel: &Channel,
    filter: &ProductFilter,
    sort: ProductSort,
    reverse: bool,
    page: Page,
) -> DomainResult<Vec<product::Model>> {
    let backend = db.get_database_backend();
    let (asc, desc) = if reverse {
        (Order::Desc, Order::Asc)
    } else {
        (Order::Asc, Order::Desc)
    };
    let mut q = product::Entity::find().filter(filter_condition(backend, channel, filter));
    q = match sort {
        ProductSort::Id => q,
        ProductSort::Title => q.order_by(product::Column::Title, asc.clone()),
        ProductSort::CreatedAt => q.order_by(product::Column::CreatedAt, asc.clone()),
        ProductSort::Price => {
            let min_price = format!(
                "(SELECT MIN(p.amount_minor) FROM variant v JOIN variant_price p ON p.variant_id = v.id \
                 WHERE v.product_id = product.id AND {BASE_PRICE})"
            );
            q.order_by(
                sql(backend, &format!("CASE WHEN {min_price} IS NULL THEN 1 ELSE 0 END"), vec![channel.id.into()]),
                Order::Asc,
            )
            .order_by(sql(backend, &min_price, vec![channel.id.into()]), asc.clone())
        }
        ProductSort::Relevance => match &filter.query {
            Some(query) => q.order_by(relevance(backend, query), desc),
            None => q,
        },
        ProductSort::Manual => match filter.collection_id {
            Some(cid) => q.order_by(
                sql(
                    backend,
                    "(SELECT cp.position FROM collection_product cp WHERE cp.product_id = product.id AND cp.collection_id = ?)",
                    vec![cid.into()],
                ),
                asc.clone(),
            ),
            None => q,
        },
    };
    Ok(q.order_by(product::Column::Id, asc)
        .offset(page.offset)
        .limit(page.limit)
        .all(db)
        .await?)
}

/// Counts the visible products matching `filter`.
pub async fn count_products(
    db: &impl ConnectionTrait,
    channel: &Channel,
    filter: &ProductFilter,
) -> DomainResult<u64> {
    Ok(product::Entity::find()
        .filter(filter_condition(db.get_database_backend(), channel, filter))
        .count(db)
        .await?)
}

/// Visible products with these ids (missing or invisible ones are left out).
pub async fn products_by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> DomainResult<Vec<product::Model>> {
    Ok(product::Entity::find()
        .filter(visible().add(product::Column::Id.is_in(ids.iter().copied())))
        .all(db)
        .await?)
}

/// The visible product with this handle.
pub async fn product_by_handle(
    db: &impl ConnectionTrait,
    handle: &str,
) -> DomainResult<Option<product::Model>> {
    Ok(product::Entity::find()
        .filter(visible().add(product::Column::Handle.eq(handle)))
        .one(db)
        .await?)
}

/// Variants of these products, by product and position.
pub async fn variants_of_products(
    db: &impl ConnectionTrait,
    product_ids: &[i64],
) -> DomainResult<Vec<variant::Model>> {
    Ok(variant::Entity::find()
        .filter(variant::Column::ProductId.is_in(product_ids.iter().copied()))
        .order_by_asc(variant::Column::ProductId)
        .order_by_asc(variant::Column::Position)
        .order_by_asc(variant::Column::Id)
        .all(db)
        .await?)
}

/// Variants with these ids whose product is visible.
pub async fn variants_by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> DomainResult<Vec<variant::Model>> {
    Ok(variant::Entity::find()
        .filter(variant::Column::Id.is_in(ids.iter().copied()))
        .filter(
            variant::Column::ProductId.in_subquery(
                Query::select()
                    .column(product::Column::Id)
                    .from(product::Entity)
                    .and_where(product::Column::Status.eq(ProductStatus::Active))
                    .to_owned(),
            ),
        )
        .all(db)
        .await?)
}

/// Base prices of these variants in these channels.
pub async fn base_prices(
    db: &impl ConnectionTrait,
    variant_ids: &[i64],
    channel_ids: &[i64],
) -> DomainResult<Vec<variant_price::Model>> {
    Ok(variant_price::Entity::find()
        .filter(variant_price::Column::VariantId.is_in(variant_ids.iter().copied()))
        .filter(variant_price::Column::ChannelId.is_in(channel_ids.iter().copied()))
        .filter(variant_price::Column::CustomerGroupId.is_null())
        .filter(variant_price::Column::MinQuantity.eq(1))
        .all(db)
        .await?)
}

/// The availability of these variants (of visible products) as the
/// storefront tells it in `channel_id` (a variant without a price there is
/// not for sale), in three statements whatever the number of variants.
pub async fn availability_of_variants(
    db: &impl ConnectionTrait,
    variant_ids: &[i64],
    channel_id: i64,
) -> DomainResult<Vec<(i64, Availability)>> {
    let variants = variants_by_ids(db, variant_ids).await?;
    if variants.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = variants.iter().map(|v| v.id).collect();
    let stock: HashMap<i64, StockSummary> = stock_of_variants(db, &ids)
        .await?
        .into_iter()
        .map(|s| (s.variant_id, s))
        .collect();
    let priced: std::collections::HashSet<i64> = base_prices(db, &ids, &[channel_id])
        .await?
        .into_iter()
        .map(|p| p.variant_id)
        .collect();
    Ok(variants
        .iter()
        .map(|v| {
            (
                v.id,
                availability(v, stock.get(&v.id), priced.contains(&v.id)),
            )
        })
        .collect())
}

/// Stock of these variants summed over all locations.
pub async fn stock_of_variants(
    db: &impl ConnectionTrait,
    variant_ids: &[i64],
) -> DomainResult<Vec<StockSummary>> {
    Ok(stock_level::Entity::find()
        .select_only()
        .column(stock_level::Column::VariantId)
        .column_as(
            Expr::cust("COALESCE(SUM(stock_level.on_hand), 0)"),
            "on_hand",
        )
        .column_as(
            Expr::cust("COALESCE(SUM(stock_level.reserved), 0)"),
            "reserved",
        )
        .column_as(
            Expr::cust(
                "COALESCE(SUM(CASE WHEN stock_level.on_hand > stock_level.reserved \
                 THEN stock_level.on_hand - stock_level.reserved ELSE 0 END), 0)",
            ),
            "available",
        )
        .filter(stock_level::Column::VariantId.is_in(variant_ids.iter().copied()))
        .group_by(stock_level::Column::VariantId)
        .into_model::<StockSummary>()
        .all(db)
        .await?)
}

/// The selected options of these variants, in option order.
pub async fn selected_options(
    db: &impl ConnectionTrait,
    variant_ids: &[i64],
) -> DomainResult<Vec<SelectedOption>> {
    Ok(variant_option_value::Entity::find()
        .select_only()
        .column(variant_option_value::Column::VariantId)
        .column_as(product_option::Column::Name, "name")
        .column_as(product_option_value::Column::Value, "value")
        .join(JoinType::InnerJoin, variant_option_value_to_value())
        .join(JoinType::InnerJoin, value_to_option())
        .filter(variant_option_value::Column::VariantId.is_in(variant_ids.iter().copied()))
        .order_by_asc(variant_option_value::Column::VariantId)
        .order_by_asc(product_option::Column::Position)
        .into_model::<SelectedOption>()
        .all(db)
        .await?)
}

fn variant_option_value_to_value() -> sea_orm::RelationDef {
    variant_option_value::Entity::belongs_to(product_option_value::Entity)
        .from(variant_option_value::Column::OptionValueId)
        .to(product_option_value::Column::Id)
        .into()
}

fn value_to_option() -> sea_orm::RelationDef {
    product_option_value::Entity::belongs_to(product_option::Entity)
        .from(product_option_value::Column::OptionId)
        .to(product_option::Column::Id)
        .into()
}

/// Options of these products with their values, by position.
pub async fn options_of_products(
    db: &impl ConnectionTrait,
    product_ids: &[i64],
) -> DomainResult<Vec<ProductOption>> {
    let options = product_option::Entity::find()
        .filter(product_option::Column::ProductId.is_in(product_ids.iter().copied()))
        .order_by_asc(product_option::Column::ProductId)
        .order_by_asc(product_option::Column::Position)
        .all(db)
        .await?;
    if options.is_empty() {
        return Ok(Vec::new());
    }
    let values = product_option_value::Entity::find()
        .filter(product_option_value::Column::OptionId.is_in(options.iter().map(|o| o.id)))
        .order_by_asc(product_option_value::Column::Position)
        .all(db)
        .await?;
    let mut by_option: HashMap<i64, Vec<product_option_value::Model>> = HashMap::new();
    for v in values {
        by_option.entry(v.option_id).or_default().push(v);
    }
    Ok(options
        .into_iter()
        .map(|option| ProductOption {
            values: by_option.remove(&option.id).unwrap_or_default(),
            option,
        })
        .collect())
}

/// Media of these products, by position.
pub async fn media_of_products(
    db: &impl ConnectionTrait,
    product_ids: &[i64],
) -> DomainResult<Vec<media::Model>> {
    Ok(media::Entity::find()
        .filter(media::Column::ProductId.is_in(product_ids.iter().copied()))
        .order_by_asc(media::Column::ProductId)
        .order_by_asc(media::Column::Position)
        .all(db)
        .await?)
}

/// Media with these ids whose product is visible.
pub async fn media_by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> DomainResult<Vec<media::Model>> {
    Ok(media::Entity::find()
        .filter(media::Column::Id.is_in(ids.iter().copied()))
        .filter(
            media::Column::ProductId.in_subquery(
                Query::select()
                    .column(product::Column::Id)
                    .from(product::Entity)
                    .and_where(product::Column::Status.eq(ProductStatus::Active))
                    .to_owned(),
            ),
        )
        .all(db)
        .await?)
}

/// Tags of these products, alphabetically.
pub async fn tags_of_products(
    db: &impl ConnectionTrait,
    product_ids: &[i64],
) -> DomainResult<Vec<product_tag::Model>> {
    Ok(product_tag::Entity::find()
        .filter(product_tag::Column::ProductId.is_in(product_ids.iter().copied()))
        .order_by_asc(product_tag::Column::Tag)
        .all(db)
        .await?)
}

/// The collections each of these products belongs to, as (product id, collection).
pub async fn collections_of_products(
    db: &impl ConnectionTrait,
    product_ids: &[i64],
) -> DomainResult<Vec<(i64, collection::Model)>> {
    let links = collection_product::Entity::find()
        .filter(collection_product::Column::ProductId.is_in(product_ids.iter().copied()))
        .find_also_related(collection::Entity)
        .order_by_asc(collection::Column::Title)
        .all(db)
        .await?;
    Ok(links
        .into_iter()
        .filter_map(|(link, c)| c.map(|c| (link.product_id, c)))
        .collect())
}

/// One page of collections by title.
pub async fn list_collections(
    db: &impl ConnectionTrait,
    page: Page,
    reverse: bool,
) -> DomainResult<Vec<collection::Model>> {
    let order = if reverse { Order::Desc } else { Order::Asc };
    Ok(collection::Entity::find()
        .order_by(collection::Column::Title, order.clone())
        .order_by(collection::Column::Id, order)
        .offset(page.offset)
        .limit(page.limit)
        .all(db)
        .await?)
}

/// How many collections there are.
pub async fn count_collections(db: &impl ConnectionTrait) -> DomainResult<u64> {
    Ok(collection::Entity::find().count(db).await?)
}

/// Collections with these ids.
pub async fn collections_by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> DomainResult<Vec<collection::Model>> {
    Ok(collection::Entity::find()
        .filter(collection::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

/// The collection with this handle.
pub async fn collection_by_handle(
    db: &impl ConnectionTrait,
    handle: &str,
) -> DomainResult<Option<collection::Model>> {
    Ok(collection::Entity::find()
        .filter(collection::Column::Handle.eq(handle))
        .one(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn variant(track: bool, backorder: bool) -> variant::Model {
        variant::Model {
            id: 1,
            product_id: 1,
            sku: "SKU".into(),
            title: "T".into(),
            position: 1,
            weight_grams: None,
            barcode: None,
            track_inventory: track,
            allow_backorder: backorder,
            tax_class: "standard".into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn stock(available: i64) -> StockSummary {
        StockSummary {
            variant_id: 1,
            on_hand: available,
            reserved: 0,
            available,
        }
    }

    #[test]
    fn in_stock_priced_variant_is_for_sale() {
        let a = availability(&variant(true, false), Some(&stock(3)), true);
        assert_eq!(a.quantity_available, Some(3));
        assert!(a.available_for_sale && !a.currently_not_in_stock);
    }

    #[test]
    fn sold_out_variant_is_for_sale_only_with_backorder() {
        assert!(!availability(&variant(true, false), Some(&stock(0)), true).available_for_sale);
        let b = availability(&variant(true, true), None, true);
        assert!(b.available_for_sale && b.currently_not_in_stock);
        assert_eq!(b.quantity_available, Some(0));
    }

    #[test]
    fn untracked_variant_is_always_in_stock_but_needs_a_price() {
        let a = availability(&variant(false, false), None, true);
        assert_eq!(a.quantity_available, None);
        assert!(a.available_for_sale);
        assert!(!availability(&variant(false, false), None, false).available_for_sale);
    }

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        use sea_orm::sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};
        let select = |backend| {
            Query::select()
                .expr(sql(backend, "a = ? AND b = ?", vec![1.into(), 2.into()]))
                .to_owned()
        };
        assert_eq!(
            select(DbBackend::Postgres).build(PostgresQueryBuilder).0,
            "SELECT a = $1 AND b = $2"
        );
        assert_eq!(
            select(DbBackend::Sqlite).build(SqliteQueryBuilder).0,
            "SELECT a = ? AND b = ?"
        );
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_escape("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(words("  Cotton   TEE "), vec!["cotton", "tee"]);
    }
}
