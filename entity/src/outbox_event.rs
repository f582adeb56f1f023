//! A domain event waiting in the outbox (or relayed, until pruned).

use sea_orm::entity::prelude::*;

/// A row of `outbox_event`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_event")]
pub struct Model {
    /// Order of recording.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unique id consumers de-duplicate by (a UUID).
    #[sea_orm(unique)]
    pub event_id: String,
    /// What happened, e.g. `stock.changed`.
    pub topic: String,
    /// The event, as JSON.
    pub payload: String,
    /// When it was recorded.
    pub created_at: DateTimeUtc,
    /// When it was relayed to the bus.
    pub published_at: Option<DateTimeUtc>,
}

/// `outbox_event` stands alone.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
