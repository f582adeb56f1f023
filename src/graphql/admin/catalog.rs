//! Catalog administration: `productCreate`, `productUpdate`,
//! `productArchive`, `productDelete` (`catalog:write`) and `pricesSet`
//! (`prices:write`).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::{
    domain::{
        catalog_admin::{
            self, OptionInput, PriceInput, ProductInput, ProductUpdate, SkuPrice, VariantInput,
        },
        identity::permission::Permission,
    },
    graphql::{
        ContextExt,
        auth::{Need, check},
        catalog::types::{Product, ProductStatus},
        error::ApiResult,
        id::{Kind, decode_as},
        identity::types::{UserError, user_errors},
        scalars::Decimal,
    },
};

/// A price in a channel.
#[derive(InputObject)]
pub struct PriceSetInput {
    /// Channel code, e.g. `default` or `eu`.
    pub channel: String,
    /// Amount in the channel's currency, e.g. `"19.90"`.
    pub amount: Decimal,
    /// The currency meant; refused unless it is the channel's.
    pub currency_code: Option<String>,
    /// The "was" price.
    pub compare_at_amount: Option<Decimal>,
}

impl From<PriceSetInput> for PriceInput {
    fn from(p: PriceSetInput) -> Self {
        Self {
            channel: p.channel,
            amount: p.amount.0,
            currency: p.currency_code,
            compare_at: p.compare_at_amount.map(|d| d.0),
        }
    }
}

/// An option and its values.
#[derive(InputObject)]
pub struct ProductOptionInput {
    /// Name, e.g. `Size`.
    pub name: String,
    /// Values in order, e.g. `["S", "M", "L"]`.
    pub values: Vec<String>,
}

/// A variant of a new product.
#[derive(InputObject)]
pub struct ProductVariantCreateInput {
    /// Unique SKU.
    pub sku: String,
    /// Title; default: its option values joined by " / ".
    pub title: Option<String>,
    /// One value per option, in the options' order.
    #[graphql(default)]
    pub option_values: Vec<String>,
    /// Barcode (GTIN).
    pub barcode: Option<String>,
    /// Weight in grams.
    pub weight_grams: Option<i32>,
    /// Whether stock is tracked (default true).
    pub track_inventory: Option<bool>,
    /// Whether it sells when out of stock (default false).
    pub allow_backorder: Option<bool>,
    /// Tax class (default `standard`).
    pub tax_class: Option<String>,
    /// Prices per channel.
    #[graphql(default)]
    pub prices: Vec<PriceSetInput>,
}

/// A new product.
#[derive(InputObject)]
pub struct ProductCreateInput {
    /// URL handle; default: made from the title.
    pub handle: Option<String>,
    /// Title.
    pub title: String,
    /// Plain-text description.
    pub description: Option<String>,
    /// Brand.
    pub vendor: Option<String>,
    /// Category.
    pub product_type: Option<String>,
    /// Tags.
    #[graphql(default)]
    pub tags: Vec<String>,
    /// Status (default DRAFT: invisible until set ACTIVE).
    pub status: Option<ProductStatus>,
    /// Up to three options.
    #[graphql(default)]
    pub options: Vec<ProductOptionInput>,
    /// One to 250 variants.
    pub variants: Vec<ProductVariantCreateInput>,
}

/// Changes to a product (absent fields are left alone).
#[derive(InputObject)]
pub struct ProductUpdateInput {
    /// URL handle.
    pub handle: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Brand.
    pub vendor: Option<String>,
    /// Category.
    pub product_type: Option<String>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    /// Status.
    pub status: Option<ProductStatus>,
}

/// One base price to set, by SKU.
#[derive(InputObject)]
pub struct SkuPriceInput {
    /// The variant's SKU.
    pub sku: String,
    /// Channel code.
    pub channel: String,
    /// Amount in the channel's currency.
    pub amount: Decimal,
    /// The currency meant; refused unless it is the channel's.
    pub currency_code: Option<String>,
    /// The "was" price.
    pub compare_at_amount: Option<Decimal>,
}

/// Result of product mutations.
#[derive(SimpleObject, Default)]
pub struct ProductPayload {
    /// The product, on success (prices in the default channel).
    pub product: Option<Product>,
    /// What was wrong with the input (nothing was written).
    pub user_errors: Vec<UserError>,
}

