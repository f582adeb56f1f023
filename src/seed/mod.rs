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

mod commerce;

use crate::domain::tx::begin_write;
use std::time::Instant;

pub use commerce::DEMO_GIFT_CARD;

use anyhow::{Context, bail};
use chrono::{DateTime, TimeDelta, Utc};
use entity::product_status::ProductStatus;
use entity::{
    channel, collection, collection_product, customer_group, media, product, product_option,
    product_option_value, product_tag, stock_level, stock_location, variant, variant_option_value,
    variant_price,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseBackend, DbErr, EntityTrait, Iterable, PaginatorTrait, QueryFilter, QuerySelect,
    TransactionSession, TransactionTrait,
};

/// Seed of the random stream ("EMPORIUM" in ASCII). Changing it changes every row.
const RNG_SEED: u64 = 0x454D_504F_5249_554D;
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
/// Cents → euro cents: EUR = USD * 0.92.
const EUR_PER_USD_PERCENT: i64 = 92;

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

// ---------------------------------------------------------------------------
// Fixed reference data
// ---------------------------------------------------------------------------

struct ChannelSpec {
    code: &'static str,
    name: &'static str,
    currency: &'static str,
    prices_include_tax: bool,
    is_default: bool,
    default_country: &'static str,
}

const CHANNELS: [ChannelSpec; 2] = [
    ChannelSpec {
        code: "default",
        name: "Online Store",
        currency: "USD",
        prices_include_tax: false,
        is_default: true,
        default_country: "US",
    },
    ChannelSpec {
        code: "eu",
        name: "EU Store",
        currency: "EUR",
        prices_include_tax: true,
        is_default: false,
        default_country: "DE",
    },
];

const WHOLESALE_CODE: &str = "wholesale";

const LOCATIONS: [(&str, &str); 2] = [("warehouse", "Main Warehouse"), ("store", "Flagship Store")];

struct CollectionSpec {
    handle: &'static str,
    title: &'static str,
    description: &'static str,
}

const NEW_ARRIVALS: usize = 0;
const SUMMER: usize = 1;
const OUTERWEAR: usize = 2;
const ACCESSORIES: usize = 3;
const FOOTWEAR: usize = 4;
const HOME: usize = 5;
const SALE: usize = 6;
const BEST_SELLERS: usize = 7;

const COLLECTIONS: [CollectionSpec; 8] = [
    CollectionSpec {
        handle: "new-arrivals",
        title: "New Arrivals",
        description: "The latest additions to the shop, fresh from our makers.",
    },
    CollectionSpec {
        handle: "summer",
        title: "Summer Edit",
        description: "Light fabrics and easy pieces for long, warm days.",
    },
    CollectionSpec {
        handle: "outerwear",
        title: "Outerwear",
        description: "Jackets, parkas and shells built for every kind of weather.",
    },
    CollectionSpec {
        handle: "accessories",
        title: "Accessories",
        description: "Bags, hats and scarves that finish an outfit.",
    },
    CollectionSpec {
        handle: "footwear",
        title: "Footwear",
        description: "Sneakers and boots made to be worn in.",
    },
    CollectionSpec {
        handle: "home",
        title: "Home & Kitchen",
        description: "Mugs, candles, blankets and pantry goods for slow mornings.",
    },
    CollectionSpec {
        handle: "sale",
        title: "Sale",
        description: "Marked-down favourites while stock lasts.",
    },
    CollectionSpec {
        handle: "best-sellers",
        title: "Best Sellers",
        description: "The pieces our customers come back for.",
    },
];

const VENDORS: [&str; 10] = [
    "Northwind Supply",
    "Harbor & Pine",
    "Atlas Goods",
    "Fieldhouse",
    "Marlow & Co.",
    "Kestrel Outfitters",
    "Oakline",
    "Tidewater",
    "Ember Studio",
    "Copperleaf",
];

const ADJECTIVES: [&str; 10] = [
    "Classic",
    "Everyday",
    "Essential",
    "Heritage",
    "Signature",
    "Premium",
    "Original",
    "Vintage",
    "Modern",
    "Studio",
];

