//! The audit chain's head: last sequence number and hash (one row).

use sea_orm::entity::prelude::*;

/// A row of `audit_head`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_head")]
pub struct Model {
    /// Always 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// Last entry's id.
    pub seq: i64,
    /// Last entry's hash.
    pub hash: String,
}

/// `audit_head` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
