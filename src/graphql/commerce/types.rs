//! GraphQL types of carts, checkout and orders.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{order_line, order_transition, shop_order};

use crate::graphql::scalars::CurrencyCode;
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
        loaders::{OrderLinesOf, PaymentsOf, TransitionsOf, VariantId},
        scalars::Decimal,
    },
};

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

/// Where an order stands as a whole.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::order_state::OrderStatus")]
pub enum OrderStatus {
    /// Awaiting payment.
    Pending,
    /// Confirmed: payment secured, to be fulfilled.
    Open,
    /// Paid and fulfilled.
    Completed,
    /// Cancelled.
    Cancelled,
}

/// Where an order's money stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::order_state::PaymentStatus")]
pub enum OrderPaymentStatus {
    /// Nothing authorized or captured yet.
    Pending,
    /// Authorized, nothing captured.
    Authorized,
    /// Part captured.
    PartiallyPaid,
    /// All captured.
    Paid,
    /// Part refunded.
    PartiallyRefunded,
    /// All refunded.
    Refunded,
    /// Authorization voided.
    Voided,
    /// The payment failed.
    Failed,
}

/// Where an order's items stand.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::order_state::FulfillmentStatus")]
pub enum OrderFulfillmentStatus {
    /// Nothing shipped.
    Unfulfilled,
    /// Part shipped.
    PartiallyFulfilled,
    /// All shipped.
    Fulfilled,
    /// Part returned.
    PartiallyReturned,
    /// All returned.
    Returned,
}

/// A line of an order: a snapshot of what was bought and at what price.
pub struct OrderLine {
    line: order_line::Model,
    currency: Currency,
}

impl OrderLine {
    /// The line `line` of an order in `currency`.
    pub(crate) fn new(line: order_line::Model, currency: Currency) -> Self {
        Self { line, currency }
    }
}

/// A line of an order: a snapshot of what was bought and at what price.
#[Object]
impl OrderLine {
    /// Globally unique, opaque ID (to name the line in refunds and
    /// fulfilments).
    async fn id(&self) -> ID {
        encode(Kind::OrderLine, self.line.id)
    }
    /// SKU at order time.
    async fn sku(&self) -> &str {
        &self.line.sku
    }
    /// Product title at order time.
    async fn title(&self) -> &str {
        &self.line.product_title
    }
    /// Variant title at order time.
    async fn variant_title(&self) -> &str {
        &self.line.variant_title
    }
    /// Units.
    async fn quantity(&self) -> i32 {
        self.line.quantity
    }
    /// The variant, if it still exists and is for sale.
    async fn variant(&self, ctx: &Context<'_>) -> ApiResult<Option<ProductVariant>> {
        let Some(id) = self.line.variant_id else {
            return Ok(None);
        };
        let channel = ctx.channel(None).await?;
        Ok(ctx
            .loaders()?
            .load_one(VariantId(id))
            .await?
            .map(|v| ProductVariant::new(v, channel)))
    }
    /// Unit price paid.
    async fn unit_price(&self) -> Money {
        money(self.line.unit_price_minor, self.currency)
    }
    /// `unitPrice × quantity`.
    async fn subtotal(&self) -> Money {
        money(self.line.subtotal_minor, self.currency)
    }
    /// Discounts on the line.
    async fn discount(&self) -> Money {
        money(self.line.discount_minor, self.currency)
    }
    /// Tax on the line.
    async fn tax(&self) -> Money {
        money(self.line.tax_minor, self.currency)
    }
    /// Tax rate applied (a fraction: `0.2` is 20 %).
    async fn tax_rate(&self) -> Decimal {
        Decimal(domain::checkout::quote::rate_of_ppm(self.line.tax_rate_ppm))
    }
    /// What the line cost.
    async fn total(&self) -> Money {
        money(self.line.total_minor, self.currency)
    }
    /// Promotions' shares of the line.
    async fn discount_allocations(&self) -> Vec<LineDiscountAllocation> {
        let list: Vec<Allocation> =
            serde_json::from_str(&self.line.discount_allocations).unwrap_or_default();
        allocations(&list, self.currency)
    }
    /// Units shipped by fulfilments that are not cancelled.
    async fn quantity_fulfilled(&self) -> i32 {
        self.line.quantity_fulfilled
    }
}

