//! A secret the server generated once and keeps (e.g. the JWT signing key).

use sea_orm::entity::prelude::*;

/// A row of `app_secret`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "app_secret")]
pub struct Model {
    /// Primary key: what the secret is for.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The secret, base64.
    pub value: String,
    /// When it was generated.
    pub created_at: DateTimeUtc,
}

/// `app_secret` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
