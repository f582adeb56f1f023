//! Storefront catalog output types, built from entity models. Each carries
//! the channel it was asked in, so nested prices use the request's channel.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use entity::{collection, media, product, variant};

use crate::domain::{self, catalog::availability, money::Money as DomainMoney};
use crate::graphql::{
    ContextExt,
    admin::{catalog as admin_catalog, inventory},
    common::Money,
    error::{ApiError, ApiResult},
    id::{Kind, encode},
    loaders::{
        CollectionsOf, MediaOf, OptionsOf, PriceOf, ProductId, SelectedOptionsOf, StockOf, TagsOf,
        VariantsOf,
    },
    pagination::PageArgs,
    scalars::{CurrencyCode, Decimal},
};

use super::{
    ProductSortKeys,
    connection::{ProductConnection, product_connection},
};

/// The lowest and highest variant price of a product.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct ProductPriceRange {
    /// Lowest variant price.
    pub min_variant_price: Money,
    /// Highest variant price.
    pub max_variant_price: Money,
}

/// Units a weight is given in.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightUnit {
    /// Grams.
    Grams,
}

/// A shipping weight.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct Weight {
    /// The amount.
    pub value: Decimal,
    /// Its unit.
    pub unit: WeightUnit,
}

/// A sales channel: currency and tax display of a storefront.
pub struct Channel(pub domain::channel::Channel);

/// A sales channel: currency and tax display of a storefront.
#[Object]
impl Channel {
    /// Globally unique, opaque ID.
    pub async fn id(&self) -> ID {
        encode(Kind::Channel, self.0.id)
    }
    /// Code used to select the channel (argument `channel` or header `emporium-channel`).
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Currency of every price in this channel.
    async fn currency_code(&self) -> CurrencyCode {
        self.0.currency.into()
    }
    /// Whether prices in this channel include tax.
    async fn prices_include_tax(&self) -> bool {
        self.0.prices_include_tax
    }
}

/// A product option (Size, Color) and its values.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProductOption {
    /// Globally unique, opaque ID (names the option in `productOptionUpdate`
    /// and `productOptionsDelete`).
    pub id: ID,
    /// Option name.
    pub name: String,
    /// Values in display order.
    pub values: Vec<String>,
}

/// The value a variant has for one option.
#[derive(SimpleObject, Debug, Clone)]
pub struct SelectedOption {
    /// Option name (`Size`).
    pub name: String,
    /// Value (`M`).
    pub value: String,
}

/// An image of a product.
pub struct MediaImage(pub media::Model);

/// An image of a product.
#[Object]
impl MediaImage {
    /// Globally unique, opaque ID.
    pub async fn id(&self) -> ID {
        encode(Kind::MediaImage, self.0.id)
    }
    /// Where the image is served from.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Text alternative for accessibility.
    async fn alt(&self) -> Option<&str> {
        self.0.alt.as_deref()
    }
    /// Position among the product's media, from 1.
    async fn position(&self) -> i32 {
        self.0.position
    }
}

/// A product as shown in a storefront.
pub struct Product {
    model: product::Model,
    channel: Arc<domain::channel::Channel>,
}

impl Product {
    /// The product `model` seen in `channel`.
    pub fn new(model: product::Model, channel: Arc<domain::channel::Channel>) -> Self {
        Self { model, channel }
    }

    async fn variant_models(&self, ctx: &Context<'_>) -> ApiResult<Arc<Vec<variant::Model>>> {
        Ok(ctx
            .loaders()?
            .load_one(VariantsOf(self.model.id))
            .await?
            .unwrap_or_default())
    }

    fn price_key(&self, v: &variant::Model) -> PriceOf {
        PriceOf {
            variant_id: v.id,
            channel_id: self.channel.id,
        }
    }
}

/// Publication status of a product.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::product_status::ProductStatus")]
pub enum ProductStatus {
    /// Being prepared; invisible to storefronts.
    Draft,
    /// On sale.
    Active,
    /// Retired; invisible to storefronts.
    Archived,
}