/// One recorded move of an order's statuses.
#[derive(SimpleObject, Clone, Debug)]
pub struct OrderTransition {
    /// What happened (`created`, `payment_authorized`, `payment_captured`,
    /// `cancelled` ...).
    pub event: String,
    /// Statuses before, as `order/payment/fulfillment`.
    pub from: String,
    /// Statuses after.
    pub to: String,
    /// Who: `customer:7`, `guest`, `gateway:stripe`, `system:expiry` ...
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl From<order_transition::Model> for OrderTransition {
    fn from(t: order_transition::Model) -> Self {
        Self {
            event: t.event,
            from: t.from_status,
            to: t.to_status,
            actor: t.actor,
            at: t.created_at,
        }
    }
}

/// A payment of an order.
#[derive(SimpleObject, Clone, Debug)]
pub struct OrderPayment {
    /// Gateway code.
    pub gateway: String,
    /// The gateway's reference.
    pub reference: String,
    /// Amount asked of the gateway.
    pub amount: Money,
    /// `pending`, `requires_action`, `authorized`, `captured`, `voided`, `failed`.
    pub status: String,
}

/// An order.
pub struct Order {
    /// The row.
    pub row: shop_order::Model,
}

impl Order {
    fn currency(&self) -> Currency {
        self.row.currency_code.parse().unwrap_or(Currency::USD)
    }

