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
//! **Units never captured** (capture `on_fulfillment` or `manual`): the
//! worth of units the refund cancels before they shipped is first
//! *released* from the order's open authorization (a tender `authorization`,
//! up to what it still holds), not paid back from money captured for
//! other units; only the rest is paid back as above. A released amount is
//! no longer capturable ([`super::capture::open_amount`]) and is not part
//! of the refund's `amount`. An explicit `amount` is always paid back.
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

use entity::{refund, refund_line, refund_tender};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};
use serde::{Deserialize, Serialize};

use super::{Answer, Env, Operator, audited, lock_order, money_of, once, order_not_found};
use crate::domain::{
    audit,
    error::{DomainError, DomainResult, UserErrorCode},
    tx::begin_write,
};

mod plan;
mod settle;
#[cfg(test)]
mod tests;

pub(super) use plan::{Meta, claims, insert, plan};
pub(super) use settle::{
    Settled, pay_out, record_outcome, release_units, settle_in, stock_changed,
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
    /// The open (not yet captured) authorization of a gateway payment:
    /// units cancelled before they were captured are released from it
    /// instead of paid back, so they are never charged.
    Authorization {
        /// The `payment` row.
        payment_id: i64,
    },
}

impl Tender {
    fn kind(self) -> &'static str {
        match self {
            Self::Card { .. } => "card",
            Self::GiftCard { .. } => "gift_card",
            Self::StoreCredit { .. } => "store_credit",
            Self::Authorization { .. } => "authorization",
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
            "authorization" => row
                .payment_id
                .map(|payment_id| Self::Authorization { payment_id }),
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

/// How long a refund may stay `pending` before `refundRetry` takes it up:
/// far longer than a gateway call, so only a refund whose process stopped
/// between its claim and its settlement is that old. Its tenders' gateway
/// keys are the same on the retry, so nothing is paid twice.
pub const STALE_PENDING: chrono::Duration = chrono::Duration::minutes(10);

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
                "releasedMinor": plan.released,
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
            let cut_short = Condition::all()
                .add(refund::Column::Status.eq("pending"))
                .add(refund::Column::UpdatedAt.lt(now - STALE_PENDING));
            let claimed = refund::Entity::update_many()
                .col_expr(refund::Column::Status, Expr::value("pending"))
                .col_expr(refund::Column::UpdatedAt, Expr::value(now))
                .filter(refund::Column::Id.eq(refund_id))
                .filter(
                    Condition::any()
                        .add(refund::Column::Status.eq("failed"))
                        .add(cut_short),
                )
                .exec(&tx)
                .await?;
            if claimed.rows_affected != 1 {
                tx.rollback().await?;
                return Ok(Answer::refused(
                    &["id"],
                    UserErrorCode::RefundNotRetryable,
                    format!(
                        "the refund is {}: only a failed refund, or one pending for over {} minutes, is retried",
                        r.status,
                        STALE_PENDING.num_minutes()
                    ),
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