const GENERIC_TAGS: [&str; 10] = [
    "bestseller",
    "gift",
    "new",
    "organic",
    "eco",
    "limited",
    "summer",
    "winter",
    "staff-pick",
    "handmade",
];

const GENERIC_SENTENCES: [&str; 8] = [
    "Designed to be used every day and to last for years.",
    "Every piece is inspected by hand before it leaves our warehouse.",
    "Returns are free within 30 days.",
    "Pairs well with the rest of the collection.",
    "Produced in small batches to keep waste low.",
    "Packed in recycled, plastic-free packaging.",
    "A customer favourite since the first run sold out.",
    "Backed by our two-year repair promise.",
];

/// An option a kind of product can vary by, with its possible values.
struct Axis {
    name: &'static str,
    values: &'static [&'static str],
    /// Values have a natural order (sizes): products use a contiguous window.
    ordered: bool,
}

const APPAREL_SIZE: Axis = Axis {
    name: "Size",
    values: &["S", "M", "L", "XL"],
    ordered: true,
};
const WAIST_SIZE: Axis = Axis {
    name: "Size",
    values: &["28", "30", "32", "34", "36"],
    ordered: true,
};
const SHOE_SIZE: Axis = Axis {
    name: "Size",
    values: &["7", "8", "9", "10", "11", "12"],
    ordered: true,
};
const COLOR: Axis = Axis {
    name: "Color",
    values: &[
        "Black",
        "White",
        "Navy",
        "Heather Grey",
        "Olive",
        "Sand",
        "Rust",
        "Forest Green",
        "Burgundy",
        "Sky Blue",
        "Charcoal",
        "Cream",
    ],
    ordered: false,
};
const SCENT: Axis = Axis {
    name: "Scent",
    values: &["Cedar", "Fig", "Sea Salt", "Amber", "Vetiver"],
    ordered: false,
};
const FORMAT: Axis = Axis {
    name: "Format",
    values: &["Hardcover", "Paperback", "Spiral-Bound"],
    ordered: false,
};
const COFFEE_SIZE: Axis = Axis {
    name: "Size",
    values: &["250 g", "500 g", "1 kg"],
    ordered: true,
};
const GRIND: Axis = Axis {
    name: "Grind",
    values: &["Whole Bean", "Ground"],
    ordered: false,
};
const TEA_SIZE: Axis = Axis {
    name: "Size",
    values: &["50 g", "100 g", "250 g"],
    ordered: true,
};

/// A kind of product: the word lists its titles are built from and the shape
/// of its options, prices and weights.
struct Kind {
    product_type: &'static str,
    modifiers: &'static [&'static str],
    nouns: &'static [&'static str],
    /// One or two axes; with two, the first is the ordered one.
    axes: &'static [Axis],
    /// Whole-dollar price range of the cheapest variant.
    dollars: (i64, i64),
    /// Dollars added per step of the first (ordered) axis, e.g. bigger bags of coffee.
    step_dollars: i64,
    /// Weight range in grams of the lightest variant.
    grams: (i32, i32),
    reduced_tax: bool,
    /// Index into [`COLLECTIONS`] of the kind's department, if any.
    department: Option<usize>,
    summery: bool,
    /// Opening sentences; `{vendor}` is replaced.
    blurbs: &'static [&'static str],
    /// Detail sentence; `{m}` is replaced by the modifier, `{ml}` by it in lowercase.
    detail: &'static str,
}

