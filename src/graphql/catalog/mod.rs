//! Storefront catalog queries: products, collections, channels.

pub mod connection;
pub mod types;

use async_graphql::{
    Context, Enum, ID, InputObject, Object,
    connection::{Connection, Edge},
};

use crate::domain::{
    self,
    catalog::{Page, ProductFilter, ProductSort},
};
use crate::graphql::{
    ContextExt,
    error::{ApiResult, ErrorCode},
    id::{Kind, decode_as},
    loaders::ProductId,
    pagination::{DEFAULT_PAGE, MAX_PAGE, OffsetCursor, PageArgs},
    scalars::Decimal,
};
use connection::{ProductConnection, product_connection};
use types::{Channel, Collection, Product};

/// Complexity factor of unpaged lists that can nest (variants, collections):
/// it prices a typical list length, so recursion through them adds up fast.
pub const LIST_FACTOR: usize = 5;

/// Complexity of a connection field: its children times the page size.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child: usize) -> usize {
    let size = first.or(last).unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    (size as usize).saturating_mul(child.max(1))
}

/// Orders a product listing can take.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductSortKeys {
    /// Creation order (the default without a query).
    Id,
    /// Alphabetically by title.
    Title,
    /// By lowest variant price in the channel; unpriced products last.
    Price,
    /// By creation time.
    CreatedAt,
    /// By how well `query` matches, best first (the default with a query).
    Relevance,
    /// The merchandiser's order within a collection (the default there).
    Manual,
}

impl From<ProductSortKeys> for ProductSort {
    fn from(k: ProductSortKeys) -> Self {
        match k {
            ProductSortKeys::Id => Self::Id,
            ProductSortKeys::Title => Self::Title,
            ProductSortKeys::Price => Self::Price,
            ProductSortKeys::CreatedAt => Self::CreatedAt,
            ProductSortKeys::Relevance => Self::Relevance,
            ProductSortKeys::Manual => Self::Manual,
        }
    }
}

/// A price interval in the channel's currency; either end may be open.
#[derive(InputObject, Debug, Clone, Default)]
pub struct PriceRangeFilter {
    /// Lowest price, inclusive.
    pub min: Option<Decimal>,
    /// Highest price, inclusive.
    pub max: Option<Decimal>,
}

/// Narrows a product listing; every given field must hold.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "ProductFilter")]
pub struct ProductFilterInput {
    /// Handle of a collection the products must be in.
    pub collection: Option<String>,
    /// Tags the products must all carry (case-insensitive).
    pub tags: Option<Vec<String>>,
    /// Vendor (case-insensitive).
    pub vendor: Option<String>,
    /// Product type (case-insensitive).
    pub product_type: Option<String>,
    /// A variant's price must fall in this range.
    pub price: Option<PriceRangeFilter>,
    /// Only products with a variant for sale now.
    pub available: Option<bool>,
}

/// Turns the GraphQL arguments into the domain filter (collection handled by the caller).
fn domain_filter(query: Option<String>, f: Option<ProductFilterInput>) -> ApiResult<ProductFilter> {
    let f = f.unwrap_or_default();
    let price = f.price.unwrap_or_default();
    let (min, max) = (price.min.map(|d| d.0), price.max.map(|d| d.0));
    if min.is_some_and(|m| m.is_sign_negative()) || max.is_some_and(|m| m.is_sign_negative()) {
        return Err(ErrorCode::BadUserInput.error("price bounds must not be negative"));
    }
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        return Err(ErrorCode::BadUserInput.error("price.min must not exceed price.max"));
    }
    if query.as_ref().is_some_and(|q| q.len() > 256) {
        return Err(ErrorCode::BadUserInput.error("query must be at most 256 characters"));
    }
    Ok(ProductFilter {
        query: query.filter(|q| !q.trim().is_empty()),
        collection_id: None,
        tags: f.tags.unwrap_or_default(),
        vendor: f.vendor,
        product_type: f.product_type,
        price_min: min,
        price_max: max,
        available_only: f.available.unwrap_or(false),
        statuses: Vec::new(),
    })
}

/// Catalog entry points of the storefront.
#[derive(Default)]
pub struct CatalogQuery;

