//! A sales channel: its own currency and tax display rule.

use sea_orm::entity::prelude::*;

/// A row of `channel`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channel")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `code` column.
    #[sea_orm(unique)]
    pub code: String,
    /// The `name` column.
    pub name: String,
    /// The `currency_code` column.
    pub currency_code: String,
    /// The `prices_include_tax` column.
    pub prices_include_tax: bool,
    /// Country whose tax applies before a shopper gives an address.
    pub default_country: Option<String>,
    /// The `is_default` column.
    pub is_default: bool,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// `channel` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
