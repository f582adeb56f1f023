//! Merchandising administration: collections and their ordered products,
//! product media, channels (`catalog:write`), stock locations
//! (`inventory:write`), customer groups and the customers in them
//! (`customers:write`); and the lists of stock locations and customer
//! groups (`catalog:read`).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use entity::{collection, customer_group, stock_location};

use super::catalog::{ProductPayload, product_payload};
use crate::domain::channel::Channel as DomainChannel;
use crate::{
    domain::{
        error::UserError as DomainUserError,
        identity::permission::Permission,
        merchandising::{self, ChannelInput, MediaInput},
    },
    graphql::{
        ContextExt,
        auth::Need,
        catalog::types::{Channel, Collection},
        common::{Payload, UserError, actor, payload, under_input, user_errors},
        error::ApiResult,
        id::{Kind, decode_all, decode_as, encode},
        identity::types::CustomerPayload,
    },
};

/// A group of customers with its own prices (wholesale, staff ...).
#[derive(SimpleObject, Clone, Debug)]
pub struct CustomerGroup {
    /// Globally unique, opaque ID.
    pub id: ID,
    /// Code prices name it by.
    pub code: String,
    /// Display name.
    pub name: String,
}

impl From<customer_group::Model> for CustomerGroup {
    fn from(g: customer_group::Model) -> Self {
        Self {
            id: encode(Kind::CustomerGroup, g.id),
            code: g.code,
            name: g.name,
        }
    }
}

/// A place stock is held (warehouse, store).
#[derive(SimpleObject, Clone, Debug)]
pub struct StockLocation {
    /// Globally unique, opaque ID.
    pub id: ID,
    /// Code inventory operations name it by.
    pub code: String,
    /// Display name.
    pub name: String,
}

impl From<stock_location::Model> for StockLocation {
    fn from(l: stock_location::Model) -> Self {
        Self {
            id: encode(Kind::StockLocation, l.id),
            code: l.code,
            name: l.name,
        }
    }
}

/// A collection's fields (absent fields are left alone).
#[derive(InputObject)]
pub struct CollectionInput {
    /// URL handle; default on creation: made from the title.
    pub handle: Option<String>,
    /// Title (required on creation).
    pub title: Option<String>,
    /// Plain-text description.
    pub description: Option<String>,
}

impl From<CollectionInput> for merchandising::CollectionInput {
    fn from(i: CollectionInput) -> Self {
        Self {
            handle: i.handle,
            title: i.title,
            description: i.description,
        }
    }
}

/// A new image of a product.
#[derive(InputObject)]
pub struct ProductMediaInput {
    /// Absolute `http` or `https` URL the image is served from.
    pub url: String,
    /// Text alternative for accessibility.
    pub alt: Option<String>,
}

/// Result of collection mutations.
#[derive(SimpleObject, Default)]
pub struct CollectionPayload {
    /// The collection, on success (prices in the default channel).
    pub collection: Option<Collection>,
    /// What was wrong with the input (nothing was written).
    pub user_errors: Vec<UserError>,
}

