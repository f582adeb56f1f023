//! Per-request DataLoaders for every nested catalog relation.
//!
//! One loader struct serves all key types: each key newtype names a relation
//! and batches every lookup of that relation made while resolving one level of
//! the response into a single SQL statement. Loaders are created per request
//! (never shared between viewers), so their caches cannot leak data.
//!
//! Rows come through the shared row cache of the request's catalog version
//! ([`crate::infra::rows`]), which every viewer shares: only public storefront
//! relations belong here, never a viewer's own data or staff-only rows.
//!
//! Batch loads run inside the request's own task ([`RequestTasks`]) rather
//! than as tokio tasks: a load can then only collect its keys once the
//! resolvers of a level have all asked, however slow that pass is. With
//! spawned tasks a load on another worker thread could start mid-pass and
//! split a level into two statements, so the statement count of a page
//! would depend on timing.

use std::{
    collections::HashMap,
    future::Future,
    hash::Hash,
    pin::pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
    time::Duration,
};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use futures_util::{StreamExt, future::BoxFuture, stream::FuturesUnordered};
use sea_orm::DatabaseConnection;

use entity::{collection, media, product, stock_level, stock_location, variant, variant_price};

use crate::domain::checkout::orders;
use crate::{
    domain::{
        catalog::{self, ProductOption, SelectedOption, StockSummary},
        catalog_admin,
        error::DomainError,
        inventory, order_timeline,
    },
    infra::{cache::TagSink, rows::Generation},
};

/// Loads staff-only rows (price lists, stock levels) for one request,
/// batched per level like the catalog's, and never through the shared row
/// cache: what one viewer may see must not be served to another.
pub struct AdminLoader {
    pub(crate) db: DatabaseConnection,
}

/// The request's loader of staff-only rows.
pub type AdminLoaders = DataLoader<AdminLoader, HashMapCache>;

/// Creates the staff-only loaders for one request; their loads run on `tasks`.
pub fn admin_loaders(db: DatabaseConnection, tasks: RequestTasks) -> AdminLoaders {
    DataLoader::with_cache(
        AdminLoader { db },
        move |fut| tasks.spawn(fut),
        HashMapCache::default(),
    )
    .delay(Duration::ZERO)
}

/// Every price row of a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PriceListOf(pub i64);
/// The stock levels of a variant, with their locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StockLevelsOf(pub i64);

impl Loader<PriceListOf> for AdminLoader {
    type Value = Arc<Vec<catalog_admin::PriceRow>>;
    type Error = DomainError;
    async fn load(
        &self,
        keys: &[PriceListOf],
    ) -> Result<HashMap<PriceListOf, Self::Value>, DomainError> {
        let rows = catalog_admin::price_lists(&self.db, &ids(keys, |k| k.0)).await?;
        Ok(rows
            .into_iter()
            .map(|(k, v)| (PriceListOf(k), Arc::new(v)))
            .collect())
    }
}

/// The lines of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderLinesOf(pub i64);

impl Loader<OrderLinesOf> for AdminLoader {
    type Value = Arc<Vec<entity::order_line::Model>>;
    type Error = DomainError;
    async fn load(
        &self,
        keys: &[OrderLinesOf],
    ) -> Result<HashMap<OrderLinesOf, Self::Value>, DomainError> {
        let rows = orders::lines_of(&self.db, &ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |r| OrderLinesOf(r.order_id)))
    }
}

/// The payments of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PaymentsOf(pub i64);

impl Loader<PaymentsOf> for AdminLoader {
    type Value = Arc<Vec<entity::payment::Model>>;
    type Error = DomainError;
    async fn load(
        &self,
        keys: &[PaymentsOf],
    ) -> Result<HashMap<PaymentsOf, Self::Value>, DomainError> {
        let rows = orders::payments_of(&self.db, &ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |r| PaymentsOf(r.order_id)))
    }
}

/// The recorded transitions of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransitionsOf(pub i64);

