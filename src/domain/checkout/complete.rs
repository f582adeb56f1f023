//! `checkoutComplete`: a cart becomes an order, exactly once.
//!
//! 1. The cart is priced again on the server and checked (lines for sale,
//!    email, shipping address and method, a payment method when money is
//!    due).
//! 2. Stock is reserved in a short transaction that first claims the cart;
//!    the reservations carry an expiry, so a crash after this step holds no
//!    stock for longer than [`CheckoutSettings::hold`].
//! 3. The payment gateway authorizes what gift cards and store credit do not
//!    cover (outside any transaction: it is a network call). The gateway gets
//!    an idempotency key derived from the client's, so a retried checkout
//!    reaches the same authorization.
//! 4. One transaction writes the order with its line snapshots, the payment
//!    and its ledger entry, promotion usage, gift card and store credit
//!    debits, hands the reservations to the order (holding again what
//!    expired while the gateway answered) and raises `order.created` (and
//!    `order.paid`). Any failed check rolls it back whole; the authorization
//!    is then voided (a sale refunded) and the stock released.
//!
//! A declined payment creates no order and releases the stock. With an
//! idempotency key, the first answer is kept and returned to every retry,
//! concurrent ones included; the same key with another request is refused.

use crate::domain::tx::{Attempt, retrying};
use std::{collections::HashMap, time::Duration};

use chrono::{SubsecRound, Utc};
use entity::{
    cart as cart_row, payment, payment_transaction, promotion, promotion_usage, reservation,
    variant,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use super::{
    cart::{self, Cart, Viewer},
    orders::{self, Placement},
    quote::{self, Quote},
    setup, stock,
};
use crate::domain::{
    error::{DomainError, DomainResult, UserError, UserErrorCode},
    idempotency::{self, Refusal},
    identity::secret,
    money::Currency,
    order_state::OrderEvent,
    payments::{Authorization, AuthorizeRequest, CaptureMode, Gateways, PaymentGateway},
};

/// How checkout holds stock and takes payment.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutSettings {
    /// How long stock stays reserved for a checkout in progress.
    pub hold: Duration,
    /// How long an order awaiting an asynchronous payment (3-D Secure)
    /// keeps its stock before it is cancelled.
    pub pending_payment_hold: Duration,
    /// Capture at checkout (sale) or authorize only.
    pub capture: CaptureMode,
}

impl Default for CheckoutSettings {
    fn default() -> Self {
        Self {
            hold: Duration::from_secs(600),
            pending_payment_hold: Duration::from_secs(3600),
            capture: CaptureMode::Automatic,
        }
    }
}

/// How the buyer pays what gift cards and store credit leave.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentInput {
    /// Gateway code (`test`, `manual`, `stripe`).
    pub gateway: String,
    /// The gateway's payment method token (never card data).
    #[serde(skip)]
    pub token: Option<String>,
}

/// What the customer must do to finish an asynchronous payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextAction {
    /// For the gateway's client library.
    pub client_secret: Option<String>,
    /// Where to send the customer.
    pub url: Option<String>,
}

/// The answer to a checkout (kept for idempotent retries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// The order, when one was placed.
    pub order_id: Option<i64>,
    /// Set when the payment needs the customer before it completes.
    pub next_action: Option<NextAction>,
    /// Why no order was placed.
    pub errors: Vec<UserError>,
}

impl Completion {
    fn failed(errors: Vec<UserError>) -> Self {
        Self {
            order_id: None,
            next_action: None,
            errors,
        }
    }
}

/// What checkout needs from the server.
pub struct Checkout<'a> {
    /// The database.
    pub db: &'a DatabaseConnection,
    /// Enabled payment gateways.
    pub gateways: &'a Gateways,
    /// Holds and capture mode.
    pub settings: CheckoutSettings,
}

/// The request an idempotency key is bound to.
#[derive(Serialize)]
struct KeyedRequest<'a> {
    cart: &'a str,
    gateway: &'a str,
    token_digest: Option<String>,
}

