//! The product connection shared by `products` and `Collection.products`.

use std::sync::Arc;

use async_graphql::{
    Context, Object,
    connection::{Connection, Edge},
};

use crate::domain::{
    self,
    catalog::{Page, ProductFilter},
};
use crate::graphql::{
    ContextExt,
    error::ApiResult,
    pagination::{OffsetCursor, PageArgs},
};

use super::{ProductSortKeys, types::Product};

/// Extra fields of a product connection.
pub struct ProductConnectionFields {
    channel: Arc<domain::channel::Channel>,
    filter: ProductFilter,
    total: Option<u64>,
}

#[Object]
impl ProductConnectionFields {
    /// How many products match, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        match self.total {
            Some(t) => Ok(t),
            None => {
                Ok(
                    domain::catalog::count_products(&ctx.state()?.db, &self.channel, &self.filter)
                        .await?,
                )
            }
        }
    }
}

/// A page of products.
pub type ProductConnection = Connection<OffsetCursor, Product, ProductConnectionFields>;

/// Lists one page of products as a Relay connection.
pub async fn product_connection(
    ctx: &Context<'_>,
    channel: Arc<domain::channel::Channel>,
    filter: ProductFilter,
    sort: ProductSortKeys,
    reverse: bool,
    page: PageArgs,
) -> ApiResult<ProductConnection> {
    page.validate()?;
    let db = &ctx.state()?.db;
    // Any product change may change what a list holds.
    let tags = &ctx.request()?.tags;
    tags.lists();
    if filter.available_only {
        tags.availability();
    }
    let total = if page.needs_total() {
        Some(domain::catalog::count_products(db, &channel, &filter).await?)
    } else {
        None
    };
    let window = page.window(total)?;
    let mut rows = if window.wanted == 0 {
        Vec::new()
    } else {
        let limit = window.wanted + u64::from(window.probe_next);
        domain::catalog::list_products(
            db,
            &channel,
            &filter,
            sort.into(),
            reverse,
            Page {
                offset: window.offset,
                limit,
            },
        )
        .await?
    };
    let has_next = match window.has_next_known {
        Some(known) => known,
        None => rows.len() as u64 > window.wanted,
    };
    rows.truncate(window.wanted as usize);
    tags.products(rows.iter().map(|r| r.id));
    let mut conn = Connection::with_additional_fields(
        window.has_previous,
        has_next,
        ProductConnectionFields {
            channel: channel.clone(),
            filter,
            total,
        },
    );
    conn.edges
        .extend(rows.into_iter().enumerate().map(|(i, m)| {
            Edge::new(
                OffsetCursor(window.offset + i as u64),
                Product::new(m, channel.clone()),
            )
        }));
    Ok(conn)
}
