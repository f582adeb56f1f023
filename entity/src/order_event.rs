//! One entry of an order's timeline: a note, a payment, a fulfilment, a refund, a notification ...

use sea_orm::entity::prelude::*;

/// A row of `order_event`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_event")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// `note`, `captured`, `marked_paid`, `fulfilled`, `refunded`, `cancelled` ...
    pub kind: String,
    /// For people.
    pub message: String,
    /// JSON with the ids and amounts involved.
    pub detail: String,
    /// Who: `staff:2`, `token:5`, `carrier:easypost`, `system` ...
    pub actor: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// `order_event` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
