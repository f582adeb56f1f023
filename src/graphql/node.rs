//! The Relay `Node` interface: any object with a global ID can be fetched by
//! it. Unknown or invisible objects resolve to `null`, and so do objects the
//! caller may not see (another customer's address answers exactly like a
//! missing one); malformed IDs are a BAD_USER_INPUT error.

use async_graphql::{Context, ID, Interface, Object};

use super::{
    ContextExt,
    catalog::types::{Channel, Collection, MediaImage, Product, ProductVariant},
    error::{ApiResult, ErrorCode},
    id::{self, Kind},
    identity::types::{ApiToken, Customer, MailingAddress, StaffUser},
    loaders::{CollectionId, MediaId, ProductId, VariantId},
};
use crate::domain::identity::{api_token, customer, staff};
use crate::domain::{
    self,
    identity::{access::Principal, permission::Permission},
};

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
    /// A customer account (the customer themself, or `customers:read`).
    Customer(Customer),
    /// A customer's address (its owner, or `customers:read`).
    MailingAddress(MailingAddress),
    /// A staff user (themself, or `staff:manage`).
    StaffUser(StaffUser),
    /// A partner API token (`tokens:manage`).
    ApiToken(ApiToken),
    /// An order (its owner, or `orders:read`). Boxed: an order row is
    /// several times larger than any other variant.
    Order(Box<super::commerce::types::Order>),
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
    #[graphql(complexity = "ids.len().max(1).saturating_mul(child_complexity)")]
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
    if let Some(node) = fetch_account(ctx, kind, row).await? {
        return Ok(node);
    }
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
        Kind::Channel
        | Kind::Customer
        | Kind::MailingAddress
        | Kind::StaffUser
        | Kind::ApiToken
        | Kind::StockLocation
        | Kind::CustomerGroup
        | Kind::ProductOption
        | Kind::CartLine
        | Kind::Promotion
        | Kind::GiftCard
        | Kind::WebhookSubscription
        | Kind::WebhookDelivery
        | Kind::OrderLine
        | Kind::Fulfillment
        | Kind::Refund
        | Kind::OrderEvent => None,
        Kind::Order => super::commerce::order_for(ctx, row)
            .await?
            .map(|o| Node::Order(Box::new(o))),
    })
}

/// Account objects, each visible only to its owner or to a principal with
/// the permission to read them; `Some(None)` when the caller may not see it.
async fn fetch_account(ctx: &Context<'_>, kind: Kind, row: i64) -> ApiResult<Option<Option<Node>>> {
    let principal = ctx.principal()?;
    let db = || Ok::<_, super::error::ApiError>(&ctx.state()?.db);
    let staff_view = principal.can(Permission::CustomersRead);
    Ok(Some(match kind {
        Kind::Customer if staff_view || principal.customer_id() == Some(row) => {
            ctx.request()?.no_store();
            customer::get(db()?, row)
                .await?
                .map(|c| Node::Customer(Customer(c)))
        }
        Kind::MailingAddress => {
            ctx.request()?.no_store();
            let found = match principal.customer_id() {
                Some(owner) => customer::address(db()?, owner, row).await?,
                None if staff_view => customer::address_by_id(db()?, row).await?,
                None => None,
            };
            found.map(|a| Node::MailingAddress(MailingAddress(a)))
        }
        Kind::StaffUser
            if principal.can(Permission::StaffManage)
                || matches!(principal, Principal::Staff { id, .. } if *id == row) =>
        {
            staff::get(db()?, row)
                .await?
                .map(|u| Node::StaffUser(StaffUser(u)))
        }
        Kind::ApiToken if principal.can(Permission::TokensManage) => api_token::get(db()?, row)
            .await?
            .map(|t| Node::ApiToken(ApiToken(t))),
        Kind::Customer | Kind::StaffUser | Kind::ApiToken => None,
        _ => return Ok(None),
    }))
}