static KINDS: [Kind; 15] = [
    Kind {
        product_type: "T-Shirt",
        modifiers: &[
            "Cotton",
            "Organic Cotton",
            "Linen",
            "Slub Cotton",
            "Pima Cotton",
        ],
        nouns: &[
            "Tee",
            "Pocket Tee",
            "Crew Tee",
            "V-Neck Tee",
            "Long Sleeve Tee",
        ],
        axes: &[APPAREL_SIZE, COLOR],
        dollars: (18, 45),
        step_dollars: 0,
        grams: (140, 220),
        reduced_tax: false,
        department: None,
        summery: true,
        blurbs: &[
            "A relaxed everyday tee with a clean neckline and a true-to-size fit.",
            "The tee {vendor} wears under everything, cut a little longer in the body.",
            "A wardrobe staple that softens with every wash.",
        ],
        detail: "Knitted from {ml} jersey that keeps its shape.",
    },
    Kind {
        product_type: "Sweater",
        modifiers: &["Merino", "Cashmere", "Lambswool", "Cotton", "Alpaca"],
        nouns: &[
            "Crew Sweater",
            "Cardigan",
            "Turtleneck",
            "Half-Zip Sweater",
            "Rollneck",
        ],
        axes: &[APPAREL_SIZE, COLOR],
        dollars: (59, 189),
        step_dollars: 0,
        grams: (300, 520),
        reduced_tax: false,
        department: None,
        summery: false,
        blurbs: &[
            "A warm mid-weight knit for layering from autumn into spring.",
            "{vendor}'s take on the classic sweater, with ribbed cuffs and hem.",
            "Fully fashioned for a neat fit through the shoulders.",
        ],
        detail: "Spun from fine {ml} yarn that breathes and resists odour.",
    },
    Kind {
        product_type: "Jacket",
        modifiers: &["Waxed Cotton", "Nylon", "Wool", "Down", "Ripstop"],
        nouns: &[
            "Field Jacket",
            "Parka",
            "Rain Shell",
            "Quilted Vest",
            "Chore Coat",
        ],
        axes: &[APPAREL_SIZE, COLOR],
        dollars: (89, 289),
        step_dollars: 0,
        grams: (550, 1200),
        reduced_tax: false,
        department: Some(OUTERWEAR),
        summery: false,
        blurbs: &[
            "A hard-wearing layer with roomy pockets and a storm flap.",
            "Built by {vendor} for wet commutes and weekend trails alike.",
            "Cut to fit over a sweater without bulk.",
        ],
        detail: "Built from {ml} to keep out wind and showers.",
    },
    Kind {
        product_type: "Pants",
        modifiers: &["Twill", "Linen", "Corduroy", "Denim", "Stretch Cotton"],
        nouns: &["Chinos", "Trousers", "Joggers", "Shorts", "Carpenter Pants"],
        axes: &[WAIST_SIZE, COLOR],
        dollars: (45, 129),
        step_dollars: 0,
        grams: (280, 650),
        reduced_tax: false,
        department: None,
        summery: true,
        blurbs: &[
            "A straight, easy fit with a mid rise and a clean finish.",
            "The pair {vendor} reaches for most, with a gusseted crotch for movement.",
            "Tailored enough for the office, relaxed enough for the weekend.",
        ],
        detail: "Made from durable {ml} with reinforced pockets.",
    },
    Kind {
        product_type: "Bag",
        modifiers: &[
            "Canvas",
            "Leather",
            "Waxed Canvas",
            "Recycled Nylon",
            "Cordura",
        ],
        nouns: &[
            "Weekender Bag",
            "Tote",
            "Backpack",
            "Messenger Bag",
            "Duffel",
        ],
        axes: &[COLOR],
        dollars: (39, 249),
        step_dollars: 0,
        grams: (450, 1500),
        reduced_tax: false,
        department: Some(ACCESSORIES),
        summery: false,
        blurbs: &[
            "A roomy carry-all with a padded laptop sleeve and an inside zip pocket.",
            "{vendor}'s travel bag, sized to fit under an airline seat.",
            "Sturdy handles and a shoulder strap make it easy to carry all day.",
        ],
        detail: "The {ml} body ages beautifully with use.",
    },
    Kind {
        product_type: "Sneakers",
        modifiers: &["Canvas", "Suede", "Leather", "Knit", "Recycled"],
        nouns: &[
            "Sneakers",
            "Runners",
            "High-Tops",
            "Slip-Ons",
            "Court Shoes",
        ],
        axes: &[SHOE_SIZE, COLOR],
        dollars: (59, 179),
        step_dollars: 0,
        grams: (600, 950),
        reduced_tax: false,
        department: Some(FOOTWEAR),
        summery: true,
        blurbs: &[
            "A low-profile sneaker with a cushioned footbed for all-day wear.",
            "{vendor}'s everyday shoe, on a grippy natural-rubber sole.",
            "Minimal lines that go with everything in the wardrobe.",
        ],
        detail: "The {ml} upper breaks in quickly and stays comfortable.",
    },
    Kind {
        product_type: "Boots",
        modifiers: &["Suede", "Leather", "Waterproof Leather", "Nubuck"],
        nouns: &[
            "Chelsea Boots",
            "Hiking Boots",
            "Desert Boots",
            "Work Boots",
        ],
        axes: &[SHOE_SIZE, COLOR],
        dollars: (119, 289),
        step_dollars: 0,
        grams: (1100, 1800),
        reduced_tax: false,
        department: Some(FOOTWEAR),
        summery: false,
        blurbs: &[
            "A Goodyear-welted boot that can be resoled for years of wear.",
            "{vendor}'s boot for city streets and muddy paths alike.",
            "A padded collar and cushioned insole from the first wear.",
        ],
        detail: "Cut from {ml} chosen for its strength and character.",
    },
    Kind {
        product_type: "Hat",
        modifiers: &["Wool", "Cotton", "Recycled", "Merino", "Cashmere"],
        nouns: &["Beanie", "Baseball Cap", "Bucket Hat", "Watch Cap"],
        axes: &[COLOR],
        dollars: (15, 39),
        step_dollars: 0,
        grams: (60, 140),
        reduced_tax: false,
        department: Some(ACCESSORIES),
        summery: true,
        blurbs: &[
            "A one-size-fits-most hat that packs flat.",
            "{vendor}'s hat for early mornings and late evenings.",
            "Simple, comfortable and easy to wear.",
        ],
        detail: "Made from {ml} material with a soft inner band.",
    },
    Kind {
        product_type: "Scarf",
        modifiers: &["Wool", "Cashmere", "Silk", "Linen"],
        nouns: &["Scarf", "Wrap", "Bandana", "Snood"],
        axes: &[COLOR],
        dollars: (25, 89),
        step_dollars: 0,
        grams: (80, 260),
        reduced_tax: false,
        department: Some(ACCESSORIES),
        summery: false,
        blurbs: &[
            "A generous length to loop twice or wear loose.",
            "Woven for {vendor} in a small family mill.",
            "Finished with hand-twisted fringes.",
        ],
        detail: "The {ml} weave is soft against the skin.",
    },
    Kind {
        product_type: "Mug",
        modifiers: &["Stoneware", "Enamel", "Ceramic", "Porcelain"],
        nouns: &["Mug", "Travel Mug", "Espresso Cup", "Latte Bowl"],
        axes: &[COLOR],
        dollars: (9, 29),
        step_dollars: 0,
        grams: (250, 450),
        reduced_tax: false,
        department: Some(HOME),
        summery: false,
        blurbs: &[
            "A comfortable handle and a heavy base that keeps drinks warm.",
            "Thrown and glazed for {vendor} in small runs, so each one is slightly different.",
            "The right size for a proper morning coffee.",
        ],
        detail: "Glazed {ml} that is safe in the dishwasher.",
    },
    Kind {
        product_type: "Candle",
        modifiers: &["Soy Wax", "Beeswax", "Coconut Wax"],
        nouns: &["Candle", "Travel Candle", "Pillar Candle"],
        axes: &[SCENT],
        dollars: (12, 48),
        step_dollars: 0,
        grams: (180, 520),
        reduced_tax: false,
        department: Some(HOME),
        summery: false,
        blurbs: &[
            "Hand-poured with a cotton wick for a clean, even burn.",
            "{vendor}'s scents are blended in-house from natural oils.",
            "Around forty hours of burn time.",
        ],
        detail: "Poured from {ml} in a reusable glass vessel.",
    },
    Kind {
        product_type: "Blanket",
        modifiers: &["Wool", "Cotton", "Alpaca", "Recycled Wool"],
        nouns: &["Throw Blanket", "Picnic Blanket", "Bed Blanket"],
        axes: &[COLOR],
        dollars: (49, 199),
        step_dollars: 0,
        grams: (800, 2200),
        reduced_tax: false,
        department: Some(HOME),
        summery: false,
        blurbs: &[
            "A generous throw for the sofa, the bed or the garden.",
            "Woven for {vendor} on traditional looms.",
            "Soft and warm without being heavy.",
        ],
        detail: "The {ml} yarn is brushed for extra softness.",
    },
    Kind {
        product_type: "Book",
        modifiers: &["Illustrated", "Pocket", "Collector's", "Hand-Bound"],
        nouns: &["Field Guide", "Cookbook", "Journal", "Sketchbook"],
        axes: &[FORMAT],
        dollars: (9, 39),
        step_dollars: 0,
        grams: (200, 900),
        reduced_tax: true,
        department: Some(HOME),
        summery: false,
        blurbs: &[
            "A handsome volume that belongs on the shelf and in the bag.",
            "Published by {vendor} with a lay-flat binding.",
            "Full of ideas for slow weekends.",
        ],
        detail: "This {ml} edition is printed on acid-free paper.",
    },
    Kind {
        product_type: "Coffee",
        modifiers: &["Ethiopian", "Colombian", "Guatemalan", "Sumatra", "Kenyan"],
        nouns: &["Coffee Beans", "Espresso Blend", "Filter Roast"],
        axes: &[COFFEE_SIZE, GRIND],
        dollars: (12, 22),
        step_dollars: 9,
        grams: (250, 280),
        reduced_tax: true,
        department: Some(HOME),
        summery: false,
        blurbs: &[
            "Notes of cocoa, stone fruit and brown sugar.",
            "Roasted by {vendor} every week and shipped within days.",
            "Balanced enough for espresso, bright enough for filter.",
        ],
        detail: "Roasted in small batches from {m} beans.",
    },
    Kind {
        product_type: "Tea",
        modifiers: &["Darjeeling", "Sencha", "Earl Grey", "Rooibos", "Oolong"],
        nouns: &["Loose Leaf Tea", "Tea Sampler", "Tea Tin"],
        axes: &[TEA_SIZE],
        dollars: (9, 18),
        step_dollars: 6,
        grams: (50, 80),
        reduced_tax: true,
        department: Some(HOME),
        summery: true,
        blurbs: &[
            "A calm, fragrant cup for any time of day.",
            "Sourced by {vendor} directly from the estate.",
            "Brews well hot or cold.",
        ],
        detail: "Whole-leaf {m}, packed in a resealable tin.",
    },
];

