//! One refresh token of a session, usable once.

use sea_orm::entity::prelude::*;

/// A row of `refresh_token`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_token")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The session's row key (the digest of its id).
    pub session_id: String,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// When it was issued.
    pub created_at: DateTimeUtc,
    /// When it was exchanged for a new one.
    pub used_at: Option<DateTimeUtc>,
}

/// `refresh_token` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