/// A product as shown in a storefront.
#[Object]
impl Product {
    /// Globally unique, opaque ID.
    pub async fn id(&self) -> ID {
        encode(Kind::Product, self.model.id)
    }
    /// Unique, URL-friendly name.
    async fn handle(&self) -> &str {
        &self.model.handle
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.model.title
    }
    /// Plain-text description.
    async fn description(&self) -> &str {
        &self.model.description
    }
    /// Brand or maker.
    async fn vendor(&self) -> Option<&str> {
        self.model.vendor.as_deref()
    }
    /// Merchant's category (T-Shirt, Mug).
    async fn product_type(&self) -> Option<&str> {
        self.model.product_type.as_deref()
    }
    /// Publication status: always ACTIVE on the storefront; `catalogProducts`
    /// also lists drafts and archived products.
    async fn status(&self) -> ProductStatus {
        self.model.status.into()
    }
    /// Tags, alphabetically.
    async fn tags(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        let tags = ctx
            .loaders()?
            .load_one(TagsOf(self.model.id))
            .await?
            .unwrap_or_default();
        Ok(tags.as_ref().clone())
    }
    /// When the product was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    /// When the product last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }
    /// When the product was published to storefronts.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.model.published_at
    }
    /// Options the variants differ by, with their values.
    async fn options(&self, ctx: &Context<'_>) -> ApiResult<Vec<ProductOption>> {
        let options = ctx
            .loaders()?
            .load_one(OptionsOf(self.model.id))
            .await?
            .unwrap_or_default();
        Ok(options
            .iter()
            .map(|o| ProductOption {
                id: encode(Kind::ProductOption, o.option.id),
                name: o.option.name.clone(),
                values: o.values.iter().map(|v| v.value.clone()).collect(),
            })
            .collect())
    }
    /// Variants in display order.
    #[graphql(complexity = "super::LIST_FACTOR * child_complexity")]
    async fn variants(&self, ctx: &Context<'_>) -> ApiResult<Vec<ProductVariant>> {
        let variants = self.variant_models(ctx).await?;
        Ok(variants
            .iter()
            .map(|v| ProductVariant::new(v.clone(), self.channel.clone()))
            .collect())
    }
    /// Images in display order.
    #[graphql(complexity = "super::LIST_FACTOR * child_complexity")]
    async fn media(&self, ctx: &Context<'_>) -> ApiResult<Vec<MediaImage>> {
        let media = ctx
            .loaders()?
            .load_one(MediaOf(self.model.id))
            .await?
            .unwrap_or_default();
        Ok(media.iter().cloned().map(MediaImage).collect())
    }
    /// The first image.
    async fn featured_media(&self, ctx: &Context<'_>) -> ApiResult<Option<MediaImage>> {
        let media = ctx
            .loaders()?
            .load_one(MediaOf(self.model.id))
            .await?
            .unwrap_or_default();
        Ok(media.first().cloned().map(MediaImage))
    }
    /// Collections the product is in, by title.
    #[graphql(complexity = "super::LIST_FACTOR * child_complexity")]
    async fn collections(&self, ctx: &Context<'_>) -> ApiResult<Vec<Collection>> {
        let cs = ctx
            .loaders()?
            .load_one(CollectionsOf(self.model.id))
            .await?
            .unwrap_or_default();
        Ok(cs
            .iter()
            .map(|c| Collection::new(c.clone(), self.channel.clone()))
            .collect())
    }
    /// Lowest and highest variant price in the channel; null if no variant is priced there.
    async fn price_range(&self, ctx: &Context<'_>) -> ApiResult<Option<ProductPriceRange>> {
        let variants = self.variant_models(ctx).await?;
        let keys = variants.iter().map(|v| self.price_key(v));
        let prices = ctx.loaders()?.load_many(keys).await?;
        let currency = self.channel.currency;
        let amounts = prices.values().map(|p| p.amount_minor);
        let (min, max) = (amounts.clone().min(), amounts.max());
        Ok(min.zip(max).map(|(min, max)| ProductPriceRange {
            min_variant_price: DomainMoney::from_minor(min, currency).into(),
            max_variant_price: DomainMoney::from_minor(max, currency).into(),
        }))
    }
    /// Whether any variant can be bought now.
    async fn available_for_sale(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let variants = self.variant_models(ctx).await?;
        let loaders = ctx.loaders()?;
        let (stock, prices) = futures_util::try_join!(
            loaders.load_many(variants.iter().map(|v| StockOf(v.id))),
            loaders.load_many(variants.iter().map(|v| self.price_key(v))),
        )?;
        Ok(variants.iter().any(|v| {
            let priced = prices.contains_key(&self.price_key(v));
            availability(v, stock.get(&StockOf(v.id)), priced).available_for_sale
        }))
    }
}