// ---------------------------------------------------------------------------
// Generation (pure, deterministic)
// ---------------------------------------------------------------------------

/// Ids of rows that [`generate`] links to.
struct Refs {
    default_channel: i64,
    eu_channel: i64,
    wholesale: i64,
    locations: Vec<i64>,
    collections: Vec<i64>,
}

/// First explicit id to use per table.
struct FirstIds {
    product: i64,
    option: i64,
    option_value: i64,
    variant: i64,
    price: i64,
    media: i64,
    stock: i64,
}

#[derive(Default)]
struct Rows {
    products: Vec<product::ActiveModel>,
    tags: Vec<product_tag::ActiveModel>,
    options: Vec<product_option::ActiveModel>,
    option_values: Vec<product_option_value::ActiveModel>,
    variants: Vec<variant::ActiveModel>,
    variant_values: Vec<variant_option_value::ActiveModel>,
    prices: Vec<variant_price::ActiveModel>,
    memberships: Vec<collection_product::ActiveModel>,
    media: Vec<media::ActiveModel>,
    stock: Vec<stock_level::ActiveModel>,
}

/// Hands out consecutive ids.
struct IdSeq(i64);

impl IdSeq {
    fn take(&mut self) -> i64 {
        let id = self.0;
        self.0 += 1;
        id
    }
}

