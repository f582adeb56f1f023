//! Carts, checkout and orders over GraphQL. Carts are open to anyone
//! holding a cart's ID (a customer's cart only to that customer); orders to
//! their owner and to staff and partners with `orders:read`.

mod codes;
pub mod search;
pub mod timeline;
pub mod types;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, connection::Connection};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

use crate::{
    domain::{
        checkout::{
            cart::{self, BuyerIdentity, LineInput, LineUpdate, Viewer},
            complete::{Caller, PaymentInput},
            orders, quote,
        },
        error::Checked,
        identity::{access::Principal, permission::Permission},
        orders_search,
    },
    graphql::{
        ContextExt,
        error::ApiResult,
        id::{Kind, decode_as},
        identity::MailingAddressInput,
        pagination::{OffsetCursor, PageArgs},
    },
};
use codes::CodeThrottle;
use types::{Cart, CartUserError, Order, cart_errors};

/// Who the caller is to a cart.
fn viewer(principal: &Principal) -> Viewer {
    Viewer::of(principal)
}

/// A cart ID as sent by the client (the token itself).
fn token(id: &ID) -> &str {
    id.as_str().trim()
}

/// A line to put in a cart.
#[derive(InputObject)]
pub struct CartLineInput {
    /// The product variant.
    pub merchandise_id: ID,
    /// Units (default 1).
    #[graphql(default = 1)]
    pub quantity: i32,
}

/// A new quantity for a cart line (0 removes it).
#[derive(InputObject)]
pub struct CartLineUpdateInput {
    /// The line.
    pub id: ID,
    /// New units.
    pub quantity: i32,
}

/// Buyer details; absent fields are left alone, an empty email clears it.
#[derive(InputObject, Default)]
pub struct CartBuyerIdentityInput {
    /// Email for the order confirmation.
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2 country, for prices and shipping before an address.
    pub country_code: Option<String>,
    /// Where to ship.
    pub shipping_address: Option<MailingAddressInput>,
    /// Billing address (default: the shipping address).
    pub billing_address: Option<MailingAddressInput>,
}

impl From<CartBuyerIdentityInput> for BuyerIdentity {
    fn from(i: CartBuyerIdentityInput) -> Self {
        Self {
            email: i.email,
            country_code: i.country_code,
            shipping_address: i.shipping_address.map(Into::into),
            billing_address: i.billing_address.map(Into::into),
        }
    }
}

/// A new cart.
#[derive(InputObject, Default)]
pub struct CartInput {
    /// Lines to start with.
    #[graphql(default)]
    pub lines: Vec<CartLineInput>,
    /// Buyer details.
    pub buyer_identity: Option<CartBuyerIdentityInput>,
    /// Discount codes.
    #[graphql(default)]
    pub discount_codes: Vec<String>,
}

/// How to pay what gift cards and store credit leave.
#[derive(InputObject)]
pub struct CheckoutPaymentInput {
    /// Gateway code: `test`, `manual` or `stripe` (see `paymentGateways`).
    pub gateway: String,
    /// The gateway's payment method token (e.g. `tok_visa` for `test`, a
    /// `pm_...` for Stripe). Never card numbers.
    pub token: Option<String>,
}

/// A cart mutation's result.
#[derive(SimpleObject)]
pub struct CartPayload {
    /// The cart (unchanged when there are errors; null if not found).
    pub cart: Option<Cart>,
    /// What was wrong; the mutation changed nothing.
    pub user_errors: Vec<CartUserError>,
}

/// What the customer must do to finish an asynchronous payment.
#[derive(SimpleObject)]
pub struct CheckoutNextAction {
    /// For the gateway's client library (e.g. Stripe.js `confirmCardPayment`).
    pub client_secret: Option<String>,
    /// Where to send the customer.
    pub url: Option<String>,
}

/// `checkoutComplete`'s result.
#[derive(SimpleObject)]
pub struct CheckoutCompletePayload {
    /// The order placed (status PENDING while an asynchronous payment
    /// completes).
    pub order: Option<Order>,
    /// Set when the payment needs the customer (3-D Secure).
    pub next_action: Option<CheckoutNextAction>,
    /// Why no order was placed (nothing was charged and no stock is held).
    pub user_errors: Vec<CartUserError>,
}

