//! The transactional outbox: domain events written in the same transaction
//! as the change that raises them, relayed to the event bus afterwards.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `outbox_event`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("outbox_event")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("event_id", 36))
                .col(string_len("topic", 64))
                .col(text("payload"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("published_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_outbox_event_published_at_id")
                .table("outbox_event")
                .col("published_at")
                .col("id")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("outbox_event").to_owned())
            .await
    }
}
