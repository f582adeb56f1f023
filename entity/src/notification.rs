//! One mail to a customer about one event: the notification queue, its
//! retry state and the send log.

use sea_orm::entity::prelude::*;

/// A row of `notification`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The outbox event it answers.
    pub event_id: String,
    /// `order_confirmation`, `order_shipped`, `order_delivered`,
    /// `order_cancelled` or `order_refunded`.
    pub kind: String,
    /// The order.
    pub order_id: i64,
    /// The fulfilment or refund it is about, if any.
    pub subject_id: Option<i64>,
    /// `pending`, `sent` or `skipped`.
    pub status: String,
    /// Send attempts so far.
    pub attempts: i32,
    /// When a pending notification is next attempted.
    pub next_attempt_at: DateTimeUtc,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Where it went.
    pub recipient: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTimeUtc,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
    /// When the mail server accepted it.
    pub sent_at: Option<DateTimeUtc>,
}

/// `notification` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
