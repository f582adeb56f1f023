//! A notification template a merchant changed (kinds without a row use the
//! default shipped in the binary).

use sea_orm::entity::prelude::*;

/// A row of `notification_template`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_template")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Which notification (unique).
    pub kind: String,
    /// Subject line template.
    pub subject: String,
    /// Plain-text body template.
    pub text_body: String,
    /// HTML body template.
    pub html_body: String,
    /// Who changed it last.
    pub updated_by: String,
    /// When.
    pub updated_at: DateTimeUtc,
}

/// `notification_template` relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
