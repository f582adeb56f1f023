//! Stock reservations: units held for a cart or an order, counted in
//! `stock_level.reserved`, so `available = on_hand - reserved` never goes
//! below zero.
//!
//! - A reservation is taken by a conditional update (`reserved + q` only
//!   where `on_hand - reserved >= q`), so of concurrent buyers of the last
//!   unit exactly one gets it, on SQLite and PostgreSQL alike.
//! - A variant may be held across several locations: the one with most
//!   available first.
//! - Variants that do not track inventory are never held; variants that allow
//!   backorder hold what there is and sell the rest as backordered.
//! - A reservation with an expiry is released by [`super::expiry::sweep`], which several
//!   nodes may run at once: on PostgreSQL each claims rows with
//!   `FOR UPDATE SKIP LOCKED`, so none is released twice.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use entity::{reservation, stock_level, variant};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use crate::domain::{
    error::{DomainResult, UserError},
    events::{self, DomainEvent},
};

/// Units of a variant a cart or order needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// The variant.
    pub variant_id: i64,
    /// Units.
    pub quantity: i32,
}

/// What a reservation holds stock for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// A cart (on add to cart, or during its checkout), until `expires_at`.
    Cart {
        /// The cart.
        cart_id: i64,
        /// When it is released unless turned into an order's.
        expires_at: DateTime<Utc>,
    },
}

/// A variant that does not have enough stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortage {
    /// The variant.
    pub variant_id: i64,
    /// Units asked for.
    pub requested: i32,
    /// Units that could be held.
    pub available: i32,
}

/// OUT_OF_STOCK errors for `shortages`, each on the quantity of the line
/// (in `line_variants`, the lines' variants in order) that asked for it.
pub fn out_of_stock(
    shortages: &[Shortage],
    line_variants: impl Iterator<Item = i64> + Clone,
) -> Vec<UserError> {
    shortages
        .iter()
        .map(|s| {
            let i = line_variants
                .clone()
                .position(|v| v == s.variant_id)
                .unwrap_or(0);
            UserError::out_of_stock(
                &["lines", &i.to_string(), "quantity"],
                i64::from(s.available),
                format!("only {} left in stock", s.available),
            )
        })
        .collect()
}

/// Units available per variant (tracked variants only; summed over
/// locations, never below zero per location).
pub async fn available(
    db: &impl ConnectionTrait,
    variant_ids: &[i64],
) -> DomainResult<HashMap<i64, i64>> {
    if variant_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let levels = stock_level::Entity::find()
        .filter(stock_level::Column::VariantId.is_in(variant_ids.iter().copied()))
        .all(db)
        .await?;
    let mut out: HashMap<i64, i64> = variant_ids.iter().map(|v| (*v, 0)).collect();
    for l in levels {
        *out.entry(l.variant_id).or_default() +=
            i64::from(std::cmp::max(l.on_hand - l.reserved, 0));
    }
    Ok(out)
}

/// Holds `needs` in the caller's transaction. On a shortage nothing should be
/// kept: the caller rolls back. `variants` must hold every needed variant.
///
/// On SQLite the transaction must not have read before (its first statement
/// here is a write), so it never has to upgrade a stale read snapshot.
pub async fn reserve(
    tx: &impl ConnectionTrait,
    levels: &[stock_level::Model],
    needs: &[Need],
    variants: &HashMap<i64, variant::Model>,
    hold: Hold,
) -> DomainResult<Result<(), Vec<Shortage>>> {
    let now = Utc::now().trunc_subsecs(6);
    let mut shortages = Vec::new();
    let mut rows = Vec::new();
    let mut touched = Vec::new();
    let mut sorted: Vec<Need> = needs.to_vec();
    // One order of locking for every buyer: no deadlock between two carts.
    sorted.sort_by_key(|n| n.variant_id);
    for need in sorted {
        let Some(v) = variants.get(&need.variant_id) else {
            continue;
        };
        if !v.track_inventory || need.quantity <= 0 {
            continue;
        }
        let mut remaining = need.quantity;
        // Pass 1 on the levels read before the transaction; pass 2 on fresh
        // ones (read after our first write, so current on both backends).
        for pass in 0..2 {
            if remaining == 0 {
                break;
            }
            let mut mine: Vec<stock_level::Model> = if pass == 0 {
                levels
                    .iter()
                    .filter(|l| l.variant_id == need.variant_id)
                    .cloned()
                    .collect()
            } else {
                stock_level::Entity::find()
                    .filter(stock_level::Column::VariantId.eq(need.variant_id))
                    .all(tx)
                    .await?
            };
            mine.sort_by_key(|l| (std::cmp::Reverse(l.on_hand - l.reserved), l.id));
            for level in &mine {
                if remaining == 0 {
                    break;
                }
                let take = std::cmp::min(remaining, level.on_hand - level.reserved);
                if take <= 0 {
                    continue;
                }
                let updated = stock_level::Entity::update_many()
                    .col_expr(
                        stock_level::Column::Reserved,
                        Expr::col(stock_level::Column::Reserved).add(take),
                    )
                    .filter(stock_level::Column::Id.eq(level.id))
                    .filter(
                        Expr::col(stock_level::Column::OnHand)
                            .sub(Expr::col(stock_level::Column::Reserved))
                            .gte(take),
                    )
                    .exec(tx)
                    .await?;
                if updated.rows_affected == 1 {
                    remaining -= take;
                    rows.push(reservation_row(level, take, hold, now));
                    touched.push(level.id);
                }
            }
        }
        if remaining > 0 && !v.allow_backorder {
            shortages.push(Shortage {
                variant_id: need.variant_id,
                requested: need.quantity,
                available: need.quantity - remaining,
            });
        }
    }
    if !shortages.is_empty() {
        return Ok(Err(shortages));
    }
    if !rows.is_empty() {
        reservation::Entity::insert_many(rows)
            .exec_without_returning(tx)
            .await?;
        record_changes(tx, &touched, "reserved").await?;
    }
    Ok(Ok(()))
}

