//! A gift card; its code is stored only as a hash.

use sea_orm::entity::prelude::*;

/// A row of `gift_card`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gift_card")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// SHA-256 of the normalized code.
    pub code_hash: String,
    /// Last characters of the code, for display.
    pub last_chars: String,
    /// Currency of the balance.
    pub currency_code: String,
    /// Amount issued.
    pub initial_minor: i64,
    /// Sum of its ledger entries, kept in the same transaction.
    pub balance_minor: i64,
    /// Unusable after.
    pub expires_at: Option<DateTimeUtc>,
    /// Switched off by staff.
    pub disabled: bool,
    /// Issue time.
    pub created_at: DateTimeUtc,
}

/// `gift_card` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
