//! Refunds: money paid back on an order, across the tenders that paid it.
//!
//! **What is refundable.** A line's units are worth its snapshot total
//! (unit price less its share of discounts, plus its tax when prices
//! exclude tax) spread over its units: the first `n` units are worth
//! `round_half_up(total × n / quantity)` ([`units_worth`]), so refunding a
//! line in pieces adds up to its total exactly. Shipping is what the order
//! total holds beyond its lines (shipping less its discounts, plus its
//! tax). `amount`, when given, replaces the computed sum (the lines are
//! then recorded for restocking only). Never more than what was captured
//! and not yet claimed by another refund.
//!
//! **Which tenders, in which order** (`to: ORIGINAL`): the gateway
//! payments first (up to what each captured), then gift cards, then store
//! credit, each up to what it paid and was not refunded to it yet: money
//! goes back to the card before balances that stay in the shop.
//! `to: STORE_CREDIT` puts the whole amount on the customer's store credit
//! (a guest order has none: `CUSTOMER_REQUIRED`).
//!
//! **Concurrency.** A refund is first *claimed*: one transaction, serialized
//! with every other audited write (audit head, then the order's row),
//! checks the amounts against every refund of the order (pending, failed
//! or succeeded) and writes the refund `pending` with its lines and
//! tenders. So concurrent refunds never claim more than was captured, per
//! tender and in total. The gateway is then asked (outside transactions,
//! with a key derived from the tender's row id), and a second transaction
//! settles the refund: on success the tenders' ledgers (payment
//! `refund` rows, gift card and store credit entries), the lines'
//! `quantity_refunded`, stock, the state machine's `Refunded`, the
//! timeline, the audit chain and `order.refunded`; on a gateway failure the
//! refund is `failed` with its `last_error`, nothing is counted as
//! refunded, and its claim stays so that `refundRetry` (the same tender
//! keys) pays it exactly once.
//!
//! **Stock.** Of the units of a line refunded with `restock`, those not yet
//! shipped are cancelled (their holds released, `quantity_cancelled`, the
//! state machine's `LinesCancelled`), the rest, shipped, go back on hand at
//! the location they shipped from (an inventory movement `restock`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    fulfillment, fulfillment_line, gift_card, gift_card_entry, inventory_movement, order_line,
    payment, payment_transaction, refund, refund_line, refund_tender, reservation, shop_order,
    stock_level, store_credit_account, store_credit_entry,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use serde::{Deserialize, Serialize};

use super::{
    Answer, Env, Operator, audited, currency_of, lock_order, minor_of, money_of, once,
    order_not_found, shown, timeline,
};
use crate::domain::{
    audit,
    checkout::{orders, setup, stock},
    error::{DomainError, DomainResult, UserError, UserErrorCode, is_unique_violation},
    events::{self, DomainEvent},
    order_state::OrderEvent,
    payments::RefundStatus,
    tx::begin_write,
};

/// How much shipping to refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Shipping {
    /// None.
    #[default]
    None,
    /// All that is left of it.
    Remaining,
    /// This much of it, in the order's currency.
    Amount(rust_decimal::Decimal),
}

/// Where the money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Destination {
    /// The tenders that paid, in the documented order.
    #[default]
    Original,
    /// The customer's store credit.
    StoreCredit,
}

impl Destination {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Original => "original",
            Self::StoreCredit => "store_credit",
        }
    }
}

/// Units of one order line to refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRequest {
    /// The order line.
    pub order_line_id: i64,
    /// Units.
    pub quantity: i32,
    /// Whether the units go back to stock.
    pub restock: bool,
}

/// `refundCreate`'s input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    /// The order.
    pub order_id: i64,
    /// Units to refund.
    pub lines: Vec<LineRequest>,
    /// Shipping to refund.
    pub shipping: Shipping,
    /// The amount to refund instead of the computed one, in the order's
    /// currency.
    pub amount: Option<rust_decimal::Decimal>,
    /// Staff's note.
    pub note: Option<String>,
    /// Where the money goes.
    pub to: Destination,
    /// Whether the customer is told (kept on the timeline entry for the
    /// notifications).
    pub notify_customer: bool,
}

/// One tender that paid an order (and can be paid back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tender {
    /// A gateway payment.
    Card {
        /// The `payment` row.
        payment_id: i64,
    },
    /// A gift card.
    GiftCard {
        /// The card.
        gift_card_id: i64,
    },
    /// A store credit account.
    StoreCredit {
        /// The account.
        account_id: i64,
    },
}

impl Tender {
    fn kind(self) -> &'static str {
        match self {
            Self::Card { .. } => "card",
            Self::GiftCard { .. } => "gift_card",
            Self::StoreCredit { .. } => "store_credit",
        }
    }

    fn of(row: &refund_tender::Model) -> Option<Self> {
        match row.tender.as_str() {
            "card" => row.payment_id.map(|payment_id| Self::Card { payment_id }),
            "gift_card" => row
                .gift_card_id
                .map(|gift_card_id| Self::GiftCard { gift_card_id }),
            "store_credit" => row
                .store_credit_account_id
                .map(|account_id| Self::StoreCredit { account_id }),
            _ => None,
        }
    }
}

/// What `count` units of a line are worth after `before` of its units were
/// refunded: the line `total` spread over its `quantity` units, the first
/// `n` worth `round_half_up(total × n / quantity)`.
pub fn units_worth(total: i64, quantity: i32, before: i32, count: i32) -> i64 {
    let upto = |n: i32| -> i64 {
        if quantity <= 0 {
            return 0;
        }
        let num = i128::from(total) * i128::from(n);
        let den = i128::from(quantity);
        let rounded = if num >= 0 {
            (2 * num + den) / (2 * den)
        } else {
            -((-2 * num + den) / (2 * den))
        };
        i64::try_from(rounded).unwrap_or(i64::MAX)
    };
    upto(before + count) - upto(before)
}

