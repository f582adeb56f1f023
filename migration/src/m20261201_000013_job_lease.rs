//! Leases of background jobs that one node at a time should run (the
//! retention purge): a node runs a round only after moving the job's
//! `lease_until` from the past into the future with one conditional
//! update, so of several nodes exactly one wins each round.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `job_lease`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("job_lease")
                .col(string_len("name", 64).primary_key())
                // The node that holds it (a random id per process).
                .col(string_len("holder", 64))
                .col(timestamp_with_time_zone("lease_until"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("job_lease").to_owned())
            .await
    }
}
