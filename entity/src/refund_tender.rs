//! The part of a refund paid back to one tender.

use sea_orm::entity::prelude::*;

/// A row of `refund_tender`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refund_tender")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The refund.
    pub refund_id: i64,
    /// `card` (a gateway payment), `gift_card` or `store_credit`.
    pub tender: String,
    /// The gateway payment, for `card`.
    pub payment_id: Option<i64>,
    /// The gift card, for `gift_card`.
    pub gift_card_id: Option<i64>,
    /// The account, for `store_credit`.
    pub store_credit_account_id: Option<i64>,
    /// Amount.
    pub amount_minor: i64,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// The gateway's id of the refund.
    pub reference: Option<String>,
    /// Attempts made.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// `refund_tender` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