/// A sellable variant of a product.
pub struct ProductVariant {
    model: variant::Model,
    channel: Arc<domain::channel::Channel>,
    // Three fields derive from it; work it out once.
    availability: tokio::sync::OnceCell<domain::catalog::Availability>,
}

impl ProductVariant {
    /// The variant `model` seen in `channel`.
    pub fn new(model: variant::Model, channel: Arc<domain::channel::Channel>) -> Self {
        Self {
            model,
            channel,
            availability: tokio::sync::OnceCell::new(),
        }
    }

    fn price_key(&self) -> PriceOf {
        PriceOf {
            variant_id: self.model.id,
            channel_id: self.channel.id,
        }
    }

    async fn price_row(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<entity::variant_price::Model>> {
        Ok(ctx.loaders()?.load_one(self.price_key()).await?)
    }

    async fn price_money(&self, ctx: &Context<'_>) -> ApiResult<Option<DomainMoney>> {
        let currency = self.channel.currency;
        Ok(self
            .price_row(ctx)
            .await?
            .map(|p| DomainMoney::from_minor(p.amount_minor, currency)))
    }

    async fn availability(&self, ctx: &Context<'_>) -> ApiResult<domain::catalog::Availability> {
        let found = self
            .availability
            .get_or_try_init(|| async {
                let loaders = ctx.loaders()?;
                let (stock, price) = futures_util::try_join!(
                    loaders.load_one(StockOf(self.model.id)),
                    loaders.load_one(self.price_key()),
                )?;
                Ok::<_, ApiError>(availability(&self.model, stock.as_ref(), price.is_some()))
            })
            .await?;
        Ok(*found)
    }
}

/// A sellable variant of a product.
#[Object]
impl ProductVariant {
    /// Globally unique, opaque ID.
    pub async fn id(&self) -> ID {
        encode(Kind::ProductVariant, self.model.id)
    }
    /// Stock per location. Needs `inventory:read`.
    #[graphql(
        guard = "crate::graphql::auth::Need(crate::domain::identity::permission::Permission::InventoryRead)"
    )]
    async fn inventory_levels(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<inventory::InventoryLevel>> {
        inventory::levels(ctx, self.model.id).await
    }
    /// Latest stock changes, newest first (default 50, at most 250). Needs `inventory:read`.
    #[graphql(
        guard = "crate::graphql::auth::Need(crate::domain::identity::permission::Permission::InventoryRead)"
    )]
    async fn inventory_movements(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> ApiResult<Vec<inventory::InventoryMovement>> {
        inventory::movements(ctx, self.model.id, first).await
    }
    /// Every price row: base prices per channel, quantity tiers and
    /// customer-group prices. Needs `catalog:read`.
    #[graphql(
        guard = "crate::graphql::auth::Need(crate::domain::identity::permission::Permission::CatalogRead)"
    )]
    async fn price_list(&self, ctx: &Context<'_>) -> ApiResult<Vec<admin_catalog::VariantPrice>> {
        admin_catalog::price_list(ctx, self.model.id).await
    }
    /// Stock keeping unit, unique across the shop.
    async fn sku(&self) -> &str {
        &self.model.sku
    }
    /// Title, usually its option values (`M / Black`).
    async fn title(&self) -> &str {
        &self.model.title
    }
    /// Barcode (GTIN, EAN, UPC).
    async fn barcode(&self) -> Option<&str> {
        self.model.barcode.as_deref()
    }
    /// Shipping weight.
    async fn weight(&self) -> Option<Weight> {
        self.model.weight_grams.map(|g| Weight {
            value: Decimal(rust_decimal::Decimal::from(g)),
            unit: WeightUnit::Grams,
        })
    }
    /// The option values that make this variant.
    async fn selected_options(&self, ctx: &Context<'_>) -> ApiResult<Vec<SelectedOption>> {
        let opts = ctx
            .loaders()?
            .load_one(SelectedOptionsOf(self.model.id))
            .await?
            .unwrap_or_default();
        Ok(opts
            .iter()
            .map(|o| SelectedOption {
                name: o.name.clone(),
                value: o.value.clone(),
            })
            .collect())
    }
    /// Price in the channel; null when the variant is not sold there.
    async fn price(&self, ctx: &Context<'_>) -> ApiResult<Option<Money>> {
        Ok(self.price_money(ctx).await?.map(Money::from))
    }
    /// Former price, shown struck through; null when there is none.
    async fn compare_at_price(&self, ctx: &Context<'_>) -> ApiResult<Option<Money>> {
        let currency = self.channel.currency;
        Ok(self
            .price_row(ctx)
            .await?
            .and_then(|p| p.compare_at_minor)
            .map(|m| DomainMoney::from_minor(m, currency).into()))
    }
    /// Units available to sell across locations; null when stock is not tracked.
    async fn quantity_available(&self, ctx: &Context<'_>) -> ApiResult<Option<i64>> {
        Ok(self.availability(ctx).await?.quantity_available)
    }
    /// Whether it can be bought now (priced, and in stock, untracked or backorderable).
    async fn available_for_sale(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.availability(ctx).await?.available_for_sale)
    }
    /// For sale on backorder although none is in stock.
    async fn currently_not_in_stock(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.availability(ctx).await?.currently_not_in_stock)
    }
    /// Whether it is shipped (every variant today).
    async fn requires_shipping(&self) -> bool {
        true
    }
    /// The product this variant belongs to.
    async fn product(&self, ctx: &Context<'_>) -> ApiResult<Option<Product>> {
        let p = ctx
            .loaders()?
            .load_one(ProductId(self.model.product_id))
            .await?;
        Ok(p.map(|m| Product::new(m, self.channel.clone())))
    }
}

