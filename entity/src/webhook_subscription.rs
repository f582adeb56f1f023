//! A partner app's or staff user's subscription to event topics, delivered
//! by signed HTTP POSTs.

use sea_orm::entity::prelude::*;

/// A row of `webhook_subscription`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_subscription")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Where deliveries are POSTed (absolute http or https URL).
    pub url: String,
    /// Subscribed topics, space-separated.
    pub topics: String,
    /// The HMAC key deliveries are signed with (`whsec_...`), sealed with
    /// the master key (`v1:...`).
    pub secret: String,
    /// The staff user who created it, if a staff user did.
    pub created_by_staff_id: Option<i64>,
    /// The partner token that created it, if a partner did.
    pub created_by_token_id: Option<i64>,
    /// Whether new events are delivered.
    pub active: bool,
    /// When it was created.
    pub created_at: DateTimeUtc,
}

/// `webhook_subscription` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
