//! The notification queue: rows of `notification` enqueued by the outbox
//! relay, claimed by workers on any node with a lease (as webhook
//! deliveries are: [`crate::domain::webhooks_out::queue`]), and updated
//! with each attempt's outcome.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use entity::{notification, order_event};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict},
};

use super::{Kind, wanted};
use crate::domain::{error::DomainResult, events::Envelope, tx::begin_write, webhooks_out};

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for its next attempt.
    Pending,
    /// The mail server accepted it.
    Sent,
    /// Nothing to send (the order is gone or has no address).
    Skipped,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Skipped => "skipped",
        }
    }
}

/// Enqueues the notifications `events` ask for, in the caller's transaction
/// (the outbox relay's). An (event, kind) pair already enqueued is skipped,
/// so an event relayed again sends nothing more. Returns how many rows were
/// enqueued.
pub async fn enqueue(db: &impl ConnectionTrait, events: &[Envelope]) -> DomainResult<u64> {
    let now = Utc::now().trunc_subsecs(6);
    let rows: Vec<notification::ActiveModel> = events
        .iter()
        .filter_map(|e| wanted(&e.event).map(|w| (e, w)))
        .map(|(e, w)| notification::ActiveModel {
            event_id: Set(e.id.clone()),
            kind: Set(w.kind.as_str().to_owned()),
            order_id: Set(w.order_id),
            subject_id: Set(w.subject_id),
            status: Set(Status::Pending.as_str().to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_error: Set(None),
            recipient: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            sent_at: Set(None),
            ..Default::default()
        })
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    // Rows of orders that are gone would break the foreign key: an event
    // outlives its order only if the order was deleted meanwhile.
    let mut order_ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| match &r.order_id {
            Set(id) => Some(*id),
            _ => None,
        })
        .collect();
    order_ids.sort_unstable();
    order_ids.dedup();
    let existing: Vec<i64> = entity::shop_order::Entity::find()
        .select_only()
        .column(entity::shop_order::Column::Id)
        .filter(entity::shop_order::Column::Id.is_in(order_ids))
        .into_tuple()
        .all(db)
        .await?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| matches!(&r.order_id, Set(id) if existing.contains(id)))
        .collect();
    let mut inserted = 0;
    for chunk in rows.chunks(500) {
        inserted += notification::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([notification::Column::EventId, notification::Column::Kind])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(inserted)
}

/// Claims up to `limit` pending notifications due at `now`, hiding them
/// from other workers for `lease` (the time a send may take): if this
/// worker dies mid-send, another sends them once the lease runs out.
pub async fn claim(
    db: &DatabaseConnection,
    limit: u64,
    lease: Duration,
    now: DateTime<Utc>,
) -> DomainResult<Vec<notification::Model>> {
    // An idle round opens no transaction (on SQLite it would take the
    // write lock).
    let due: Option<i64> = notification::Entity::find()
        .select_only()
        .column(notification::Column::Id)
        .filter(notification::Column::Status.eq(Status::Pending.as_str()))
        .filter(notification::Column::NextAttemptAt.lte(now))
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    let tx = begin_write(db).await?;
    let backend = tx.get_database_backend();
    if backend != DatabaseBackend::Postgres {
        // Take SQLite's write lock first (a no-op update), then read.
        notification::Entity::update_many()
            .col_expr(
                notification::Column::Id,
                Expr::col(notification::Column::Id),
            )
            .filter(notification::Column::Id.eq(0))
            .exec(&tx)
            .await?;
    }
    let mut q = notification::Entity::find()
        .filter(notification::Column::Status.eq(Status::Pending.as_str()))
        .filter(notification::Column::NextAttemptAt.lte(now))
        .order_by_asc(notification::Column::NextAttemptAt)
        .order_by_asc(notification::Column::Id)
        .limit(limit);
    if backend == DatabaseBackend::Postgres {
        q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = q.all(&tx).await?;
    if !rows.is_empty() {
        let until =
            (now + TimeDelta::from_std(lease).unwrap_or(TimeDelta::hours(1))).trunc_subsecs(6);
        notification::Entity::update_many()
            .col_expr(notification::Column::NextAttemptAt, Expr::value(until))
            .filter(notification::Column::Id.is_in(rows.iter().map(|r| r.id)))
            .exec(&tx)
            .await?;
    }
    tx.commit().await?;
    Ok(rows)
}

/// The retry policy: the wait after the n-th failed attempt is
/// `base * 2^(n-1)`, at most `cap`. There is no last attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Delay after the first failed attempt.
    pub base: Duration,
    /// Longest delay.
    pub cap: Duration,
}

