//! Shop settings: shipping zones and methods, tax rates and classes, and
//! the configuration warnings (`settings:read` to see them,
//! `settings:write` to change them).

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use entity::tax_rate;

use crate::{
    domain::{
        checkout::quote::rate_of_ppm,
        identity::permission::Permission,
        settings::{
            shipping::{self, BracketInput, MethodInput, MethodKind, ZoneInput},
            tax::{self, RateInput, WarningCode},
        },
    },
    graphql::{
        ContextExt,
        auth::Need,
        catalog::types::Channel,
        common::{Money, Payload, UserError, actor, money, payload, under_input},
        error::ApiResult,
        id::{Kind, decode_as, encode},
        scalars::Decimal,
    },
};

/// How a shipping method charges.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "MethodKind")]
pub enum ShippingMethodKind {
    /// `price` whatever the cart.
    Flat,
    /// `price`, or nothing once the subtotal after discounts reaches `freeOver`.
    FreeOver,
    /// The price of the lightest weight bracket the cart fits in; a cart
    /// heavier than every bracket cannot use the method.
    ByWeight,
}

/// A set of countries shipping methods serve.
pub struct ShippingZone(shipping::Zone);

/// A set of countries shipping methods serve.
#[Object]
impl ShippingZone {
    /// Globally unique, opaque ID.
    async fn id(&self) -> ID {
        encode(Kind::ShippingZone, self.0.zone.id)
    }
    /// Display name (unique).
    async fn name(&self) -> &str {
        &self.0.zone.name
    }
    /// ISO 3166-1 alpha-2 codes of the countries it covers.
    async fn countries(&self) -> Vec<String> {
        shipping::zone_countries(&self.0.zone)
    }
    /// Its methods, every channel, active or not, in display order.
    async fn methods(&self) -> Vec<ShippingMethod> {
        self.0.methods.iter().cloned().map(ShippingMethod).collect()
    }
}

/// A way to ship to a zone, in one channel.
pub struct ShippingMethod(shipping::Method);

/// One price bracket of a `BY_WEIGHT` method.
#[derive(SimpleObject)]
pub struct ShippingWeightBracket {
    /// Carts up to this weight (inclusive) fall in the bracket.
    pub up_to_grams: i64,
    /// What shipping such a cart costs.
    pub price: Money,
}

/// A way to ship to a zone, in one channel.
#[Object]
impl ShippingMethod {
    /// Globally unique, opaque ID.
    async fn id(&self) -> ID {
        encode(Kind::ShippingMethod, self.0.method.id)
    }
    /// The zone it serves.
    async fn zone_id(&self) -> ID {
        encode(Kind::ShippingZone, self.0.method.zone_id)
    }
    /// The channel it is offered in (its prices are in its currency).
    async fn channel(&self) -> Channel {
        Channel(self.0.channel.clone())
    }
    /// Code storefronts select it by (`cartShippingMethodSelect`), unique in
    /// its channel.
    async fn code(&self) -> &str {
        &self.0.method.code
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.method.name
    }
    /// How it charges.
    async fn kind(&self) -> Option<ShippingMethodKind> {
        MethodKind::parse(&self.0.method.kind).map(Into::into)
    }
    /// `FLAT`: the price; `FREE_OVER`: the price below the threshold;
    /// `BY_WEIGHT`: not used (see `weightBrackets`).
    async fn price(&self) -> Money {
        money(self.0.method.amount_minor, self.0.channel.currency)
    }
    /// `FREE_OVER`: the subtotal after discounts from which it ships free.
    async fn free_over(&self) -> Option<Money> {
        self.0
            .method
            .threshold_minor
            .map(|t| money(t, self.0.channel.currency))
    }
    /// `BY_WEIGHT`: the brackets, lightest first.
    async fn weight_brackets(&self) -> Vec<ShippingWeightBracket> {
        self.0
            .brackets()
            .into_iter()
            .map(|b| ShippingWeightBracket {
                up_to_grams: i64::try_from(b.up_to_grams).unwrap_or(i64::MAX),
                price: money(b.amount_minor, self.0.channel.currency),
            })
            .collect()
    }
    /// Tax class shipping is taxed as; null: shipping is not taxed.
    async fn tax_class(&self) -> Option<&str> {
        self.0.method.tax_class.as_deref()
    }
    /// Whether carts are offered it.
    async fn active(&self) -> bool {
        self.0.method.active
    }
    /// Display order among the channel's methods (lower first).
    async fn position(&self) -> i32 {
        self.0.method.position
    }
}

/// The rate of a tax class in a country, or in one region of it.
pub struct TaxRate(tax_rate::Model);