impl Loader<TransitionsOf> for AdminLoader {
    type Value = Arc<Vec<entity::order_transition::Model>>;
    type Error = DomainError;
    async fn load(
        &self,
        keys: &[TransitionsOf],
    ) -> Result<HashMap<TransitionsOf, Self::Value>, DomainError> {
        let rows = orders::transitions_of(&self.db, &ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |r| TransitionsOf(r.order_id)))
    }
}

/// The timeline of an order, as staff (`true`) or as its customer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimelineOf(pub i64, pub bool);

impl Loader<TimelineOf> for AdminLoader {
    type Value = Arc<Vec<order_timeline::Entry>>;
    type Error = DomainError;
    async fn load(
        &self,
        keys: &[TimelineOf],
    ) -> Result<HashMap<TimelineOf, Self::Value>, DomainError> {
        let mut out = HashMap::new();
        for staff in [false, true] {
            let wanted: Vec<i64> = keys.iter().filter(|k| k.1 == staff).map(|k| k.0).collect();
            if wanted.is_empty() {
                continue;
            }
            let mut found = order_timeline::timelines(&self.db, &wanted, staff).await?;
            for id in wanted {
                let entries = found.remove(&id).unwrap_or_default();
                out.insert(TimelineOf(id, staff), Arc::new(entries));
            }
        }
        Ok(out)
    }
}

/// The fulfilments of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FulfillmentsOf(pub i64);

impl Loader<FulfillmentsOf> for AdminLoader {
    type Value = Arc<Vec<entity::fulfillment::Model>>;
    type Error = DomainError;
    async fn load(
        &self,
        keys: &[FulfillmentsOf],
    ) -> Result<HashMap<FulfillmentsOf, Self::Value>, DomainError> {
        let rows = crate::domain::fulfillment::of_orders(&self.db, &ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |r| FulfillmentsOf(r.order_id)))
    }
}

/// The lines of a fulfilment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FulfillmentLinesOf(pub i64);

impl Loader<FulfillmentLinesOf> for AdminLoader {
    type Value = Arc<Vec<entity::fulfillment_line::Model>>;
    type Error = DomainError;
    async fn load(
        &self,
        keys: &[FulfillmentLinesOf],
    ) -> Result<HashMap<FulfillmentLinesOf, Self::Value>, DomainError> {
        let rows = crate::domain::fulfillment::lines_of(&self.db, &ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |r| FulfillmentLinesOf(r.fulfillment_id)))
    }
}

/// A stock location by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StockLocationId(pub i64);

impl Loader<StockLocationId> for AdminLoader {
    type Value = stock_location::Model;
    type Error = DomainError;
    async fn load(
        &self,
        keys: &[StockLocationId],
    ) -> Result<HashMap<StockLocationId, Self::Value>, DomainError> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let rows = stock_location::Entity::find()
            .filter(stock_location::Column::Id.is_in(ids(keys, |k| k.0)))
            .all(&self.db)
            .await?;
        Ok(index(rows, |r| StockLocationId(r.id)))
    }
}

/// The latest movements of a variant: (variant id, how many).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MovementsOf(pub i64, pub u64);

impl Loader<MovementsOf> for AdminLoader {
    type Value = Arc<Vec<entity::inventory_movement::Model>>;
    type Error = DomainError;
    async fn load(
        &self,
        keys: &[MovementsOf],
    ) -> Result<HashMap<MovementsOf, Self::Value>, DomainError> {
        // One statement per distinct page size asked for on this level.
        let mut by_limit: HashMap<u64, Vec<i64>> = HashMap::new();
        for k in keys {
            by_limit.entry(k.1).or_default().push(k.0);
        }
        let mut out = HashMap::new();
        for (limit, ids) in by_limit {
            for (v, rows) in inventory::movements_of(&self.db, &ids, limit).await? {
                out.insert(MovementsOf(v, limit), Arc::new(rows));
            }
        }
        Ok(out)
    }
}

