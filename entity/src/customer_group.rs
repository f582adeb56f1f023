//! A group of customers that may get their own price list (wholesale, staff ...).

use sea_orm::entity::prelude::*;

/// A row of `customer_group`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_group")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `code` column.
    #[sea_orm(unique)]
    pub code: String,
    /// The `name` column.
    pub name: String,
}

/// `customer_group` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