/// The rate of a tax class in a country, or in one region of it.
#[Object]
impl TaxRate {
    /// Globally unique, opaque ID.
    async fn id(&self) -> ID {
        encode(Kind::TaxRate, self.0.id)
    }
    /// ISO 3166-1 alpha-2 country code.
    async fn country_code(&self) -> &str {
        &self.0.country
    }
    /// Region of the country as addresses give it (`provinceCode`, e.g.
    /// `CA`); null: the whole country.
    async fn region(&self) -> Option<&str> {
        (!self.0.region.is_empty()).then_some(self.0.region.as_str())
    }
    /// The tax class it applies to.
    async fn tax_class(&self) -> &str {
        &self.0.tax_class
    }
    /// The rate as a fraction: `0.19` is 19 %.
    async fn rate(&self) -> Decimal {
        Decimal(rate_of_ppm(self.0.rate_ppm))
    }
    /// Label shown with the tax, e.g. `VAT`.
    async fn name(&self) -> &str {
        &self.0.name
    }
}

/// A tax class: a name variants and shipping methods are taxed by. It is
/// not created on its own: a rate, a variant or a shipping method naming it
/// makes it exist.
#[derive(SimpleObject)]
pub struct TaxClass {
    /// The class's code, as variants (`taxClass`) and rates name it.
    pub code: String,
    /// Variants of this class.
    pub product_variant_count: i64,
    /// Shipping methods taxed as this class.
    pub shipping_method_count: i64,
    /// Its rates, by country and region.
    pub rates: Vec<TaxRate>,
}

impl From<tax::TaxClass> for TaxClass {
    fn from(c: tax::TaxClass) -> Self {
        Self {
            code: c.code,
            product_variant_count: i64::try_from(c.variant_count).unwrap_or(i64::MAX),
            shipping_method_count: i64::try_from(c.shipping_method_count).unwrap_or(i64::MAX),
            rates: c.rates.into_iter().map(TaxRate).collect(),
        }
    }
}

/// What a configuration warning is about.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "WarningCode")]
pub enum ShopConfigurationWarningCode {
    /// A tax class in use has no rate at a place the shop ships to and
    /// collects tax in: carts there are taxed 0 % on it (checkout is not
    /// refused). Add a rate with `taxRateCreate`.
    MissingTaxRate,
}

/// Something in the shop's settings that prices carts in a way the owner
/// probably did not mean.
#[derive(SimpleObject)]
pub struct ShopConfigurationWarning {
    /// What kind of problem.
    pub code: ShopConfigurationWarningCode,
    /// What is wrong and how to fix it.
    pub message: String,
    /// The tax class concerned.
    pub tax_class: Option<String>,
    /// The country concerned (ISO 3166-1 alpha-2).
    pub country_code: Option<String>,
    /// The region of the country concerned; null: the whole country.
    pub region: Option<String>,
}

impl From<tax::Warning> for ShopConfigurationWarning {
    fn from(w: tax::Warning) -> Self {
        Self {
            code: w.code.into(),
            message: w.message,
            tax_class: Some(w.tax_class),
            country_code: Some(w.country),
            region: w.region,
        }
    }
}

/// A new shipping zone.
#[derive(InputObject)]
pub struct ShippingZoneCreateInput {
    /// Display name, unique among zones.
    pub name: String,
    /// ISO 3166-1 alpha-2 country codes (at least one).
    pub countries: Vec<String>,
}

/// Changes to a shipping zone (absent fields are left alone).
#[derive(InputObject)]
pub struct ShippingZoneUpdateInput {
    /// Display name, unique among zones.
    pub name: Option<String>,
    /// ISO 3166-1 alpha-2 country codes, replacing the zone's list.
    pub countries: Option<Vec<String>>,
}

/// One price bracket of a `BY_WEIGHT` method.
#[derive(InputObject)]
pub struct ShippingWeightBracketInput {
    /// Carts up to this weight (inclusive, above 0) fall in the bracket.
    pub up_to_grams: i64,
    /// Price in the channel's currency.
    pub price: Decimal,
}

fn brackets(b: Option<Vec<ShippingWeightBracketInput>>) -> Option<Vec<BracketInput>> {
    b.map(|b| {
        b.into_iter()
            .map(|x| BracketInput {
                up_to_grams: x.up_to_grams,
                amount: x.price.0,
            })
            .collect()
    })
}

