//! Deterministic demo catalog.
//!
//! [`seed`] fills an empty database with a believable storefront catalog:
//!
//! - two channels, `default` ("Online Store", USD, prices without tax) and
//!   `eu` ("EU Store", EUR, prices including tax);
//! - the `wholesale` customer group;
//! - two stock locations, `warehouse` and `store`;
//! - eight collections (`new-arrivals`, `summer`, `outerwear`, `accessories`,
//!   `footwear`, `home`, `sale`, `best-sellers`);
//! - N products (apparel, footwear, bags, home goods, books, coffee, tea) with
//!   a description, vendor, type, tags, 1–3 images, 1–3 collections, options
//!   (Size, Color, Scent …) and 1–5 variants (about 3 on average), each variant
//!   with a SKU, barcode, weight, stock at both locations and prices in both
//!   channels (plus sale compare-at prices, quantity tiers and wholesale
//!   prices on a share of them).
//!
//! The output is deterministic: all randomness comes from one ChaCha8 stream
//! with a fixed seed, and every timestamp is derived from a fixed base
//! (2026-01-01T00:00:00Z plus one minute per product), never from the clock.
//! Seeding the same N into an empty database therefore yields the same rows,
//! byte for byte (same ids, handles, SKUs, prices, stock …), and product `i`
//! does not depend on N, so tests and benchmarks may rely on concrete values.
//! Product `i` (0-based) has the handle `<slug of title>-<i>` (the first one is
//! `pocket-journal-0`) and variant `j` (1-based) of it the SKU
//! `EMP-<i, 5 digits>-<j, 2 digits>`, e.g. `EMP-00000-01`. Statuses follow
//! [`product_status`]: every 50th product is a draft, every 97th archived.
//!
//! Where things live: `reference` (channels, the customer group, stock
//! locations and collections), `products` (the product table: word lists,
//! options and kinds), `generate` (the rows made from them) and `commerce`
//! (tax, shipping, promotions and the gift card).

mod commerce;
mod generate;
mod products;
mod reference;

use std::time::Instant;

pub use commerce::DEMO_GIFT_CARD;

use anyhow::{Context, bail};
use chrono::{DateTime, TimeDelta, Utc};
use entity::{
    channel, collection, customer_group, media, product, product_option, product_option_value,
    product_status::ProductStatus, stock_level, stock_location, variant, variant_price,
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::NotSet,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, Iterable, PaginatorTrait,
    QueryFilter, QuerySelect, TransactionSession, TransactionTrait,
    sea_query::{Expr, Func},
};

use crate::domain::tx::begin_write;
use generate::{FirstIds, Refs, generate};
use reference::{CHANNELS, COLLECTIONS, HOME, LOCATIONS, WHOLESALE_CODE};

/// 2026-01-01T00:00:00Z as seconds since the Unix epoch.
const BASE_TIME_SECS: i64 = 1_767_225_600;
/// Most rows per `INSERT` statement.
const CHUNK_ROWS: usize = 500;
/// Most bind parameters per `INSERT` statement. Through the PostgreSQL driver
/// the cost per row grows with the width of the statement (500-row chunks
/// were several times slower than ~500-parameter ones), so wide tables use
/// fewer rows per statement.
const CHUNK_PARAMS: usize = 500;
/// Default number of products.
const DEFAULT_PRODUCTS: usize = 1000;

/// How much demo data [`seed`] generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedOptions {
    /// Number of products to create (default 1000).
    pub products: usize,
    /// Whether to add the demo's money-bearing codes: its discount codes
    /// and gift card (default true; only ever in development mode, since
    /// anyone who reads the README knows them).
    pub demo_codes: bool,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            products: DEFAULT_PRODUCTS,
            demo_codes: true,
        }
    }
}

/// Number of rows of each kind that the catalog got from [`seed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    /// Sales channels (`default`, `eu`).
    pub channels: usize,
    /// Stock locations (`warehouse`, `store`).
    pub locations: usize,
    /// Products, whatever their status.
    pub products: usize,
    /// Variants of all products.
    pub variants: usize,
    /// `variant_price` rows: base prices, quantity tiers and group prices.
    pub prices: usize,
    /// Collections.
    pub collections: usize,
}

