//! One entry of the tamper-evident audit trail.

use sea_orm::entity::prelude::*;

/// A row of `audit_entry`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_entry")]
pub struct Model {
    /// Sequence number (1, 2, ...), assigned under the head's lock.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// When the change was made.
    pub at: DateTimeUtc,
    /// `staff`, `partner`, `cli` or `system`.
    pub actor_kind: String,
    /// The staff user or token, if any.
    pub actor_id: Option<i64>,
    /// Who, for people (email or token name).
    pub actor_label: String,
    /// What was done, e.g. `inventory.set`.
    pub action: String,
    /// Kind of object changed, e.g. `stock_level`.
    pub entity_type: String,
    /// Which object.
    pub entity_id: String,
    /// The object before, as JSON.
    pub before: Option<String>,
    /// The object after, as JSON.
    pub after: Option<String>,
    /// Hash of the previous entry (hex).
    pub prev_hash: String,
    /// SHA-256 over this entry's content and `prev_hash` (hex).
    pub hash: String,
}

/// `audit_entry` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
