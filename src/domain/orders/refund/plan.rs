//! Claiming a refund: what it may take, per line, shipping and tender,
//! checked and written `pending` in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    gift_card_entry, payment, payment_transaction, refund, refund_line, refund_tender, shop_order,
    store_credit_account, store_credit_entry,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::OnConflict,
};

use super::{Destination, LineRequest, RefundRequest, Shipping, Tender, split, units_worth};
use crate::domain::{
    checkout::{orders, setup},
    error::{DomainError, DomainResult, Outcome, UserError, UserErrorCode, is_unique_violation},
    orders::{currency_of, minor_of, shown},
};

/// What the order's refunds (of any status) already claim.
#[derive(Debug, Default)]
pub(in crate::domain::orders) struct Claims {
    /// In total.
    pub total: i64,
    /// Of shipping.
    pub shipping: i64,
    /// Units per order line.
    pub per_line: HashMap<i64, i32>,
    /// Per original tender (refunds to the original tenders only).
    pub per_tender: HashMap<Tender, i64>,
    /// Released from the open authorization (not part of `total`, which
    /// is money paid back).
    pub released: i64,
}

pub(in crate::domain::orders) async fn claims(
    tx: &impl ConnectionTrait,
    order_id: i64,
) -> DomainResult<Claims> {
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
        match Tender::of(&t) {
            Some(Tender::Authorization { .. }) => c.released += t.amount_minor,
            Some(tender) if original.contains(&t.refund_id) => {
                *c.per_tender.entry(tender).or_default() += t.amount_minor;
            }
            _ => {}
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
pub(in crate::domain::orders) struct Plan {
    pub(super) lines: Vec<(LineRequest, i64)>,
    pub(super) shipping: i64,
    pub(super) amount: i64,
    pub(super) released: i64,
    tenders: Vec<(Tender, i64)>,
}

impl Plan {
    /// Minor units it pays back.
    pub fn amount(&self) -> i64 {
        self.amount
    }

    /// Whether it pays or releases anything (else there is nothing to write).
    pub fn is_empty(&self) -> bool {
        self.amount <= 0 && self.released <= 0
    }
}

/// The open authorization `units` of the order may be released from: the
/// first gateway payment still `authorized`, with what it holds beyond
/// what was captured and what earlier refunds released.
async fn open_authorization(
    tx: &impl ConnectionTrait,
    order: &shop_order::Model,
    claims: &Claims,
) -> DomainResult<Option<(i64, i64)>> {
    let room = order.authorized_minor - order.captured_minor - claims.released;
    if room <= 0 {
        return Ok(None);
    }
    Ok(payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order.id))
        .filter(payment::Column::Status.eq("authorized"))
        .order_by_asc(payment::Column::Id)
        .one(tx)
        .await?
        .map(|p| (p.id, room)))
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
pub(in crate::domain::orders) async fn plan(
    tx: &impl ConnectionTrait,
    order: &shop_order::Model,
    req: &RefundRequest,
    clamp: bool,
) -> Outcome<Plan> {
    let currency = currency_of(order)?;
    let claims = claims(tx, order.id).await?;
    let lines = orders::lines(tx, order.id).await?;
    let mut planned = Vec::new();
    let mut seen = Vec::new();
    let mut cancelled_worth = 0;
    for (i, l) in req.lines.iter().enumerate() {
        let field = ["lines"];
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
        // Units not shipped that this refund cancels (a cancellation's
        // refund asks for unshipped units only).
        if l.restock || clamp {
            let unshipped = Ord::max(
                line.quantity - line.quantity_fulfilled - line.quantity_cancelled,
                0,
            );
            let units = Ord::min(l.quantity, unshipped);
            cancelled_worth += units_worth(line.total_minor, line.quantity, before, units);
        }
    }
    let lines_total: i64 = lines.iter().map(|l| l.total_minor).sum();
    let shipping_room = Ord::max(order.total_minor - lines_total - claims.shipping, 0);
    let shipping = match req.shipping {
        Shipping::None => 0,
        Shipping::Remaining => shipping_room,
        Shipping::Amount(d) => {
            let field = ["shippingAmount"];
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
        Some(d) => match minor_of(d, currency, &["amount"]) {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        },
    };
    // Cancelled units not captured yet are released from the open
    // authorization rather than paid back (only for a computed amount).
    let mut released = None;
    if req.amount.is_none()
        && cancelled_worth > 0
        && let Some((payment_id, room)) = open_authorization(tx, order, &claims).await?
    {
        let r = Ord::min(Ord::min(cancelled_worth, room), amount);
        amount -= r;
        released = Some((Tender::Authorization { payment_id }, r));
    }
    if clamp {
        amount = Ord::min(amount, refundable);
    } else if released.is_none() || amount > 0 {
        if amount <= 0 {
            return Ok(refused(
                &["amount"],
                UserErrorCode::Invalid,
                "nothing to refund: give lines, shipping or an amount",
            ));
        }
        if amount > refundable {
            return Ok(refused(
                &["amount"],
                UserErrorCode::AmountTooLarge,
                format!(
                    "{} asked, {} is left to refund",
                    shown(amount, currency),
                    shown(refundable, currency)
                ),
            ));
        }
    }
    let mut tenders = if amount <= 0 {
        Vec::new()
    } else {
        match req.to {
            Destination::StoreCredit => {
                let Some(customer_id) = order.customer_id else {
                    return Ok(refused(
                        &["to"],
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
                            &["amount"],
                            UserErrorCode::AmountTooLarge,
                            "the tenders that paid cannot take this amount back",
                        ));
                    }
                }
            }
        }
    };
    if let Some(r) = released {
        tenders.insert(0, r);
    }
    Ok(Ok(Plan {
        lines: planned,
        shipping,
        amount,
        released: released.map_or(0, |(_, r)| r),
        tenders,
    }))
}

/// Who asks for a refund and under which stored key.
pub(in crate::domain::orders) struct Meta<'a> {
    pub destination: Destination,
    pub note: Option<&'a str>,
    pub key: &'a str,
    pub actor: &'a str,
    pub now: DateTime<Utc>,
}

/// Writes a claimed (`pending`) refund for `plan`; `None` when the order
/// already has a refund under this key.
pub(in crate::domain::orders) async fn insert(
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
                Tender::Authorization { payment_id } => (Some(payment_id), None, None),
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