/// Status of the seeded product with the 0-based `index`: every 50th product
/// (`index % 50 == 49`) is a draft, otherwise every 97th (`index % 97 == 96`)
/// is archived, all others are active.
pub fn product_status(index: usize) -> ProductStatus {
    if index % 50 == 49 {
        ProductStatus::Draft
    } else if index % 97 == 96 {
        ProductStatus::Archived
    } else {
        ProductStatus::Active
    }
}

/// Whether the seeded product with the 0-based `index` is active, i.e. visible
/// to storefronts (see [`product_status`]).
pub fn is_storefront_visible(index: usize) -> bool {
    product_status(index) == ProductStatus::Active
}

/// True when the database holds neither channels nor products.
pub async fn is_empty<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    let channels = channel::Entity::find().count(db).await?;
    let products = product::Entity::find().count(db).await?;
    Ok(channels == 0 && products == 0)
}

/// Fills an empty catalog with the deterministic demo data described in the
/// module documentation, in a single transaction.
///
/// Fails, without writing anything, when the catalog already has channels or
/// products. A `wholesale` customer group, stock locations or collections
/// that already exist under the seeded codes/handles are reused.
pub async fn seed<C>(db: &C, opts: &SeedOptions) -> anyhow::Result<SeedReport>
where
    C: ConnectionTrait + TransactionTrait,
{
    let started = Instant::now();
    let txn = begin_write(db)
        .await
        .context("starting the seed transaction")?;
    if !is_empty(&txn).await? {
        let channels = channel::Entity::find().count(&txn).await?;
        let products = product::Entity::find().count(&txn).await?;
        bail!(
            "refusing to seed: the catalog is not empty ({channels} channels, {products} products)"
        );
    }
    let base = base_time();

    let mut channel_ids = Vec::with_capacity(CHANNELS.len());
    for spec in CHANNELS {
        let row = channel::ActiveModel {
            id: NotSet,
            code: Set(spec.code.to_owned()),
            name: Set(spec.name.to_owned()),
            currency_code: Set(spec.currency.to_owned()),
            prices_include_tax: Set(spec.prices_include_tax),
            is_default: Set(spec.is_default),
            default_country: Set(Some(spec.default_country.to_owned())),
            created_at: Set(base),
        };
        let id = channel::Entity::insert(row)
            .exec(&txn)
            .await
            .with_context(|| format!("inserting channel {}", spec.code))?
            .last_insert_id;
        channel_ids.push(id);
    }

    let wholesale_id = match customer_group::Entity::find()
        .filter(customer_group::Column::Code.eq(WHOLESALE_CODE))
        .one(&txn)
        .await?
    {
        Some(group) => group.id,
        None => {
            let row = customer_group::ActiveModel {
                id: NotSet,
                code: Set(WHOLESALE_CODE.to_owned()),
                name: Set("Wholesale".to_owned()),
            };
            customer_group::Entity::insert(row)
                .exec(&txn)
                .await
                .context("inserting the wholesale customer group")?
                .last_insert_id
        }
    };

    let mut location_ids = Vec::with_capacity(LOCATIONS.len());
    for (code, name) in LOCATIONS {
        let existing = stock_location::Entity::find()
            .filter(stock_location::Column::Code.eq(code))
            .one(&txn)
            .await?;
        let id = match existing {
            Some(location) => location.id,
            None => {
                let row = stock_location::ActiveModel {
                    id: NotSet,
                    code: Set(code.to_owned()),
                    name: Set(name.to_owned()),
                    created_at: Set(base),
                };
                stock_location::Entity::insert(row)
                    .exec(&txn)
                    .await
                    .with_context(|| format!("inserting stock location {code}"))?
                    .last_insert_id
            }
        };
        location_ids.push(id);
    }

    let mut collection_ids = Vec::with_capacity(COLLECTIONS.len());
    for spec in COLLECTIONS {
        let existing = collection::Entity::find()
            .filter(collection::Column::Handle.eq(spec.handle))
            .one(&txn)
            .await?;
        let id = match existing {
            Some(found) => found.id,
            None => {
                let row = collection::ActiveModel {
                    id: NotSet,
                    handle: Set(spec.handle.to_owned()),
                    title: Set(spec.title.to_owned()),
                    description: Set(spec.description.to_owned()),
                    created_at: Set(base),
                    updated_at: Set(base),
                };
                collection::Entity::insert(row)
                    .exec(&txn)
                    .await
                    .with_context(|| format!("inserting collection {}", spec.handle))?
                    .last_insert_id
            }
        };
        collection_ids.push(id);
    }

    let first_ids = FirstIds {
        product: next_id::<product::Entity, _>(&txn, product::Column::Id).await?,
        option: next_id::<product_option::Entity, _>(&txn, product_option::Column::Id).await?,
        option_value: next_id::<product_option_value::Entity, _>(
            &txn,
            product_option_value::Column::Id,
        )
        .await?,
        variant: next_id::<variant::Entity, _>(&txn, variant::Column::Id).await?,
        price: next_id::<variant_price::Entity, _>(&txn, variant_price::Column::Id).await?,
        media: next_id::<media::Entity, _>(&txn, media::Column::Id).await?,
        stock: next_id::<stock_level::Entity, _>(&txn, stock_level::Column::Id).await?,
    };
    let refs = Refs {
        default_channel: channel_ids[0],
        eu_channel: channel_ids[1],
        wholesale: wholesale_id,
        locations: location_ids,
        collections: collection_ids,
    };
    let rows = generate(opts.products, &refs, &first_ids);
    let report = SeedReport {
        channels: CHANNELS.len(),
        locations: LOCATIONS.len(),
        products: rows.products.len(),
        variants: rows.variants.len(),
        prices: rows.prices.len(),
        collections: COLLECTIONS.len(),
    };

    insert_chunked(&txn, rows.products)
        .await
        .context("inserting products")?;
    insert_chunked(&txn, rows.tags)
        .await
        .context("inserting product tags")?;
    insert_chunked(&txn, rows.options)
        .await
        .context("inserting product options")?;
    insert_chunked(&txn, rows.option_values)
        .await
        .context("inserting product option values")?;
    insert_chunked(&txn, rows.variants)
        .await
        .context("inserting variants")?;
    insert_chunked(&txn, rows.variant_values)
        .await
        .context("inserting variant option values")?;
    insert_chunked(&txn, rows.prices)
        .await
        .context("inserting variant prices")?;
    insert_chunked(&txn, rows.memberships)
        .await
        .context("inserting collection memberships")?;
    insert_chunked(&txn, rows.media)
        .await
        .context("inserting media")?;
    insert_chunked(&txn, rows.stock)
        .await
        .context("inserting stock levels")?;

    if txn.get_database_backend() == DatabaseBackend::Postgres && report.products > 0 {
        // Rows above carry explicit ids; move each sequence past them so later
        // inserts without an id do not collide.
        for table in [
            "product",
            "product_option",
            "product_option_value",
            "variant",
            "variant_price",
            "media",
            "stock_level",
        ] {
            txn.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 (SELECT MAX(id) FROM {table}))"
            ))
            .await
            .with_context(|| format!("resetting the id sequence of {table}"))?;
        }
    }

    commerce::seed(
        &txn,
        refs.default_channel,
        refs.eu_channel,
        refs.collections[HOME],
        base,
        opts.demo_codes,
    )
    .await?;

    txn.commit()
        .await
        .context("committing the seed transaction")?;
    tracing::info!(
        channels = report.channels,
        locations = report.locations,
        collections = report.collections,
        products = report.products,
        variants = report.variants,
        prices = report.prices,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "seeded the demo catalog"
    );
    Ok(report)
}

/// The fixed base of every seeded timestamp.
fn base_time() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(BASE_TIME_SECS)
}

/// `MAX(id) + 1` of a table (1 when empty): the first explicit id to hand out.
async fn next_id<E, C>(db: &C, id_column: E::Column) -> Result<i64, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let max: Option<Option<i64>> = E::find()
        .select_only()
        .column_as(Expr::from(Func::max(id_column.into_expr())), "max_id")
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0) + 1)
}

/// Inserts `rows` with multi-row `INSERT`s of at most [`CHUNK_ROWS`] rows and
/// [`CHUNK_PARAMS`] bind parameters each.
async fn insert_chunked<A, C>(db: &C, rows: Vec<A>) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    let columns = <<A::Entity as EntityTrait>::Column as Iterable>::iter().count();
    let per_statement = (CHUNK_PARAMS / columns.max(1)).clamp(1, CHUNK_ROWS);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(per_statement).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