/// A new shipping method.
#[derive(InputObject)]
pub struct ShippingMethodCreateInput {
    /// The zone it serves.
    pub zone_id: ID,
    /// Channel code; its prices are in this channel's currency.
    pub channel: String,
    /// Code storefronts select it by: lower-case letters, digits and dashes,
    /// unique in the channel.
    pub code: String,
    /// Display name.
    pub name: String,
    /// How it charges.
    pub kind: ShippingMethodKind,
    /// `FLAT` and `FREE_OVER` (required): the price, in the channel's currency.
    pub price: Option<Decimal>,
    /// `FREE_OVER` (required): the subtotal after discounts from which it is free.
    pub free_over: Option<Decimal>,
    /// `BY_WEIGHT` (required): the price brackets.
    pub weight_brackets: Option<Vec<ShippingWeightBracketInput>>,
    /// Tax class shipping is taxed as; none: shipping is not taxed.
    pub tax_class: Option<String>,
    /// Whether carts are offered it (default true).
    pub active: Option<bool>,
    /// Display order (default: after the channel's other methods).
    pub position: Option<i32>,
}

/// Changes to a shipping method (absent fields are left alone; the
/// channel cannot change).
#[derive(InputObject)]
pub struct ShippingMethodUpdateInput {
    /// Move it to another zone.
    pub zone_id: Option<ID>,
    /// Code storefronts select it by, unique in the channel.
    pub code: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// How it charges; changing it needs the new kind's fields
    /// (`price`, `freeOver` or `weightBrackets`).
    pub kind: Option<ShippingMethodKind>,
    /// The price, in the channel's currency.
    pub price: Option<Decimal>,
    /// `FREE_OVER`: the subtotal after discounts from which it is free.
    pub free_over: Option<Decimal>,
    /// `BY_WEIGHT`: the price brackets, replacing the method's.
    pub weight_brackets: Option<Vec<ShippingWeightBracketInput>>,
    /// Tax class shipping is taxed as; null: shipping is not taxed.
    pub tax_class: MaybeUndefined<String>,
    /// Whether carts are offered it.
    pub active: Option<bool>,
    /// Display order.
    pub position: Option<i32>,
}

/// A new tax rate.
#[derive(InputObject)]
pub struct TaxRateCreateInput {
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: String,
    /// Region of the country as addresses give it (`provinceCode`, e.g.
    /// `CA`); none: the whole country. A region's rate beats the
    /// country's for its class.
    pub region: Option<String>,
    /// The tax class it applies to (as variants name it, e.g. `standard`).
    pub tax_class: String,
    /// The rate as a fraction from 0 to 1: `0.19` is 19 %.
    pub rate: Decimal,
    /// Label shown with the tax, e.g. `VAT`.
    pub name: String,
}

/// Changes to a tax rate (absent fields are left alone).
#[derive(InputObject)]
pub struct TaxRateUpdateInput {
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: Option<String>,
    /// Region of the country; empty: the whole country.
    pub region: Option<String>,
    /// The tax class it applies to.
    pub tax_class: Option<String>,
    /// The rate as a fraction from 0 to 1: `0.19` is 19 %.
    pub rate: Option<Decimal>,
    /// Label shown with the tax.
    pub name: Option<String>,
}

/// Result of shipping zone mutations.
#[derive(SimpleObject, Default)]
pub struct ShippingZonePayload {
    /// The zone, on success.
    pub shipping_zone: Option<ShippingZone>,
    /// What was wrong with the input (nothing was written).
    pub user_errors: Vec<UserError>,
}

/// Result of `shippingZoneDelete`.
#[derive(SimpleObject, Default)]
pub struct ShippingZoneDeletePayload {
    /// The deleted zone's ID (its methods were deleted with it).
    pub deleted_shipping_zone_id: Option<ID>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

/// Result of shipping method mutations.
#[derive(SimpleObject, Default)]
pub struct ShippingMethodPayload {
    /// The method, on success.
    pub shipping_method: Option<ShippingMethod>,
    /// What was wrong with the input (nothing was written).
    pub user_errors: Vec<UserError>,
}

/// Result of `shippingMethodDelete`.
#[derive(SimpleObject, Default)]
pub struct ShippingMethodDeletePayload {
    /// The deleted method's ID.
    pub deleted_shipping_method_id: Option<ID>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

/// Result of tax rate mutations.
#[derive(SimpleObject, Default)]
pub struct TaxRatePayload {
    /// The rate, on success.
    pub tax_rate: Option<TaxRate>,
    /// What was wrong with the input (nothing was written).
    pub user_errors: Vec<UserError>,
}

/// Result of `taxRateDelete`.
#[derive(SimpleObject, Default)]
pub struct TaxRateDeletePayload {
    /// The deleted rate's ID.
    pub deleted_tax_rate_id: Option<ID>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

payload!(
    ShippingZonePayload,
    shipping::Zone,
    shipping_zone,
    ShippingZone
);
payload!(
    ShippingZoneDeletePayload,
    ID,
    deleted_shipping_zone_id,
    std::convert::identity
);
payload!(
    ShippingMethodPayload,
    shipping::Method,
    shipping_method,
    ShippingMethod
);
payload!(
    ShippingMethodDeletePayload,
    ID,
    deleted_shipping_method_id,
    std::convert::identity
);
payload!(TaxRatePayload, tax_rate::Model, tax_rate, TaxRate);
payload!(
    TaxRateDeletePayload,
    ID,
    deleted_tax_rate_id,
    std::convert::identity
);

/// Shop settings lists.
#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// Every shipping zone by name, with its methods. Needs `settings:read`.
    #[graphql(guard = "Need(Permission::SettingsRead)")]
    async fn shipping_zones(&self, ctx: &Context<'_>) -> ApiResult<Vec<ShippingZone>> {
        ctx.request()?.no_store();
        let zones = shipping::zones(&ctx.state()?.db).await?;
        Ok(zones.into_iter().map(ShippingZone).collect())
    }

