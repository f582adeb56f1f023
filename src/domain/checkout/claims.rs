//! Per-customer promotion limits under concurrent checkouts.
//!
//! A quote counts a customer's uses of a promotion when it prices the cart,
//! but two checkouts of one customer may both be priced before either is
//! placed. So a checkout claims each per-customer-limited promotion it
//! applies in the transaction that reserves its stock, before any money
//! moves, and the placing transaction checks again and turns the claim into
//! a use:
//!
//! - a customer's uses plus the live claims of their other carts never
//!   exceed the limit: both transactions count and write only while holding
//!   the customer's lock ([`lock_key`], see [`crate::domain::tx::lock_keys`]);
//! - a claim lives as long as the checkout's stock hold; a checkout that
//!   fails releases it at once, one that crashed stops counting when it
//!   expires (the sweeper deletes it later);
//! - a refused checkout gets `INVALID_CODE` on `discountCodes`, before its
//!   payment is taken and with no stock held.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use entity::{promotion, promotion_claim, promotion_usage};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};

use super::quote::Quote;
use crate::domain::error::{DomainResult, Outcome, UserError, UserErrorCode};

/// A promotion of a quote that a customer may use only so often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    /// The promotion.
    pub promotion_id: i64,
    /// Its code (or name), for messages.
    pub label: String,
    /// Uses allowed per customer.
    pub limit: u64,
}

/// The lock a customer's promotion uses are counted and written under.
pub fn lock_key(customer_id: i64) -> String {
    format!("promotion-uses:customer:{customer_id}")
}

/// The per-customer-limited promotions `quote` applies.
pub async fn limited(db: &impl ConnectionTrait, quote: &Quote) -> DomainResult<Vec<Limited>> {
    if quote.promotions.is_empty() {
        return Ok(Vec::new());
    }
    let labels: HashMap<i64, String> = quote
        .promotions
        .iter()
        .map(|p| {
            (
                p.promotion_id,
                p.code.clone().unwrap_or_else(|| p.name.clone()),
            )
        })
        .collect();
    let rows = promotion::Entity::find()
        .filter(promotion::Column::Id.is_in(labels.keys().copied()))
        .filter(promotion::Column::PerCustomerLimit.is_not_null())
        .all(db)
        .await?;
    let mut out: Vec<Limited> = rows
        .into_iter()
        .map(|p| Limited {
            promotion_id: p.id,
            label: labels.get(&p.id).cloned().unwrap_or_default(),
            limit: u64::try_from(p.per_customer_limit.unwrap_or(0)).unwrap_or(0),
        })
        .collect();
    out.sort_by_key(|l| l.promotion_id);
    Ok(out)
}

/// Claims `limited` for `customer_id`'s checkout of `cart_id` from `now`
/// until `until`, in the caller's transaction, which holds [`lock_key`]. Refuses
/// (writing nothing) a promotion the customer has no use left of.
pub async fn claim(
    tx: &impl ConnectionTrait,
    limited: &[Limited],
    customer_id: i64,
    cart_id: i64,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Outcome<()> {
    release(tx, cart_id).await?;
    if limited.is_empty() {
        return Ok(Ok(()));
    }
    if let Err(errors) = check(tx, limited, customer_id, cart_id, now).await? {
        return Ok(Err(errors));
    }
    let now = now.trunc_subsecs(6);
    promotion_claim::Entity::insert_many(limited.iter().map(|l| promotion_claim::ActiveModel {
        promotion_id: Set(l.promotion_id),
        customer_id: Set(customer_id),
        cart_id: Set(cart_id),
        expires_at: Set(until.trunc_subsecs(6)),
        created_at: Set(now),
        ..Default::default()
    }))
    .exec_without_returning(tx)
    .await?;
    Ok(Ok(()))
}

/// Whether `customer_id` has a use left of each of `limited`, counting
/// their uses and the claims of their carts other than `cart_id` still live
/// at `now`, in the caller's transaction, which holds [`lock_key`].
pub async fn check(
    tx: &impl ConnectionTrait,
    limited: &[Limited],
    customer_id: i64,
    cart_id: i64,
    now: DateTime<Utc>,
) -> Outcome<()> {
    let mut errors = Vec::new();
    for l in limited {
        let used = promotion_usage::Entity::find()
            .filter(promotion_usage::Column::PromotionId.eq(l.promotion_id))
            .filter(promotion_usage::Column::CustomerId.eq(customer_id))
            .count(tx)
            .await?;
        let claimed = promotion_claim::Entity::find()
            .filter(promotion_claim::Column::PromotionId.eq(l.promotion_id))
            .filter(promotion_claim::Column::CustomerId.eq(customer_id))
            .filter(promotion_claim::Column::CartId.ne(cart_id))
            .filter(promotion_claim::Column::ExpiresAt.gt(now))
            .count(tx)
            .await?;
        if used + claimed >= l.limit {
            errors.push(used_up(&l.label));
        }
    }
    Ok(if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    })
}

/// The refusal of a code the customer has used as often as allowed.
pub fn used_up(label: &str) -> UserError {
    UserError::new(
        &["discountCodes"],
        UserErrorCode::InvalidCode,
        format!("you have already used `{label}` as often as allowed; remove it to check out"),
    )
}

/// Releases every claim of a cart (its checkout failed, or was placed).
pub async fn release(tx: &impl ConnectionTrait, cart_id: i64) -> DomainResult<()> {
    promotion_claim::Entity::delete_many()
        .filter(promotion_claim::Column::CartId.eq(cart_id))
        .exec(tx)
        .await?;
    Ok(())
}

/// Deletes claims that expired before `now` (they no longer count).
pub async fn prune(tx: &impl ConnectionTrait, now: DateTime<Utc>) -> DomainResult<u64> {
    Ok(promotion_claim::Entity::delete_many()
        .filter(promotion_claim::Column::ExpiresAt.lt(now))
        .exec(tx)
        .await?
        .rows_affected)
}
