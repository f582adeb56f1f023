//! `checkoutComplete`: a cart becomes an order, exactly once.
//!
//! 1. The cart is priced again on the server and checked (lines for sale,
//!    email, shipping address and method, a payment method when money is
//!    due).
//! 2. Stock is reserved in a short transaction that first claims the cart;
//!    the reservations carry an expiry, so a crash after this step holds no
//!    stock for longer than [`CheckoutSettings::hold`].
//!    The same transaction claims the once-per-customer promotions the
//!    cart uses ([`super::claims`]), so concurrent checkouts of one customer
//!    cannot both use one, and the loser is refused before it pays.
//! 3. The payment gateway authorizes what gift cards and store credit do not
//!    cover (outside any transaction: it is a network call). Every key the
//!    gateway gets for the attempt is derived one way from the cart's row id
//!    and the client's idempotency key ([`super::keys`]), so a retried
//!    checkout reaches the same authorization; the gateway's metadata names
//!    the cart by row id. The cart token, a bearer credential, never leaves
//!    the server.
//! 4. One transaction writes the order with its line snapshots, the payment
//!    and its ledger entry, promotion usage, gift card and store credit
//!    debits, hands the reservations to the order (holding again what
//!    expired while the gateway answered) and raises `order.created` (and
//!    `order.paid`). An order whose payment is not secured (an offline
//!    payment, 3-D Secure) gets a payment deadline and counts against the
//!    caps on unpaid orders ([`super::unpaid`]). Any failed check rolls it
//!    back whole; the authorization is then voided (a sale refunded; queued
//!    for retry when the gateway fails, see [`super::undo`]) and the stock
//!    released.
//!
//! A declined payment creates no order and releases the stock. With an
//! idempotency key, the first answer is kept and returned to every retry,
//! concurrent ones included; the same key with another request is refused.
//! Keys are the caller's (a customer's, a partner token's); an anonymous
//! caller's are the cart's, so two guests' equal keys never meet.

use crate::domain::tx::{Attempt, lock_keys, retrying};
use std::{collections::HashMap, net::IpAddr, time::Duration};
use tracing::{field, instrument};

use chrono::{DateTime, SubsecRound, Utc};
use entity::{
    cart as cart_row, payment, payment_transaction, promotion, promotion_usage, reservation,
    variant,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use super::{
    cart::{self, Cart, Viewer},
    claims::{self, Limited},
    keys::{CheckoutKeys, GatewayKeys},
    orders::{self, Placement},
    quote::{self, Quote},
    setup, stock,
    undo::{self, Action, Undo},
    unpaid::{self, UnpaidCaps},
};
use crate::domain::{
    clock::Clock,
    error::{DomainError, DomainResult, Outcome, UserError, UserErrorCode},
    idempotency::{self, Refusal},
    identity::secret,
    money::Currency,
    order_state::OrderEvent,
    payments::{Authorization, AuthorizeRequest, CaptureMode, Gateways, PaymentGateway},
};

mod placement;

pub use placement::gateway_reference;
use placement::{cart_id_of, check, ledger, not_found, use_promotions};

/// The longest idempotency key a checkout accepts (after trimming).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// How checkout holds stock and takes payment.
#[derive(Debug, Clone)]
pub struct CheckoutSettings {
    /// How long stock stays reserved for a checkout in progress.
    pub hold: Duration,
    /// How long an order awaiting payment (an offline payment, 3-D Secure)
    /// keeps its stock before it is cancelled, unless its gateway has its
    /// own in `pending_holds`.
    pub pending_payment_hold: Duration,
    /// The same per gateway code.
    pub pending_holds: Vec<(String, Duration)>,
    /// Caps on orders awaiting payment.
    pub unpaid_caps: UnpaidCaps,
    /// Capture at checkout (sale) or authorize only.
    pub capture: CaptureMode,
}

impl Default for CheckoutSettings {
    fn default() -> Self {
        Self {
            hold: Duration::from_secs(600),
            pending_payment_hold: Duration::from_secs(3600),
            pending_holds: Vec::new(),
            unpaid_caps: UnpaidCaps::default(),
            capture: CaptureMode::Automatic,
        }
    }
}

impl CheckoutSettings {
    /// How long an order paid through `gateway` may await its payment.
    pub fn pending_hold(&self, gateway: &str) -> Duration {
        self.pending_holds
            .iter()
            .find(|(code, _)| code == gateway)
            .map_or(self.pending_payment_hold, |(_, hold)| *hold)
    }

    /// When a stock hold taken at `now` expires.
    pub fn hold_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.hold)
            .unwrap_or_else(|_| chrono::Duration::minutes(10))
    }

    /// When an order placed at `now` through `gateway` without its payment
    /// secured is cancelled unless paid.
    pub fn payment_due(&self, gateway: &str, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.pending_hold(gateway))
            .unwrap_or_else(|_| chrono::Duration::hours(1))
    }
}

