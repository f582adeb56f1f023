//! A once-per-customer promotion held for a checkout in flight, so that
//! concurrent checkouts of one customer cannot both use it.

use sea_orm::entity::prelude::*;

/// A row of `promotion_claim`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "promotion_claim")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The promotion.
    pub promotion_id: i64,
    /// The customer using it.
    pub customer_id: i64,
    /// The cart being checked out.
    pub cart_id: i64,
    /// Counted until then (the checkout's stock hold).
    pub expires_at: DateTimeUtc,
    /// When.
    pub created_at: DateTimeUtc,
}

/// `promotion_claim` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
