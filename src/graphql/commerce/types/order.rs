//! GraphQL types of orders: statuses, lines, payments and the order itself.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{order_line, order_transition, shop_order};

use super::{
    CartDiscountAllocation, DiscountTargetType, LineDiscountAllocation, PostalAddress, address,
    allocations,
};
use crate::{
    domain::{
        self, checkout::quote::Allocation, identity::permission::Permission, money::Currency,
    },
    graphql::{
        ContextExt,
        catalog::types::ProductVariant,
        commerce::timeline::{OrderEvent, event_of},
        common::{Money, money},
        error::ApiResult,
        fulfillment::{Fulfillment, of_order},
        id::{Kind, encode},
        loaders::{OrderLinesOf, PaymentsOf, TimelineOf, TransitionsOf, VariantId},
        orders::refunds_of,
        scalars::{CurrencyCode, Decimal},
    },
};

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
    async fn fulfillments(&self, ctx: &Context<'_>) -> ApiResult<Vec<Fulfillment>> {
        of_order(ctx, &self.row).await
    }
    /// Money captured so far: gateway captures, gift cards and store credit.
    async fn captured_amount(&self) -> Money {
        money(self.row.captured_minor, self.currency())
    }
    /// What can still be refunded: captured, less every refund made, under
    /// way or FAILED (a failed refund keeps its claim until retried).
    async fn refundable_amount(&self, ctx: &Context<'_>) -> ApiResult<Money> {
        let claimed: i64 = refunds_of(ctx, self.row.id)
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
        Ok(refunds_of(ctx, self.row.id)
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
    async fn events(&self, ctx: &Context<'_>) -> ApiResult<Vec<OrderEvent>> {
        let staff = ctx.principal()?.can(Permission::OrdersRead);
        let entries = ctx
            .request()?
            .admin_loaders
            .load_one(TimelineOf(self.row.id, staff))
            .await?
            .unwrap_or_default();
        Ok(entries
            .iter()
            .cloned()
            .map(|e| event_of(e, staff))
            .collect())
    }
}
