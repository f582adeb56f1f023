//! A payment of an order at a gateway.

use sea_orm::entity::prelude::*;

/// A row of `payment`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// Gateway code.
    pub gateway: String,
    /// The gateway's id for it.
    pub reference: String,
    /// Currency.
    pub currency_code: String,
    /// Amount asked.
    pub amount_minor: i64,
    /// `pending`, `requires_action`, `authorized`, `captured`, `voided`, `failed`.
    pub status: String,
    /// Always empty: a gateway's client secret goes to the customer in the
    /// checkout's answer and is not kept.
    pub client_secret: Option<String>,
    /// When.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// `payment` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
