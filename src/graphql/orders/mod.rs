//! The money of orders after payment, for staff and partner tokens with
//! `orders:write`: `orderCapture`, `orderMarkAsPaid`, `refundCreate`,
//! `refundRetry` and `orderCancel`, and the `Refund` objects an order
//! shows. Thin: decode, authorize (guards), one domain call
//! ([`crate::domain::orders`]), payload.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, dataloader::Loader};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        checkout::orders,
        error::DomainError,
        identity::permission::Permission,
        money::Currency,
        orders::{
            Answer, Env, Operator,
            cancel::{self, CancelRequest},
            capture,
            refund::{self, Destination, LineRequest, RefundRequest, RefundView, Shipping},
        },
    },
    graphql::{
        ContextExt,
        auth::Need,
        commerce::types::Order,
        common::{Money, UserError, actor, money, under_input, user_errors},
        error::ApiResult,
        id::{Kind, decode_as, encode},
        loaders::AdminLoader,
        scalars::Decimal,
    },
};

/// Where a refund stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum RefundStatus {
    /// Claimed, being paid out. One still pending ten minutes after its
    /// claim was cut short (the server stopped): `refundRetry` finishes it.
    Pending,
    /// Paid back.
    Succeeded,
    /// A gateway failed; nothing counts as refunded. `refundRetry` pays it
    /// (once).
    Failed,
}

impl RefundStatus {
    fn of(s: &str) -> Self {
        match s {
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// Where a refund's money goes.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum RefundDestination {
    /// The tenders that paid: the card (gateway payments) first, up to what
    /// each captured, then gift cards, then store credit.
    #[default]
    Original,
    /// The customer's store credit (not for guest orders).
    StoreCredit,
}

/// What paid, and gets paid back.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum RefundTenderKind {
    /// A gateway payment (card, bank transfer recorded with `manual`).
    Card,
    /// A gift card.
    GiftCard,
    /// Store credit.
    StoreCredit,
    /// Not paid back but released: the open authorization of a card
    /// payment, for units cancelled before they were captured (never
    /// charged). Not part of the refund's `amount`.
    Authorization,
}

/// Units of an order line in a refund.
#[derive(SimpleObject, Clone, Debug)]
pub struct RefundLine {
    /// The order line.
    pub order_line_id: ID,
    /// Units refunded.
    pub quantity: i32,
    /// Whether they went back to stock.
    pub restock: bool,
    /// What the units are worth, from the line's snapshot.
    pub amount: Money,
}

/// The part of a refund paid back to one tender.
#[derive(SimpleObject, Clone, Debug)]
pub struct RefundTender {
    /// Which kind of tender.
    pub kind: RefundTenderKind,
    /// Amount.
    pub amount: Money,
    /// Where it stands.
    pub status: RefundStatus,
    /// The gateway's id of the refund (cards).
    pub reference: Option<String>,
    /// Attempts made.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// Money paid back on an order.
pub struct Refund(pub RefundView);

impl Refund {
    fn currency(&self) -> Currency {
        self.0.refund.currency_code.parse().unwrap_or(Currency::USD)
    }
}

/// Money paid back on an order, across the tenders that paid it.
#[Object]
impl Refund {
    /// Globally unique, opaque ID.
    async fn id(&self) -> ID {
        encode(Kind::Refund, self.0.refund.id)
    }
    /// Where it stands.
    async fn status(&self) -> RefundStatus {
        RefundStatus::of(&self.0.refund.status)
    }
    /// Total paid back (lines, shipping, or the amount given).
    async fn amount(&self) -> Money {
        money(self.0.refund.amount_minor, self.currency())
    }
    /// The shipping part of it.
    async fn shipping(&self) -> Money {
        money(self.0.refund.shipping_minor, self.currency())
    }
    /// Where the money goes.
    async fn destination(&self) -> RefundDestination {
        if self.0.refund.destination == "store_credit" {
            RefundDestination::StoreCredit
        } else {
            RefundDestination::Original
        }
    }
    /// Staff's note.
    async fn note(&self) -> Option<&str> {
        self.0.refund.note.as_deref()
    }
    /// Units refunded per order line.
    async fn lines(&self) -> Vec<RefundLine> {
        let currency = self.currency();
        self.0
            .lines
            .iter()
            .map(|l| RefundLine {
                order_line_id: encode(Kind::OrderLine, l.order_line_id),
                quantity: l.quantity,
                restock: l.restock,
                amount: money(l.amount_minor, currency),
            })
            .collect()
    }
    /// What each tender gets back.
    async fn tenders(&self) -> Vec<RefundTender> {
        let currency = self.currency();
        self.0
            .tenders
            .iter()
            .map(|t| RefundTender {
                kind: match t.tender.as_str() {
                    "gift_card" => RefundTenderKind::GiftCard,
                    "store_credit" => RefundTenderKind::StoreCredit,
                    "authorization" => RefundTenderKind::Authorization,
                    _ => RefundTenderKind::Card,
                },
                amount: money(t.amount_minor, currency),
                status: RefundStatus::of(&t.status),
                reference: t.reference.clone(),
                attempts: t.attempts,
                last_error: t.last_error.clone(),
            })
            .collect()
    }
    /// Why it failed, while it is FAILED.
    async fn last_error(&self) -> Option<&str> {
        self.0.refund.last_error.as_deref()
    }
    /// When it was asked for.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.refund.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.refund.updated_at
    }
}

/// The refunds of an order (for `Order.refunds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefundsOf(pub i64);

impl Loader<RefundsOf> for AdminLoader {
    type Value = Arc<Vec<RefundView>>;
    type Error = DomainError;
    async fn load(
        &self,
        keys: &[RefundsOf],
    ) -> Result<HashMap<RefundsOf, Self::Value>, DomainError> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut by: HashMap<RefundsOf, Vec<RefundView>> = HashMap::new();
        for v in refund::of_orders(&self.db, &ids).await? {
            by.entry(RefundsOf(v.refund.order_id)).or_default().push(v);
        }
        Ok(keys
            .iter()
            .map(|k| (*k, Arc::new(by.remove(k).unwrap_or_default())))
            .collect())
    }
}