/// Result of `productDelete`.
#[derive(SimpleObject, Default)]
pub struct ProductDeletePayload {
    /// The deleted product's ID.
    pub deleted_product_id: Option<ID>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

/// Result of `pricesSet`.
#[derive(SimpleObject, Default)]
pub struct PricesSetPayload {
    /// Prices that changed (equal ones are skipped).
    pub updated_count: i32,
    /// What was wrong with the input (nothing was written).
    pub user_errors: Vec<UserError>,
}

async fn product_payload(
    ctx: &Context<'_>,
    result: Result<entity::product::Model, Vec<crate::domain::error::UserError>>,
) -> ApiResult<ProductPayload> {
    Ok(match result {
        Ok(p) => ProductPayload {
            product: Some(Product::new(p, ctx.channel(None).await?)),
            user_errors: vec![],
        },
        Err(e) => ProductPayload {
            product: None,
            user_errors: user_errors(e),
        },
    })
}

async fn update_product(
    ctx: &Context<'_>,
    id: &ID,
    update: ProductUpdate,
) -> ApiResult<ProductPayload> {
    let row = decode_as(Kind::Product, id)?;
    let actor = super::actor(ctx).await?;
    let result = catalog_admin::update_product(&ctx.state()?.db, &actor, row, update).await?;
    product_payload(ctx, result).await
}

/// Catalog administration mutations.
#[derive(Default)]
pub struct CatalogAdminMutation;

#[Object]
impl CatalogAdminMutation {
    /// Creates a product with options, variants and prices (prices also
    /// need `prices:write`).
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_create(
        &self,
        ctx: &Context<'_>,
        input: ProductCreateInput,
    ) -> ApiResult<ProductPayload> {
        if input.variants.iter().any(|v| !v.prices.is_empty()) {
            check(ctx.principal()?, Permission::PricesWrite)?;
        }
        let domain = ProductInput {
            handle: input.handle,
            title: input.title,
            description: input.description,
            vendor: input.vendor,
            product_type: input.product_type,
            tags: input.tags,
            status: input.status.map(Into::into),
            options: input
                .options
                .into_iter()
                .map(|o| OptionInput {
                    name: o.name,
                    values: o.values,
                })
                .collect(),
            variants: input
                .variants
                .into_iter()
                .map(|v| VariantInput {
                    sku: v.sku,
                    title: v.title,
                    option_values: v.option_values,
                    barcode: v.barcode,
                    weight_grams: v.weight_grams,
                    track_inventory: v.track_inventory,
                    allow_backorder: v.allow_backorder,
                    tax_class: v.tax_class,
                    prices: v.prices.into_iter().map(Into::into).collect(),
                })
                .collect(),
        };
        let actor = super::actor(ctx).await?;
        let result = catalog_admin::create_product(&ctx.state()?.db, &actor, domain).await?;
        product_payload(ctx, result).await
    }

    /// Changes a product's fields, tags or status.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ProductUpdateInput,
    ) -> ApiResult<ProductPayload> {
        let update = ProductUpdate {
            handle: input.handle,
            title: input.title,
            description: input.description,
            vendor: input.vendor,
            product_type: input.product_type,
            tags: input.tags,
            status: input.status.map(Into::into),
        };
        update_product(ctx, &id, update).await
    }

    /// Archives a product: it leaves the storefront but stays for order history.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_archive(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ProductPayload> {
        let update = ProductUpdate {
            status: Some(entity::product_status::ProductStatus::Archived),
            ..Default::default()
        };
        update_product(ctx, &id, update).await
    }

    /// Deletes a product with its variants, prices and stock.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_delete(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ProductDeletePayload> {
        let row = decode_as(Kind::Product, &id)?;
        let actor = super::actor(ctx).await?;
        Ok(
            match catalog_admin::delete_product(&ctx.state()?.db, &actor, row).await? {
                Ok(_) => ProductDeletePayload {
                    deleted_product_id: Some(id),
                    user_errors: vec![],
                },
                Err(e) => ProductDeletePayload {
                    deleted_product_id: None,
                    user_errors: user_errors(e),
                },
            },
        )
    }

    /// Sets base prices by SKU and channel, all or none (up to 5,000).
    #[graphql(guard = "Need(Permission::PricesWrite)")]
    async fn prices_set(
        &self,
        ctx: &Context<'_>,
        prices: Vec<SkuPriceInput>,
    ) -> ApiResult<PricesSetPayload> {
        if prices.is_empty() || prices.len() > 5000 {
            let e = crate::domain::error::UserError::new(
                &["prices"],
                crate::domain::error::UserErrorCode::Invalid,
                "give 1 to 5,000 prices",
            );
            return Ok(PricesSetPayload {
                updated_count: 0,
                user_errors: user_errors(vec![e]),
            });
        }
        let rows: Vec<SkuPrice> = prices
            .into_iter()
            .map(|p| SkuPrice {
                sku: p.sku,
                price: PriceSetInput {
                    channel: p.channel,
                    amount: p.amount,
                    currency_code: p.currency_code,
                    compare_at_amount: p.compare_at_amount,
                }
                .into(),
            })
            .collect();
        let actor = super::actor(ctx).await?;
        Ok(
            match catalog_admin::set_prices(&ctx.state()?.db, &actor, &rows).await? {
                Ok(n) => PricesSetPayload {
                    updated_count: i32::try_from(n).unwrap_or(i32::MAX),
                    user_errors: vec![],
                },
                Err(e) => PricesSetPayload {
                    updated_count: 0,
                    user_errors: user_errors(e),
                },
            },
        )
    }
}
