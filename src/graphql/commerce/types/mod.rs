//! GraphQL types of carts, checkout and orders.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        self,
        checkout::{
            cart::Cart as DomainCart,
            quote::{Allocation, Quote, QuoteLine, ShippingOption},
        },
        error::UserError as DomainUserError,
        identity::customer::Address,
        money::Currency,
    },
    graphql::{
        ContextExt,
        catalog::types::{Channel, ProductVariant},
        common::{Money, UserErrorCode, money},
        error::ApiResult,
        id::{Kind, encode},
        loaders::VariantId,
    },
};

mod order;

pub use order::*;

/// A mistake in a cart or checkout mutation; the mutation changed nothing.
#[derive(SimpleObject, Clone, Debug)]
pub struct CartUserError {
    /// Path of the input field at fault, e.g. `["lines", "0", "quantity"]`.
    pub field: Option<Vec<String>>,
    /// Stable code.
    pub code: UserErrorCode,
    /// What is wrong, for people.
    pub message: String,
    /// For OUT_OF_STOCK: units still available.
    pub quantity_available: Option<i64>,
}

impl From<DomainUserError> for CartUserError {
    fn from(e: DomainUserError) -> Self {
        Self {
            field: (!e.field.is_empty()).then_some(e.field),
            code: e.code.into(),
            message: e.message,
            quantity_available: e.quantity_available,
        }
    }
}

/// Converts domain errors.
pub fn cart_errors(errors: Vec<DomainUserError>) -> Vec<CartUserError> {
    errors.into_iter().map(Into::into).collect()
}

/// A postal address kept with a cart or order.
#[derive(SimpleObject, Clone, Debug)]
pub struct PostalAddress {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// First address line.
    pub address1: String,
    /// Second address line.
    pub address2: Option<String>,
    /// City.
    pub city: String,
    /// Region or province code.
    pub province_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: String,
    /// Postal code.
    pub zip: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

impl From<Address> for PostalAddress {
    fn from(a: Address) -> Self {
        Self {
            first_name: a.first_name,
            last_name: a.last_name,
            company: a.company,
            address1: a.address1,
            address2: a.address2,
            city: a.city,
            province_code: a.province_code,
            country_code: a.country_code,
            zip: a.zip,
            phone: a.phone,
        }
    }
}

fn address(json: Option<&str>) -> Option<PostalAddress> {
    json.and_then(|j| serde_json::from_str::<Address>(j).ok())
        .map(Into::into)
}

/// Who buys and where it goes.
#[derive(SimpleObject, Clone, Debug)]
pub struct CartBuyerIdentity {
    /// Email for the order.
    pub email: Option<String>,
    /// Country for prices and shipping before an address is known.
    pub country_code: Option<String>,
    /// Whether the cart belongs to a signed-in customer.
    pub signed_in: bool,
    /// Shipping address.
    pub shipping_address: Option<PostalAddress>,
    /// Billing address.
    pub billing_address: Option<PostalAddress>,
}

/// What the cart costs (every amount in the cart's currency).
#[derive(SimpleObject, Clone, Debug)]
pub struct CartCost {
    /// Sum of the lines before discounts.
    pub subtotal: Money,
    /// Every discount, on lines and on shipping.
    pub discounts: Money,
    /// The chosen shipping method's price, before shipping discounts.
    pub shipping: Money,
    /// Tax (contained in the prices in a tax-inclusive channel, added on top
    /// otherwise).
    pub tax: Money,
    /// What the order costs: `subtotal - discounts + shipping`, plus tax when
    /// prices exclude it.
    pub total: Money,
    /// Whether `tax` is included in the prices (not added on top).
    pub tax_included: bool,
    /// Paid by gift cards.
    pub gift_cards: Money,
    /// Paid by store credit.
    pub store_credit: Money,
    /// What remains to pay at checkout: `total - giftCards - storeCredit`.
    pub amount_due: Money,
}

/// A discount code entered on the cart.
#[derive(SimpleObject, Clone, Debug)]
pub struct CartDiscountCode {
    /// The code, upper-cased.
    pub code: String,
    /// Whether it takes something off this cart now.
    pub applicable: bool,
    /// Why not, when it does not.
    pub reason: Option<String>,
}

/// What a discount is taken off.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum DiscountTargetType {
    /// Cart lines.
    LineItem,
    /// The shipping price.
    ShippingLine,
}

