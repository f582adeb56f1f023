//! Expired reservations: released by a sweeper that several nodes may run
//! at once. On PostgreSQL each sweep claims its rows with `FOR UPDATE SKIP
//! LOCKED`; SQLite has one writer at a time. A reservation of an order still
//! awaiting its payment expires with the order (at its `payment_due_at`):
//! the order is cancelled in the same transaction, through the order state
//! machine as `system:expiry`, so the cancellation is recorded and its
//! `order.updated` event leaves through the outbox. An order awaiting
//! payment that holds no stock (its items are not tracked) is cancelled
//! the same way once its deadline passes, claimed with `FOR UPDATE SKIP
//! LOCKED` too. Expired promotion claims are deleted.

use crate::domain::tx::begin_write;
use std::collections::BTreeSet;
use tracing::instrument;

use chrono::{DateTime, Utc};
use entity::{reservation, shop_order};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, sea_query::Expr,
};

use super::{claims, orders, stock};
use crate::domain::{
    clock::Clock,
    error::DomainResult,
    order_state::{OrderEvent, OrderStatus},
};

/// Who the sweeper's cancellations are recorded as.
pub const ACTOR: &str = "system:expiry";

/// Releases up to `limit` reservations expired at `now`; returns how many.
#[instrument(name = "checkout.sweep_holds", skip_all)]
pub async fn sweep(db: &DatabaseConnection, now: DateTime<Utc>, limit: u64) -> DomainResult<usize> {
    let tx = begin_write(db).await?;
    let backend = tx.get_database_backend();
    let rows: Vec<reservation::Model> = if backend == DatabaseBackend::Postgres {
        reservation::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(
                backend,
                "SELECT * FROM reservation WHERE expires_at IS NOT NULL AND expires_at < $1 \
                 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
                [now.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()],
            ))
            .all(&tx)
            .await?
    } else {
        // Take SQLite's write lock first (a no-op update), then read.
        reservation::Entity::update_many()
            .col_expr(reservation::Column::Id, Expr::col(reservation::Column::Id))
            .filter(reservation::Column::Id.eq(0))
            .exec(&tx)
            .await?;
        reservation::Entity::find()
            .filter(reservation::Column::ExpiresAt.is_not_null())
            .filter(reservation::Column::ExpiresAt.lt(now))
            .order_by_asc(reservation::Column::Id)
            .limit(limit)
            .all(&tx)
            .await?
    };
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let released = stock::release(&tx, &rows).await?;
    let order_ids: BTreeSet<i64> = rows.iter().filter_map(|r| r.order_id).collect();
    for id in order_ids {
        if let Some(order) = orders::get(&tx, id).await? {
            cancel_unpaid(&tx, &order).await?;
        }
    }
    tx.commit().await?;
    Ok(released)
}

/// Cancels `order` if it still awaits its payment (in the caller's
/// transaction); returns whether it did.
async fn cancel_unpaid(tx: &impl ConnectionTrait, order: &shop_order::Model) -> DomainResult<bool> {
    if orders::state_of(order)?.status().order != OrderStatus::Pending {
        return Ok(false);
    }
    let events = [
        OrderEvent::PaymentFailed,
        OrderEvent::Cancelled {
            reason: "payment not completed in time".into(),
        },
    ];
    Ok(match orders::apply(tx, order, &events, ACTOR).await? {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(order = order.id, error = %e, "an expired pending order could not be cancelled");
            false
        }
    })
}

/// Cancels up to `limit` orders awaiting payment past their deadline at
/// `now` that hold no stock (those that do are cancelled with their
/// expiring holds by [`sweep`]), and deletes expired promotion claims;
/// returns how many orders were cancelled.
#[instrument(name = "checkout.sweep_unpaid", skip_all)]
pub async fn sweep_unpaid(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    limit: u64,
) -> DomainResult<usize> {
    let tx = begin_write(db).await?;
    let backend = tx.get_database_backend();
    let orders: Vec<shop_order::Model> = if backend == DatabaseBackend::Postgres {
        // Only the order rows are locked: a payment webhook locks an
        // order's holds first, and these orders have none.
        shop_order::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(
                backend,
                "SELECT * FROM shop_order o WHERE o.status = 'pending' \
                 AND o.payment_due_at IS NOT NULL AND o.payment_due_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM reservation r WHERE r.order_id = o.id) \
                 ORDER BY o.id LIMIT $2 FOR UPDATE OF o SKIP LOCKED",
                [now.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()],
            ))
            .all(&tx)
            .await?
    } else {
        shop_order::Entity::find()
            .filter(shop_order::Column::Status.eq("pending"))
            .filter(shop_order::Column::PaymentDueAt.is_not_null())
            .filter(shop_order::Column::PaymentDueAt.lt(now))
            .filter(
                shop_order::Column::Id.not_in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(reservation::Column::OrderId)
                        .from(reservation::Entity)
                        .and_where(reservation::Column::OrderId.is_not_null())
                        .to_owned(),
                ),
            )
            .order_by_asc(shop_order::Column::Id)
            .limit(limit)
            .all(&tx)
            .await?
    };
    let mut cancelled = 0;
    for order in &orders {
        if cancel_unpaid(&tx, order).await? {
            cancelled += 1;
        }
    }
    claims::prune(&tx, now).await?;
    tx.commit().await?;
    Ok(cancelled)
}

/// Runs [`sweep`] and [`sweep_unpaid`] every `every`, at `clock`'s time,
/// until the process ends.
pub async fn run_sweeper(db: DatabaseConnection, clock: Clock, every: std::time::Duration) {
    const BATCH: u64 = 500;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match sweep(&db, clock.now(), BATCH).await {
                Ok(n) if n as u64 == BATCH => continue,
                Ok(0) => break,
                Ok(n) => {
                    tracing::info!(released = n, "expired reservations released");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reservation sweep failed");
                    break;
                }
            }
        }
        loop {
            match sweep_unpaid(&db, clock.now(), BATCH).await {
                Ok(n) if n as u64 == BATCH => continue,
                Ok(0) => break,
                Ok(n) => {
                    tracing::info!(cancelled = n, "unpaid orders past their deadline cancelled");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "unpaid order sweep failed");
                    break;
                }
            }
        }
    }
}