fn reservation_row(
    level: &stock_level::Model,
    quantity: i32,
    hold: Hold,
    now: DateTime<Utc>,
) -> reservation::ActiveModel {
    let Hold::Cart {
        cart_id,
        expires_at,
    } = hold;
    reservation::ActiveModel {
        stock_level_id: Set(level.id),
        variant_id: Set(level.variant_id),
        quantity: Set(quantity),
        cart_id: Set(Some(cart_id)),
        order_id: Set(None),
        expires_at: Set(Some(expires_at)),
        created_at: Set(now),
        ..Default::default()
    }
}

/// Stock levels of `variant_ids` (read before a reserving transaction).
pub async fn levels(
    db: &impl ConnectionTrait,
    variant_ids: &[i64],
) -> DomainResult<Vec<stock_level::Model>> {
    Ok(stock_level::Entity::find()
        .filter(stock_level::Column::VariantId.is_in(variant_ids.iter().copied()))
        .order_by_asc(stock_level::Column::Id)
        .all(db)
        .await?)
}

/// Turns a cart's reservations into the order's: held until the order is
/// fulfilled or cancelled.
pub async fn hand_to_order(
    tx: &impl ConnectionTrait,
    cart_id: i64,
    order_id: i64,
) -> DomainResult<()> {
    reservation::Entity::update_many()
        .col_expr(reservation::Column::OrderId, Expr::value(order_id))
        .col_expr(
            reservation::Column::CartId,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            reservation::Column::ExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(reservation::Column::CartId.eq(cart_id))
        .exec(tx)
        .await?;
    Ok(())
}

/// Releases every reservation of a cart.
pub async fn release_cart(tx: &impl ConnectionTrait, cart_id: i64) -> DomainResult<usize> {
    let rows = reservation::Entity::find()
        .filter(reservation::Column::CartId.eq(cart_id))
        .all(tx)
        .await?;
    release(tx, &rows).await
}

/// Releases `rows` (deleting them and lowering `reserved`), in the caller's
/// transaction; returns how many rows were released. Rows someone else
/// released since they were read (the sweeper on another node, a payment
/// webhook) are skipped, so no unit is given back twice.
pub async fn release(
    tx: &impl ConnectionTrait,
    rows: &[reservation::Model],
) -> DomainResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    // What is still there, locked (PostgreSQL; SQLite's transaction wrote
    // first and has the database to itself), so the delete takes exactly it.
    let live = reservation::Entity::find()
        .filter(reservation::Column::Id.is_in(rows.iter().map(|r| r.id)))
        .lock_exclusive()
        .all(tx)
        .await?;
    if live.len() != rows.len() {
        tracing::info!(
            expected = rows.len(),
            live = live.len(),
            "some reservations were released concurrently"
        );
    }
    if live.is_empty() {
        return Ok(0);
    }
    reservation::Entity::delete_many()
        .filter(reservation::Column::Id.is_in(live.iter().map(|r| r.id)))
        .exec(tx)
        .await?;
    let mut per_level: HashMap<i64, i32> = HashMap::new();
    for r in &live {
        *per_level.entry(r.stock_level_id).or_default() += r.quantity;
    }
    let mut touched = Vec::with_capacity(per_level.len());
    for (level, quantity) in per_level {
        stock_level::Entity::update_many()
            .col_expr(
                stock_level::Column::Reserved,
                Expr::col(stock_level::Column::Reserved).sub(quantity),
            )
            .filter(stock_level::Column::Id.eq(level))
            .exec(tx)
            .await?;
        touched.push(level);
    }
    record_changes(tx, &touched, "released").await?;
    Ok(live.len())
}

/// Writes a `stock.changed` event per touched level (quantities after).
async fn record_changes(
    tx: &impl ConnectionTrait,
    level_ids: &[i64],
    reason: &str,
) -> DomainResult<()> {
    let levels = stock_level::Entity::find()
        .filter(stock_level::Column::Id.is_in(level_ids.iter().copied()))
        .all(tx)
        .await?;
    events::record(
        tx,
        levels
            .into_iter()
            .map(|l| DomainEvent::StockChanged {
                variant_id: l.variant_id,
                location_id: l.location_id,
                on_hand_before: l.on_hand,
                on_hand: l.on_hand,
                reserved: l.reserved,
                reason: reason.to_owned(),
            })
            .collect(),
    )
    .await
}