/// Who is checking out.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller to the cart.
    pub viewer: Viewer,
    /// Whose idempotency keys these are (`customer:7`, `token:3`); `None`
    /// for an anonymous caller, whose keys are the cart's.
    pub scope: Option<String>,
    /// The client's address, when known (for the caps on unpaid orders).
    pub ip: Option<IpAddr>,
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
    /// The installation's checkout secret (gateway keys, client digests).
    pub keys: &'a CheckoutKeys,
    /// Holds, caps and capture mode.
    pub settings: CheckoutSettings,
    /// The time holds and payment deadlines go by.
    pub clock: &'a Clock,
}

/// The request an idempotency key is bound to.
#[derive(Serialize)]
struct KeyedRequest<'a> {
    cart: &'a str,
    gateway: &'a str,
    token_digest: Option<String>,
}

impl Checkout<'_> {
    /// The time now, as stored.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// Completes the cart `token` for `caller`.
    #[instrument(
        name = "checkout.complete",
        skip_all,
        fields(
            idempotency_key = idempotency_key.unwrap_or_default(),
            cart_id = field::Empty,
            order_id = field::Empty,
        )
    )]
    pub async fn complete(
        &self,
        token: &str,
        caller: &Caller,
        payment: &PaymentInput,
        idempotency_key: Option<&str>,
    ) -> DomainResult<Completion> {
        let request = KeyedRequest {
            cart: token.trim(),
            gateway: payment.gateway.trim(),
            token_digest: payment.token.as_deref().map(secret::digest),
        };
        let key = idempotency_key.map(str::trim).filter(|k| !k.is_empty());
        if key.is_some_and(|k| k.len() > MAX_IDEMPOTENCY_KEY_LEN) {
            return Err(DomainError::InvalidArgument(format!(
                "the idempotency key is longer than {MAX_IDEMPOTENCY_KEY_LEN} characters"
            )));
        }
        let scope = match (&caller.scope, key) {
            (Some(scope), _) => format!("checkout:{scope}"),
            (None, None) => String::new(),
            // An anonymous caller's keys belong to the cart: two guests
            // sending the same key never get each other's answer.
            (None, Some(_)) => match cart_id_of(self.db, token).await? {
                Some(id) => format!("checkout:cart:{id}"),
                None => return Ok(Completion::failed(vec![not_found()])),
            },
        };
        let answer = idempotency::once(self.db, self.clock, &scope, key, &request, || {
            self.run(token, caller, payment, key)
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
        caller: &Caller,
        payment: &PaymentInput,
        key: Option<&str>,
    ) -> DomainResult<Completion> {
        let viewer = caller.viewer;
        let Some(cart) = cart::get(self.db, token, viewer).await? else {
            return Ok(Completion::failed(vec![not_found()]));
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
        let limited = match customer_id {
            Some(_) => claims::limited(self.db, &quote).await?,
            None => Vec::new(),
        };

        if let Err(errors) = self.reserve(&cart, &quote, customer_id, &limited).await? {
            return Ok(Completion::failed(errors));
        }

        // Every gateway key of this attempt derives from the cart and the
        // client's key (or a fresh one when the client sent none).
        let attempt = key.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let keys = self.keys.attempt(cart.row.id, &attempt);
        let auth = match &gateway {
            None => None,
            Some(g) => {
                let request = AuthorizeRequest {
                    amount_minor: quote.amount_due,
                    currency: quote.channel.currency,
                    token: payment.token.clone().unwrap_or_default(),
                    idempotency_key: keys.authorize.clone(),
                    reference: gateway_reference(cart.row.id),
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
            .place(
                &cart,
                &quote,
                gateway.as_deref(),
                auth.as_ref(),
                caller,
                &limited,
            )
            .await;
        let currency = quote.channel.currency;
        if !matches!(placed, Ok(Ok(_))) {
            self.undo(
                cart.row.id,
                gateway.as_deref(),
                auth.as_ref(),
                &keys,
                currency,
            )
            .await;
        }
        placed.map(|p| p.unwrap_or_else(Completion::failed))
    }

    /// Claims the cart, reserves its stock (expiring hold) and claims the
    /// once-per-customer promotions it uses (for as long).
    async fn reserve(
        &self,
        cart: &Cart,
        quote: &Quote,
        customer_id: Option<i64>,
        limited: &[Limited],
    ) -> Outcome<()> {
        retrying(|attempt| self.reserve_once(attempt, cart, quote, customer_id, limited)).await
    }

    async fn reserve_once(
        &self,
        attempt: Attempt,
        cart: &Cart,
        quote: &Quote,
        customer_id: Option<i64>,
        limited: &[Limited],
    ) -> Outcome<()> {
        let needs = quote.needs();
        let ids: Vec<i64> = needs.iter().map(|n| n.variant_id).collect();
        let levels = stock::levels(self.db, &ids).await?;
        let variants = quote
            .lines
            .iter()
            .filter_map(|l| l.variant.clone().map(|v| (v.id, v)))
            .collect();
        let now = self.now();
        let expires_at = self.settings.hold_until(now);
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
        if let (Some(customer), false) = (customer_id, limited.is_empty()) {
            lock_keys(&tx, &[claims::lock_key(customer)]).await?;
            let claimed =
                claims::claim(&tx, limited, customer, cart.row.id, now, expires_at).await?;
            if let Err(errors) = claimed {
                tx.rollback().await?;
                return Ok(Err(errors));
            }
        }
        stock::release_cart(&tx, cart.row.id).await?;
        let hold = stock::Hold::Cart {
            cart_id: cart.row.id,
            expires_at,
        };
        if let Err(shortages) = stock::reserve(&tx, &levels, &needs, &variants, hold).await? {
            tx.rollback().await?;
            return Ok(Err(stock::out_of_stock(
                &shortages,
                quote.lines.iter().map(|l| l.line.variant_id),
            )));
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
    ) -> Outcome<()> {
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
            expires_at: self.settings.hold_until(self.now()),
        };
        if let Err(shortages) = stock::reserve(tx, &levels, &missing, &variants, hold).await? {
            return Ok(Err(stock::out_of_stock(
                &shortages,
                quote.lines.iter().map(|l| l.line.variant_id),
            )));
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
            .col_expr(cart_row::Column::UpdatedAt, Expr::value(self.now()))
            .filter(cart_row::Column::Id.eq(cart_id))
            .exec(&tx)
            .await?;
        stock::release_cart(&tx, cart_id).await?;
        claims::release(&tx, cart_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// After a failed placement: void the authorization (refund a sale,
    /// which cannot be voided; either queued for retry if the gateway
    /// fails), release the stock.
    async fn undo(
        &self,
        cart_id: i64,
        gateway: Option<&dyn PaymentGateway>,
        auth: Option<&Authorization>,
        keys: &GatewayKeys,
        currency: Currency,
    ) {
        if let (Some(g), Some(a)) = (gateway, auth)
            && let Some(reference) = a.reference()
        {
            let (action, key) = match a {
                Authorization::Authorized {
                    captured: true,
                    amount_minor,
                    ..
                } => (
                    Action::Refund {
                        amount_minor: *amount_minor,
                        currency,
                    },
                    &keys.refund,
                ),
                _ => (Action::Void, &keys.void),
            };
            let back = Undo {
                gateway: g.code().to_owned(),
                reference: reference.to_owned(),
                action,
                key: key.clone(),
            };
            if let Err(e) = undo::undo(self.db, g, &back).await {
                tracing::error!(gateway = g.code(), cart_id, error = %e, "could not queue the void or refund of a payment after a failed checkout");
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
        caller: &Caller,
        limited: &[Limited],
    ) -> Outcome<Completion> {
        let paid = (gateway, auth);
        retrying(|attempt| self.place_once(attempt, cart, quote, paid, caller, limited)).await
    }

    /// One run of [`Self::place`]; `paid` is the gateway and what it answered.
    async fn place_once(
        &self,
        attempt: Attempt,
        cart: &Cart,
        quote: &Quote,
        (gateway, auth): (Option<&dyn PaymentGateway>, Option<&Authorization>),
        caller: &Caller,
        limited: &[Limited],
    ) -> Outcome<Completion> {
        let (customer_id, actor) = match caller.viewer {
            Viewer::Customer(id) => (Some(id), format!("customer:{id}")),
            Viewer::Guest => (None, "guest".to_owned()),
        };
        // Placed without its payment secured (offline, 3-D Secure): the
        // order gets a deadline and counts against the unpaid caps.
        let unpaid =
            quote.amount_due > 0 && !matches!(auth, Some(Authorization::Authorized { .. }));
        let payment_due_at = match (unpaid, gateway) {
            (true, Some(g)) => Some(self.settings.payment_due(g.code(), self.now())),
            _ => None,
        };
        let client_address = caller.ip.map(|ip| self.keys.client_address(ip));
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
            payment_due_at,
            client_address: client_address.clone(),
        };
        let buyer = unpaid::Buyer {
            email: &placement.email,
            customer_id,
            client_address: client_address.as_deref(),
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
        // The limits below are counted and written under the buyer's locks
        // (taken after the cart's row, as when reserving).
        let mut locks = Vec::new();
        if let (Some(customer), false) = (customer_id, limited.is_empty()) {
            locks.push(claims::lock_key(customer));
        }
        if unpaid {
            locks.extend(unpaid::lock_keys(self.settings.unpaid_caps, buyer));
        }
        lock_keys(&tx, &locks).await?;
        if let Some(customer) = customer_id
            && !limited.is_empty()
        {
            if let Err(errors) =
                claims::check(&tx, limited, customer, cart.row.id, self.now()).await?
            {
                tx.rollback().await?;
                return Ok(Err(errors));
            }
            claims::release(&tx, cart.row.id).await?;
        }
        if unpaid
            && let Err(error) =
                unpaid::check(&tx, self.settings.unpaid_caps, buyer, order.id).await?
        {
            tx.rollback().await?;
            return Ok(Err(vec![error]));
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
            let now = self.now();
            let status = match a {
                Authorization::Authorized { captured: true, .. } => "captured",
                Authorization::Authorized { .. } => "authorized",
                Authorization::RequiresAction {
                    client_secret,
                    next_action_url,
                    ..
                } => {
                    next_action = Some(NextAction {
                        client_secret: client_secret.clone(),
                        url: next_action_url.clone(),
                    });
                    "requires_action"
                }
                Authorization::PendingOffline { .. } => "pending",
                Authorization::Declined { .. } => "failed",
            };
            let reference = a.reference().unwrap_or_default().to_owned();
            let payment_id = payment::Entity::insert(payment::ActiveModel {
                order_id: Set(order.id),
                gateway: Set(g.code().to_owned()),
                reference: Set(reference),
                currency_code: Set(quote.channel.currency.code().to_owned()),
                amount_minor: Set(quote.amount_due),
                status: Set(status.to_owned()),
                // The customer gets the gateway's client secret in this
                // answer; nothing reads it back, so it is not kept.
                client_secret: Set(None),
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
        if let (false, Some(until)) = (secured, payment_due_at) {
            // Awaiting the payment (the customer's 3-D Secure step, a bank
            // transfer): the stock is held until the deadline, then the
            // sweeper cancels the order if the payment never came.
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
