//! The delivery queue: rows of `webhook_delivery` enqueued by the outbox
//! relay, claimed by workers on any node, and updated with each attempt's
//! outcome.
//!
//! A claim takes due pending rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL;
//! SQLite has one writer at a time) and, in the same transaction, pushes
//! their `next_attempt_at` past the attempt's timeout: a lease. Another
//! worker does not see them again until the lease runs out, which happens
//! only if this one died mid-attempt; then the delivery is sent again
//! (receivers de-duplicate by event id).

use crate::domain::tx::begin_write;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use entity::{webhook_delivery, webhook_subscription};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict, Query},
};
use serde::Serialize;

use super::{Status, live, owner_rights, refusal, topics_of};
use crate::domain::{
    error::DomainResult,
    events::{DomainEvent, Envelope},
    gid::{self, Kind},
};

/// Rows per insert statement.
const BATCH: usize = 500;

/// The JSON body POSTed to a receiver.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    /// The event's unique id (de-duplicate by it).
    id: &'a str,
    /// Its topic.
    topic: &'a str,
    /// When it happened.
    created_at: DateTime<Utc>,
    /// The event, its ids given as the API's IDs.
    data: serde_json::Value,
}

/// The fields of an event that hold row ids, and the kind of object each
/// names: receivers get the API's global IDs, which they can pass straight
/// back to it (`order(id:)`, `node(id:)`).
const ID_FIELDS: &[(&str, Kind)] = &[
    ("variantId", Kind::ProductVariant),
    ("locationId", Kind::StockLocation),
    ("orderId", Kind::Order),
    ("customerId", Kind::Customer),
    ("productIds", Kind::Product),
    ("variantIds", Kind::ProductVariant),
    ("fulfillmentId", Kind::Fulfillment),
    ("refundId", Kind::Refund),
];

/// `event` as a receiver sees it: its row ids replaced by global IDs.
fn with_api_ids(event: &DomainEvent) -> serde_json::Value {
    fn api_ids(v: &serde_json::Value, kind: Kind) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::Number(n) => n
                .as_i64()
                .map_or(Value::Null, |id| Value::String(gid::encode(kind, id))),
            Value::Array(items) => Value::Array(items.iter().map(|i| api_ids(i, kind)).collect()),
            other => other.clone(),
        }
    }
    let mut data = serde_json::to_value(event).unwrap_or_default();
    if let serde_json::Value::Object(fields) = &mut data {
        for (name, kind) in ID_FIELDS {
            if let Some(v) = fields.get_mut(*name) {
                *v = api_ids(v, *kind);
            }
        }
    }
    data
}

/// The body delivered for `e`.
pub fn body_of(e: &Envelope) -> String {
    serde_json::to_string(&Body {
        id: &e.id,
        topic: e.event.topic(),
        created_at: e.at,
        data: with_api_ids(&e.event),
    })
    .unwrap_or_default()
}

/// Enqueues a delivery of every event to every live subscription of its
/// topic (active, its owner's token neither revoked nor expired, its
/// owner's staff account active, its owner still holding `webhooks:write`
/// and the topic's read permission), in the caller's transaction (the
/// outbox relay's): a query for the subscriptions and their owners, one
/// insert. An event already enqueued for a subscription is skipped.
/// Returns how many deliveries were enqueued.
pub async fn enqueue(db: &impl ConnectionTrait, events: &[Envelope]) -> DomainResult<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let now = Utc::now().trunc_subsecs(6);
    let subscriptions = webhook_subscription::Entity::find()
        .filter(live(now))
        .all(db)
        .await?;
    if subscriptions.is_empty() {
        return Ok(0);
    }
    let rights = owner_rights(db, &subscriptions).await?;
    let subscribed: Vec<(i64, Vec<String>)> = subscriptions
        .iter()
        .map(|s| {
            let may = rights.get(&s.id).copied().unwrap_or_default();
            let topics = topics_of(s)
                .into_iter()
                .filter(|t| refusal(may, t).is_none())
                .collect();
            (s.id, topics)
        })
        .collect();
    let mut rows = Vec::new();
    for e in events {
        let topic = e.event.topic();
        let mut body = None;
        for (id, topics) in &subscribed {
            if !topics.iter().any(|t| t == topic) {
                continue;
            }
            let payload = body.get_or_insert_with(|| body_of(e)).clone();
            rows.push(webhook_delivery::ActiveModel {
                subscription_id: Set(*id),
                event_id: Set(e.id.clone()),
                topic: Set(topic.to_owned()),
                payload: Set(payload),
                status: Set(Status::Pending.as_str().to_owned()),
                attempts: Set(0),
                next_attempt_at: Set(now),
                last_response_status: Set(None),
                last_error: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                delivered_at: Set(None),
                ..Default::default()
            });
        }
    }
    let mut inserted = 0;
    for chunk in rows.chunks(BATCH) {
        inserted += webhook_delivery::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    webhook_delivery::Column::SubscriptionId,
                    webhook_delivery::Column::EventId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(inserted)
}