/// One option of a product: an axis and the indices of the values it uses.
struct OptionPlan {
    axis: &'static Axis,
    values: Vec<usize>,
}

/// Builds every row for `count` products. Product `i` depends only on the
/// random stream consumed by products `0..i`, so it does not depend on `count`.
fn generate(count: usize, refs: &Refs, first: &FirstIds) -> Rows {
    let mut rng = ChaCha8Rng::seed_from_u64(RNG_SEED);
    let base = base_time();
    let mut product_ids = IdSeq(first.product);
    let mut option_ids = IdSeq(first.option);
    let mut value_ids = IdSeq(first.option_value);
    let mut variant_ids = IdSeq(first.variant);
    let mut price_ids = IdSeq(first.price);
    let mut media_ids = IdSeq(first.media);
    let mut stock_ids = IdSeq(first.stock);
    let mut positions = vec![0_i32; COLLECTIONS.len()];
    let mut rows = Rows::default();

    for index in 0..count {
        let kind = &KINDS[rng.random_range(0..KINDS.len())];
        let modifier = *pick(&mut rng, kind.modifiers);
        let noun = *pick(&mut rng, kind.nouns);
        let title = if rng.random_bool(0.5) {
            format!("{} {modifier} {noun}", pick(&mut rng, &ADJECTIVES))
        } else {
            format!("{modifier} {noun}")
        };
        let handle = format!("{}-{index}", slug(&title));
        let vendor = *pick(&mut rng, &VENDORS);
        let created = base + TimeDelta::minutes(i64::try_from(index).unwrap_or(0));
        let status = product_status(index);
        let product_id = product_ids.take();

        let description = describe(&mut rng, kind, modifier, vendor);
        rows.products.push(product::ActiveModel {
            id: Set(product_id),
            handle: Set(handle.clone()),
            title: Set(title.clone()),
            description: Set(description),
            status: Set(status),
            vendor: Set(Some(vendor.to_owned())),
            product_type: Set(Some(kind.product_type.to_owned())),
            created_at: Set(created),
            updated_at: Set(created),
            published_at: Set((status == ProductStatus::Active).then_some(created)),
        });

        // Tags: 1-4 distinct, often led by the material.
        let tag_count = rng.random_range(1..=4_usize);
        let mut tags: Vec<String> = Vec::with_capacity(tag_count);
        if rng.random_bool(0.6) {
            tags.push(slug(modifier));
        }
        while tags.len() < tag_count {
            let tag = *pick(&mut rng, &GENERIC_TAGS);
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        }

        // Options and variants.
        let variant_count = match rng.random_range(0..100_u32) {
            0..15 => 1,
            15..35 => 2,
            35..65 => 3,
            65..85 => 4,
            _ => 5,
        };
        let (options, combos) = plan_variants(&mut rng, kind, variant_count);
        let mut value_id_of: Vec<Vec<i64>> = Vec::with_capacity(options.len());
        for (option_pos, option) in (1_i32..).zip(&options) {
            let option_id = option_ids.take();
            rows.options.push(product_option::ActiveModel {
                id: Set(option_id),
                product_id: Set(product_id),
                name: Set(option.axis.name.to_owned()),
                position: Set(option_pos),
            });
            let mut ids = Vec::with_capacity(option.values.len());
            for (value_pos, &value) in (1_i32..).zip(&option.values) {
                let value_id = value_ids.take();
                rows.option_values.push(product_option_value::ActiveModel {
                    id: Set(value_id),
                    option_id: Set(option_id),
                    value: Set(option.axis.values[value].to_owned()),
                    position: Set(value_pos),
                });
                ids.push(value_id);
            }
            value_id_of.push(ids);
        }

        // Product-wide pricing.
        let base_dollars = rng.random_range(kind.dollars.0..=kind.dollars.1);
        let cents = *pick(&mut rng, &[0_i64, 50, 99]);
        let on_sale = rng.random_bool(0.2);
        let markdown_percent = rng.random_range(15..=40_i64);
        let base_grams = rng.random_range(kind.grams.0..=kind.grams.1);

        for (variant_pos, combo) in (1_i32..).zip(&combos) {
            let variant_id = variant_ids.take();
            let title = options
                .iter()
                .zip(combo)
                .map(|(option, &i)| option.axis.values[option.values[i]])
                .collect::<Vec<_>>()
                .join(" / ");
            // Step along the ordered first axis (sizes) for price and weight.
            let step = options
                .iter()
                .zip(combo)
                .find(|(option, _)| option.axis.ordered)
                .map_or(0, |(option, &i)| option.values[i]);
            let step_i64 = i64::try_from(step).unwrap_or(0);
            let step_i32 = i32::try_from(step).unwrap_or(0);
            let dollars = (base_dollars + kind.step_dollars * step_i64).min(298);
            let usd = dollars * 100 + cents;
            let barcode = ean13(index, variant_pos, rng.random_range(0..1000_u32));
            rows.variants.push(variant::ActiveModel {
                id: Set(variant_id),
                product_id: Set(product_id),
                sku: Set(format!("EMP-{index:05}-{variant_pos:02}")),
                title: Set(title),
                position: Set(variant_pos),
                weight_grams: Set(Some(base_grams + step_i32 * (base_grams / 8).max(10))),
                barcode: Set(Some(barcode)),
                track_inventory: Set(!rng.random_bool(0.05)),
                allow_backorder: Set(rng.random_bool(0.05)),
                tax_class: Set(if kind.reduced_tax {
                    "reduced"
                } else {
                    "standard"
                }
                .to_owned()),
                created_at: Set(created),
                updated_at: Set(created),
            });
            for (option_values, &i) in value_id_of.iter().zip(combo) {
                rows.variant_values.push(variant_option_value::ActiveModel {
                    variant_id: Set(variant_id),
                    option_value_id: Set(option_values[i]),
                });
            }

            let compare_usd = on_sale.then(|| {
                let bump = (dollars * markdown_percent / 100).max(5);
                (dollars + bump) * 100 + cents
            });
            let mut price = |channel_id, group: Option<i64>, min_quantity, amount, compare_at| {
                rows.prices.push(variant_price::ActiveModel {
                    id: Set(price_ids.take()),
                    variant_id: Set(variant_id),
                    channel_id: Set(channel_id),
                    customer_group_id: Set(group),
                    min_quantity: Set(min_quantity),
                    amount_minor: Set(amount),
                    compare_at_minor: Set(compare_at),
                });
            };
            price(refs.default_channel, None, 1, usd, compare_usd);
            price(
                refs.eu_channel,
                None,
                1,
                to_eur(usd),
                compare_usd.map(to_eur),
            );
            if rng.random_bool(0.1) {
                price(refs.default_channel, None, 10, percent_of(usd, 90), None);
            }
            if rng.random_bool(0.1) {
                price(
                    refs.default_channel,
                    Some(refs.wholesale),
                    1,
                    percent_of(usd, 70),
                    None,
                );
            }

            let sold_out = rng.random_bool(0.08);
            for &location_id in &refs.locations {
                let on_hand = if sold_out {
                    0
                } else {
                    rng.random_range(0..=40)
                };
                rows.stock.push(stock_level::ActiveModel {
                    id: Set(stock_ids.take()),
                    variant_id: Set(variant_id),
                    location_id: Set(location_id),
                    on_hand: Set(on_hand),
                    reserved: Set(0),
                    source_at: Set(None),
                });
            }
        }

        // Media.
        for n in 1..=rng.random_range(1..=3_i32) {
            rows.media.push(media::ActiveModel {
                id: Set(media_ids.take()),
                product_id: Set(product_id),
                url: Set(format!(
                    "https://images.emporium.example/products/{handle}/{n}.jpg"
                )),
                alt: Set(Some(title.clone())),
                position: Set(n),
                media_type: Set("image".to_owned()),
            });
        }

        // Collections: department first, then the merchandising ones; 1-3 in all.
        let mut member_of: Vec<usize> = Vec::with_capacity(4);
        member_of.extend(kind.department);
        if on_sale {
            member_of.push(SALE);
        }
        if tags.iter().any(|t| t == "bestseller") {
            member_of.push(BEST_SELLERS);
        }
        if kind.summery && (tags.iter().any(|t| t == "summer") || rng.random_bool(0.3)) {
            member_of.push(SUMMER);
        }
        if rng.random_bool(0.15) {
            member_of.push(NEW_ARRIVALS);
        }
        if member_of.is_empty() {
            member_of.push(if rng.random_bool(0.5) {
                NEW_ARRIVALS
            } else {
                BEST_SELLERS
            });
        }
        member_of.truncate(3);
        for c in member_of {
            positions[c] += 1;
            rows.memberships.push(collection_product::ActiveModel {
                collection_id: Set(refs.collections[c]),
                product_id: Set(product_id),
                position: Set(positions[c]),
            });
        }

        for tag in tags {
            rows.tags.push(product_tag::ActiveModel {
                product_id: Set(product_id),
                tag: Set(tag),
            });
        }
    }
    rows
}