/// The refunds of order `order_id`, oldest first.
pub async fn refunds_of(ctx: &Context<'_>, order_id: i64) -> ApiResult<Arc<Vec<RefundView>>> {
    Ok(ctx
        .request()?
        .admin_loaders
        .load_one(RefundsOf(order_id))
        .await?
        .unwrap_or_default())
}

/// Units of one order line to refund.
#[derive(InputObject)]
pub struct RefundLineInput {
    /// The order line (`Order.lines { id }`).
    pub order_line_id: ID,
    /// Units.
    pub quantity: i32,
    /// Put the units back in stock: shipped units go back on hand where
    /// they shipped from, unshipped ones are cancelled and their holds
    /// released.
    #[graphql(default = false)]
    pub restock: bool,
}

/// `refundCreate`'s input.
#[derive(InputObject)]
pub struct RefundCreateInput {
    /// The order.
    pub order_id: ID,
    /// Units to refund, worth their share of the line's total (discounts
    /// and tax included).
    #[graphql(default)]
    pub lines: Vec<RefundLineInput>,
    /// Refund all the shipping that is left.
    #[graphql(default = false)]
    pub shipping: bool,
    /// Refund this much of the shipping instead.
    pub shipping_amount: Option<Decimal>,
    /// Refund exactly this amount instead of the computed one.
    pub amount: Option<Decimal>,
    /// A note for staff.
    pub note: Option<String>,
    /// Where the money goes.
    #[graphql(default)]
    pub to: RefundDestination,
    /// Tell the customer.
    #[graphql(default = true)]
    pub notify_customer: bool,
}

