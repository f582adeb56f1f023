//! Expired reservations: released by a sweeper that several nodes may run
//! at once. On PostgreSQL each sweep claims its rows with `FOR UPDATE SKIP
//! LOCKED`; SQLite has one writer at a time. A reservation of an order still
//! awaiting its payment expires with the order: it is cancelled in the same
//! transaction.

use crate::domain::tx::begin_write;
use std::collections::BTreeSet;

use chrono::Utc;
use entity::reservation;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, sea_query::Expr,
};

use super::{orders, stock};
use crate::domain::{
    error::DomainResult,
    order_state::{OrderEvent, OrderStatus},
};

/// Releases up to `limit` expired reservations; returns how many.
pub async fn sweep(db: &DatabaseConnection, limit: u64) -> DomainResult<usize> {
    let tx = begin_write(db).await?;
    let now = Utc::now();
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
        let Some(order) = orders::get(&tx, id).await? else {
            continue;
        };
        if orders::state_of(&order)?.status().order != OrderStatus::Pending {
            continue;
        }
        let events = [
            OrderEvent::PaymentFailed,
            OrderEvent::Cancelled {
                reason: "payment not completed in time".into(),
            },
        ];
        if let Err(e) = orders::apply(&tx, &order, &events, "system:expiry").await? {
            tracing::warn!(order = id, error = %e, "an expired pending order could not be cancelled");
        }
    }
    tx.commit().await?;
    Ok(released)
}

/// Runs [`sweep`] every `every` until the process ends.
pub async fn run_sweeper(db: DatabaseConnection, every: std::time::Duration) {
    const BATCH: u64 = 500;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match sweep(&db, BATCH).await {
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
    }
}
