//! Catalog administration: `productCreate`, `productUpdate`,
//! `productArchive`, `productDelete`, the `productVariantsBulk*` and
//! `productOption*` operations (`catalog:write`), `pricesSet` and `pricesDelete` (`prices:write`), and
//! each variant's `priceList` (`catalog:read`).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::domain::error::{UserError as DomainUserError, UserErrorCode as DomainCode};
use crate::graphql::loaders::PriceListOf;
use crate::{
    domain::{
        catalog_admin::{
            self, OptionInput, OptionUpdate, PriceInput, ProductInput, ProductUpdate, SkuPrice,
            SkuPriceKey, VariantInput, VariantUpdate,
        },
        identity::permission::Permission,
        money::Money as DomainMoney,
    },
    graphql::{
        ContextExt,
        admin::merchandising::CustomerGroup,
        auth::{Need, check},
        catalog::types::{Channel, Product, ProductStatus},
        common::{Money, UserError, actor, under_input, user_errors},
        error::ApiResult,
        id::{Kind, decode_all, decode_as},
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
    /// Quantity tier: the price applies from this many units (default 1,
    /// the base price).
    pub min_quantity: Option<i32>,
    /// Code of the customer group the price is for (default: everyone).
    pub customer_group: Option<String>,
}

impl From<PriceSetInput> for PriceInput {
    fn from(p: PriceSetInput) -> Self {
        Self {
            channel: p.channel,
            amount: p.amount.0,
            currency: p.currency_code,
            compare_at: p.compare_at_amount.map(|d| d.0),
            min_quantity: p.min_quantity,
            customer_group: p.customer_group,
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

impl From<ProductOptionInput> for OptionInput {
    fn from(o: ProductOptionInput) -> Self {
        Self {
            name: o.name,
            values: o.values,
        }
    }
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

impl From<ProductVariantCreateInput> for VariantInput {
    fn from(v: ProductVariantCreateInput) -> Self {
        Self {
            sku: v.sku,
            title: v.title,
            option_values: v.option_values,
            barcode: v.barcode,
            weight_grams: v.weight_grams,
            track_inventory: v.track_inventory,
            allow_backorder: v.allow_backorder,
            tax_class: v.tax_class,
            prices: v.prices.into_iter().map(Into::into).collect(),
        }
    }
}

/// Changes to an existing variant (absent fields are left alone).
#[derive(InputObject)]
pub struct ProductVariantUpdateInput {
    /// The variant.
    pub id: ID,
    /// New SKU.
    pub sku: Option<String>,
    /// Title; when only the option values change, it follows them.
    pub title: Option<String>,
    /// One value per option, in the options' order.
    pub option_values: Option<Vec<String>>,
    /// Barcode (GTIN); empty clears it.
    pub barcode: Option<String>,
    /// Weight in grams.
    pub weight_grams: Option<i32>,
    /// Whether stock is tracked.
    pub track_inventory: Option<bool>,
    /// Whether it sells when out of stock.
    pub allow_backorder: Option<bool>,
    /// Tax class.
    pub tax_class: Option<String>,
    /// Prices to set; the variant's other prices stay.
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
    /// Quantity tier: the price applies from this many units (default 1,
    /// the base price).
    pub min_quantity: Option<i32>,
    /// Code of the customer group the price is for (default: everyone).
    pub customer_group: Option<String>,
}

/// One price to remove, by SKU.
#[derive(InputObject)]
pub struct SkuPriceDeleteInput {
    /// The variant's SKU.
    pub sku: String,
    /// Channel code.
    pub channel: String,
    /// Customer group code (default: the price for everyone).
    pub customer_group: Option<String>,
    /// Quantity tier (default 1).
    pub min_quantity: Option<i32>,
}

/// One price row of a variant.
#[derive(SimpleObject)]
pub struct VariantPrice {
    /// The channel it applies in.
    pub channel: Channel,
    /// The customer group it is for; null: everyone.
    pub customer_group: Option<CustomerGroup>,
    /// The price applies from this many units (1: the base price).
    pub min_quantity: i32,
    /// The price.
    pub amount: Money,
    /// The "was" price.
    pub compare_at: Option<Money>,
}

impl From<catalog_admin::PriceRow> for VariantPrice {
    fn from(p: catalog_admin::PriceRow) -> Self {
        let currency = p.channel.currency;
        Self {
            customer_group: p.customer_group.map(CustomerGroup::from),
            min_quantity: p.row.min_quantity,
            amount: DomainMoney::from_minor(p.row.amount_minor, currency).into(),
            compare_at: p
                .row
                .compare_at_minor
                .map(|m| DomainMoney::from_minor(m, currency).into()),
            channel: Channel(p.channel),
        }
    }
}

/// Every price row of a variant, for `catalog:read`.
pub async fn price_list(ctx: &Context<'_>, variant_id: i64) -> ApiResult<Vec<VariantPrice>> {
    ctx.request()?.no_store();
    let rows = ctx
        .request()?
        .admin_loaders
        .load_one(PriceListOf(variant_id))
        .await?
        .unwrap_or_default();
    Ok(rows.iter().cloned().map(Into::into).collect())
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

/// Result of `pricesDelete`.
#[derive(SimpleObject, Default)]
pub struct PricesDeletePayload {
    /// Prices removed.
    pub deleted_count: i32,
    /// What was wrong with the input (nothing was removed).
    pub user_errors: Vec<UserError>,
}

/// Refuses a price list outside 1 to 5,000 rows.
fn price_rows_error(n: usize) -> Option<Vec<UserError>> {
    (n == 0 || n > 5000).then(|| {
        user_errors(vec![DomainUserError::new(
            &["prices"],
            DomainCode::Invalid,
            "give 1 to 5,000 prices",
        )])
    })
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Prices in a catalog input also need `prices:write`.
fn check_prices_write(ctx: &Context<'_>, has_prices: bool) -> ApiResult<()> {
    if has_prices {
        check(ctx.principal()?, Permission::PricesWrite)?;
    }
    Ok(())
}

/// The payload of an operation on a product.
pub(super) async fn product_payload(
    ctx: &Context<'_>,
    result: Result<entity::product::Model, Vec<DomainUserError>>,
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
    let actor = actor(ctx).await?;
    let result = catalog_admin::update_product(&ctx.state()?.db, &actor, row, update)
        .await?
        .map_err(under_input);
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
        check_prices_write(ctx, input.variants.iter().any(|v| !v.prices.is_empty()))?;
        let domain = ProductInput {
            handle: input.handle,
            title: input.title,
            description: input.description,
            vendor: input.vendor,
            product_type: input.product_type,
            tags: input.tags,
            status: input.status.map(Into::into),
            options: input.options.into_iter().map(Into::into).collect(),
            variants: input.variants.into_iter().map(Into::into).collect(),
        };
        let actor = actor(ctx).await?;
        let result = catalog_admin::create_product(&ctx.state()?.db, &actor, domain)
            .await?
            .map_err(under_input);
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
        let actor = actor(ctx).await?;
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

    /// Sets prices by SKU and channel, all or none (up to 5,000): base
    /// prices, quantity tiers (`minQuantity`) and customer-group prices
    /// (`customerGroup`). A tier or group price needs a base price in its
    /// channel.
    #[graphql(guard = "Need(Permission::PricesWrite)")]
    async fn prices_set(
        &self,
        ctx: &Context<'_>,
        prices: Vec<SkuPriceInput>,
    ) -> ApiResult<PricesSetPayload> {
        if let Some(user_errors) = price_rows_error(prices.len()) {
            return Ok(PricesSetPayload {
                updated_count: 0,
                user_errors,
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
                    min_quantity: p.min_quantity,
                    customer_group: p.customer_group,
                }
                .into(),
            })
            .collect();
        let actor = actor(ctx).await?;
        Ok(
            match catalog_admin::set_prices(&ctx.state()?.db, &actor, &rows).await? {
                Ok(n) => PricesSetPayload {
                    updated_count: count(n),
                    user_errors: vec![],
                },
                Err(e) => PricesSetPayload {
                    updated_count: 0,
                    user_errors: user_errors(e),
                },
            },
        )
    }

    /// Removes prices by SKU, all or none (up to 5,000): quantity tiers and
    /// customer-group prices, or a base price when the variant keeps one in
    /// another channel and the channel has no tier or group price left.
    #[graphql(guard = "Need(Permission::PricesWrite)")]
    async fn prices_delete(
        &self,
        ctx: &Context<'_>,
        prices: Vec<SkuPriceDeleteInput>,
    ) -> ApiResult<PricesDeletePayload> {
        if let Some(user_errors) = price_rows_error(prices.len()) {
            return Ok(PricesDeletePayload {
                deleted_count: 0,
                user_errors,
            });
        }
        let rows: Vec<SkuPriceKey> = prices
            .into_iter()
            .map(|p| SkuPriceKey {
                sku: p.sku,
                channel: p.channel,
                customer_group: p.customer_group,
                min_quantity: p.min_quantity,
            })
            .collect();
        let actor = actor(ctx).await?;
        Ok(
            match catalog_admin::delete_prices(&ctx.state()?.db, &actor, &rows).await? {
                Ok(n) => PricesDeletePayload {
                    deleted_count: count(n),
                    user_errors: vec![],
                },
                Err(e) => PricesDeletePayload {
                    deleted_count: 0,
                    user_errors: user_errors(e),
                },
            },
        )
    }

    /// Adds variants to a product, all or none (prices also need
    /// `prices:write`). Each names one value of every option.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_variants_bulk_create(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        variants: Vec<ProductVariantCreateInput>,
    ) -> ApiResult<ProductPayload> {
        check_prices_write(ctx, variants.iter().any(|v| !v.prices.is_empty()))?;
        let product = decode_as(Kind::Product, &product_id)?;
        let actor = actor(ctx).await?;
        let variants = variants.into_iter().map(Into::into).collect();
        let result =
            catalog_admin::create_variants(&ctx.state()?.db, &actor, product, variants).await?;
        product_payload(ctx, result).await
    }

    /// Changes variants of a product, all or none (prices also need
    /// `prices:write`).
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_variants_bulk_update(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        variants: Vec<ProductVariantUpdateInput>,
    ) -> ApiResult<ProductPayload> {
        check_prices_write(ctx, variants.iter().any(|v| !v.prices.is_empty()))?;
        let product = decode_as(Kind::Product, &product_id)?;
        let mut updates = Vec::with_capacity(variants.len());
        for v in variants {
            updates.push(VariantUpdate {
                id: decode_as(Kind::ProductVariant, &v.id)?,
                sku: v.sku,
                title: v.title,
                option_values: v.option_values,
                barcode: v.barcode,
                weight_grams: v.weight_grams,
                track_inventory: v.track_inventory,
                allow_backorder: v.allow_backorder,
                tax_class: v.tax_class,
                prices: v.prices.into_iter().map(Into::into).collect(),
            });
        }
        let actor = actor(ctx).await?;
        let result =
            catalog_admin::update_variants(&ctx.state()?.db, &actor, product, updates).await?;
        product_payload(ctx, result).await
    }

    /// Deletes variants of a product with their prices and stock, all or
    /// none; a product keeps at least one variant.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_variants_bulk_delete(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        variant_ids: Vec<ID>,
    ) -> ApiResult<ProductPayload> {
        let product = decode_as(Kind::Product, &product_id)?;
        let ids = decode_all(Kind::ProductVariant, &variant_ids)?;
        let actor = actor(ctx).await?;
        let result =
            catalog_admin::delete_variants(&ctx.state()?.db, &actor, product, &ids).await?;
        product_payload(ctx, result).await
    }
    /// Adds options to a product (at most three in all), all or none. Each
    /// existing variant gets the new option's first value; variant titles
    /// that were the generated default follow their values.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_options_create(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        options: Vec<ProductOptionInput>,
    ) -> ApiResult<ProductPayload> {
        let product = decode_as(Kind::Product, &product_id)?;
        let options: Vec<OptionInput> = options.into_iter().map(Into::into).collect();
        let actor = actor(ctx).await?;
        let result =
            catalog_admin::create_options(&ctx.state()?.db, &actor, product, &options).await?;
        product_payload(ctx, result).await
    }

    /// Renames an option and/or sets its values. `values` is the complete
    /// new list in order: new values are added, the order follows the
    /// list, and a value left out is removed (refused while a variant uses
    /// it). Values are matched to the current ones ignoring case, so this
    /// does not rename a value.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_option_update(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        option_id: ID,
        name: Option<String>,
        values: Option<Vec<String>>,
    ) -> ApiResult<ProductPayload> {
        let product = decode_as(Kind::Product, &product_id)?;
        let option = decode_as(Kind::ProductOption, &option_id)?;
        let actor = actor(ctx).await?;
        let update = OptionUpdate { name, values };
        let result =
            catalog_admin::update_option(&ctx.state()?.db, &actor, product, option, &update)
                .await?;
        product_payload(ctx, result).await
    }

    /// Removes options with their values from a product and its variants,
    /// all or none; refused when two variants would be left with the same
    /// option values. Variant titles that were the generated default
    /// follow their values.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_options_delete(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        option_ids: Vec<ID>,
    ) -> ApiResult<ProductPayload> {
        let product = decode_as(Kind::Product, &product_id)?;
        let ids = decode_all(Kind::ProductOption, &option_ids)?;
        let actor = actor(ctx).await?;
        let result = catalog_admin::delete_options(&ctx.state()?.db, &actor, product, &ids).await?;
        product_payload(ctx, result).await
    }
}
