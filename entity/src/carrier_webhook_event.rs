//! A carrier webhook event already handled (de-duplicated by its id).

use sea_orm::entity::prelude::*;

/// A row of `carrier_webhook_event`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "carrier_webhook_event")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Carrier code.
    pub carrier: String,
    /// The carrier's event id.
    pub event_id: String,
    /// When it arrived.
    pub received_at: DateTimeUtc,
}

/// `carrier_webhook_event` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