impl Loader<StockLevelsOf> for AdminLoader {
    type Value = Arc<Vec<(stock_level::Model, stock_location::Model)>>;
    type Error = DomainError;
    async fn load(
        &self,
        keys: &[StockLevelsOf],
    ) -> Result<HashMap<StockLevelsOf, Self::Value>, DomainError> {
        let rows = inventory::levels_of(&self.db, &ids(keys, |k| k.0)).await?;
        Ok(rows
            .into_iter()
            .map(|(k, v)| (StockLevelsOf(k), Arc::new(v)))
            .collect())
    }
}

/// Loads catalog rows for one request, through the shared row cache of the
/// request's catalog version when there is one.
pub struct CatalogLoader {
    db: DatabaseConnection,
    rows: Option<Arc<Generation>>,
    /// Notes the products the response shows, for the response cache.
    tags: Arc<TagSink>,
}

/// The request's catalog loader.
pub type Loaders = DataLoader<CatalogLoader, HashMapCache>;

/// Creates the loaders for one request, with a per-request cache so a row
/// asked for by two fields (a price for `price` and for `priceRange`) is read
/// once. Their loads run on `tasks`.
pub fn loaders(
    db: DatabaseConnection,
    rows: Option<Arc<Generation>>,
    tags: Arc<TagSink>,
    tasks: RequestTasks,
) -> Loaders {
    DataLoader::with_cache(
        CatalogLoader { db, rows, tags },
        move |fut| tasks.spawn(fut),
        HashMapCache::default(),
    )
    .delay(Duration::ZERO)
}

/// Futures spawned by a request's loaders, driven by the request's own task.
#[derive(Clone, Default)]
pub struct RequestTasks {
    inner: Arc<Mutex<Pending>>,
}

#[derive(Default)]
struct Pending {
    queue: Vec<BoxFuture<'static, ()>>,
    waker: Option<Waker>,
}

impl RequestTasks {
    fn spawn(&self, fut: BoxFuture<'static, ()>) {
        let mut p = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        p.queue.push(fut);
        if let Some(w) = p.waker.take() {
            w.wake();
        }
    }

    /// Runs `fut` (the request's execution) together with the loads it spawns.
    ///
    /// A queued load starts only when the execution is blocked: while it
    /// merely yields to be fair (async-graphql resolves long lists in slices
    /// and wakes itself between them), more keys for the same level are still
    /// coming, so the loads keep waiting for them.
    pub async fn run<F: Future>(&self, fut: F) -> F::Output {
        let mut fut = pin!(fut);
        let mut running = FuturesUnordered::new();
        std::future::poll_fn(|cx| {
            let probe = Arc::new(SelfWake {
                inner: cx.waker().clone(),
                woken: AtomicBool::new(false),
            });
            let probe_waker = Waker::from(probe.clone());
            if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(&probe_waker)) {
                return Poll::Ready(out);
            }
            let yielded = probe.woken.load(Ordering::SeqCst);
            loop {
                {
                    let mut p = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                    if !yielded {
                        running.extend(p.queue.drain(..));
                    }
                    p.waker = Some(cx.waker().clone());
                }
                match running.poll_next_unpin(cx) {
                    Poll::Ready(Some(())) => continue,
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            // Finished loads woke the resolvers waiting on them, a yielding
            // execution woke itself, and new loads wake this task in `spawn`.
            Poll::Pending
        })
        .await
    }
}

/// A waker that notes whether the future woke itself while being polled.
struct SelfWake {
    inner: Waker,
    woken: AtomicBool,
}

impl Wake for SelfWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

/// A visible product by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProductId(pub i64);
/// A variant (of a visible product) by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VariantId(pub i64);
/// A collection by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CollectionId(pub i64);
/// A media item (of a visible product) by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaId(pub i64);
/// The variants of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VariantsOf(pub i64);
/// The options of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OptionsOf(pub i64);
/// The media of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaOf(pub i64);
/// The tags of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TagsOf(pub i64);
/// The collections a product is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CollectionsOf(pub i64);
/// The stock of a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StockOf(pub i64);
/// The selected options of a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SelectedOptionsOf(pub i64);
/// The base price of a variant in a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PriceOf {
    /// The variant.
    pub variant_id: i64,
    /// The channel.
    pub channel_id: i64,
}