impl Checkout<'_> {
    /// Completes the cart `token` for `viewer`. `scope` names the caller for
    /// idempotency keys (`customer:7`, `guest`).
    pub async fn complete(
        &self,
        token: &str,
        viewer: Viewer,
        scope: &str,
        payment: &PaymentInput,
        idempotency_key: Option<&str>,
    ) -> DomainResult<Completion> {
        let request = KeyedRequest {
            cart: token.trim(),
            gateway: payment.gateway.trim(),
            token_digest: payment.token.as_deref().map(secret::digest),
        };
        let key = idempotency_key.map(str::trim).filter(|k| !k.is_empty());
        let answer =
            idempotency::once(self.db, &format!("checkout:{scope}"), key, &request, || {
                self.run(token, viewer, payment, key)
            })
            .await?;
        Ok(match answer {
            Ok(c) => c,
            Err(Refusal::DifferentRequest) => Completion::failed(vec![UserError::new(
                &["idempotencyKey"],
                UserErrorCode::IdempotencyKeyReused,
                "this idempotency key was used for a different checkout",
            )]),
            Err(Refusal::InProgress) => Completion::failed(vec![UserError::new(
                &["idempotencyKey"],
                UserErrorCode::RequestInProgress,
                "a checkout with this idempotency key is still running; retry shortly",
            )]),
        })
    }

    async fn run(
        &self,
        token: &str,
        viewer: Viewer,
        payment: &PaymentInput,
        key: Option<&str>,
    ) -> DomainResult<Completion> {
        let Some(cart) = cart::get(self.db, token, viewer).await? else {
            return Ok(Completion::failed(vec![UserError::new(
                &["cartId"],
                UserErrorCode::NotFound,
                "no cart with this id",
            )]));
        };
        if cart.is_completed() {
            return Ok(Completion::failed(vec![UserError::new(
                &["cartId"],
                UserErrorCode::CartCompleted,
                "this cart was already checked out",
            )]));
        }
        let customer_id = match viewer {
            Viewer::Customer(id) => Some(id),
            Viewer::Guest => None,
        };
        let quote = quote::quote(self.db, &cart, customer_id, None).await?;
        let gateway = match check(&cart, &quote, payment, self.gateways) {
            Ok(g) => g,
            Err(errors) => return Ok(Completion::failed(errors)),
        };

        if let Err(errors) = self.reserve(&cart, &quote).await? {
            return Ok(Completion::failed(errors));
        }

        let auth = match &gateway {
            None => None,
            Some(g) => {
                let request = AuthorizeRequest {
                    amount_minor: quote.amount_due,
                    currency: quote.channel.currency,
                    token: payment.token.clone().unwrap_or_default(),
                    idempotency_key: match key {
                        Some(k) => gateway_key(&cart.row.token, k),
                        None => uuid::Uuid::new_v4().to_string(),
                    },
                    reference: cart.row.token.clone(),
                    capture: self.settings.capture,
                };
                match g.authorize(&request).await {
                    Ok(Authorization::Declined { code, message, .. }) => {
                        self.release(cart.row.id).await?;
                        return Ok(Completion::failed(vec![UserError::new(
                            &["payment"],
                            UserErrorCode::PaymentDeclined,
                            format!("the payment was declined ({}): {message}", code.as_str()),
                        )]));
                    }
                    Ok(a) => Some(a),
                    Err(e) => {
                        tracing::warn!(gateway = g.code(), error = %e, "payment authorization failed");
                        self.release(cart.row.id).await?;
                        return Ok(Completion::failed(vec![UserError::new(
                            &["payment"],
                            UserErrorCode::PaymentFailed,
                            "the payment could not be processed; nothing was charged, try again",
                        )]));
                    }
                }
            }
        };

        let placed = self
            .place(&cart, &quote, gateway.as_deref(), auth.as_ref(), viewer)
            .await;
        let currency = quote.channel.currency;
        if !matches!(placed, Ok(Ok(_))) {
            self.undo(
                cart.row.id,
                gateway.as_deref(),
                auth.as_ref(),
                key,
                currency,
            )
            .await;
        }
        placed.map(|p| p.unwrap_or_else(Completion::failed))
    }

    /// Claims the cart and reserves its stock (expiring hold).
    async fn reserve(
        &self,
        cart: &Cart,
        quote: &Quote,
    ) -> DomainResult<Result<(), Vec<UserError>>> {
        retrying(|attempt| self.reserve_once(attempt, cart, quote)).await
    }

    async fn reserve_once(
        &self,
        attempt: Attempt,
        cart: &Cart,
        quote: &Quote,
    ) -> DomainResult<Result<(), Vec<UserError>>> {
        let needs = quote.needs();
        let ids: Vec<i64> = needs.iter().map(|n| n.variant_id).collect();
        let levels = stock::levels(self.db, &ids).await?;
        let variants = quote
            .lines
            .iter()
            .filter_map(|l| l.variant.clone().map(|v| (v.id, v)))
            .collect();
        let now = Utc::now().trunc_subsecs(6);
        let expires_at = now
            + chrono::Duration::from_std(self.settings.hold)
                .unwrap_or_else(|_| chrono::Duration::minutes(10));
        let tx = attempt.begin(self.db).await?;
        // The first statement writes: it claims the cart (and on SQLite takes
        // the write lock before anything is read).
        let claimed = cart_row::Entity::update_many()
            .col_expr(cart_row::Column::UpdatedAt, Expr::value(now))
            .filter(cart_row::Column::Id.eq(cart.row.id))
            .filter(cart_row::Column::OrderId.is_null())
            .exec(&tx)
            .await?;
        if claimed.rows_affected != 1 {
            return Ok(Err(vec![UserError::new(
                &["cartId"],
                UserErrorCode::CartCompleted,
                "this cart was already checked out",
            )]));
        }
        stock::release_cart(&tx, cart.row.id).await?;
        let hold = stock::Hold::Cart {
            cart_id: cart.row.id,
            expires_at,
        };
        if let Err(shortages) = stock::reserve(&tx, &levels, &needs, &variants, hold).await? {
            tx.rollback().await?;
            return Ok(Err(out_of_stock(quote, &shortages)));
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Hands the cart's hold to the order, holding again what is missing: a
    /// hold that expired while the gateway answered was released by the
    /// sweeper, and an order must not sell stock it does not hold.
    async fn hold_for_order(
        &self,
        tx: &impl ConnectionTrait,
        cart: &Cart,
        quote: &Quote,
        order_id: i64,
    ) -> DomainResult<Result<(), Vec<UserError>>> {
        stock::hand_to_order(tx, cart.row.id, order_id).await?;
        let mut held: HashMap<i64, i32> = HashMap::new();
        for r in reservation::Entity::find()
            .filter(reservation::Column::OrderId.eq(order_id))
            .all(tx)
            .await?
        {
            *held.entry(r.variant_id).or_default() += r.quantity;
        }
        let variants: HashMap<i64, variant::Model> = quote
            .lines
            .iter()
            .filter_map(|l| l.variant.clone().map(|v| (v.id, v)))
            .collect();
        let missing: Vec<stock::Need> = quote
            .needs()
            .into_iter()
            .filter(|n| {
                variants
                    .get(&n.variant_id)
                    .is_some_and(|v| v.track_inventory && !v.allow_backorder)
            })
            .map(|n| stock::Need {
                variant_id: n.variant_id,
                quantity: n.quantity - held.get(&n.variant_id).copied().unwrap_or(0),
            })
            .filter(|n| n.quantity > 0)
            .collect();
        if missing.is_empty() {
            return Ok(Ok(()));
        }
        tracing::warn!(
            cart_id = cart.row.id,
            order_id,
            "the checkout's stock hold expired before the order was placed; holding again"
        );
        let ids: Vec<i64> = missing.iter().map(|n| n.variant_id).collect();
        let levels = stock::levels(tx, &ids).await?;
        let hold = stock::Hold::Cart {
            cart_id: cart.row.id,
            expires_at: Utc::now().trunc_subsecs(6)
                + chrono::Duration::from_std(self.settings.hold)
                    .unwrap_or_else(|_| chrono::Duration::minutes(10)),
        };
        if let Err(shortages) = stock::reserve(tx, &levels, &missing, &variants, hold).await? {
            return Ok(Err(out_of_stock(quote, &shortages)));
        }
        stock::hand_to_order(tx, cart.row.id, order_id).await?;
        Ok(Ok(()))
    }

    async fn release(&self, cart_id: i64) -> DomainResult<()> {
        retrying(|attempt| self.release_once(attempt, cart_id)).await
    }

    async fn release_once(&self, attempt: Attempt, cart_id: i64) -> DomainResult<()> {
        let tx = attempt.begin(self.db).await?;
        // Write first (SQLite lock order), then release.
        cart_row::Entity::update_many()
            .col_expr(
                cart_row::Column::UpdatedAt,
                Expr::value(Utc::now().trunc_subsecs(6)),
            )
            .filter(cart_row::Column::Id.eq(cart_id))
            .exec(&tx)
            .await?;
        stock::release_cart(&tx, cart_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// After a failed placement: void the authorization (refund a sale,
    /// which cannot be voided), release the stock.
    async fn undo(
        &self,
        cart_id: i64,
        gateway: Option<&dyn PaymentGateway>,
        auth: Option<&Authorization>,
        key: Option<&str>,
        currency: Currency,
    ) {
        if let (Some(g), Some(a)) = (gateway, auth)
            && let Some(reference) = a.reference()
        {
            let key = key.unwrap_or(reference);
            let undone = match a {
                Authorization::Authorized {
                    captured: true,
                    amount_minor,
                    ..
                } => g
                    .refund(reference, *amount_minor, currency, &format!("refund:{key}"))
                    .await
                    .map(|_| ()),
                _ => g.void(reference, &format!("void:{key}")).await,
            };
            if let Err(e) = undone {
                tracing::error!(gateway = g.code(), error = %e, "could not void or refund a payment after a failed checkout");
            }
        }
        if let Err(e) = self.release(cart_id).await {
            tracing::error!(error = %e, cart_id, "could not release stock after a failed checkout; it expires");
        }
    }

    /// Writes the order in one transaction. It only records what the
    /// gateway answered, so a run that lost its connection before the
    /// commit runs again rather than undoing the payment.
    async fn place(
        &self,
        cart: &Cart,
        quote: &Quote,
        gateway: Option<&dyn PaymentGateway>,
        auth: Option<&Authorization>,
        viewer: Viewer,
    ) -> DomainResult<Result<Completion, Vec<UserError>>> {
        retrying(|attempt| self.place_once(attempt, cart, quote, gateway, auth, viewer)).await
    }

    async fn place_once(
        &self,
        attempt: Attempt,
        cart: &Cart,
        quote: &Quote,
        gateway: Option<&dyn PaymentGateway>,
        auth: Option<&Authorization>,
        viewer: Viewer,
    ) -> DomainResult<Result<Completion, Vec<UserError>>> {
        let (customer_id, actor) = match viewer {
            Viewer::Customer(id) => (Some(id), format!("customer:{id}")),
            Viewer::Guest => (None, "guest".to_owned()),
        };
        let placement = Placement {
            cart_id: cart.row.id,
            customer_id,
            email: cart.row.email.clone().unwrap_or_default(),
            shipping_address: cart.row.shipping_address.clone(),
            billing_address: cart
                .row
                .billing_address
                .clone()
                .or_else(|| cart.row.shipping_address.clone()),
            actor: actor.clone(),
        };
        let tx = attempt.begin(self.db).await?;
        let (order, created) = orders::insert(&tx, quote, &placement).await?;
        // `order.created` first (as placed, awaiting payment); the payment
        // events below follow it (`order.paid` when captured).
        orders::record_created(&tx, &order, created.status()).await?;
        let marked = cart_row::Entity::update_many()
            .col_expr(cart_row::Column::OrderId, Expr::value(order.id))
            .filter(cart_row::Column::Id.eq(cart.row.id))
            .filter(cart_row::Column::OrderId.is_null())
            .exec(&tx)
            .await?;
        if marked.rows_affected != 1 {
            tx.rollback().await?;
            return Ok(Err(vec![UserError::new(
                &["cartId"],
                UserErrorCode::CartCompleted,
                "this cart was already checked out",
            )]));
        }
        if let Err(errors) = use_promotions(&tx, quote, order.id, customer_id).await? {
            tx.rollback().await?;
            return Ok(Err(errors));
        }
        for card in quote.gift_cards.iter().filter(|g| g.amount > 0) {
            if !setup::gift_card_debit(&tx, card.card.id, card.amount, order.id).await? {
                tx.rollback().await?;
                return Ok(Err(vec![UserError::new(
                    &["giftCardCodes"],
                    UserErrorCode::InvalidCode,
                    format!(
                        "the gift card ending {} no longer has enough balance",
                        card.card.last_chars
                    ),
                )]));
            }
        }
        if let Some((account, amount)) = quote.store_credit
            && !setup::store_credit_move(&tx, account, -amount, Some(order.id), "order").await?
        {
            {
                tx.rollback().await?;
                return Ok(Err(vec![UserError::new(
                    &["storeCredit"],
                    UserErrorCode::Invalid,
                    "your store credit changed meanwhile; review the cart and try again",
                )]));
            }
        }

        let mut events = Vec::new();
        let tendered = quote.totals.total - quote.amount_due;
        if tendered > 0 {
            events.push(OrderEvent::PaymentCaptured { amount: tendered });
        }
        let mut next_action = None;
        let mut secured = quote.amount_due == 0;
        if let (Some(g), Some(a)) = (gateway, auth) {
            let now = Utc::now().trunc_subsecs(6);
            let (status, client_secret) = match a {
                Authorization::Authorized { captured: true, .. } => ("captured", None),
                Authorization::Authorized { .. } => ("authorized", None),
                Authorization::RequiresAction {
                    client_secret,
                    next_action_url,
                    ..
                } => {
                    next_action = Some(NextAction {
                        client_secret: client_secret.clone(),
                        url: next_action_url.clone(),
                    });
                    ("requires_action", client_secret.clone())
                }
                Authorization::PendingOffline { .. } => ("pending", None),
                Authorization::Declined { .. } => ("failed", None),
            };
            let reference = a.reference().unwrap_or_default().to_owned();
            let payment_id = payment::Entity::insert(payment::ActiveModel {
                order_id: Set(order.id),
                gateway: Set(g.code().to_owned()),
                reference: Set(reference),
                currency_code: Set(quote.channel.currency.code().to_owned()),
                amount_minor: Set(quote.amount_due),
                status: Set(status.to_owned()),
                client_secret: Set(client_secret),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec(&tx)
            .await?
            .last_insert_id;
            if let Authorization::Authorized {
                amount_minor,
                captured,
                ..
            } = a
            {
                secured = true;
                let mut entries = vec![ledger(payment_id, "authorization", *amount_minor, now)];
                events.push(OrderEvent::PaymentAuthorized {
                    amount: *amount_minor,
                });
                if *captured {
                    entries.push(ledger(payment_id, "capture", *amount_minor, now));
                    events.push(OrderEvent::PaymentCaptured {
                        amount: *amount_minor,
                    });
                }
                payment_transaction::Entity::insert_many(entries)
                    .exec_without_returning(&tx)
                    .await?;
            }
        }
        let (order, _) = match orders::apply(&tx, &order, &events, &actor).await? {
            Ok(done) => done,
            Err(e) => {
                return Err(DomainError::Inconsistent(format!(
                    "a new order refused its payment events: {e}"
                )));
            }
        };
        if let Err(errors) = self.hold_for_order(&tx, cart, quote, order.id).await? {
            tx.rollback().await?;
            return Ok(Err(errors));
        }
        if !secured && matches!(auth, Some(Authorization::RequiresAction { .. })) {
            // Awaiting the customer: the stock is held for a while, then the
            // sweeper cancels the order if the payment never completes.
            let until = Utc::now().trunc_subsecs(6)
                + chrono::Duration::from_std(self.settings.pending_payment_hold)
                    .unwrap_or_else(|_| chrono::Duration::hours(1));
            reservation::Entity::update_many()
                .col_expr(reservation::Column::ExpiresAt, Expr::value(until))
                .filter(reservation::Column::OrderId.eq(order.id))
                .exec(&tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Ok(Completion {
            order_id: Some(order.id),
            next_action,
            errors: Vec::new(),
        }))
    }
}

/// OUT_OF_STOCK errors for `shortages`, on the quote's lines.
fn out_of_stock(quote: &Quote, shortages: &[stock::Shortage]) -> Vec<UserError> {
    shortages
        .iter()
        .map(|s| {
            let i = quote
                .lines
                .iter()
                .position(|l| l.line.variant_id == s.variant_id)
                .unwrap_or(0);
            UserError::out_of_stock(
                &["lines", &i.to_string(), "quantity"],
                i64::from(s.available),
                format!("only {} left in stock", s.available),
            )
        })
        .collect()
}

/// The gateway's idempotency key for a checkout keyed `key` by the client:
/// the cart and the key, hashed when that is longer than gateways take
/// (Stripe: 255 characters, which a client key alone may reach).
fn gateway_key(cart: &str, key: &str) -> String {
    const MAX: usize = 255;
    let joined = format!("{cart}:{key}");
    if joined.len() <= MAX {
        joined
    } else {
        format!("checkout:{}", secret::digest(&joined))
    }
}

fn ledger(
    payment_id: i64,
    kind: &str,
    amount: i64,
    at: chrono::DateTime<Utc>,
) -> payment_transaction::ActiveModel {
    payment_transaction::ActiveModel {
        payment_id: Set(payment_id),
        kind: Set(kind.to_owned()),
        amount_minor: Set(amount),
        gateway_event_id: Set(None),
        detail: Set(None),
        created_at: Set(at),
        ..Default::default()
    }
}

/// Counts the use of every applied promotion, refusing one whose total limit
/// was reached meanwhile (the check is the update itself).
async fn use_promotions(
    tx: &impl ConnectionTrait,
    quote: &Quote,
    order_id: i64,
    customer_id: Option<i64>,
) -> DomainResult<Result<(), Vec<UserError>>> {
    let now = Utc::now().trunc_subsecs(6);
    for p in &quote.promotions {
        let updated = promotion::Entity::update_many()
            .col_expr(
                promotion::Column::TimesUsed,
                Expr::col(promotion::Column::TimesUsed).add(1),
            )
            .filter(promotion::Column::Id.eq(p.promotion_id))
            .filter(
                sea_orm::Condition::any()
                    .add(promotion::Column::UsageLimit.is_null())
                    .add(
                        Expr::col(promotion::Column::TimesUsed)
                            .lt(Expr::col(promotion::Column::UsageLimit)),
                    ),
            )
            .exec(tx)
            .await?;
        if updated.rows_affected != 1 {
            return Ok(Err(vec![UserError::new(
                &["discountCodes"],
                UserErrorCode::InvalidCode,
                format!(
                    "`{}` has just been used up",
                    p.code.as_deref().unwrap_or(p.name.as_str())
                ),
            )]));
        }
        promotion_usage::Entity::insert(promotion_usage::ActiveModel {
            promotion_id: Set(p.promotion_id),
            order_id: Set(order_id),
            customer_id: Set(customer_id),
            created_at: Set(now),
            ..Default::default()
        })
        .exec_without_returning(tx)
        .await?;
    }
    Ok(Ok(()))
}

/// Checks a priced cart is ready to pay; returns the gateway to charge
/// (`None` when nothing is due).
fn check(
    cart: &Cart,
    quote: &Quote,
    payment: &PaymentInput,
    gateways: &Gateways,
) -> Result<Option<std::sync::Arc<dyn PaymentGateway>>, Vec<UserError>> {
    let mut errors = Vec::new();
    if cart.lines.is_empty() {
        errors.push(UserError::new(
            &["cartId"],
            UserErrorCode::EmptyCart,
            "the cart is empty",
        ));
    }
    for (i, l) in quote.lines.iter().enumerate() {
        if l.unit_price.is_none() {
            errors.push(UserError::new(
                &["lines", &i.to_string(), "merchandiseId"],
                UserErrorCode::VariantNotFound,
                "this item is no longer for sale; remove it to check out",
            ));
        }
    }
    if cart.row.email.is_none() {
        errors.push(UserError::new(
            &["buyerIdentity", "email"],
            UserErrorCode::MissingEmail,
            "an email is needed to place the order",
        ));
    }
    if cart.shipping_address().is_none() {
        errors.push(UserError::new(
            &["buyerIdentity", "shippingAddress"],
            UserErrorCode::MissingShippingAddress,
            "a shipping address is needed for these items",
        ));
    } else {
        match &quote.shipping {
            None if cart.row.shipping_method_id.is_some() => errors.push(UserError::new(
                &["shippingMethodCode"],
                UserErrorCode::InvalidShippingMethod,
                "the chosen shipping method is not offered for this address; choose another",
            )),
            None => errors.push(UserError::new(
                &["shippingMethodCode"],
                UserErrorCode::MissingShippingMethod,
                "choose a shipping method",
            )),
            Some(s) => {
                let fits = quote
                    .shipping_options
                    .iter()
                    .any(|o| o.method.id == s.method.id && o.amount.is_some());
                if !fits {
                    errors.push(UserError::new(
                        &["shippingMethodCode"],
                        UserErrorCode::InvalidShippingMethod,
                        "this shipping method cannot carry this cart; choose another",
                    ));
                }
            }
        }
    }
    let mut gateway = None;
    if quote.amount_due > 0 {
        match gateways.get(payment.gateway.trim()) {
            None => errors.push(UserError::new(
                &["payment", "gateway"],
                UserErrorCode::Invalid,
                format!(
                    "unknown payment gateway; use one of: {}",
                    gateways.codes().join(", ")
                ),
            )),
            Some(g) => {
                if g.code() != "manual"
                    && payment.token.as_deref().is_none_or(|t| t.trim().is_empty())
                {
                    errors.push(UserError::new(
                        &["payment", "token"],
                        UserErrorCode::Blank,
                        "a payment token from the gateway is required",
                    ));
                }
                gateway = Some(g);
            }
        }
    }
    if errors.is_empty() {
        Ok(gateway)
    } else {
        Err(errors)
    }
}