/// Records a sent notification, and the `notified` entry on its order's
/// timeline, in one transaction. A notification no longer pending (another
/// worker recorded it after a lease ran out) is left alone, and no second
/// timeline entry is written.
pub async fn record_sent(
    db: &DatabaseConnection,
    n: &notification::Model,
    recipient: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    let now = now.trunc_subsecs(6);
    let tx = begin_write(db).await?;
    let done = notification::Entity::update_many()
        .col_expr(
            notification::Column::Status,
            Expr::value(Status::Sent.as_str()),
        )
        .col_expr(
            notification::Column::Attempts,
            Expr::col(notification::Column::Attempts).add(1),
        )
        .col_expr(notification::Column::Recipient, Expr::value(recipient))
        .col_expr(notification::Column::LastError, Expr::value(None::<String>))
        .col_expr(notification::Column::UpdatedAt, Expr::value(now))
        .col_expr(notification::Column::SentAt, Expr::value(Some(now)))
        .filter(notification::Column::Id.eq(n.id))
        .filter(notification::Column::Status.eq(Status::Pending.as_str()))
        .exec(&tx)
        .await?
        .rows_affected;
    if done == 1 {
        let detail = serde_json::json!({
            "notification": n.kind,
            "eventId": n.event_id,
            "subjectId": n.subject_id,
        });
        order_event::Entity::insert(order_event::ActiveModel {
            order_id: Set(n.order_id),
            kind: Set("notified".into()),
            message: Set(format!("Sent “{subject}” to {recipient}")),
            detail: Set(detail.to_string()),
            actor: Set("system:notifications".into()),
            created_at: Set(now),
            ..Default::default()
        })
        .exec_without_returning(&tx)
        .await?;
    }
    tx.commit().await?;
    Ok(done == 1)
}

/// Records a failed attempt made at `now`: the notification stays pending,
/// due again after the backoff.
pub async fn record_failed(
    db: &impl ConnectionTrait,
    n: &notification::Model,
    error: &str,
    retry: Retry,
    now: DateTime<Utc>,
) -> DomainResult<DateTime<Utc>> {
    let now = now.trunc_subsecs(6);
    let attempts = u32::try_from(n.attempts).unwrap_or(0) + 1;
    let wait = webhooks_out::queue::backoff(attempts, retry.base, retry.cap);
    let next = (now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1))).trunc_subsecs(6);
    notification::Entity::update_many()
        .col_expr(
            notification::Column::Attempts,
            Expr::col(notification::Column::Attempts).add(1),
        )
        .col_expr(notification::Column::NextAttemptAt, Expr::value(next))
        .col_expr(
            notification::Column::LastError,
            Expr::value(error.chars().take(500).collect::<String>()),
        )
        .col_expr(notification::Column::UpdatedAt, Expr::value(now))
        .filter(notification::Column::Id.eq(n.id))
        .filter(notification::Column::Status.eq(Status::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(next)
}

/// Records a notification with nothing to send (`why`).
pub async fn record_skipped(
    db: &impl ConnectionTrait,
    n: &notification::Model,
    why: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    notification::Entity::update_many()
        .col_expr(
            notification::Column::Status,
            Expr::value(Status::Skipped.as_str()),
        )
        .col_expr(notification::Column::LastError, Expr::value(why))
        .col_expr(
            notification::Column::UpdatedAt,
            Expr::value(now.trunc_subsecs(6)),
        )
        .filter(notification::Column::Id.eq(n.id))
        .filter(notification::Column::Status.eq(Status::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// The notifications of an order, oldest first.
pub async fn of_order(
    db: &impl ConnectionTrait,
    order_id: i64,
) -> DomainResult<Vec<notification::Model>> {
    Ok(notification::Entity::find()
        .filter(notification::Column::OrderId.eq(order_id))
        .order_by_asc(notification::Column::Id)
        .all(db)
        .await?)
}

/// The kind of a stored notification.
pub fn kind_of(n: &notification::Model) -> Option<Kind> {
    n.kind.parse().ok()
}
