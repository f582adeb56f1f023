//! A member of the shop's staff.

use sea_orm::entity::prelude::*;

/// A row of `staff_user`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_user")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Lower-cased email, unique.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    /// One of admin, merchandiser, support, fulfillment.
    pub role: String,
    /// Whether the user may log in.
    pub active: bool,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// Last successful login.
    pub last_login_at: Option<DateTimeUtc>,
}

/// `staff_user` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