    fn statuses(&self) -> ApiResult<domain::order_state::Status> {
        Ok(domain::checkout::orders::state_of(&self.row)?.status())
    }
}

/// An order.
#[Object]
impl Order {
    /// Globally unique, opaque ID.
    pub async fn id(&self) -> ID {
        encode(Kind::Order, self.row.id)
    }
    /// Human order number, e.g. `#1001`.
    async fn name(&self) -> String {
        domain::checkout::orders::number(self.row.id)
    }
    /// Order number without the `#`.
    async fn number(&self) -> i64 {
        self.row.id + domain::checkout::orders::NUMBER_OFFSET
    }
    /// When it was placed.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// Buyer email.
    async fn email(&self) -> &str {
        &self.row.email
    }
    /// Currency of every amount.
    async fn currency_code(&self) -> CurrencyCode {
        self.currency().into()
    }
    /// Order status.
    async fn status(&self) -> ApiResult<OrderStatus> {
        Ok(self.statuses()?.order.into())
    }
    /// Payment status.
    async fn payment_status(&self) -> ApiResult<OrderPaymentStatus> {
        Ok(self.statuses()?.payment.into())
    }
    /// Fulfillment status.
    async fn fulfillment_status(&self) -> ApiResult<OrderFulfillmentStatus> {
        Ok(self.statuses()?.fulfillment.into())
    }
    /// Sum of the lines before discounts.
    async fn subtotal(&self) -> Money {
        money(self.row.subtotal_minor, self.currency())
    }
    /// Every discount.
    async fn discounts(&self) -> Money {
        money(self.row.discounts_minor, self.currency())
    }
    /// Shipping before shipping discounts.
    async fn shipping(&self) -> Money {
        money(self.row.shipping_minor, self.currency())
    }
    /// Tax.
    async fn tax(&self) -> Money {
        money(self.row.tax_minor, self.currency())
    }
    /// Whether the prices included tax.
    async fn tax_included(&self) -> bool {
        self.row.prices_include_tax
    }
    /// Order total.
    async fn total(&self) -> Money {
        money(self.row.total_minor, self.currency())
    }
    /// Paid by gift cards.
    async fn gift_cards(&self) -> Money {
        money(self.row.gift_card_minor, self.currency())
    }
    /// Paid by store credit.
    async fn store_credit(&self) -> Money {
        money(self.row.store_credit_minor, self.currency())
    }
    /// Captured so far (gateway, gift cards and store credit).
    async fn total_received(&self) -> Money {
        money(self.row.captured_minor, self.currency())
    }
    /// Shipping method name at order time.
    async fn shipping_method(&self) -> Option<&str> {
        self.row.shipping_method_name.as_deref()
    }
    /// Shipping address.
    async fn shipping_address(&self) -> Option<PostalAddress> {
        address(self.row.shipping_address.as_deref())
    }
    /// Billing address.
    async fn billing_address(&self) -> Option<PostalAddress> {
        address(self.row.billing_address.as_deref())
    }
    /// Promotions applied (name, code, amount).
    async fn discount_applications(&self) -> Vec<CartDiscountAllocation> {
        let list: Vec<domain::checkout::quote::AppliedPromotion> =
            serde_json::from_str(&self.row.discounts).unwrap_or_default();
        list.into_iter()
            .map(|p| CartDiscountAllocation {
                title: p.name,
                code: p.code,
                discounted_amount: money(p.amount_minor, self.currency()),
                target_type: if p.shipping_minor > 0 && p.shipping_minor == p.amount_minor {
                    DiscountTargetType::ShippingLine
                } else {
                    DiscountTargetType::LineItem
                },
            })
            .collect()
    }
    /// Lines.
    #[graphql(complexity = "crate::graphql::catalog::LIST_FACTOR * child_complexity")]
    async fn lines(&self, ctx: &Context<'_>) -> ApiResult<Vec<OrderLine>> {
        let currency = self.currency();
        let rows = ctx
            .request()?
            .admin_loaders
            .load_one(OrderLinesOf(self.row.id))
            .await?
            .unwrap_or_default();
        Ok(rows
            .iter()
            .map(|line| OrderLine {
                line: line.clone(),
                currency,
            })
            .collect())
    }
    /// Payments at gateways.
    async fn payments(&self, ctx: &Context<'_>) -> ApiResult<Vec<OrderPayment>> {
        let currency = self.currency();
        let rows = ctx
            .request()?
            .admin_loaders
            .load_one(PaymentsOf(self.row.id))
            .await?
            .unwrap_or_default();
        Ok(rows
            .iter()
            .map(|p| OrderPayment {
                gateway: p.gateway.clone(),
                reference: p.reference.clone(),
                amount: money(p.amount_minor, currency),
                status: p.status.clone(),
            })
            .collect())
    }
    /// Every status change, oldest first, with who made it and when.
    async fn transitions(&self, ctx: &Context<'_>) -> ApiResult<Vec<OrderTransition>> {
        let rows = ctx
            .request()?
            .admin_loaders
            .load_one(TransitionsOf(self.row.id))
            .await?
            .unwrap_or_default();
        Ok(rows.iter().cloned().map(Into::into).collect())
    }
    /// Shipments of the order's units, oldest first, with their tracking.
    async fn fulfillments(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<crate::graphql::fulfillment::Fulfillment>> {
        crate::graphql::fulfillment::of_order(ctx, &self.row).await
    }
    /// Money captured so far: gateway captures, gift cards and store credit.
    async fn captured_amount(&self) -> Money {
        money(self.row.captured_minor, self.currency())
    }
    /// What can still be refunded: captured, less every refund made, under
    /// way or FAILED (a failed refund keeps its claim until retried).
    async fn refundable_amount(&self, ctx: &Context<'_>) -> ApiResult<Money> {
        let claimed: i64 = crate::graphql::orders::refunds_of(ctx, self.row.id)
            .await?
            .iter()
            .map(|r| r.refund.amount_minor)
            .sum();
        Ok(money(
            domain::orders::refundable(&self.row, claimed),
            self.currency(),
        ))
    }
    /// Refunds, oldest first.
    async fn refunds(&self, ctx: &Context<'_>) -> ApiResult<Vec<crate::graphql::orders::Refund>> {
        Ok(crate::graphql::orders::refunds_of(ctx, self.row.id)
            .await?
            .iter()
            .cloned()
            .map(crate::graphql::orders::Refund)
            .collect())
    }
    /// When it was cancelled (for a partly shipped order: when its
    /// unshipped rest was).
    async fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.row.cancelled_at
    }
    /// Why it was cancelled, as staff told it.
    async fn cancel_reason(&self) -> Option<&str> {
        self.row.cancel_reason.as_deref()
    }
    /// The timeline, oldest first: status changes, payments, fulfilments,
    /// refunds, mails to the customer and (staff only) notes, with who
    /// and when. A customer sees their order's without staff notes and
    /// without actors.
    #[graphql(complexity = "crate::graphql::catalog::LIST_FACTOR * child_complexity")]
    async fn events(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::timeline::OrderEvent>> {
        let staff = ctx
            .principal()?
            .can(crate::domain::identity::permission::Permission::OrdersRead);
        let entries =
            domain::order_timeline::timeline(&ctx.state()?.db, self.row.id, staff).await?;
        Ok(entries
            .into_iter()
            .map(|e| super::timeline::event_of(e, staff))
            .collect())
    }
}
