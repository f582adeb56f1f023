//! A partner app's API token, stored as a digest.

use sea_orm::entity::prelude::*;

/// A row of `api_token`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_token")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What the token is for.
    pub name: String,
    /// The token's first characters, to recognize it.
    pub prefix: String,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Granted scopes, space-separated.
    pub scopes: String,
    /// Rate-limit bucket size in cost points (default when null).
    pub rate_capacity: Option<i32>,
    /// Points restored per second (default when null).
    pub rate_restore_per_second: Option<i32>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTimeUtc>,
    /// Last authenticated request (minute precision).
    pub last_used_at: Option<DateTimeUtc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTimeUtc>,
    /// Staff user who created it.
    pub created_by_staff_id: Option<i64>,
    /// When it was created.
    pub created_at: DateTimeUtc,
}

/// `api_token` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