/// Chooses the options of a product and its variants: each variant is one
/// combination, given as an index into each option's `values`.
fn plan_variants(
    rng: &mut ChaCha8Rng,
    kind: &'static Kind,
    wanted: usize,
) -> (Vec<OptionPlan>, Vec<Vec<usize>>) {
    if let [first, second] = kind.axes
        && wanted >= 4
    {
        // e.g. 3 sizes x 2 colors, keeping the first `wanted` combinations.
        let across = wanted.div_ceil(2).min(first.values.len());
        let options = vec![
            OptionPlan {
                axis: first,
                values: choose_values(rng, first, across),
            },
            OptionPlan {
                axis: second,
                values: choose_values(rng, second, 2),
            },
        ];
        let combos = (0..2)
            .flat_map(|j| (0..across).map(move |i| vec![i, j]))
            .take(wanted)
            .collect();
        return (options, combos);
    }
    let axis = match kind.axes {
        [first, second] => {
            if rng.random_bool(0.5) {
                first
            } else {
                second
            }
        }
        [only, ..] => only,
        [] => &COLOR,
    };
    let count = wanted.clamp(1, axis.values.len());
    let options = vec![OptionPlan {
        axis,
        values: choose_values(rng, axis, count),
    }];
    let combos = (0..count).map(|i| vec![i]).collect();
    (options, combos)
}

