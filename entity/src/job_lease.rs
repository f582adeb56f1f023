//! The lease of a background job one node at a time runs.

use sea_orm::entity::prelude::*;

/// A row of `job_lease`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_lease")]
pub struct Model {
    /// Primary key: the job, e.g. `retention`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The node that last took it.
    pub holder: String,
    /// Until when it is taken.
    pub lease_until: DateTimeUtc,
}

/// `job_lease` is only joined explicitly in queries; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
