//! The stock side of fulfilments: shipping units from a stock level (the
//! order's holds there first), releasing holds the order no longer needs,
//! and putting a cancelled fulfilment's units back.

use chrono::{DateTime, Utc};
use entity::{inventory_movement, reservation, stock_level};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait},
};

use crate::domain::{
    error::{DomainError, DomainResult},
    events::DomainEvent,
};

/// One stock change to record: the movement and its `stock.changed` event.
pub(super) struct Moved {
    pub movement: inventory_movement::ActiveModel,
    pub event: DomainEvent,
}

/// Why (`fulfilled`, `fulfillment_cancelled`), the reference document and
/// who, for movements.
pub(super) struct Why<'a> {
    pub reason: &'a str,
    pub reference: &'a str,
    pub actor_label: &'a str,
    pub at: DateTime<Utc>,
}

/// The order's holds of `variant_id` at stock level `level_id`, oldest first.
async fn holds_at(
    tx: &impl ConnectionTrait,
    order_id: i64,
    variant_id: i64,
    level_id: Option<i64>,
) -> DomainResult<Vec<reservation::Model>> {
    let mut q = reservation::Entity::find()
        .filter(reservation::Column::OrderId.eq(order_id))
        .filter(reservation::Column::VariantId.eq(variant_id));
    if let Some(level) = level_id {
        q = q.filter(reservation::Column::StockLevelId.eq(level));
    }
    Ok(q.order_by_asc(reservation::Column::Id).all(tx).await?)
}

/// Takes `units` off `rows` (deleting emptied rows, shrinking the last one);
/// returns how many units were taken per stock level.
async fn shrink(
    tx: &impl ConnectionTrait,
    rows: &[reservation::Model],
    mut units: i32,
) -> DomainResult<Vec<(i64, i32)>> {
    let mut taken: Vec<(i64, i32)> = Vec::new();
    for r in rows {
        if units <= 0 {
            break;
        }
        let take = std::cmp::min(r.quantity, units);
        if take == r.quantity {
            reservation::Entity::delete_by_id(r.id).exec(tx).await?;
        } else {
            reservation::Entity::update_many()
                .col_expr(
                    reservation::Column::Quantity,
                    Expr::value(r.quantity - take),
                )
                .filter(reservation::Column::Id.eq(r.id))
                .exec(tx)
                .await?;
        }
        units -= take;
        match taken.iter_mut().find(|(l, _)| *l == r.stock_level_id) {
            Some((_, n)) => *n += take,
            None => taken.push((r.stock_level_id, take)),
        }
    }
    Ok(taken)
}

/// Ships `units` of `variant_id` from `level`: the order's holds there
/// first, the rest from the level's free stock. `Ok(false)`: the level
/// does not have them (the caller rolls back).
pub(super) async fn ship(
    tx: &impl ConnectionTrait,
    order_id: i64,
    level: &stock_level::Model,
    units: i32,
    why: &Why<'_>,
    out: &mut Vec<Moved>,
) -> DomainResult<bool> {
    let holds = holds_at(tx, order_id, level.variant_id, Some(level.id)).await?;
    let held: i32 = holds.iter().map(|r| r.quantity).sum();
    let from_holds = std::cmp::min(held, units);
    let from_free = units - from_holds;
    let updated = stock_level::Entity::update_many()
        .col_expr(
            stock_level::Column::OnHand,
            Expr::col(stock_level::Column::OnHand).sub(units),
        )
        .col_expr(
            stock_level::Column::Reserved,
            Expr::col(stock_level::Column::Reserved).sub(from_holds),
        )
        .filter(stock_level::Column::Id.eq(level.id))
        .filter(
            Expr::col(stock_level::Column::OnHand)
                .sub(Expr::col(stock_level::Column::Reserved))
                .gte(from_free),
        )
        .filter(stock_level::Column::Reserved.gte(from_holds))
        .exec(tx)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(false);
    }
    shrink(tx, &holds, from_holds).await?;
    record(tx, level.id, -units, why, out).await?;
    Ok(true)
}