/// Splits `amount` over `rooms` (each tender and what it can take) in
/// their order; `None` when they cannot take it all.
pub fn split(amount: i64, rooms: &[(Tender, i64)]) -> Option<Vec<(Tender, i64)>> {
    let mut left = amount;
    let mut out = Vec::new();
    for (tender, room) in rooms {
        if left == 0 {
            break;
        }
        let take = Ord::min(left, *room);
        if take > 0 {
            out.push((*tender, take));
            left -= take;
        }
    }
    (left == 0).then_some(out)
}

/// What the order's refunds (of any status) already claim.
#[derive(Debug, Default)]
pub(super) struct Claims {
    /// In total.
    pub total: i64,
    /// Of shipping.
    pub shipping: i64,
    /// Units per order line.
    pub per_line: HashMap<i64, i32>,
    /// Per original tender (refunds to the original tenders only).
    pub per_tender: HashMap<Tender, i64>,
}

pub(super) async fn claims(tx: &impl ConnectionTrait, order_id: i64) -> DomainResult<Claims> {
    let refunds = refund::Entity::find()
        .filter(refund::Column::OrderId.eq(order_id))
        .all(tx)
        .await?;
    let mut c = Claims::default();
    if refunds.is_empty() {
        return Ok(c);
    }
    let ids: Vec<i64> = refunds.iter().map(|r| r.id).collect();
    let original: Vec<i64> = refunds
        .iter()
        .filter(|r| r.destination == Destination::Original.as_str())
        .map(|r| r.id)
        .collect();
    for r in &refunds {
        c.total += r.amount_minor;
        c.shipping += r.shipping_minor;
    }
    for l in refund_line::Entity::find()
        .filter(refund_line::Column::RefundId.is_in(ids.clone()))
        .all(tx)
        .await?
    {
        *c.per_line.entry(l.order_line_id).or_default() += l.quantity;
    }
    for t in refund_tender::Entity::find()
        .filter(refund_tender::Column::RefundId.is_in(ids))
        .all(tx)
        .await?
    {
        if original.contains(&t.refund_id)
            && let Some(tender) = Tender::of(&t)
        {
            *c.per_tender.entry(tender).or_default() += t.amount_minor;
        }
    }
    Ok(c)
}

/// What each original tender paid for the order, in refund order.
async fn paid(tx: &impl ConnectionTrait, order_id: i64) -> DomainResult<Vec<(Tender, i64)>> {
    let mut out = Vec::new();
    let payments = payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order_id))
        .order_by_asc(payment::Column::Id)
        .all(tx)
        .await?;
    if !payments.is_empty() {
        let mut captured: HashMap<i64, i64> = HashMap::new();
        for t in payment_transaction::Entity::find()
            .filter(payment_transaction::Column::PaymentId.is_in(payments.iter().map(|p| p.id)))
            .filter(payment_transaction::Column::Kind.eq("capture"))
            .all(tx)
            .await?
        {
            *captured.entry(t.payment_id).or_default() += t.amount_minor;
        }
        for p in &payments {
            out.push((
                Tender::Card { payment_id: p.id },
                captured.get(&p.id).copied().unwrap_or(0),
            ));
        }
    }
    let mut cards: Vec<(i64, i64)> = Vec::new();
    for e in gift_card_entry::Entity::find()
        .filter(gift_card_entry::Column::OrderId.eq(order_id))
        .filter(gift_card_entry::Column::Reason.eq("order"))
        .order_by_asc(gift_card_entry::Column::Id)
        .all(tx)
        .await?
    {
        match cards.iter_mut().find(|(id, _)| *id == e.gift_card_id) {
            Some((_, sum)) => *sum -= e.amount_minor,
            None => cards.push((e.gift_card_id, -e.amount_minor)),
        }
    }
    out.extend(
        cards
            .into_iter()
            .map(|(gift_card_id, sum)| (Tender::GiftCard { gift_card_id }, sum)),
    );
    let mut accounts: Vec<(i64, i64)> = Vec::new();
    for e in store_credit_entry::Entity::find()
        .filter(store_credit_entry::Column::OrderId.eq(order_id))
        .filter(store_credit_entry::Column::Reason.eq("order"))
        .order_by_asc(store_credit_entry::Column::Id)
        .all(tx)
        .await?
    {
        match accounts.iter_mut().find(|(id, _)| *id == e.account_id) {
            Some((_, sum)) => *sum -= e.amount_minor,
            None => accounts.push((e.account_id, -e.amount_minor)),
        }
    }
    out.extend(
        accounts
            .into_iter()
            .map(|(account_id, sum)| (Tender::StoreCredit { account_id }, sum)),
    );
    Ok(out)
}

/// A refund worked out against the order, ready to write.
#[derive(Debug)]
pub(super) struct Plan {
    lines: Vec<(LineRequest, i64)>,
    shipping: i64,
    amount: i64,
    tenders: Vec<(Tender, i64)>,
}

impl Plan {
    /// Minor units it pays back.
    pub fn amount(&self) -> i64 {
        self.amount
    }
}

fn refused<T>(
    field: &[&str],
    code: UserErrorCode,
    message: impl Into<String>,
) -> Result<T, Vec<UserError>> {
    Err(vec![UserError::new(field, code, message)])
}