/// The result of `orderCapture` and `orderMarkAsPaid`.
#[derive(SimpleObject, Default)]
pub struct OrderPaymentPayload {
    /// The order after it.
    pub order: Option<Order>,
    /// Why nothing changed.
    pub user_errors: Vec<UserError>,
}

/// The result of `refundCreate` and `refundRetry`.
#[derive(SimpleObject, Default)]
pub struct RefundPayload {
    /// The refund: SUCCEEDED, or FAILED (recorded, retry with
    /// `refundRetry`).
    pub refund: Option<Refund>,
    /// The order after it.
    pub order: Option<Order>,
    /// Why nothing was done.
    pub user_errors: Vec<UserError>,
}

/// The result of `orderCancel`.
#[derive(SimpleObject, Default)]
pub struct OrderCancelPayload {
    /// The order after it.
    pub order: Option<Order>,
    /// The refund of what was captured, if any.
    pub refund: Option<Refund>,
    /// Why nothing changed.
    pub user_errors: Vec<UserError>,
}

async fn operator(ctx: &Context<'_>) -> ApiResult<Operator> {
    Ok(Operator {
        actor: actor(ctx).await?,
        scope: ctx.principal()?.idempotency_scope(),
    })
}

fn env<'a>(ctx: &'a Context<'_>) -> ApiResult<Env<'a>> {
    let state = ctx.state()?;
    Ok(Env {
        db: &state.db,
        gateways: &state.gateways,
        keys: &state.checkout_keys,
        clock: &state.clock,
    })
}

/// The order and refund an answer names, and its user errors.
async fn answered(
    ctx: &Context<'_>,
    answer: Answer,
) -> ApiResult<(Option<Order>, Option<Refund>, Vec<UserError>)> {
    let db = &ctx.state()?.db;
    let order = match answer.order_id {
        Some(id) => orders::get(db, id).await?.map(|row| Order { row }),
        None => None,
    };
    let refund = match (answer.refund_id, answer.order_id) {
        (Some(id), Some(order_id)) => refund::of_orders(db, &[order_id])
            .await?
            .into_iter()
            .find(|v| v.refund.id == id)
            .map(Refund),
        _ => None,
    };
    Ok((order, refund, user_errors(answer.errors)))
}

/// Money operations on orders.
#[derive(Default)]
pub struct OrderMoneyMutation;

#[Object]
impl OrderMoneyMutation {
    /// Captures the order's open authorization, in full (no `amount`) or in
    /// part (the rest stays authorized for later captures). Never more than
    /// is open. Send an `idempotencyKey` to make retries safe.
    #[graphql(guard = "Need(Permission::OrdersWrite)")]
    async fn order_capture(
        &self,
        ctx: &Context<'_>,
        id: ID,
        amount: Option<Decimal>,
        idempotency_key: Option<String>,
    ) -> ApiResult<OrderPaymentPayload> {
        ctx.request()?.no_store();
        let order_id = decode_as(Kind::Order, &id)?;
        let answer = capture::capture(
            &env(ctx)?,
            &operator(ctx).await?,
            order_id,
            amount.map(|a| a.0),
            idempotency_key.as_deref(),
        )
        .await?;
        let (order, _, user_errors) = answered(ctx, answer).await?;
        Ok(OrderPaymentPayload { order, user_errors })
    }

    /// Records that the money of an order paid with the `manual` gateway
    /// (bank transfer, cash) arrived: captures what is due and keeps its
    /// stock held.
    #[graphql(guard = "Need(Permission::OrdersWrite)")]
    async fn order_mark_as_paid(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
    ) -> ApiResult<OrderPaymentPayload> {
        ctx.request()?.no_store();
        let order_id = decode_as(Kind::Order, &id)?;
        let answer = capture::mark_as_paid(
            &env(ctx)?,
            &operator(ctx).await?,
            order_id,
            idempotency_key.as_deref(),
        )
        .await?;
        let (order, _, user_errors) = answered(ctx, answer).await?;
        Ok(OrderPaymentPayload { order, user_errors })
    }

