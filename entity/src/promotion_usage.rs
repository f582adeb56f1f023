//! One use of a promotion by an order.

use sea_orm::entity::prelude::*;

/// A row of `promotion_usage`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "promotion_usage")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The promotion.
    pub promotion_id: i64,
    /// The order that used it.
    pub order_id: i64,
    /// The customer, when signed in.
    pub customer_id: Option<i64>,
    /// When.
    pub created_at: DateTimeUtc,
}

/// `promotion_usage` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