async fn priced(ctx: &Context<'_>, c: cart::Cart) -> ApiResult<Cart> {
    let db = &ctx.state()?.db;
    let customer = ctx.principal()?.customer_id();
    // The request's channel is usually the cart's: no need to read it again.
    let channel = ctx.channel(None).await?;
    let q = quote::quote(db, &c, customer, Some(&channel)).await?;
    Ok(Cart::new(c, q))
}

/// The payload of a cart mutation on the cart `token` (`None`: a new cart).
/// With errors nothing changed: the cart is given as it is, if the caller
/// may see it.
async fn payload(
    ctx: &Context<'_>,
    token: Option<&str>,
    outcome: Checked<cart::Cart>,
) -> ApiResult<CartPayload> {
    ctx.request()?.no_store();
    Ok(match outcome {
        Ok(c) => CartPayload {
            cart: Some(priced(ctx, c).await?),
            user_errors: Vec::new(),
        },
        Err(errors) => {
            let unchanged = match token {
                Some(t) => cart::get(&ctx.state()?.db, t, viewer(ctx.principal()?)).await?,
                None => None,
            };
            CartPayload {
                cart: match unchanged {
                    Some(c) => Some(priced(ctx, c).await?),
                    None => None,
                },
                user_errors: cart_errors(errors),
            }
        }
    })
}

fn variant_lines(lines: Vec<CartLineInput>) -> ApiResult<Vec<LineInput>> {
    lines
        .into_iter()
        .map(|l| {
            Ok(LineInput {
                variant_id: decode_as(Kind::ProductVariant, &l.merchandise_id)?,
                quantity: l.quantity,
            })
        })
        .collect()
}

/// Until when adding to a cart now holds stock, if it does.
fn cart_hold(ctx: &Context<'_>) -> ApiResult<Option<DateTime<Utc>>> {
    let state = ctx.state()?;
    let secs = state.config.commerce.cart_reservation_secs;
    Ok((secs > 0).then(|| {
        state.clock.now().trunc_subsecs(6)
            + TimeDelta::from_std(std::time::Duration::from_secs(secs))
                .unwrap_or_else(|_| TimeDelta::minutes(15))
    }))
}

/// Cart and order queries.
#[derive(Default)]
pub struct CommerceQuery;

// `orders` takes its search arguments one by one, as the schema shows them.
#[allow(clippy::too_many_arguments)]
#[Object]
impl CommerceQuery {
    /// A cart by ID: any guest cart whose ID you hold, or your own cart when
    /// signed in. Null otherwise.
    async fn cart(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Cart>> {
        ctx.request()?.no_store();
        let db = &ctx.state()?.db;
        let found = cart::get(db, token(&id), viewer(ctx.principal()?)).await?;
        Ok(match found {
            Some(c) => Some(priced(ctx, c).await?),
            None => None,
        })
    }

    /// An order by ID: yours, or any with `orders:read`. Null otherwise.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Order>> {
        ctx.request()?.no_store();
        let row = decode_as(Kind::Order, &id)?;
        order_for(ctx, row).await
    }

    /// Orders, newest first (`orders:read`). `query` finds an order by
    /// number (`#1001`) or ID, by the buyer's email (exactly), or by the
    /// start of the name of the customer account that placed it;
    /// `filter` narrows by statuses, time placed, email and channel;
    /// `sortKey` sorts newest (`CREATED_AT`), largest (`TOTAL`) or
    /// highest-numbered (`NUMBER`) first, `reverse: true` the other way.
    #[graphql(
        guard = "crate::graphql::auth::Need(Permission::OrdersRead)",
        complexity = "crate::graphql::catalog::page_cost(first, None, child_complexity)"
    )]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        query: Option<String>,
        filter: Option<search::OrderFilter>,
        sort_key: Option<search::OrderSortKeys>,
        reverse: Option<bool>,
    ) -> ApiResult<OrderConnection> {
        ctx.request()?.no_store();
        let db = &ctx.state()?.db;
        let s = search::search(query, filter);
        let total = orders_search::count(db, &s).await?;
        let window = PageArgs::forward(first, after).window(Some(total))?;
        let rows = orders_search::page(
            db,
            &s,
            sort_key.unwrap_or_default().into(),
            reverse.unwrap_or(false),
            window.offset,
            window.wanted,
        )
        .await?;
        Ok(window.connection(
            rows,
            total,
            OrderConnectionFields { total_count: total },
            |row| Order { row },
        ))
    }

    /// The payment gateways checkout accepts.
    async fn payment_gateways(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        Ok(ctx
            .state()?
            .gateways
            .codes()
            .into_iter()
            .map(str::to_owned)
            .collect())
    }
}