    /// Tax rates by country, region and class, optionally of one country
    /// or one class. Needs `settings:read`.
    #[graphql(guard = "Need(Permission::SettingsRead)")]
    async fn tax_rates(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only rates of this ISO 3166-1 alpha-2 country.")] country_code: Option<
            String,
        >,
        #[graphql(desc = "Only rates of this tax class.")] tax_class: Option<String>,
    ) -> ApiResult<Vec<TaxRate>> {
        ctx.request()?.no_store();
        let db = &ctx.state()?.db;
        let rows = tax::rates(db, country_code.as_deref(), tax_class.as_deref()).await?;
        Ok(rows.into_iter().map(TaxRate).collect())
    }

    /// Every tax class a rate, a variant or a shipping method names, by
    /// code, with its rates. Needs `settings:read`.
    #[graphql(guard = "Need(Permission::SettingsRead)")]
    async fn tax_classes(&self, ctx: &Context<'_>) -> ApiResult<Vec<TaxClass>> {
        ctx.request()?.no_store();
        let classes = tax::classes(&ctx.state()?.db).await?;
        Ok(classes.into_iter().map(Into::into).collect())
    }

    /// What in the shop's settings prices carts in a way the owner
    /// probably did not mean (a tax class without a rate where the shop
    /// ships and collects tax). Needs `settings:read`.
    #[graphql(guard = "Need(Permission::SettingsRead)")]
    async fn shop_configuration_warnings(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<ShopConfigurationWarning>> {
        ctx.request()?.no_store();
        let warnings = tax::warnings(&ctx.state()?.db).await?;
        Ok(warnings.into_iter().map(Into::into).collect())
    }
}

/// Shop settings mutations.
#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Creates a shipping zone.
    #[graphql(guard = "Need(Permission::SettingsWrite)")]
    async fn shipping_zone_create(
        &self,
        ctx: &Context<'_>,
        input: ShippingZoneCreateInput,
    ) -> ApiResult<ShippingZonePayload> {
        let input = ZoneInput {
            name: Some(input.name),
            countries: Some(input.countries),
        };
        let actor = actor(ctx).await?;
        let result = shipping::zone_create(&ctx.state()?.db, &actor, input)
            .await?
            .map_err(under_input);
        Ok(ShippingZonePayload::from_outcome(result))
    }

    /// Renames a shipping zone or replaces its countries.
    #[graphql(guard = "Need(Permission::SettingsWrite)")]
    async fn shipping_zone_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ShippingZoneUpdateInput,
    ) -> ApiResult<ShippingZonePayload> {
        let row = decode_as(Kind::ShippingZone, &id)?;
        let input = ZoneInput {
            name: input.name,
            countries: input.countries,
        };
        let actor = actor(ctx).await?;
        let result = shipping::zone_update(&ctx.state()?.db, &actor, row, input)
            .await?
            .map_err(under_input);
        Ok(ShippingZonePayload::from_outcome(result))
    }

