//! A login session: one family of rotating refresh tokens.

use sea_orm::entity::prelude::*;

/// A row of `auth_session`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_session")]
pub struct Model {
    /// Primary key: SHA-256 (hex) of the session's id; access tokens carry
    /// the id itself as `sid`, and it is stored nowhere.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `customer` or `staff`.
    pub subject_kind: String,
    /// The customer or staff user.
    pub subject_id: i64,
    /// When the session started.
    pub created_at: DateTimeUtc,
    /// After this no refresh is possible.
    pub expires_at: DateTimeUtc,
    /// When the session was ended.
    pub revoked_at: Option<DateTimeUtc>,
    /// Why: logout, reuse, password, deactivated.
    pub revoked_reason: Option<String>,
}

/// `auth_session` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
