//! A shop customer with a login. The email is stored lower-cased.

use sea_orm::entity::prelude::*;

/// A row of `customer`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Lower-cased email, unique.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Customer group for group prices.
    pub customer_group_id: Option<i64>,
    /// The default address, one of the customer's own.
    pub default_address_id: Option<i64>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row last changed.
    pub updated_at: DateTimeUtc,
}

/// `customer` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