/// A promotion that applies to the cart, with what it takes off.
#[derive(SimpleObject, Clone, Debug)]
pub struct CartDiscountAllocation {
    /// Promotion name.
    pub title: String,
    /// Its code; null for an automatic promotion.
    pub code: Option<String>,
    /// Amount taken off.
    pub discounted_amount: Money,
    /// Off lines or off shipping.
    pub target_type: DiscountTargetType,
}

/// A promotion's share of a line.
#[derive(SimpleObject, Clone, Debug)]
pub struct LineDiscountAllocation {
    /// Its code; null for an automatic promotion.
    pub code: Option<String>,
    /// Amount taken off this line.
    pub discounted_amount: Money,
}

fn allocations(list: &[Allocation], currency: Currency) -> Vec<LineDiscountAllocation> {
    list.iter()
        .map(|a| LineDiscountAllocation {
            code: a.code.clone(),
            discounted_amount: money(a.amount_minor, currency),
        })
        .collect()
}

/// A gift card paying part of the cart.
#[derive(SimpleObject, Clone, Debug)]
pub struct AppliedGiftCard {
    /// The last characters of its code.
    pub last_characters: String,
    /// What it pays of this cart.
    pub amount_used: Money,
    /// Its balance now.
    pub balance: Money,
}

/// A way to ship the cart.
#[derive(SimpleObject, Clone, Debug)]
pub struct CartShippingMethod {
    /// Code to select it with.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Its price for this cart (before shipping discounts); null when the
    /// cart is too heavy for it.
    pub price: Option<Money>,
}

fn shipping_method(o: &ShippingOption, currency: Currency) -> CartShippingMethod {
    CartShippingMethod {
        code: o.method.code.clone(),
        name: o.method.name.clone(),
        price: o.amount.map(|a| money(a, currency)),
    }
}

/// What a line costs.
#[derive(SimpleObject, Clone, Debug)]
pub struct CartLineCost {
    /// Unit price for this buyer and quantity (tiers, customer group).
    pub unit_price: Option<Money>,
    /// `unitPrice × quantity`.
    pub subtotal: Money,
    /// Discounts allocated to the line.
    pub discount: Money,
    /// Tax on the discounted line.
    pub tax: Money,
    /// What the line costs.
    pub total: Money,
}

/// A cart line.
pub struct CartLine {
    line: QuoteLine,
    channel: Arc<domain::channel::Channel>,
}

/// A cart line.
#[Object]
impl CartLine {
    /// Globally unique, opaque ID.
    async fn id(&self) -> ID {
        encode(Kind::CartLine, self.line.line.id)
    }
    /// Units.
    async fn quantity(&self) -> i32 {
        self.line.line.quantity
    }
    /// The variant bought (null if it is no longer for sale).
    async fn merchandise(&self, ctx: &Context<'_>) -> ApiResult<Option<ProductVariant>> {
        if self.line.variant.is_none() {
            return Ok(None);
        }
        Ok(ctx
            .loaders()?
            .load_one(VariantId(self.line.line.variant_id))
            .await?
            .map(|v| ProductVariant::new(v, self.channel.clone())))
    }
    /// What the line costs.
    async fn cost(&self) -> CartLineCost {
        let c = self.channel.currency;
        let t = self.line.totals;
        CartLineCost {
            unit_price: self.line.unit_price.map(|p| money(p, c)),
            subtotal: money(t.subtotal, c),
            discount: money(t.discount, c),
            tax: money(t.tax, c),
            total: money(t.total, c),
        }
    }
    /// Promotions' shares of the line.
    async fn discount_allocations(&self) -> Vec<LineDiscountAllocation> {
        allocations(&self.line.allocations, self.channel.currency)
    }
    /// Units available now (null when stock is not tracked).
    async fn quantity_available(&self) -> Option<i64> {
        self.line.available
    }
    /// Whether the line can be bought now.
    async fn available_for_sale(&self) -> bool {
        self.line.unit_price.is_some()
    }
}

/// A cart: lines, buyer, codes, shipping choice and its cost, priced by the
/// server on every read.
pub struct Cart {
    cart: DomainCart,
    quote: Arc<Quote>,
    channel: Arc<domain::channel::Channel>,
}

