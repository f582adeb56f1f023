//! Which option value a variant has for each of its product's options.

use sea_orm::entity::prelude::*;

/// A row of `variant_option_value`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "variant_option_value")]
pub struct Model {
    /// The `variant_id` column.
    #[sea_orm(primary_key, auto_increment = false)]
    pub variant_id: i64,
    /// The `option_value_id` column.
    #[sea_orm(primary_key, auto_increment = false)]
    pub option_value_id: i64,
}

/// `variant_option_value` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
