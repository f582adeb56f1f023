//! A place stock is held at (warehouse, store).

use sea_orm::entity::prelude::*;

/// A row of `stock_location`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_location")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `code` column.
    #[sea_orm(unique)]
    pub code: String,
    /// The `name` column.
    pub name: String,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// `stock_location` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
