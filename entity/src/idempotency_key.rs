//! A mutation's idempotency key and the answer it got.

use sea_orm::entity::prelude::*;

/// A row of `idempotency_key`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_key")]
pub struct Model {
    /// Whose key: the principal.
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    /// The client's key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// SHA-256 of the request it came with.
    pub request_hash: String,
    /// The answer, as JSON.
    pub response: Option<String>,
    /// When it was first used.
    pub created_at: DateTimeUtc,
}

/// `idempotency_key` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