/// Groups rows under the key they belong to; every requested key gets an entry.
fn group<K, V>(
    keys: &[K],
    rows: impl IntoIterator<Item = V>,
    key: impl Fn(&V) -> K,
) -> HashMap<K, Arc<Vec<V>>>
where
    K: Hash + Eq + Clone,
{
    let mut map: HashMap<K, Vec<V>> = keys.iter().map(|k| (k.clone(), Vec::new())).collect();
    for row in rows {
        if let Some(list) = map.get_mut(&key(&row)) {
            list.push(row);
        }
    }
    map.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()
}

/// Indexes rows by their key (one row per key).
fn index<K: Hash + Eq, V>(
    rows: impl IntoIterator<Item = V>,
    key: impl Fn(&V) -> K,
) -> HashMap<K, V> {
    rows.into_iter().map(|r| (key(&r), r)).collect()
}

fn ids<K>(keys: &[K], f: impl Fn(&K) -> i64) -> Vec<i64> {
    keys.iter().map(f).collect()
}

/// Which product a loaded relation belongs to, if it tells: the response
/// cache drops a response when a product it shows changes.
trait Shows<V> {
    fn product(&self, _row: Option<&V>) -> Option<i64> {
        None
    }
}

macro_rules! shows_product_by_key {
    ($($key:ty => $value:ty),+ $(,)?) => {$(
        impl Shows<$value> for $key {
            fn product(&self, _row: Option<&$value>) -> Option<i64> {
                Some(self.0)
            }
        }
    )+};
}

shows_product_by_key!(
    ProductId => product::Model,
    VariantsOf => Arc<Vec<variant::Model>>,
    OptionsOf => Arc<Vec<ProductOption>>,
    MediaOf => Arc<Vec<media::Model>>,
    TagsOf => Arc<Vec<String>>,
    CollectionsOf => Arc<Vec<collection::Model>>,
);

impl Shows<variant::Model> for VariantId {
    fn product(&self, row: Option<&variant::Model>) -> Option<i64> {
        row.map(|v| v.product_id)
    }
}

impl Shows<media::Model> for MediaId {
    fn product(&self, row: Option<&media::Model>) -> Option<i64> {
        row.map(|m| m.product_id)
    }
}

// Reached only through a product or variant already noted; a collection's
// own changes drop every cached response.
impl Shows<collection::Model> for CollectionId {}
impl Shows<Arc<Vec<SelectedOption>>> for SelectedOptionsOf {}
impl Shows<variant_price::Model> for PriceOf {}

// Each relation's load: rows the shared cache already holds for this
// catalog version are taken from it, only the rest is read (in one
// statement), and what was read is remembered, absences included. The
// products involved are noted for the response cache.
macro_rules! loader {
    ($key:ty, $value:ty, |$this:ident, $keys:ident| $body:expr) => {
        impl Loader<$key> for CatalogLoader {
            type Value = $value;
            type Error = DomainError;
            async fn load(&self, requested: &[$key]) -> Result<HashMap<$key, $value>, DomainError> {
                let $this = self;
                let (mut found, missing) = match &self.rows {
                    Some(g) => g.lookup::<$key, $value>(requested),
                    None => (HashMap::new(), requested.to_vec()),
                };
                if missing.is_empty() {
                    self.note(requested, &found);
                    return Ok(found);
                }
                let $keys: &[$key] = &missing;
                let loaded: Result<HashMap<$key, $value>, DomainError> = $body;
                let loaded = loaded?;
                if let Some(g) = &self.rows {
                    g.remember($keys, &loaded);
                }
                found.extend(loaded);
                self.note(requested, &found);
                Ok(found)
            }
        }
    };
}

impl CatalogLoader {
    fn note<K: Shows<V> + Hash + Eq, V>(&self, keys: &[K], found: &HashMap<K, V>) {
        self.tags
            .products(keys.iter().filter_map(|k| k.product(found.get(k))));
    }
}