/// Result of `collectionDelete`.
#[derive(SimpleObject, Default)]
pub struct CollectionDeletePayload {
    /// The deleted collection's ID.
    pub deleted_collection_id: Option<ID>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

/// Result of channel mutations.
#[derive(SimpleObject, Default)]
pub struct ChannelPayload {
    /// The channel, on success.
    pub channel: Option<Channel>,
    /// What was wrong with the input (nothing was written).
    pub user_errors: Vec<UserError>,
}

/// Result of stock location mutations.
#[derive(SimpleObject, Default)]
pub struct StockLocationPayload {
    /// The location, on success.
    pub stock_location: Option<StockLocation>,
    /// What was wrong with the input (nothing was written).
    pub user_errors: Vec<UserError>,
}

/// Result of `stockLocationDelete`.
#[derive(SimpleObject, Default)]
pub struct StockLocationDeletePayload {
    /// The deleted location's ID.
    pub deleted_stock_location_id: Option<ID>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

/// Result of `customerGroupCreate`.
#[derive(SimpleObject, Default)]
pub struct CustomerGroupPayload {
    /// The group, on success.
    pub customer_group: Option<CustomerGroup>,
    /// What was wrong with the input (nothing was written).
    pub user_errors: Vec<UserError>,
}

payload!(ChannelPayload, DomainChannel, channel, Channel);
payload!(
    StockLocationPayload,
    stock_location::Model,
    stock_location,
    StockLocation::from
);
payload!(
    CustomerGroupPayload,
    customer_group::Model,
    customer_group,
    CustomerGroup::from
);
payload!(
    CollectionDeletePayload,
    ID,
    deleted_collection_id,
    std::convert::identity
);
payload!(
    StockLocationDeletePayload,
    ID,
    deleted_stock_location_id,
    std::convert::identity
);

async fn collection_payload(
    ctx: &Context<'_>,
    result: Result<collection::Model, Vec<DomainUserError>>,
) -> ApiResult<CollectionPayload> {
    Ok(match result {
        Ok(c) => CollectionPayload {
            collection: Some(Collection::new(c, ctx.channel(None).await?)),
            user_errors: vec![],
        },
        Err(e) => CollectionPayload {
            collection: None,
            user_errors: user_errors(e),
        },
    })
}

/// Lists for merchandising administration.
#[derive(Default)]
pub struct MerchandisingQuery;

#[Object]
impl MerchandisingQuery {
    /// Every stock location, by code. Needs `catalog:read`.
    #[graphql(guard = "Need(Permission::CatalogRead)")]
    async fn stock_locations(&self, ctx: &Context<'_>) -> ApiResult<Vec<StockLocation>> {
        ctx.request()?.no_store();
        let rows = merchandising::stock_locations(&ctx.state()?.db).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Every customer group, by code. Needs `catalog:read`.
    #[graphql(guard = "Need(Permission::CatalogRead)")]
    async fn customer_groups(&self, ctx: &Context<'_>) -> ApiResult<Vec<CustomerGroup>> {
        ctx.request()?.no_store();
        let rows = merchandising::customer_groups(&ctx.state()?.db).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// Merchandising administration mutations.
#[derive(Default)]
pub struct MerchandisingMutation;

#[Object]
impl MerchandisingMutation {
    /// Creates a collection (without products).
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn collection_create(
        &self,
        ctx: &Context<'_>,
        input: CollectionInput,
    ) -> ApiResult<CollectionPayload> {
        let actor = actor(ctx).await?;
        let result = merchandising::create_collection(&ctx.state()?.db, &actor, input.into())
            .await?
            .map_err(under_input);
        collection_payload(ctx, result).await
    }

    /// Changes a collection's handle, title or description.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn collection_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: CollectionInput,
    ) -> ApiResult<CollectionPayload> {
        let row = decode_as(Kind::Collection, &id)?;
        let actor = actor(ctx).await?;
        let result = merchandising::update_collection(&ctx.state()?.db, &actor, row, input.into())
            .await?
            .map_err(under_input);
        collection_payload(ctx, result).await
    }

    /// Deletes a collection; its products stay.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn collection_delete(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<CollectionDeletePayload> {
        let row = decode_as(Kind::Collection, &id)?;
        let actor = actor(ctx).await?;
        let result = merchandising::delete_collection(&ctx.state()?.db, &actor, row).await?;
        Ok(CollectionDeletePayload::from_outcome(result.map(|_| id)))
    }

    /// Adds products to a collection at `position` (0-based; default: the
    /// end). Products already in it keep their place.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn collection_products_add(
        &self,
        ctx: &Context<'_>,
        collection_id: ID,
        product_ids: Vec<ID>,
        position: Option<i32>,
    ) -> ApiResult<CollectionPayload> {
        let row = decode_as(Kind::Collection, &collection_id)?;
        let ids = decode_all(Kind::Product, &product_ids)?;
        let actor = actor(ctx).await?;
        let db = &ctx.state()?.db;
        let result = merchandising::add_collection_products(db, &actor, row, ids, position).await?;
        collection_payload(ctx, result).await
    }

    /// Removes products from a collection.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn collection_products_remove(
        &self,
        ctx: &Context<'_>,
        collection_id: ID,
        product_ids: Vec<ID>,
    ) -> ApiResult<CollectionPayload> {
        let row = decode_as(Kind::Collection, &collection_id)?;
        let ids = decode_all(Kind::Product, &product_ids)?;
        let actor = actor(ctx).await?;
        let db = &ctx.state()?.db;
        let result = merchandising::remove_collection_products(db, &actor, row, ids).await?;
        collection_payload(ctx, result).await
    }

    /// Puts a collection's products in this order, the storefront's default
    /// (`MANUAL`) order; list every product of the collection exactly once.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn collection_products_reorder(
        &self,
        ctx: &Context<'_>,
        collection_id: ID,
        product_ids: Vec<ID>,
    ) -> ApiResult<CollectionPayload> {
        let row = decode_as(Kind::Collection, &collection_id)?;
        let ids = decode_all(Kind::Product, &product_ids)?;
        let actor = actor(ctx).await?;
        let db = &ctx.state()?.db;
        let result = merchandising::reorder_collection_products(db, &actor, row, ids).await?;
        collection_payload(ctx, result).await
    }

    /// Adds images after a product's media (absolute http or https URLs).
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_media_add(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        media: Vec<ProductMediaInput>,
    ) -> ApiResult<ProductPayload> {
        let row = decode_as(Kind::Product, &product_id)?;
        let items = media
            .into_iter()
            .map(|m| MediaInput {
                url: m.url,
                alt: m.alt,
            })
            .collect();
        let actor = actor(ctx).await?;
        let result = merchandising::add_media(&ctx.state()?.db, &actor, row, items).await?;
        product_payload(ctx, result).await
    }