    /// Deletes a shipping zone with its methods.
    #[graphql(guard = "Need(Permission::SettingsWrite)")]
    async fn shipping_zone_delete(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<ShippingZoneDeletePayload> {
        let row = decode_as(Kind::ShippingZone, &id)?;
        let actor = actor(ctx).await?;
        let result = shipping::zone_delete(&ctx.state()?.db, &actor, row).await?;
        Ok(ShippingZoneDeletePayload::from_outcome(result.map(|_| id)))
    }

    /// Creates a shipping method in a zone and channel.
    #[graphql(guard = "Need(Permission::SettingsWrite)")]
    async fn shipping_method_create(
        &self,
        ctx: &Context<'_>,
        input: ShippingMethodCreateInput,
    ) -> ApiResult<ShippingMethodPayload> {
        let input = MethodInput {
            zone_id: Some(decode_as(Kind::ShippingZone, &input.zone_id)?),
            channel: Some(input.channel),
            code: Some(input.code),
            name: Some(input.name),
            kind: Some(input.kind.into()),
            amount: input.price.map(|d| d.0),
            free_over: input.free_over.map(|d| d.0),
            brackets: brackets(input.weight_brackets),
            tax_class: input.tax_class.map(Some),
            active: input.active,
            position: input.position,
        };
        let actor = actor(ctx).await?;
        let result = shipping::method_create(&ctx.state()?.db, &actor, input)
            .await?
            .map_err(under_input);
        Ok(ShippingMethodPayload::from_outcome(result))
    }

    /// Changes a shipping method; the next cart quote uses it.
    #[graphql(guard = "Need(Permission::SettingsWrite)")]
    async fn shipping_method_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ShippingMethodUpdateInput,
    ) -> ApiResult<ShippingMethodPayload> {
        let row = decode_as(Kind::ShippingMethod, &id)?;
        let input = MethodInput {
            zone_id: input
                .zone_id
                .map(|z| decode_as(Kind::ShippingZone, &z))
                .transpose()?,
            channel: None,
            code: input.code,
            name: input.name,
            kind: input.kind.map(Into::into),
            amount: input.price.map(|d| d.0),
            free_over: input.free_over.map(|d| d.0),
            brackets: brackets(input.weight_brackets),
            tax_class: match input.tax_class {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(c) => Some(Some(c)),
            },
            active: input.active,
            position: input.position,
        };
        let actor = actor(ctx).await?;
        let result = shipping::method_update(&ctx.state()?.db, &actor, row, input)
            .await?
            .map_err(under_input);
        Ok(ShippingMethodPayload::from_outcome(result))
    }

    /// Deletes a shipping method; carts that chose it must choose another.
    #[graphql(guard = "Need(Permission::SettingsWrite)")]
    async fn shipping_method_delete(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<ShippingMethodDeletePayload> {
        let row = decode_as(Kind::ShippingMethod, &id)?;
        let actor = actor(ctx).await?;
        let result = shipping::method_delete(&ctx.state()?.db, &actor, row).await?;
        Ok(ShippingMethodDeletePayload::from_outcome(
            result.map(|_| id),
        ))
    }

    /// Creates a tax rate for a tax class in a country or region.
    #[graphql(guard = "Need(Permission::SettingsWrite)")]
    async fn tax_rate_create(
        &self,
        ctx: &Context<'_>,
        input: TaxRateCreateInput,
    ) -> ApiResult<TaxRatePayload> {
        let input = RateInput {
            country: Some(input.country_code),
            region: input.region,
            tax_class: Some(input.tax_class),
            rate: Some(input.rate.0),
            name: Some(input.name),
        };
        let actor = actor(ctx).await?;
        let result = tax::rate_create(&ctx.state()?.db, &actor, input)
            .await?
            .map_err(under_input);
        Ok(TaxRatePayload::from_outcome(result))
    }

    /// Changes a tax rate; the next cart quote uses it.
    #[graphql(guard = "Need(Permission::SettingsWrite)")]
    async fn tax_rate_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: TaxRateUpdateInput,
    ) -> ApiResult<TaxRatePayload> {
        let row = decode_as(Kind::TaxRate, &id)?;
        let input = RateInput {
            country: input.country_code,
            region: input.region,
            tax_class: input.tax_class,
            rate: input.rate.map(|d| d.0),
            name: input.name,
        };
        let actor = actor(ctx).await?;
        let result = tax::rate_update(&ctx.state()?.db, &actor, row, input)
            .await?
            .map_err(under_input);
        Ok(TaxRatePayload::from_outcome(result))
    }

    /// Deletes a tax rate.
    #[graphql(guard = "Need(Permission::SettingsWrite)")]
    async fn tax_rate_delete(&self, ctx: &Context<'_>, id: ID) -> ApiResult<TaxRateDeletePayload> {
        let row = decode_as(Kind::TaxRate, &id)?;
        let actor = actor(ctx).await?;
        let result = tax::rate_delete(&ctx.state()?.db, &actor, row).await?;
        Ok(TaxRateDeletePayload::from_outcome(result.map(|_| id)))
    }
}