    /// Refunds units of lines, shipping or an amount, to the tenders that
    /// paid or to the customer's store credit. The idempotency key is
    /// required: a retry with it returns the first refund. A gateway
    /// failure leaves the refund FAILED (no user error: see its status).
    #[graphql(guard = "Need(Permission::OrdersWrite)")]
    async fn refund_create(
        &self,
        ctx: &Context<'_>,
        input: RefundCreateInput,
        idempotency_key: String,
    ) -> ApiResult<RefundPayload> {
        ctx.request()?.no_store();
        let order_id = decode_as(Kind::Order, &input.order_id)?;
        let mut lines = Vec::with_capacity(input.lines.len());
        for l in &input.lines {
            lines.push(LineRequest {
                order_line_id: decode_as(Kind::OrderLine, &l.order_line_id)?,
                quantity: l.quantity,
                restock: l.restock,
            });
        }
        let req = RefundRequest {
            order_id,
            lines,
            shipping: match (input.shipping_amount, input.shipping) {
                (Some(a), _) => Shipping::Amount(a.0),
                (None, true) => Shipping::Remaining,
                (None, false) => Shipping::None,
            },
            amount: input.amount.map(|a| a.0),
            note: input.note,
            to: match input.to {
                RefundDestination::Original => Destination::Original,
                RefundDestination::StoreCredit => Destination::StoreCredit,
            },
            notify_customer: input.notify_customer,
        };
        let mut answer =
            refund::create(&env(ctx)?, &operator(ctx).await?, &req, &idempotency_key).await?;
        answer.errors = under_input(answer.errors);
        let (order, refund, user_errors) = answered(ctx, answer).await?;
        Ok(RefundPayload {
            refund,
            order,
            user_errors,
        })
    }

    /// Pays a FAILED refund again, or finishes one left PENDING for over ten
    /// minutes (cut short by a stop). Its tenders keep their gateway keys,
    /// so the money moves exactly once however often this is called.
    #[graphql(guard = "Need(Permission::OrdersWrite)")]
    async fn refund_retry(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
    ) -> ApiResult<RefundPayload> {
        ctx.request()?.no_store();
        let refund_id = decode_as(Kind::Refund, &id)?;
        let answer = refund::retry(
            &env(ctx)?,
            &operator(ctx).await?,
            refund_id,
            idempotency_key.as_deref(),
        )
        .await?;
        let (order, refund, user_errors) = answered(ctx, answer).await?;
        Ok(RefundPayload {
            refund,
            order,
            user_errors,
        })
    }

    /// Cancels what is left to ship: voids the open authorization or
    /// refunds what was captured, releases (or with `restock: false` writes
    /// off) the held stock, and cancels the unshipped units. A partly
    /// shipped order keeps what shipped. Refused once everything shipped
    /// (ALREADY_FULFILLED) or when cancelled (ORDER_CANCELLED).
    #[allow(clippy::too_many_arguments)]
    #[graphql(guard = "Need(Permission::OrdersWrite)")]
    async fn order_cancel(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
        #[graphql(default = true)] restock: bool,
        #[graphql(default = true)] refund: bool,
        #[graphql(default = true)] notify_customer: bool,
        idempotency_key: Option<String>,
    ) -> ApiResult<OrderCancelPayload> {
        ctx.request()?.no_store();
        let req = CancelRequest {
            order_id: decode_as(Kind::Order, &id)?,
            reason,
            restock,
            refund,
            notify_customer,
        };
        let answer = cancel::cancel(
            &env(ctx)?,
            &operator(ctx).await?,
            &req,
            idempotency_key.as_deref(),
        )
        .await?;
        let (order, refund, user_errors) = answered(ctx, answer).await?;
        Ok(OrderCancelPayload {
            order,
            refund,
            user_errors,
        })
    }
}