/// The order `row` if the caller may see it.
pub async fn order_for(ctx: &Context<'_>, row: i64) -> ApiResult<Option<Order>> {
    let db = &ctx.state()?.db;
    let principal = ctx.principal()?;
    let found = if principal.can(Permission::OrdersRead) {
        orders::get(db, row).await?
    } else if let Some(customer) = principal.customer_id() {
        orders::get_for_customer(db, row, customer).await?
    } else {
        None
    };
    Ok(found.map(|row| Order { row }))
}

/// Extra fields of an order connection.
#[derive(SimpleObject)]
pub struct OrderConnectionFields {
    /// How many orders there are, across all pages.
    pub total_count: u64,
}

/// A page of orders.
pub type OrderConnection = Connection<OffsetCursor, Order, OrderConnectionFields>;

/// A page of orders, newest first: a customer's or everyone's.
pub async fn order_page(
    ctx: &Context<'_>,
    customer: Option<i64>,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<OrderConnection> {
    let db = &ctx.state()?.db;
    let total = orders::count(db, customer).await?;
    let window = PageArgs::forward(first, after).window(Some(total))?;
    let rows = orders::list(db, customer, window.offset, window.wanted).await?;
    Ok(window.connection(
        rows,
        total,
        OrderConnectionFields { total_count: total },
        |row| Order { row },
    ))
}

/// Cart and checkout mutations.
#[derive(Default)]
pub struct CommerceMutation;

#[Object]
impl CommerceMutation {
    /// Creates a cart in the request's channel (signed in: yours).
    async fn cart_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] input: CartInput,
    ) -> ApiResult<CartPayload> {
        let state = ctx.state()?;
        let channel = ctx.channel(None).await?;
        let lines = variant_lines(input.lines)?;
        let throttle = if input.discount_codes.is_empty() {
            None
        } else {
            Some(CodeThrottle::admit(ctx, None).await?)
        };
        let outcome = cart::create(
            &state.db,
            &channel,
            viewer(ctx.principal()?),
            &lines,
            input.buyer_identity.map(Into::into).unwrap_or_default(),
            &input.discount_codes,
            cart_hold(ctx)?,
        )
        .await?;
        if let (Some(throttle), Err(errors)) = (throttle, &outcome) {
            throttle.charge(errors).await;
        }
        payload(ctx, None, outcome).await
    }

    /// Adds lines; the same variant again adds to its line.
    async fn cart_lines_add(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        lines: Vec<CartLineInput>,
    ) -> ApiResult<CartPayload> {
        let state = ctx.state()?;
        let channel = ctx.channel(None).await?;
        let lines = variant_lines(lines)?;
        let outcome = cart::lines_add(
            &state.db,
            &channel,
            token(&cart_id),
            viewer(ctx.principal()?),
            &lines,
            cart_hold(ctx)?,
        )
        .await?;
        payload(ctx, Some(token(&cart_id)), outcome).await
    }

    /// Sets line quantities; 0 removes a line.
    async fn cart_lines_update(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        lines: Vec<CartLineUpdateInput>,
    ) -> ApiResult<CartPayload> {
        let state = ctx.state()?;
        let channel = ctx.channel(None).await?;
        let updates = lines
            .into_iter()
            .map(|l| {
                Ok(LineUpdate {
                    line_id: decode_as(Kind::CartLine, &l.id)?,
                    quantity: l.quantity,
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let outcome = cart::lines_update(
            &state.db,
            &channel,
            token(&cart_id),
            viewer(ctx.principal()?),
            &updates,
            cart_hold(ctx)?,
        )
        .await?;
        payload(ctx, Some(token(&cart_id)), outcome).await
    }

    /// Removes lines.
    async fn cart_lines_remove(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        line_ids: Vec<ID>,
    ) -> ApiResult<CartPayload> {
        let ids = line_ids
            .iter()
            .map(|id| decode_as(Kind::CartLine, id))
            .collect::<ApiResult<Vec<_>>>()?;
        let outcome = cart::lines_remove(
            &ctx.state()?.db,
            token(&cart_id),
            viewer(ctx.principal()?),
            &ids,
            cart_hold(ctx)?,
        )
        .await?;
        payload(ctx, Some(token(&cart_id)), outcome).await
    }

    /// Sets the buyer's email, country and addresses. Signed in, this also
    /// makes a guest cart yours (merged into your open cart: the answer is
    /// then that cart, with its own ID).
    async fn cart_buyer_identity_update(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        buyer_identity: CartBuyerIdentityInput,
    ) -> ApiResult<CartPayload> {
        let outcome = cart::buyer_identity_update(
            &ctx.state()?.db,
            token(&cart_id),
            viewer(ctx.principal()?),
            buyer_identity.into(),
        )
        .await?;
        payload(ctx, Some(token(&cart_id)), outcome).await
    }

    /// Replaces the cart's discount codes (empty list: none).
    async fn cart_discount_codes_update(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        discount_codes: Vec<String>,
    ) -> ApiResult<CartPayload> {
        let throttle = CodeThrottle::admit(ctx, Some(token(&cart_id))).await?;
        let outcome = cart::discount_codes_update(
            &ctx.state()?.db,
            token(&cart_id),
            viewer(ctx.principal()?),
            &discount_codes,
        )
        .await?;
        if let Err(errors) = &outcome {
            throttle.charge(errors).await;
        }
        payload(ctx, Some(token(&cart_id)), outcome).await
    }

    /// Replaces the cart's gift cards, given by code (empty list: none).
    async fn cart_gift_card_codes_update(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        gift_card_codes: Vec<String>,
    ) -> ApiResult<CartPayload> {
        let throttle = CodeThrottle::admit(ctx, Some(token(&cart_id))).await?;
        let outcome = cart::gift_card_codes_update(
            &ctx.state()?.db,
            token(&cart_id),
            viewer(ctx.principal()?),
            &gift_card_codes,
        )
        .await?;
        if let Err(errors) = &outcome {
            throttle.charge(errors).await;
        }
        payload(ctx, Some(token(&cart_id)), outcome).await
    }

    /// Chooses a shipping method from `availableShippingMethods`.
    async fn cart_shipping_method_select(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        shipping_method_code: String,
    ) -> ApiResult<CartPayload> {
        let outcome = cart::shipping_method_select(
            &ctx.state()?.db,
            token(&cart_id),
            viewer(ctx.principal()?),
            &shipping_method_code,
        )
        .await?;
        payload(ctx, Some(token(&cart_id)), outcome).await
    }

    /// Places the order: prices the cart again, checks it, reserves stock,
    /// takes payment and creates the order, all or nothing. Send an
    /// `idempotencyKey` (e.g. a UUID per attempt): a retry with it returns
    /// the first answer and never charges twice.
    async fn checkout_complete(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        payment: CheckoutPaymentInput,
        idempotency_key: Option<String>,
    ) -> ApiResult<CheckoutCompletePayload> {
        ctx.request()?.no_store();
        let state = ctx.state()?;
        let caller = Caller::of(ctx.principal()?, ctx.request()?.client_ip);
        let payment = PaymentInput {
            gateway: payment.gateway,
            token: payment.token,
        };
        let done = state
            .checkout()
            .complete(token(&cart_id).to_owned(), caller, payment, idempotency_key)
            .await?;
        let order = match done.order_id {
            Some(id) => orders::get(&state.db, id).await?.map(|row| Order { row }),
            None => None,
        };
        Ok(CheckoutCompletePayload {
            order,
            next_action: done.next_action.map(|a| CheckoutNextAction {
                client_secret: a.client_secret,
                url: a.url,
            }),
            user_errors: cart_errors(done.errors),
        })
    }
}