    /// Puts a product's media in this order; list every one exactly once.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_media_reorder(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        media_ids: Vec<ID>,
    ) -> ApiResult<ProductPayload> {
        let row = decode_as(Kind::Product, &product_id)?;
        let ids = decode_all(Kind::MediaImage, &media_ids)?;
        let actor = actor(ctx).await?;
        let result = merchandising::reorder_media(&ctx.state()?.db, &actor, row, ids).await?;
        product_payload(ctx, result).await
    }

    /// Deletes media of a product.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_media_delete(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        media_ids: Vec<ID>,
    ) -> ApiResult<ProductPayload> {
        let row = decode_as(Kind::Product, &product_id)?;
        let ids = decode_all(Kind::MediaImage, &media_ids)?;
        let actor = actor(ctx).await?;
        let result = merchandising::delete_media(&ctx.state()?.db, &actor, row, ids).await?;
        product_payload(ctx, result).await
    }

    /// Creates a sales channel selling in an ISO 4217 currency.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn channel_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Unique code: lower-case letters, digits and dashes.")] code: String,
        name: String,
        #[graphql(desc = "ISO 4217 code, e.g. `GBP`.")] currency_code: String,
        #[graphql(desc = "Whether prices include tax (default false).")] prices_include_tax: Option<
            bool,
        >,
    ) -> ApiResult<ChannelPayload> {
        let input = ChannelInput {
            code: Some(code),
            name: Some(name),
            currency_code: Some(currency_code),
            prices_include_tax,
        };
        let actor = actor(ctx).await?;
        let result = merchandising::create_channel(&ctx.state()?.db, &actor, input).await?;
        Ok(ChannelPayload::from_outcome(result))
    }

    /// Changes a channel's name, tax display or currency (the currency only
    /// while the channel has no prices).
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn channel_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        currency_code: Option<String>,
        prices_include_tax: Option<bool>,
    ) -> ApiResult<ChannelPayload> {
        let row = decode_as(Kind::Channel, &id)?;
        let input = ChannelInput {
            code: None,
            name,
            currency_code,
            prices_include_tax,
        };
        let actor = actor(ctx).await?;
        let result = merchandising::update_channel(&ctx.state()?.db, &actor, row, input).await?;
        Ok(ChannelPayload::from_outcome(result))
    }

    /// Creates a stock location.
    #[graphql(guard = "Need(Permission::InventoryWrite)")]
    async fn stock_location_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Unique code: lower-case letters, digits and dashes.")] code: String,
        name: String,
    ) -> ApiResult<StockLocationPayload> {
        let actor = actor(ctx).await?;
        let db = &ctx.state()?.db;
        let result = merchandising::create_stock_location(db, &actor, &code, &name).await?;
        Ok(StockLocationPayload::from_outcome(result))
    }

    /// Changes a stock location's code or name.
    #[graphql(guard = "Need(Permission::InventoryWrite)")]
    async fn stock_location_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        code: Option<String>,
        name: Option<String>,
    ) -> ApiResult<StockLocationPayload> {
        let row = decode_as(Kind::StockLocation, &id)?;
        let actor = actor(ctx).await?;
        let db = &ctx.state()?.db;
        let result =
            merchandising::update_stock_location(db, &actor, row, code.as_deref(), name.as_deref())
                .await?;
        Ok(StockLocationPayload::from_outcome(result))
    }

    /// Deletes a stock location; refused while it holds stock.
    #[graphql(guard = "Need(Permission::InventoryWrite)")]
    async fn stock_location_delete(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<StockLocationDeletePayload> {
        let row = decode_as(Kind::StockLocation, &id)?;
        let actor = actor(ctx).await?;
        let result = merchandising::delete_stock_location(&ctx.state()?.db, &actor, row).await?;
        Ok(StockLocationDeletePayload::from_outcome(result.map(|_| id)))
    }

    /// Creates a customer group; give it prices with `pricesSet`.
    #[graphql(guard = "Need(Permission::CustomersWrite)")]
    async fn customer_group_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Unique code: lower-case letters, digits and dashes.")] code: String,
        name: String,
    ) -> ApiResult<CustomerGroupPayload> {
        let actor = actor(ctx).await?;
        let db = &ctx.state()?.db;
        let result = merchandising::create_customer_group(db, &actor, &code, &name).await?;
        Ok(CustomerGroupPayload::from_outcome(result))
    }

    /// Puts a customer in a customer group (by code), or in none (null).
    #[graphql(guard = "Need(Permission::CustomersWrite)")]
    async fn customer_assign_group(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        group: Option<String>,
    ) -> ApiResult<CustomerPayload> {
        ctx.request()?.no_store();
        let row = decode_as(Kind::Customer, &customer_id)?;
        let actor = actor(ctx).await?;
        let db = &ctx.state()?.db;
        let result =
            merchandising::assign_customer_group(db, &actor, row, group.as_deref()).await?;
        Ok(CustomerPayload::from_outcome(result))
    }
}