/// `count` distinct value indices of `axis`: a contiguous window for ordered
/// axes, a sample in palette order otherwise.
fn choose_values(rng: &mut ChaCha8Rng, axis: &Axis, count: usize) -> Vec<usize> {
    let len = axis.values.len();
    let count = count.min(len);
    if axis.ordered {
        let start = rng.random_range(0..=len - count);
        return (start..start + count).collect();
    }
    let mut pool: Vec<usize> = (0..len).collect();
    for i in 0..count {
        let j = rng.random_range(i..len);
        pool.swap(i, j);
    }
    pool.truncate(count);
    pool.sort_unstable();
    pool
}

/// A few sentences about the product.
fn describe(rng: &mut ChaCha8Rng, kind: &Kind, modifier: &str, vendor: &str) -> String {
    let blurb = pick(rng, kind.blurbs).replace("{vendor}", vendor);
    let detail = kind
        .detail
        .replace("{ml}", &modifier.to_lowercase())
        .replace("{m}", modifier);
    let first = rng.random_range(0..GENERIC_SENTENCES.len());
    let mut text = format!("{blurb} {detail} {}", GENERIC_SENTENCES[first]);
    if rng.random_bool(0.5) {
        let second =
            (first + rng.random_range(1..GENERIC_SENTENCES.len())) % GENERIC_SENTENCES.len();
        text.push(' ');
        text.push_str(GENERIC_SENTENCES[second]);
    }
    text
}

/// A uniformly chosen element of a non-empty constant list.
fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Lowercase ASCII slug: alphanumerics kept, every other run becomes one hyphen.
fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if c != '\'' && !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// USD minor units to EUR minor units (× 0.92, rounded half up to the cent).
fn to_eur(usd_minor: i64) -> i64 {
    percent_of(usd_minor, EUR_PER_USD_PERCENT)
}

/// `percent`% of an amount in minor units, rounded half up.
fn percent_of(minor: i64, percent: i64) -> i64 {
    (minor * percent + 50) / 100
}

/// A 13-digit barcode with a valid EAN-13 check digit, unique per variant:
/// `2` (in-store prefix) + product index + variant position + 3 random digits.
fn ean13(product_index: usize, variant_pos: i32, noise: u32) -> String {
    let body = format!(
        "2{:06}{:02}{:03}",
        product_index % 1_000_000,
        variant_pos % 100,
        noise % 1000
    );
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let digit = u32::from(b - b'0');
            if i % 2 == 0 { digit } else { digit * 3 }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}