/// A merchandised group of products.
pub struct Collection {
    model: collection::Model,
    channel: Arc<domain::channel::Channel>,
}

impl Collection {
    /// The collection `model` seen in `channel`.
    pub fn new(model: collection::Model, channel: Arc<domain::channel::Channel>) -> Self {
        Self { model, channel }
    }
}

/// A merchandised group of products.
#[allow(clippy::too_many_arguments)]
#[Object]
impl Collection {
    /// Globally unique, opaque ID.
    pub async fn id(&self) -> ID {
        encode(Kind::Collection, self.model.id)
    }
    /// Unique, URL-friendly name.
    async fn handle(&self) -> &str {
        &self.model.handle
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.model.title
    }
    /// Plain-text description.
    async fn description(&self) -> &str {
        &self.model.description
    }
    /// When the collection last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }
    /// Visible products of the collection, in the merchandiser's order by default.
    #[graphql(complexity = "super::page_cost(first, last, child_complexity)")]
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
        filter: Option<super::ProductFilterInput>,
        #[graphql(desc = "Order; default MANUAL (the merchandiser's).")] sort_key: Option<
            ProductSortKeys,
        >,
        #[graphql(desc = "Reverse the order (default false).")] reverse: Option<bool>,
    ) -> ApiResult<ProductConnection> {
        let mut f = super::domain_filter(query, filter)?;
        f.collection_id = Some(self.model.id);
        let page = PageArgs {
            first,
            after,
            last,
            before,
        };
        product_connection(
            ctx,
            self.channel.clone(),
            f,
            sort_key.unwrap_or(ProductSortKeys::Manual),
            reverse.unwrap_or(false),
            page,
        )
        .await
    }
}
