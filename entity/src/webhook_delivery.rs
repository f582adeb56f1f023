//! One event to deliver to one webhook subscription: the delivery log and
//! the retry queue.

use sea_orm::entity::prelude::*;

/// A row of `webhook_delivery`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_delivery")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The subscription.
    pub subscription_id: i64,
    /// The event's unique id (receivers de-duplicate by it).
    pub event_id: String,
    /// The event's topic.
    pub topic: String,
    /// The JSON body POSTed on every attempt.
    pub payload: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// When a pending delivery is next attempted.
    pub next_attempt_at: DateTimeUtc,
    /// HTTP status of the last attempt's response, if one came.
    pub last_response_status: Option<i32>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTimeUtc,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
    /// When the receiver accepted it.
    pub delivered_at: Option<DateTimeUtc>,
}

/// `webhook_delivery` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
