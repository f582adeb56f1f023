//! A customer's store credit in one currency.

use sea_orm::entity::prelude::*;

/// A row of `store_credit_account`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "store_credit_account")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The customer.
    pub customer_id: i64,
    /// Currency.
    pub currency_code: String,
    /// Sum of its ledger entries, kept in the same transaction.
    pub balance_minor: i64,
}

/// `store_credit_account` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