impl Cart {
    /// A cart with its quote.
    pub fn new(cart: DomainCart, quote: Quote) -> Self {
        let channel = Arc::new(quote.channel.clone());
        Self {
            cart,
            quote: Arc::new(quote),
            channel,
        }
    }
}

/// A cart: lines, buyer, codes, shipping choice and its cost, priced by the
/// server on every read.
#[Object]
impl Cart {
    /// The cart's ID: unguessable, it is the key to a guest cart.
    async fn id(&self) -> ID {
        ID(self.cart.row.token.clone())
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.cart.row.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.cart.row.updated_at
    }
    /// The channel it prices in.
    async fn channel(&self) -> Channel {
        Channel(self.quote.channel.clone())
    }
    /// Lines, in the order they were added.
    #[graphql(complexity = "crate::graphql::catalog::LIST_FACTOR * child_complexity")]
    async fn lines(&self) -> Vec<CartLine> {
        self.quote
            .lines
            .iter()
            .map(|l| CartLine {
                line: l.clone(),
                channel: self.channel.clone(),
            })
            .collect()
    }
    /// Units in all.
    async fn total_quantity(&self) -> i64 {
        self.cart.lines.iter().map(|l| i64::from(l.quantity)).sum()
    }
    /// Who buys and where it goes.
    async fn buyer_identity(&self) -> CartBuyerIdentity {
        CartBuyerIdentity {
            email: self.cart.row.email.clone(),
            country_code: self.cart.row.country.clone(),
            signed_in: self.cart.row.customer_id.is_some(),
            shipping_address: self.cart.shipping_address().map(Into::into),
            billing_address: self.cart.billing_address().map(Into::into),
        }
    }
    /// What it costs.
    async fn cost(&self) -> CartCost {
        let c = self.channel.currency;
        let t = &self.quote.totals;
        let gift: i64 = self.quote.gift_cards.iter().map(|g| g.amount).sum();
        CartCost {
            subtotal: money(t.subtotal, c),
            discounts: money(t.discounts, c),
            shipping: money(t.shipping, c),
            tax: money(t.tax, c),
            total: money(t.total, c),
            tax_included: self.channel.prices_include_tax,
            gift_cards: money(gift, c),
            store_credit: money(self.quote.store_credit.map_or(0, |(_, a)| a), c),
            amount_due: money(self.quote.amount_due, c),
        }
    }
    /// Entered discount codes.
    async fn discount_codes(&self) -> Vec<CartDiscountCode> {
        self.quote
            .codes
            .iter()
            .map(|c| CartDiscountCode {
                code: c.code.clone(),
                applicable: c.applicable,
                reason: c.reason.clone(),
            })
            .collect()
    }
    /// Promotions that apply, with what each takes off.
    async fn discount_allocations(&self) -> Vec<CartDiscountAllocation> {
        let c = self.channel.currency;
        let mut out = Vec::new();
        for p in &self.quote.promotions {
            let lines = p.amount_minor - p.shipping_minor;
            for (amount, target_type) in [
                (lines, DiscountTargetType::LineItem),
                (p.shipping_minor, DiscountTargetType::ShippingLine),
            ] {
                if amount > 0 {
                    out.push(CartDiscountAllocation {
                        title: p.name.clone(),
                        code: p.code.clone(),
                        discounted_amount: money(amount, c),
                        target_type,
                    });
                }
            }
        }
        out
    }
    /// Gift cards on the cart.
    async fn applied_gift_cards(&self) -> Vec<AppliedGiftCard> {
        let c = self.channel.currency;
        self.quote
            .gift_cards
            .iter()
            .map(|g| AppliedGiftCard {
                last_characters: g.card.last_chars.clone(),
                amount_used: money(g.amount, c),
                balance: money(g.card.balance_minor, c),
            })
            .collect()
    }
    /// Shipping methods offered for the destination (empty until a shipping
    /// address or country is set).
    async fn available_shipping_methods(&self) -> Vec<CartShippingMethod> {
        self.quote
            .shipping_options
            .iter()
            .map(|o| shipping_method(o, self.channel.currency))
            .collect()
    }
    /// The chosen shipping method, if still offered.
    async fn selected_shipping_method(&self) -> Option<CartShippingMethod> {
        self.quote
            .shipping
            .as_ref()
            .map(|o| shipping_method(o, self.channel.currency))
    }
    /// Whether the cart was checked out (it is read-only then).
    async fn completed(&self) -> bool {
        self.cart.is_completed()
    }
}
