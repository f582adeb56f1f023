//! A postal address in a customer's address book.

use sea_orm::entity::prelude::*;

/// A row of `customer_address`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_address")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The owner.
    pub customer_id: i64,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// First address line.
    pub address1: String,
    /// Second address line.
    pub address2: Option<String>,
    /// City.
    pub city: String,
    /// Region or province code.
    pub province_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: String,
    /// Postal code.
    pub zip: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row last changed.
    pub updated_at: DateTimeUtc,
}

/// `customer_address` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
