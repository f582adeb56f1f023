//! A gateway webhook event already handled (de-duplication).

use sea_orm::entity::prelude::*;

/// A row of `payment_webhook_event`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_webhook_event")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Gateway code.
    pub gateway: String,
    /// The gateway's event id.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// When.
    pub received_at: DateTimeUtc,
}

/// `payment_webhook_event` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
