//! A product as merchandised: one or more variants share its title, media and options.

use sea_orm::entity::prelude::*;

pub use crate::product_status::ProductStatus;

/// A row of `product`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `handle` column.
    #[sea_orm(unique)]
    pub handle: String,
    /// The `title` column.
    pub title: String,
    /// The `description` column.
    pub description: String,
    /// The `status` column.
    pub status: ProductStatus,
    /// The `vendor` column.
    pub vendor: Option<String>,
    /// The `product_type` column.
    pub product_type: Option<String>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row last changed.
    pub updated_at: DateTimeUtc,
    /// The `published_at` column.
    pub published_at: Option<DateTimeUtc>,
}

/// `product` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
