//! One recorded move of an order's state machine.

use sea_orm::entity::prelude::*;

/// A row of `order_transition`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_transition")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// Event kind.
    pub event: String,
    /// JSON of the event.
    pub detail: String,
    /// `order/payment/fulfillment` before.
    pub from_status: String,
    /// `order/payment/fulfillment` after.
    pub to_status: String,
    /// Who: `customer:7`, `staff:2`, `gateway:stripe` ...
    pub actor: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// `order_transition` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