// Connection fields take the Relay arguments plus filters, hence many arguments.
#[allow(clippy::too_many_arguments)]
#[Object]
impl CatalogQuery {
    /// Visible products, filtered, sorted and paged.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(
            desc = "Words that must all appear in title, description, vendor, type or tags."
        )]
        query: Option<String>,
        filter: Option<ProductFilterInput>,
        #[graphql(desc = "Order; default RELEVANCE with a query, else ID.")] sort_key: Option<
            ProductSortKeys,
        >,
        #[graphql(desc = "Reverse the order (default false).")] reverse: Option<bool>,
        #[graphql(
            desc = "Channel code; default: the `emporium-channel` header, else the default channel."
        )]
        channel: Option<String>,
    ) -> ApiResult<ProductConnection> {
        let page = PageArgs {
            first,
            after,
            last,
            before,
        };
        page.validate()?;
        let collection = filter.as_ref().and_then(|f| f.collection.clone());
        let mut f = domain_filter(query, filter)?;
        let channel = ctx.channel(channel.as_deref()).await?;
        if let Some(handle) = collection {
            match domain::catalog::collection_by_handle(&ctx.state()?.db, &handle).await? {
                Some(c) => f.collection_id = Some(c.id),
                None => {
                    return Err(
                        ErrorCode::BadUserInput.error(format!("unknown collection `{handle}`"))
                    );
                }
            }
        }
        let default_sort = if f.query.is_some() {
            ProductSortKeys::Relevance
        } else {
            ProductSortKeys::Id
        };
        product_connection(
            ctx,
            channel,
            f,
            sort_key.unwrap_or(default_sort),
            reverse.unwrap_or(false),
            page,
        )
        .await
    }

    /// The whole catalog for partner apps and staff: products in any status
    /// (default: all), oldest first. Needs `catalog:read`.
    #[graphql(
        guard = "crate::graphql::auth::Need(crate::domain::identity::permission::Permission::CatalogRead)",
        complexity = "page_cost(first, last, child_complexity)"
    )]
    async fn catalog_products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(
            desc = "Words that must all appear in title, description, vendor, type or tags."
        )]
        query: Option<String>,
        #[graphql(desc = "Statuses to list; default: all.")] statuses: Option<
            Vec<types::ProductStatus>,
        >,
        #[graphql(desc = "Channel code for prices.")] channel: Option<String>,
    ) -> ApiResult<ProductConnection> {
        let page = PageArgs {
            first,
            after,
            last,
            before,
        };
        page.validate()?;
        ctx.request()?.no_store();
        let mut f = domain_filter(query, None)?;
        f.statuses = match statuses {
            Some(s) if !s.is_empty() => s.into_iter().map(Into::into).collect(),
            _ => vec![
                entity::product_status::ProductStatus::Draft,
                entity::product_status::ProductStatus::Active,
                entity::product_status::ProductStatus::Archived,
            ],
        };
        let channel = ctx.channel(channel.as_deref()).await?;
        product_connection(ctx, channel, f, ProductSortKeys::Id, false, page).await
    }

    /// One visible product, by `id` or by `handle` (give exactly one).
    async fn product(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        handle: Option<String>,
        #[graphql(
            desc = "Channel code; default: the `emporium-channel` header, else the default channel."
        )]
        channel: Option<String>,
    ) -> ApiResult<Option<Product>> {
        let model = match (id, handle) {
            (Some(id), None) => {
                let row = decode_as(Kind::Product, &id)?;
                ctx.loaders()?.load_one(ProductId(row)).await?
            }
            (None, Some(handle)) => {
                domain::catalog::product_by_handle(&ctx.state()?.db, &handle).await?
            }
            _ => return Err(ErrorCode::BadUserInput.error("give exactly one of `id` or `handle`")),
        };
        let tags = &ctx.request()?.tags;
        match model {
            Some(m) => {
                tags.products([m.id]);
                Ok(Some(Product::new(
                    m,
                    ctx.channel(channel.as_deref()).await?,
                )))
            }
            // It may appear later: as for a list, any product change counts.
            None => {
                tags.lists();
                Ok(None)
            }
        }
    }

    /// Collections by title.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn collections(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(desc = "Reverse the order (default false).")] reverse: Option<bool>,
        #[graphql(desc = "Channel code for the collections' product prices.")] channel: Option<
            String,
        >,
    ) -> ApiResult<Connection<OffsetCursor, Collection>> {
        let page = PageArgs {
            first,
            after,
            last,
            before,
        };
        page.validate()?;
        let channel = ctx.channel(channel.as_deref()).await?;
        let db = &ctx.state()?.db;
        let total = if page.needs_total() {
            Some(domain::catalog::count_collections(db).await?)
        } else {
            None
        };
        let w = page.window(total)?;
        let mut rows = domain::catalog::list_collections(
            db,
            Page {
                offset: w.offset,
                limit: w.wanted + u64::from(w.probe_next),
            },
            reverse.unwrap_or(false),
        )
        .await?;
        let has_next = w.has_next_known.unwrap_or(rows.len() as u64 > w.wanted);
        rows.truncate(w.wanted as usize);
        let mut conn = Connection::new(w.has_previous, has_next);
        conn.edges
            .extend(rows.into_iter().enumerate().map(|(i, m)| {
                Edge::new(
                    OffsetCursor(w.offset + i as u64),
                    Collection::new(m, channel.clone()),
                )
            }));
        Ok(conn)
    }

    /// One collection by handle.
    async fn collection(
        &self,
        ctx: &Context<'_>,
        handle: String,
        #[graphql(desc = "Channel code for the collection's product prices.")] channel: Option<
            String,
        >,
    ) -> ApiResult<Option<Collection>> {
        let found = domain::catalog::collection_by_handle(&ctx.state()?.db, &handle).await?;
        match found {
            Some(m) => Ok(Some(Collection::new(
                m,
                ctx.channel(channel.as_deref()).await?,
            ))),
            None => Ok(None),
        }
    }

    /// All sales channels.
    async fn channels(&self, ctx: &Context<'_>) -> ApiResult<Vec<Channel>> {
        Ok(domain::channel::list(&ctx.state()?.db)
            .await?
            .into_iter()
            .map(Channel)
            .collect())
    }

    /// The channel this request shops in (argument, header, or default).
    async fn channel(&self, ctx: &Context<'_>, code: Option<String>) -> ApiResult<Channel> {
        Ok(Channel(
            ctx.channel(code.as_deref()).await?.as_ref().clone(),
        ))
    }
}