/// Releases the order's holds of `variant_id` beyond `still_needed` units
/// (what its lines have left to ship), from any location.
pub(super) async fn release_excess(
    tx: &impl ConnectionTrait,
    order_id: i64,
    variant_id: i64,
    still_needed: i32,
    out: &mut Vec<DomainEvent>,
) -> DomainResult<()> {
    let holds = holds_at(tx, order_id, variant_id, None).await?;
    let held: i32 = holds.iter().map(|r| r.quantity).sum();
    let excess = held - std::cmp::max(still_needed, 0);
    if excess <= 0 {
        return Ok(());
    }
    // Newest holds go first.
    let newest: Vec<reservation::Model> = holds.into_iter().rev().collect();
    for (level_id, n) in shrink(tx, &newest, excess).await? {
        stock_level::Entity::update_many()
            .col_expr(
                stock_level::Column::Reserved,
                Expr::col(stock_level::Column::Reserved).sub(n),
            )
            .filter(stock_level::Column::Id.eq(level_id))
            .exec(tx)
            .await?;
        let level = level_row(tx, level_id).await?;
        out.push(DomainEvent::StockChanged {
            variant_id: level.variant_id,
            location_id: level.location_id,
            on_hand_before: level.on_hand,
            on_hand: level.on_hand,
            reserved: level.reserved,
            reason: "released".into(),
        });
    }
    Ok(())
}

/// Puts `units` back on hand at `level` and holds them for the order again.
pub(super) async fn put_back(
    tx: &impl ConnectionTrait,
    order_id: i64,
    level: &stock_level::Model,
    units: i32,
    why: &Why<'_>,
    out: &mut Vec<Moved>,
) -> DomainResult<()> {
    stock_level::Entity::update_many()
        .col_expr(
            stock_level::Column::OnHand,
            Expr::col(stock_level::Column::OnHand).add(units),
        )
        .col_expr(
            stock_level::Column::Reserved,
            Expr::col(stock_level::Column::Reserved).add(units),
        )
        .filter(stock_level::Column::Id.eq(level.id))
        .exec(tx)
        .await?;
    reservation::Entity::insert(reservation::ActiveModel {
        stock_level_id: Set(level.id),
        variant_id: Set(level.variant_id),
        quantity: Set(units),
        cart_id: Set(None),
        order_id: Set(Some(order_id)),
        expires_at: Set(None),
        created_at: Set(why.at),
        ..Default::default()
    })
    .exec_without_returning(tx)
    .await?;
    record(tx, level.id, units, why, out).await
}

async fn level_row(tx: &impl ConnectionTrait, id: i64) -> DomainResult<stock_level::Model> {
    stock_level::Entity::find_by_id(id)
        .one(tx)
        .await?
        .ok_or_else(|| DomainError::Inconsistent(format!("stock level {id} vanished")))
}

/// The movement and event of a change of `delta` at `level_id` (read after
/// the change).
async fn record(
    tx: &impl ConnectionTrait,
    level_id: i64,
    delta: i32,
    why: &Why<'_>,
    out: &mut Vec<Moved>,
) -> DomainResult<()> {
    let level = level_row(tx, level_id).await?;
    out.push(Moved {
        movement: inventory_movement::ActiveModel {
            variant_id: Set(level.variant_id),
            location_id: Set(level.location_id),
            delta: Set(delta),
            on_hand_after: Set(level.on_hand),
            reason: Set(why.reason.to_owned()),
            reference: Set(Some(why.reference.to_owned())),
            actor_label: Set(why.actor_label.to_owned()),
            source_at: Set(None),
            at: Set(why.at),
            ..Default::default()
        },
        event: DomainEvent::StockChanged {
            variant_id: level.variant_id,
            location_id: level.location_id,
            on_hand_before: level.on_hand - delta,
            on_hand: level.on_hand,
            reserved: level.reserved,
            reason: why.reason.to_owned(),
        },
    });
    Ok(())
}