/// Works out `req` against the order as it is in `tx`. With `clamp` (a
/// cancellation's refund) the amount is cut to what is refundable instead
/// of refused, and may come out zero.
pub(super) async fn plan(
    tx: &impl ConnectionTrait,
    order: &shop_order::Model,
    req: &RefundRequest,
    clamp: bool,
) -> DomainResult<Result<Plan, Vec<UserError>>> {
    let currency = currency_of(order)?;
    let claims = claims(tx, order.id).await?;
    let lines = orders::lines(tx, order.id).await?;
    let mut planned = Vec::new();
    let mut seen = Vec::new();
    for (i, l) in req.lines.iter().enumerate() {
        let field = ["input", "lines"];
        let Some(line) = lines.iter().find(|x| x.id == l.order_line_id) else {
            return Ok(refused(
                &field,
                UserErrorCode::NotFound,
                format!("line {i}: no such line on this order"),
            ));
        };
        if seen.contains(&line.id) {
            return Ok(refused(
                &field,
                UserErrorCode::Invalid,
                format!("line {i}: the same line twice"),
            ));
        }
        seen.push(line.id);
        if l.quantity <= 0 {
            return Ok(refused(
                &field,
                UserErrorCode::Invalid,
                format!("line {i}: the quantity must be positive"),
            ));
        }
        let before = claims.per_line.get(&line.id).copied().unwrap_or(0);
        let left = line.quantity - before;
        if l.quantity > left {
            return Ok(refused(
                &field,
                UserErrorCode::AmountTooLarge,
                format!("line {i}: only {left} units are left to refund"),
            ));
        }
        planned.push((
            *l,
            units_worth(line.total_minor, line.quantity, before, l.quantity),
        ));
    }
    let lines_total: i64 = lines.iter().map(|l| l.total_minor).sum();
    let shipping_room = Ord::max(order.total_minor - lines_total - claims.shipping, 0);
    let shipping = match req.shipping {
        Shipping::None => 0,
        Shipping::Remaining => shipping_room,
        Shipping::Amount(d) => {
            let field = ["input", "shippingAmount"];
            let a = match minor_of(d, currency, &field) {
                Ok(a) => a,
                Err(e) => return Ok(Err(e)),
            };
            if a < 0 {
                return Ok(refused(
                    &field,
                    UserErrorCode::Invalid,
                    "the shipping amount must not be negative",
                ));
            }
            if a > shipping_room {
                return Ok(refused(
                    &field,
                    UserErrorCode::AmountTooLarge,
                    format!(
                        "only {} of shipping is left to refund",
                        shown(shipping_room, currency)
                    ),
                ));
            }
            a
        }
    };
    let computed: i64 = planned.iter().map(|(_, a)| a).sum::<i64>() + shipping;
    let refundable = Ord::max(order.captured_minor - claims.total, 0);
    let mut amount = match req.amount {
        None => computed,
        Some(d) => match minor_of(d, currency, &["input", "amount"]) {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        },
    };
    if clamp {
        amount = Ord::min(amount, refundable);
    } else {
        if amount <= 0 {
            return Ok(refused(
                &["input", "amount"],
                UserErrorCode::Invalid,
                "nothing to refund: give lines, shipping or an amount",
            ));
        }
        if amount > refundable {
            return Ok(refused(
                &["input", "amount"],
                UserErrorCode::AmountTooLarge,
                format!(
                    "{} asked, {} is left to refund",
                    shown(amount, currency),
                    shown(refundable, currency)
                ),
            ));
        }
    }
    let tenders = if amount <= 0 {
        Vec::new()
    } else {
        match req.to {
            Destination::StoreCredit => {
                let Some(customer_id) = order.customer_id else {
                    return Ok(refused(
                        &["input", "to"],
                        UserErrorCode::CustomerRequired,
                        "a guest order has no store credit account; refund to the original tenders",
                    ));
                };
                store_credit_account::Entity::insert(store_credit_account::ActiveModel {
                    customer_id: Set(customer_id),
                    currency_code: Set(currency.code().to_owned()),
                    balance_minor: Set(0),
                    ..Default::default()
                })
                .on_conflict(
                    OnConflict::columns([
                        store_credit_account::Column::CustomerId,
                        store_credit_account::Column::CurrencyCode,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(tx)
                .await?;
                let account = setup::store_credit(tx, customer_id, currency)
                    .await?
                    .ok_or_else(|| {
                        DomainError::Inconsistent("store credit account vanished".into())
                    })?;
                vec![(
                    Tender::StoreCredit {
                        account_id: account.id,
                    },
                    amount,
                )]
            }
            Destination::Original => {
                let rooms: Vec<(Tender, i64)> = paid(tx, order.id)
                    .await?
                    .into_iter()
                    .map(|(t, p)| (t, p - claims.per_tender.get(&t).copied().unwrap_or(0)))
                    .collect();
                match split(amount, &rooms) {
                    Some(s) => s,
                    None => {
                        return Ok(refused(
                            &["input", "amount"],
                            UserErrorCode::AmountTooLarge,
                            "the tenders that paid cannot take this amount back",
                        ));
                    }
                }
            }
        }
    };
    Ok(Ok(Plan {
        lines: planned,
        shipping,
        amount,
        tenders,
    }))
}

/// Who asks for a refund and under which stored key.
pub(super) struct Meta<'a> {
    pub destination: Destination,
    pub note: Option<&'a str>,
    pub key: &'a str,
    pub actor: &'a str,
    pub now: DateTime<Utc>,
}

/// Writes a claimed (`pending`) refund for `plan`; `None` when the order
/// already has a refund under this key.
pub(super) async fn insert(
    tx: &impl ConnectionTrait,
    order: &shop_order::Model,
    plan: &Plan,
    meta: &Meta<'_>,
) -> DomainResult<Option<i64>> {
    let inserted = refund::Entity::insert(refund::ActiveModel {
        order_id: Set(order.id),
        status: Set("pending".into()),
        amount_minor: Set(plan.amount),
        shipping_minor: Set(plan.shipping),
        currency_code: Set(order.currency_code.clone()),
        destination: Set(meta.destination.as_str().into()),
        note: Set(meta.note.map(str::to_owned)),
        idempotency_key: Set(meta.key.to_owned()),
        actor: Set(meta.actor.to_owned()),
        last_error: Set(None),
        created_at: Set(meta.now),
        updated_at: Set(meta.now),
        ..Default::default()
    })
    .exec(tx)
    .await;
    let id = match inserted {
        Ok(r) => r.last_insert_id,
        Err(e) if is_unique_violation(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if !plan.lines.is_empty() {
        refund_line::Entity::insert_many(plan.lines.iter().map(|(l, amount)| {
            refund_line::ActiveModel {
                refund_id: Set(id),
                order_line_id: Set(l.order_line_id),
                quantity: Set(l.quantity),
                restock: Set(l.restock),
                amount_minor: Set(*amount),
                ..Default::default()
            }
        }))
        .exec_without_returning(tx)
        .await?;
    }
    if !plan.tenders.is_empty() {
        refund_tender::Entity::insert_many(plan.tenders.iter().map(|(t, amount)| {
            let (payment_id, gift_card_id, account_id) = match *t {
                Tender::Card { payment_id } => (Some(payment_id), None, None),
                Tender::GiftCard { gift_card_id } => (None, Some(gift_card_id), None),
                Tender::StoreCredit { account_id } => (None, None, Some(account_id)),
            };
            refund_tender::ActiveModel {
                refund_id: Set(id),
                tender: Set(t.kind().into()),
                payment_id: Set(payment_id),
                gift_card_id: Set(gift_card_id),
                store_credit_account_id: Set(account_id),
                amount_minor: Set(*amount),
                status: Set("pending".into()),
                reference: Set(None),
                attempts: Set(0),
                last_error: Set(None),
                created_at: Set(meta.now),
                updated_at: Set(meta.now),
                ..Default::default()
            }
        }))
        .exec_without_returning(tx)
        .await?;
    }
    Ok(Some(id))
}

/// What the gateway said about each tender of a refund still to pay:
/// the gateway's refund id (`None` for tenders in the shop's own ledgers),
/// or why it failed.
pub(super) type Payouts = Vec<(i64, Result<Option<String>, String>)>;

/// Asks the gateways to pay back the card tenders of `refund_id` not yet
/// paid. Each tender's key derives from its row id, so a retry is the same
/// refund at the gateway.
pub(super) async fn pay_out(env: &Env<'_>, refund_id: i64) -> DomainResult<Payouts> {
    let Some(r) = refund::Entity::find_by_id(refund_id).one(env.db).await? else {
        return Err(DomainError::Inconsistent("refund vanished".into()));
    };
    let currency = r
        .currency_code
        .parse()
        .map_err(|_| DomainError::Inconsistent("refund currency".into()))?;
    let tenders = refund_tender::Entity::find()
        .filter(refund_tender::Column::RefundId.eq(refund_id))
        .order_by_asc(refund_tender::Column::Id)
        .all(env.db)
        .await?;
    let mut out = Vec::new();
    for t in tenders.iter().filter(|t| t.status != "succeeded") {
        let Some(Tender::Card { payment_id }) = Tender::of(t) else {
            out.push((t.id, Ok(None)));
            continue;
        };
        let Some(p) = payment::Entity::find_by_id(payment_id).one(env.db).await? else {
            out.push((t.id, Err("the payment is gone".to_owned())));
            continue;
        };
        let Some(gateway) = env.gateways.get(&p.gateway) else {
            out.push((
                t.id,
                Err(format!("the gateway `{}` is not enabled", p.gateway)),
            ));
            continue;
        };
        let key = env.keys.order_key("refund", r.order_id, &t.id.to_string());
        let outcome = match gateway
            .refund(&p.reference, t.amount_minor, currency, &key)
            .await
        {
            Ok(done) if done.status == RefundStatus::Failed => {
                Err("the gateway failed the refund".to_owned())
            }
            Ok(done) => Ok(Some(done.id)),
            Err(e) => {
                tracing::warn!(refund_id, gateway = gateway.code(), error = %e, "refund failed");
                Err(e.to_string())
            }
        };
        out.push((t.id, outcome));
    }
    Ok(out)
}

/// How a settled refund ended.
pub(super) enum Settled {
    /// Paid back: the state machine events to apply with it.
    Succeeded(Vec<OrderEvent>),
    /// A tender failed; the refund is `failed`.
    Failed(String),
}

/// Records `payouts` of refund `refund_id` in `tx` (which locked the
/// order): the ledgers, lines and stock on success, the failure otherwise.
/// The caller applies the returned events to the order.
pub(super) async fn settle_in(
    tx: &impl ConnectionTrait,
    order: &shop_order::Model,
    refund_id: i64,
    payouts: &Payouts,
    actor: &str,
    now: DateTime<Utc>,
) -> DomainResult<Settled> {
    let tenders = refund_tender::Entity::find()
        .filter(refund_tender::Column::RefundId.eq(refund_id))
        .all(tx)
        .await?;
    let failure = payouts.iter().find_map(|(_, o)| o.as_ref().err().cloned());
    // Card tenders the gateway paid are paid, whatever else happened.
    for (id, outcome) in payouts {
        let Some(t) = tenders.iter().find(|t| t.id == *id) else {
            continue;
        };
        let card = matches!(Tender::of(t), Some(Tender::Card { .. }));
        match outcome {
            Ok(reference) if card => {
                mark_tender(tx, t.id, "succeeded", reference.clone(), None, now).await?;
                if let Some(payment_id) = t.payment_id {
                    payment_transaction::Entity::insert(payment_transaction::ActiveModel {
                        payment_id: Set(payment_id),
                        kind: Set("refund".into()),
                        amount_minor: Set(t.amount_minor),
                        gateway_event_id: Set(None),
                        detail: Set(Some(format!("refund {refund_id}"))),
                        created_at: Set(now),
                        ..Default::default()
                    })
                    .exec_without_returning(tx)
                    .await?;
                }
            }
            Err(e) => {
                mark_tender(tx, t.id, "failed", None, Some(e.clone()), now).await?;
            }
            Ok(_) => {}
        }
    }
    if let Some(error) = failure {
        refund::Entity::update_many()
            .col_expr(refund::Column::Status, Expr::value("failed"))
            .col_expr(refund::Column::LastError, Expr::value(error.clone()))
            .col_expr(refund::Column::UpdatedAt, Expr::value(now))
            .filter(refund::Column::Id.eq(refund_id))
            .exec(tx)
            .await?;
        return Ok(Settled::Failed(error));
    }
    // The shop's own ledgers.
    for t in tenders.iter().filter(|t| t.status != "succeeded") {
        match Tender::of(t) {
            Some(Tender::GiftCard { gift_card_id }) => {
                gift_card::Entity::update_many()
                    .col_expr(
                        gift_card::Column::BalanceMinor,
                        Expr::col(gift_card::Column::BalanceMinor).add(t.amount_minor),
                    )
                    .filter(gift_card::Column::Id.eq(gift_card_id))
                    .exec(tx)
                    .await?;
                gift_card_entry::Entity::insert(gift_card_entry::ActiveModel {
                    gift_card_id: Set(gift_card_id),
                    amount_minor: Set(t.amount_minor),
                    order_id: Set(Some(order.id)),
                    reason: Set("refund".into()),
                    created_at: Set(now),
                    ..Default::default()
                })
                .exec_without_returning(tx)
                .await?;
                mark_tender(tx, t.id, "succeeded", None, None, now).await?;
            }
            Some(Tender::StoreCredit { account_id }) => {
                if !setup::store_credit_move(
                    tx,
                    account_id,
                    t.amount_minor,
                    Some(order.id),
                    "refund",
                )
                .await?
                {
                    return Err(DomainError::Inconsistent(
                        "store credit refused a refund".into(),
                    ));
                }
                mark_tender(tx, t.id, "succeeded", None, None, now).await?;
            }
            _ => {}
        }
    }
    // Lines and stock.
    let r = refund::Entity::find_by_id(refund_id)
        .one(tx)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("refund vanished".into()))?;
    let lines = orders::lines(tx, order.id).await?;
    let mut cancelled = 0_u32;
    for rl in refund_line::Entity::find()
        .filter(refund_line::Column::RefundId.eq(refund_id))
        .all(tx)
        .await?
    {
        let Some(line) = lines.iter().find(|l| l.id == rl.order_line_id) else {
            continue;
        };
        let mut cancel_units = 0;
        if rl.restock {
            let unshipped = Ord::max(
                line.quantity - line.quantity_fulfilled - line.quantity_cancelled,
                0,
            );
            cancel_units = Ord::min(rl.quantity, unshipped);
            let shipped_units = rl.quantity - cancel_units;
            if cancel_units > 0 {
                release_units(tx, order.id, line, cancel_units).await?;
            }
            if shipped_units > 0 {
                restock(
                    tx,
                    line,
                    shipped_units,
                    &format!("refund {refund_id}"),
                    actor,
                    now,
                )
                .await?;
            }
        }
        order_line::Entity::update_many()
            .col_expr(
                order_line::Column::QuantityRefunded,
                Expr::col(order_line::Column::QuantityRefunded).add(rl.quantity),
            )
            .col_expr(
                order_line::Column::QuantityCancelled,
                Expr::col(order_line::Column::QuantityCancelled).add(cancel_units),
            )
            .filter(order_line::Column::Id.eq(line.id))
            .exec(tx)
            .await?;
        cancelled += u32::try_from(cancel_units).unwrap_or(0);
    }
    refund::Entity::update_many()
        .col_expr(refund::Column::Status, Expr::value("succeeded"))
        .col_expr(
            refund::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(refund::Column::UpdatedAt, Expr::value(now))
        .filter(refund::Column::Id.eq(refund_id))
        .exec(tx)
        .await?;
    let mut events = Vec::new();
    if cancelled > 0 {
        events.push(OrderEvent::LinesCancelled {
            quantity: cancelled,
        });
    }
    if r.amount_minor > 0 {
        events.push(OrderEvent::Refunded {
            amount: r.amount_minor,
        });
    }
    Ok(Settled::Succeeded(events))
}

async fn mark_tender(
    tx: &impl ConnectionTrait,
    id: i64,
    status: &str,
    reference: Option<String>,
    error: Option<String>,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let mut q = refund_tender::Entity::update_many()
        .col_expr(refund_tender::Column::Status, Expr::value(status))
        .col_expr(
            refund_tender::Column::Attempts,
            Expr::col(refund_tender::Column::Attempts).add(1),
        )
        .col_expr(refund_tender::Column::LastError, Expr::value(error))
        .col_expr(refund_tender::Column::UpdatedAt, Expr::value(now));
    if reference.is_some() {
        q = q.col_expr(refund_tender::Column::Reference, Expr::value(reference));
    }
    q.filter(refund_tender::Column::Id.eq(id)).exec(tx).await?;
    Ok(())
}

/// Releases `units` of the order's holds on `line`'s variant.
pub(super) async fn release_units(
    tx: &impl ConnectionTrait,
    order_id: i64,
    line: &order_line::Model,
    units: i32,
) -> DomainResult<()> {
    let Some(variant_id) = line.variant_id else {
        return Ok(());
    };
    let rows = reservation::Entity::find()
        .filter(reservation::Column::OrderId.eq(order_id))
        .filter(reservation::Column::VariantId.eq(variant_id))
        .order_by_desc(reservation::Column::Id)
        .all(tx)
        .await?;
    let mut left = units;
    let mut whole = Vec::new();
    for r in rows {
        if left == 0 {
            break;
        }
        if r.quantity <= left {
            left -= r.quantity;
            whole.push(r);
        } else {
            // Part of a hold: lower it and the level's reserved count.
            reservation::Entity::update_many()
                .col_expr(
                    reservation::Column::Quantity,
                    Expr::col(reservation::Column::Quantity).sub(left),
                )
                .filter(reservation::Column::Id.eq(r.id))
                .exec(tx)
                .await?;
            stock_level::Entity::update_many()
                .col_expr(
                    stock_level::Column::Reserved,
                    Expr::col(stock_level::Column::Reserved).sub(left),
                )
                .filter(stock_level::Column::Id.eq(r.stock_level_id))
                .exec(tx)
                .await?;
            stock_changed(tx, r.stock_level_id, 0, "released").await?;
            left = 0;
        }
    }
    stock::release(tx, &whole).await?;
    Ok(())
}

/// Raises `stock.changed` for a level whose on-hand moved by `delta`.
pub(super) async fn stock_changed(
    tx: &impl ConnectionTrait,
    level_id: i64,
    delta: i32,
    reason: &str,
) -> DomainResult<()> {
    if let Some(l) = stock_level::Entity::find_by_id(level_id).one(tx).await? {
        events::record(
            tx,
            vec![DomainEvent::StockChanged {
                variant_id: l.variant_id,
                location_id: l.location_id,
                on_hand_before: l.on_hand - delta,
                on_hand: l.on_hand,
                reserved: l.reserved,
                reason: reason.to_owned(),
            }],
        )
        .await?;
    }
    Ok(())
}

/// Puts `units` of a shipped line back on hand where they shipped from
/// (the latest fulfilment of the line that is not cancelled; else the
/// variant's first stock location), with a `restock` movement.
pub(super) async fn restock(
    tx: &impl ConnectionTrait,
    line: &order_line::Model,
    units: i32,
    reference: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let Some(variant_id) = line.variant_id else {
        return Ok(());
    };
    let shipped: Vec<i64> = fulfillment_line::Entity::find()
        .filter(fulfillment_line::Column::OrderLineId.eq(line.id))
        .all(tx)
        .await?
        .into_iter()
        .map(|f| f.fulfillment_id)
        .collect();
    let from = if shipped.is_empty() {
        None
    } else {
        fulfillment::Entity::find()
            .filter(fulfillment::Column::Id.is_in(shipped))
            .filter(fulfillment::Column::Status.ne("cancelled"))
            .order_by_desc(fulfillment::Column::Id)
            .one(tx)
            .await?
            .map(|f| f.location_id)
    };
    let levels = stock_level::Entity::find()
        .filter(stock_level::Column::VariantId.eq(variant_id))
        .order_by_asc(stock_level::Column::Id)
        .all(tx)
        .await?;
    let level = match from {
        Some(location) => levels.iter().find(|l| l.location_id == location),
        None => levels.first(),
    };
    let level_id = match (level, from) {
        (Some(l), _) => l.id,
        (None, Some(location)) => {
            stock_level::Entity::insert(stock_level::ActiveModel {
                variant_id: Set(variant_id),
                location_id: Set(location),
                on_hand: Set(0),
                reserved: Set(0),
                source_at: Set(None),
                ..Default::default()
            })
            .exec(tx)
            .await?
            .last_insert_id
        }
        (None, None) => {
            tracing::warn!(
                line = line.id,
                "no stock location to restock a refunded line to"
            );
            return Ok(());
        }
    };
    stock_level::Entity::update_many()
        .col_expr(
            stock_level::Column::OnHand,
            Expr::col(stock_level::Column::OnHand).add(units),
        )
        .filter(stock_level::Column::Id.eq(level_id))
        .exec(tx)
        .await?;
    let Some(l) = stock_level::Entity::find_by_id(level_id).one(tx).await? else {
        return Err(DomainError::Inconsistent("stock level vanished".into()));
    };
    inventory_movement::Entity::insert(inventory_movement::ActiveModel {
        variant_id: Set(variant_id),
        location_id: Set(l.location_id),
        delta: Set(units),
        on_hand_after: Set(l.on_hand),
        reason: Set("restock".into()),
        reference: Set(Some(reference.to_owned())),
        actor_label: Set(actor.to_owned()),
        source_at: Set(None),
        at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(tx)
    .await?;
    stock_changed(tx, level_id, units, "restock").await
}

/// Applies a settled refund's events to the order and records the
/// outcome (timeline, `order.refunded`); answers the order after it.
#[allow(clippy::too_many_arguments)]
pub(super) async fn record_outcome(
    tx: &DatabaseTransaction,
    order: &shop_order::Model,
    refund_id: i64,
    settled: &Settled,
    extra: &[OrderEvent],
    actor: &str,
    notify: bool,
    now: DateTime<Utc>,
) -> DomainResult<shop_order::Model> {
    let currency = currency_of(order)?;
    let r = refund::Entity::find_by_id(refund_id)
        .one(tx)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("refund vanished".into()))?;
    match settled {
        Settled::Succeeded(events) => {
            let mut all = events.clone();
            all.extend_from_slice(extra);
            let after = if all.is_empty() {
                order.clone()
            } else {
                orders::apply(tx, order, &all, actor)
                    .await?
                    .map_err(|e| {
                        DomainError::Inconsistent(format!(
                            "order {} refused its refund: {e}",
                            order.id
                        ))
                    })?
                    .0
            };
            if r.amount_minor > 0 {
                timeline(
                    tx,
                    order.id,
                    "refunded",
                    format!("Refunded {}", shown(r.amount_minor, currency)),
                    serde_json::json!({
                        "refundId": refund_id,
                        "amountMinor": r.amount_minor,
                        "destination": r.destination,
                        "notifyCustomer": notify,
                    }),
                    actor,
                    now,
                )
                .await?;
                let status = orders::state_of(&after)?.status();
                events::record(
                    tx,
                    vec![DomainEvent::OrderRefunded {
                        order_id: order.id,
                        customer_id: order.customer_id,
                        refund_id,
                        amount_minor: r.amount_minor,
                        currency: order.currency_code.clone(),
                        status,
                        notify_customer: notify,
                    }],
                )
                .await?;
                metrics::counter!("emporium_refunds_total").increment(1);
            }
            Ok(after)
        }
        Settled::Failed(error) => {
            timeline(
                tx,
                order.id,
                "refund_failed",
                format!(
                    "Refund of {} failed; retry it",
                    shown(r.amount_minor, currency)
                ),
                serde_json::json!({"refundId": refund_id, "error": error}),
                actor,
                now,
            )
            .await?;
            metrics::counter!("emporium_refunds_failed_total").increment(1);
            Ok(order.clone())
        }
    }
}

/// Pays out and settles refund `refund_id` of order `order_id` (already
/// claimed and committed): the gateway calls, then one transaction.
async fn execute(
    env: &Env<'_>,
    operator: &Operator,
    order_id: i64,
    refund_id: i64,
    notify: bool,
) -> DomainResult<()> {
    let payouts = pay_out(env, refund_id).await?;
    let now = env.now();
    let tx = begin_write(env.db).await?;
    let mut head = audit::lock(&tx).await?;
    let order = lock_order(&tx, order_id)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("order vanished".into()))?;
    let settled = settle_in(&tx, &order, refund_id, &payouts, &operator.scope, now).await?;
    let after = record_outcome(
        &tx,
        &order,
        refund_id,
        &settled,
        &[],
        &operator.scope,
        notify,
        now,
    )
    .await?;
    let status = match &settled {
        Settled::Succeeded(_) => "succeeded",
        Settled::Failed(_) => "failed",
    };
    audited(
        &tx,
        &mut head,
        operator,
        "refund.settle",
        ("refund", refund_id),
        Some(money_of(&order)),
        serde_json::json!({"status": status, "order": money_of(&after)}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// `refundCreate`: claims, pays out and settles a refund, once per
/// idempotency key (required). A gateway failure answers the refund
/// `failed` (no user error: it was recorded, and `refundRetry` pays it).
pub async fn create(
    env: &Env<'_>,
    operator: &Operator,
    req: &RefundRequest,
    idempotency_key: &str,
) -> DomainResult<Answer> {
    let key = idempotency_key.trim();
    if key.is_empty() {
        return Ok(Answer::refused(
            &["idempotencyKey"],
            UserErrorCode::Blank,
            "refunds need an idempotency key",
        ));
    }
    let request = ("refundCreate", req);
    once(env, operator, Some(key), &request, move || async move {
        let stored = format!("{}:{key}", operator.scope);
        let now = env.now();
        let tx = begin_write(env.db).await?;
        let mut head = audit::lock(&tx).await?;
        let Some(order) = lock_order(&tx, req.order_id).await? else {
            return Ok(order_not_found("orderId"));
        };
        if let Some(existing) = refund::Entity::find()
            .filter(refund::Column::OrderId.eq(order.id))
            .filter(refund::Column::IdempotencyKey.eq(stored.clone()))
            .one(&tx)
            .await?
        {
            tx.rollback().await?;
            return Ok(Answer {
                order_id: Some(order.id),
                refund_id: Some(existing.id),
                errors: Vec::new(),
            });
        }
        let plan = match plan(&tx, &order, req, false).await? {
            Ok(p) => p,
            Err(errors) => {
                tx.rollback().await?;
                return Ok(Answer {
                    errors,
                    ..Answer::default()
                });
            }
        };
        let meta = Meta {
            destination: req.to,
            note: req.note.as_deref(),
            key: &stored,
            actor: &operator.scope,
            now,
        };
        let Some(refund_id) = insert(&tx, &order, &plan, &meta).await? else {
            tx.rollback().await?;
            return Ok(Answer::refused(
                &["idempotencyKey"],
                UserErrorCode::RequestInProgress,
                "a refund with this idempotency key is being made; retry shortly",
            ));
        };
        audited(
            &tx,
            &mut head,
            operator,
            "refund.create",
            ("refund", refund_id),
            None,
            serde_json::json!({
                "orderId": order.id,
                "amountMinor": plan.amount,
                "shippingMinor": plan.shipping,
                "destination": req.to.as_str(),
                "lines": plan.lines.iter().map(|(l, a)| serde_json::json!({
                    "orderLineId": l.order_line_id, "quantity": l.quantity,
                    "restock": l.restock, "amountMinor": a,
                })).collect::<Vec<_>>(),
            }),
        )
        .await?;
        tx.commit().await?;
        execute(env, operator, order.id, refund_id, req.notify_customer).await?;
        Ok(Answer {
            order_id: Some(order.id),
            refund_id: Some(refund_id),
            errors: Vec::new(),
        })
    })
    .await
}

/// `refundRetry`: pays a `failed` refund again (its tenders keep their
/// gateway keys, so the money moves once). Of concurrent retries one runs;
/// the others are refused.
pub async fn retry(
    env: &Env<'_>,
    operator: &Operator,
    refund_id: i64,
    idempotency_key: Option<&str>,
) -> DomainResult<Answer> {
    let request = ("refundRetry", refund_id);
    once(
        env,
        operator,
        idempotency_key,
        &request,
        move || async move {
            let now = env.now();
            let tx = begin_write(env.db).await?;
            let mut head = audit::lock(&tx).await?;
            let Some(r) = refund::Entity::find_by_id(refund_id).one(&tx).await? else {
                return Ok(Answer::refused(
                    &["id"],
                    UserErrorCode::NotFound,
                    "no such refund",
                ));
            };
            let claimed = refund::Entity::update_many()
                .col_expr(refund::Column::Status, Expr::value("pending"))
                .col_expr(refund::Column::UpdatedAt, Expr::value(now))
                .filter(refund::Column::Id.eq(refund_id))
                .filter(refund::Column::Status.eq("failed"))
                .exec(&tx)
                .await?;
            if claimed.rows_affected != 1 {
                tx.rollback().await?;
                return Ok(Answer::refused(
                    &["id"],
                    UserErrorCode::RefundNotRetryable,
                    format!("the refund is {}, not failed", r.status),
                ));
            }
            audited(
                &tx,
                &mut head,
                operator,
                "refund.retry",
                ("refund", refund_id),
                Some(serde_json::json!({"status": r.status})),
                serde_json::json!({"status": "pending"}),
            )
            .await?;
            tx.commit().await?;
            execute(env, operator, r.order_id, refund_id, true).await?;
            Ok(Answer {
                order_id: Some(r.order_id),
                refund_id: Some(refund_id),
                errors: Vec::new(),
            })
        },
    )
    .await
}

/// Deletes a claimed refund that was never paid out.
pub(super) async fn delete_claim(tx: &impl ConnectionTrait, refund_id: i64) -> DomainResult<()> {
    refund_tender::Entity::delete_many()
        .filter(refund_tender::Column::RefundId.eq(refund_id))
        .exec(tx)
        .await?;
    refund_line::Entity::delete_many()
        .filter(refund_line::Column::RefundId.eq(refund_id))
        .exec(tx)
        .await?;
    refund::Entity::delete_by_id(refund_id).exec(tx).await?;
    Ok(())
}

/// A refund with its lines and tenders, for display.
#[derive(Debug, Clone)]
pub struct RefundView {
    /// The refund.
    pub refund: refund::Model,
    /// Its lines.
    pub lines: Vec<refund_line::Model>,
    /// Its tenders.
    pub tenders: Vec<refund_tender::Model>,
}

/// The refunds of several orders, oldest first (three statements).
pub async fn of_orders(
    db: &impl ConnectionTrait,
    order_ids: &[i64],
) -> DomainResult<Vec<RefundView>> {
    let refunds = refund::Entity::find()
        .filter(refund::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(refund::Column::Id)
        .all(db)
        .await?;
    if refunds.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = refunds.iter().map(|r| r.id).collect();
    let lines = refund_line::Entity::find()
        .filter(refund_line::Column::RefundId.is_in(ids.clone()))
        .order_by_asc(refund_line::Column::Id)
        .all(db)
        .await?;
    let tenders = refund_tender::Entity::find()
        .filter(refund_tender::Column::RefundId.is_in(ids))
        .order_by_asc(refund_tender::Column::Id)
        .all(db)
        .await?;
    Ok(refunds
        .into_iter()
        .map(|r| RefundView {
            lines: lines
                .iter()
                .filter(|l| l.refund_id == r.id)
                .cloned()
                .collect(),
            tenders: tenders
                .iter()
                .filter(|t| t.refund_id == r.id)
                .cloned()
                .collect(),
            refund: r,
        })
        .collect())
}

/// The refund with this id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> DomainResult<Option<refund::Model>> {
    Ok(refund::Entity::find_by_id(id).one(db).await?)
}

/// Minor units the order's refunds claim (pending, failed or succeeded).
pub async fn claimed(db: &impl ConnectionTrait, order_id: i64) -> DomainResult<i64> {
    Ok(claims(db, order_id).await?.total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_add_up_to_the_line_total_in_any_pieces() {
        // 1000 over 3 units: 333, 334 (667 - 333), 333 (1000 - 667).
        assert_eq!(units_worth(1000, 3, 0, 1), 333);
        assert_eq!(units_worth(1000, 3, 1, 1), 334);
        assert_eq!(units_worth(1000, 3, 2, 1), 333);
        for total in [0_i64, 1, 99, 1000, 1999, 123_457] {
            for quantity in 1..=7 {
                for first in 0..=quantity {
                    let a = units_worth(total, quantity, 0, first);
                    let b = units_worth(total, quantity, first, quantity - first);
                    assert_eq!(a + b, total, "{total} over {quantity}, split at {first}");
                    assert!(a >= 0 && b >= 0);
                }
            }
        }
    }

    #[test]
    fn tenders_are_used_in_their_order_up_to_their_room() {
        let card = Tender::Card { payment_id: 1 };
        let gift = Tender::GiftCard { gift_card_id: 2 };
        let credit = Tender::StoreCredit { account_id: 3 };
        let rooms = [(card, 500), (gift, 300), (credit, 200)];
        assert_eq!(split(400, &rooms), Some(vec![(card, 400)]));
        assert_eq!(split(700, &rooms), Some(vec![(card, 500), (gift, 200)]));
        assert_eq!(
            split(1000, &rooms),
            Some(vec![(card, 500), (gift, 300), (credit, 200)])
        );
        assert_eq!(split(1001, &rooms), None);
        assert_eq!(
            split(100, &[(card, 0), (gift, 100)]),
            Some(vec![(gift, 100)])
        );
    }
}