/// A claimed delivery and where it goes.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery as claimed.
    pub delivery: webhook_delivery::Model,
    /// Its subscription.
    pub subscription: webhook_subscription::Model,
}

/// Claims up to `limit` pending deliveries of live subscriptions due at
/// `now`, for `lease` (see the module documentation). Deliveries of a subscription
/// whose owner was revoked meanwhile stay pending, unsent; those whose
/// owner lost `webhooks:write` or the topic's read permission are refused:
/// marked failed, saying which permission is missing.
pub async fn claim(
    db: &DatabaseConnection,
    limit: u64,
    lease: Duration,
    now: DateTime<Utc>,
) -> DomainResult<Vec<Claimed>> {
    let tx = begin_write(db).await?;
    let backend = tx.get_database_backend();
    if backend != DatabaseBackend::Postgres {
        // Take SQLite's write lock first (a no-op update), then read.
        webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::Id,
                Expr::col(webhook_delivery::Column::Id),
            )
            .filter(webhook_delivery::Column::Id.eq(0))
            .exec(&tx)
            .await?;
    }
    let mut q = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(Status::Pending.as_str()))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .filter(
            webhook_delivery::Column::SubscriptionId.in_subquery(
                Query::select()
                    .column(webhook_subscription::Column::Id)
                    .from(webhook_subscription::Entity)
                    .cond_where(live(now))
                    .to_owned(),
            ),
        )
        .order_by_asc(webhook_delivery::Column::NextAttemptAt)
        .order_by_asc(webhook_delivery::Column::Id)
        .limit(limit);
    if backend == DatabaseBackend::Postgres {
        q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = q.all(&tx).await?;
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let until = (now + TimeDelta::from_std(lease).unwrap_or(TimeDelta::hours(1))).trunc_subsecs(6);
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(until))
        .filter(webhook_delivery::Column::Id.is_in(ids))
        .exec(&tx)
        .await?;
    let mut sub_ids: Vec<i64> = rows.iter().map(|r| r.subscription_id).collect();
    sub_ids.sort_unstable();
    sub_ids.dedup();
    let subscriptions = webhook_subscription::Entity::find()
        .filter(webhook_subscription::Column::Id.is_in(sub_ids))
        .all(&tx)
        .await?;
    let rights = owner_rights(&tx, &subscriptions).await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for delivery in rows {
        let Some(subscription) = subscriptions
            .iter()
            .find(|s| s.id == delivery.subscription_id)
        else {
            continue;
        };
        let may = rights.get(&subscription.id).copied().unwrap_or_default();
        match refusal(may, &delivery.topic) {
            None => claimed.push(Claimed {
                delivery,
                subscription: subscription.clone(),
            }),
            Some(missing) => {
                let error =
                    format!("refused: the subscription's creator no longer holds `{missing}`");
                webhook_delivery::Entity::update_many()
                    .col_expr(
                        webhook_delivery::Column::Status,
                        Expr::value(Status::Failed.as_str()),
                    )
                    .col_expr(webhook_delivery::Column::LastError, Expr::value(error))
                    .col_expr(
                        webhook_delivery::Column::UpdatedAt,
                        Expr::value(now.trunc_subsecs(6)),
                    )
                    .filter(webhook_delivery::Column::Id.eq(delivery.id))
                    .exec(&tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(claimed)
}

/// How long to wait after the `attempts`-th failed attempt:
/// `base * 2^(attempts-1)`, at most `cap`.
pub fn backoff(attempts: u32, base: Duration, cap: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(cap).min(cap)
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The receiver's HTTP status, if it answered.
    pub response_status: Option<u16>,
    /// Why it failed; `None` when the receiver answered 2xx.
    pub error: Option<String>,
}

impl Attempt {
    /// Whether the receiver accepted the delivery.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// The retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts before a delivery fails for good.
    pub max_attempts: u32,
    /// Delay after the first failed attempt.
    pub base: Duration,
    /// Longest delay.
    pub cap: Duration,
}

/// Records an attempt at a claimed delivery made at `now` (a retry falls
/// due counting from then); returns its status after it. A delivery no
/// longer pending (deleted meanwhile) is left alone.
pub async fn record(
    db: &impl ConnectionTrait,
    delivery: &webhook_delivery::Model,
    attempt: &Attempt,
    retry: Retry,
    now: DateTime<Utc>,
) -> DomainResult<Status> {
    let now = now.trunc_subsecs(6);
    let attempts = u32::try_from(delivery.attempts).unwrap_or(0) + 1;
    let status = if attempt.succeeded() {
        Status::Succeeded
    } else if attempts >= retry.max_attempts {
        Status::Failed
    } else {
        Status::Pending
    };
    let next = match status {
        Status::Pending => {
            let wait = backoff(attempts, retry.base, retry.cap);
            (now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1))).trunc_subsecs(6)
        }
        Status::Succeeded | Status::Failed => now,
    };
    let error = attempt
        .error
        .as_ref()
        .map(|e| e.chars().take(500).collect::<String>());
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(status.as_str()),
        )
        .col_expr(
            webhook_delivery::Column::Attempts,
            Expr::col(webhook_delivery::Column::Attempts).add(1),
        )
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
        .col_expr(
            webhook_delivery::Column::LastResponseStatus,
            Expr::value(attempt.response_status.map(i32::from)),
        )
        .col_expr(webhook_delivery::Column::LastError, Expr::value(error))
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            webhook_delivery::Column::DeliveredAt,
            Expr::value((status == Status::Succeeded).then_some(now)),
        )
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .filter(webhook_delivery::Column::Status.eq(Status::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order_state::{FulfillmentStatus, OrderStatus, PaymentStatus, Status};

    /// One event of every kind. The match has no wildcard: a new kind does
    /// not compile until it has a sample here, and the test below checks
    /// its ids.
    fn samples() -> Vec<DomainEvent> {
        let status = Status {
            order: OrderStatus::Open,
            payment: PaymentStatus::Paid,
            fulfillment: FulfillmentStatus::Unfulfilled,
        };
        let all = vec![
            DomainEvent::StockChanged {
                variant_id: 7,
                location_id: 2,
                on_hand_before: 5,
                on_hand: 3,
                reserved: 0,
                reason: "sync".into(),
            },
            DomainEvent::OrderCreated {
                order_id: 9,
                customer_id: Some(4),
                total_minor: 1250,
                currency: "EUR".into(),
                status,
            },
            DomainEvent::OrderPaid {
                order_id: 9,
                customer_id: None,
                status,
            },
            DomainEvent::OrderUpdated {
                order_id: 9,
                customer_id: Some(4),
                status,
            },
            DomainEvent::CatalogChanged {
                product_ids: vec![1, 2],
                variant_ids: vec![7],
                everything: false,
            },
            DomainEvent::OrderFulfilled {
                order_id: 9,
                customer_id: Some(4),
                fulfillment_id: 3,
                status,
                notify_customer: true,
            },
            DomainEvent::FulfillmentUpdated {
                order_id: 9,
                customer_id: Some(4),
                fulfillment_id: 3,
                shipment_status: "delivered".into(),
                notify_customer: true,
            },
            DomainEvent::OrderCancelled {
                order_id: 9,
                customer_id: None,
                reason: "customer".into(),
                status,
                notify_customer: true,
            },
            DomainEvent::OrderRefunded {
                order_id: 9,
                customer_id: Some(4),
                refund_id: 2,
                amount_minor: 500,
                currency: "EUR".into(),
                status,
                notify_customer: true,
            },
        ];
        for e in &all {
            match e {
                DomainEvent::StockChanged { .. }
                | DomainEvent::OrderCreated { .. }
                | DomainEvent::OrderPaid { .. }
                | DomainEvent::OrderUpdated { .. }
                | DomainEvent::CatalogChanged { .. }
                | DomainEvent::OrderFulfilled { .. }
                | DomainEvent::FulfillmentUpdated { .. }
                | DomainEvent::OrderCancelled { .. }
                | DomainEvent::OrderRefunded { .. } => {}
            }
        }
        all
    }

    #[test]
    fn receivers_get_api_ids_never_row_ids() {
        for e in samples() {
            let data = with_api_ids(&e);
            let fields = data.as_object().cloned().unwrap_or_default();
            for (name, v) in &fields {
                if name.ends_with("Id") || name.ends_with("Ids") {
                    let numbers = match v {
                        serde_json::Value::Number(_) => true,
                        serde_json::Value::Array(items) => items.iter().any(|i| i.is_number()),
                        _ => false,
                    };
                    assert!(!numbers, "{name} of {} is a row id: {data}", e.topic());
                }
            }
        }
        let order = with_api_ids(&samples()[1]);
        assert_eq!(order["orderId"], gid::encode(Kind::Order, 9));
        assert_eq!(order["customerId"], gid::encode(Kind::Customer, 4));
        assert_eq!(order["totalMinor"], 1250);
        let paid = with_api_ids(&samples()[2]);
        assert_eq!(paid["customerId"], serde_json::Value::Null);
        let catalog = with_api_ids(&samples()[4]);
        assert_eq!(
            catalog["productIds"],
            serde_json::json!([gid::encode(Kind::Product, 1), gid::encode(Kind::Product, 2)])
        );
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let s = Duration::from_secs;
        let (base, cap) = (s(5), s(3600));
        let waits: Vec<u64> = (1..=11).map(|n| backoff(n, base, cap).as_secs()).collect();
        assert_eq!(
            waits,
            vec![5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
        );
        assert_eq!(backoff(200, base, cap), cap);
        assert_eq!(backoff(u32::MAX, base, cap), cap);
    }
}
