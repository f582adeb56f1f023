//! The Relay `Node` interface: any object with a global ID can be fetched by
//! it. Unknown or invisible objects resolve to `null`; malformed IDs are a
//! BAD_USER_INPUT error.

use async_graphql::{Context, ID, Interface, Object};

use super::{
    ContextExt,
    catalog::types::{Channel, Collection, MediaImage, Product, ProductVariant},
    error::{ApiResult, ErrorCode},
    id::{self, Kind},
    loaders::{CollectionId, MediaId, ProductId, VariantId},
};
use crate::domain;

/// An object with a globally unique, opaque ID.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "async_graphql::ID",
    desc = "Globally unique, opaque ID."
))]
pub enum Node {
    /// A product.
    Product(Product),
    /// A product variant.
    ProductVariant(ProductVariant),
    /// A collection.
    Collection(Collection),
    /// A product image.
    MediaImage(MediaImage),
    /// A sales channel.
    Channel(Channel),
}

/// Most IDs `nodes(ids:)` takes at once.
pub const MAX_NODES: usize = 250;

/// `node` and `nodes`.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object with this global ID, or null if there is none you can see.
    async fn node(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(desc = "Channel code for prices; default: the request's channel.")]
        channel: Option<String>,
    ) -> ApiResult<Option<Node>> {
        let (kind, row) = id::decode(&id)?;
        fetch(ctx, kind, row, channel.as_deref()).await
    }

    /// The objects with these global IDs, in order (null where there is none).
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        #[graphql(desc = "Channel code for prices; default: the request's channel.")]
        channel: Option<String>,
    ) -> ApiResult<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(ErrorCode::BadUserInput.error(format!("at most {MAX_NODES} ids")));
        }
        let decoded = ids.iter().map(id::decode).collect::<ApiResult<Vec<_>>>()?;
        let fetches = decoded
            .into_iter()
            .map(|(kind, row)| fetch(ctx, kind, row, channel.as_deref()));
        futures_util::future::try_join_all(fetches).await
    }
}

async fn fetch(
    ctx: &Context<'_>,
    kind: Kind,
    row: i64,
    channel: Option<&str>,
) -> ApiResult<Option<Node>> {
    let loaders = ctx.loaders()?;
    if kind == Kind::Channel {
        let state = ctx.state()?;
        let all = domain::channel::list(&state.db).await?;
        return Ok(all
            .into_iter()
            .find(|c| c.id == row)
            .map(|c| Node::Channel(Channel(c))));
    }
    let channel = ctx.channel(channel).await?;
    Ok(match kind {
        Kind::Product => loaders
            .load_one(ProductId(row))
            .await?
            .map(|m| Node::Product(Product::new(m, channel))),
        Kind::ProductVariant => loaders
            .load_one(VariantId(row))
            .await?
            .map(|m| Node::ProductVariant(ProductVariant::new(m, channel))),
        Kind::Collection => loaders
            .load_one(CollectionId(row))
            .await?
            .map(|m| Node::Collection(Collection::new(m, channel))),
        Kind::MediaImage => loaders
            .load_one(MediaId(row))
            .await?
            .map(|m| Node::MediaImage(MediaImage(m))),
        Kind::Channel => None,
    })
}