loader!(ProductId, product::Model, |this, keys| {
    let rows = catalog::products_by_ids(&this.db, &ids(keys, |k| k.0)).await?;
    Ok(index(rows, |r| ProductId(r.id)))
});

loader!(VariantId, variant::Model, |this, keys| {
    let rows = catalog::variants_by_ids(&this.db, &ids(keys, |k| k.0)).await?;
    Ok(index(rows, |r| VariantId(r.id)))
});

loader!(CollectionId, collection::Model, |this, keys| {
    let rows = catalog::collections_by_ids(&this.db, &ids(keys, |k| k.0)).await?;
    Ok(index(rows, |r| CollectionId(r.id)))
});

loader!(MediaId, media::Model, |this, keys| {
    let rows = catalog::media_by_ids(&this.db, &ids(keys, |k| k.0)).await?;
    Ok(index(rows, |r| MediaId(r.id)))
});

loader!(VariantsOf, Arc<Vec<variant::Model>>, |this, keys| {
    let rows = catalog::variants_of_products(&this.db, &ids(keys, |k| k.0)).await?;
    Ok(group(keys, rows, |r| VariantsOf(r.product_id)))
});

loader!(OptionsOf, Arc<Vec<ProductOption>>, |this, keys| {
    let rows = catalog::options_of_products(&this.db, &ids(keys, |k| k.0)).await?;
    Ok(group(keys, rows, |r| OptionsOf(r.option.product_id)))
});

loader!(MediaOf, Arc<Vec<media::Model>>, |this, keys| {
    let rows = catalog::media_of_products(&this.db, &ids(keys, |k| k.0)).await?;
    Ok(group(keys, rows, |r| MediaOf(r.product_id)))
});

loader!(TagsOf, Arc<Vec<String>>, |this, keys| {
    let rows = catalog::tags_of_products(&this.db, &ids(keys, |k| k.0)).await?;
    let grouped = group(keys, rows, |r| TagsOf(r.product_id));
    Ok(grouped
        .into_iter()
        .map(|(k, v)| (k, Arc::new(v.iter().map(|t| t.tag.clone()).collect())))
        .collect())
});

loader!(CollectionsOf, Arc<Vec<collection::Model>>, |this, keys| {
    let rows = catalog::collections_of_products(&this.db, &ids(keys, |k| k.0)).await?;
    let grouped = group(keys, rows, |(product_id, _)| CollectionsOf(*product_id));
    Ok(grouped
        .into_iter()
        .map(|(k, v)| (k, Arc::new(v.iter().map(|(_, c)| c.clone()).collect())))
        .collect())
});

// Stock moves with every cart hold and order, so it is read fresh by each
// request (in one statement) and never kept in the row cache: its changes do
// not move the catalog version, and the cache stays warm through a sale.
impl Loader<StockOf> for CatalogLoader {
    type Value = StockSummary;
    type Error = DomainError;
    async fn load(&self, keys: &[StockOf]) -> Result<HashMap<StockOf, StockSummary>, DomainError> {
        let rows = catalog::stock_of_variants(&self.db, &ids(keys, |k| k.0)).await?;
        Ok(index(rows, |r| StockOf(r.variant_id)))
    }
}

loader!(SelectedOptionsOf, Arc<Vec<SelectedOption>>, |this, keys| {
    let rows = catalog::selected_options(&this.db, &ids(keys, |k| k.0)).await?;
    Ok(group(keys, rows, |r| SelectedOptionsOf(r.variant_id)))
});

loader!(PriceOf, variant_price::Model, |this, keys| {
    let mut channels = ids(keys, |k| k.channel_id);
    channels.sort_unstable();
    channels.dedup();
    let rows = catalog::base_prices(&this.db, &ids(keys, |k| k.variant_id), &channels).await?;
    Ok(index(rows, |r| PriceOf {
        variant_id: r.variant_id,
        channel_id: r.channel_id,
    }))
});
