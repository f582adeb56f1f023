//! The audit trail (a hash chain with a single head row that serializes
//! appends), inventory movements, and the source timestamp of the last
//! update applied to each stock level (so a stale update from an ERP is
//! ignored rather than applied).

use sea_orm_migration::{prelude::*, schema::*};

/// Creates the audit and inventory-history tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("audit_entry")
                .col(big_integer("id").primary_key())
                .col(timestamp_with_time_zone("at"))
                .col(string_len("actor_kind", 16))
                .col(big_integer_null("actor_id"))
                .col(string("actor_label"))
                .col(string_len("action", 64))
                .col(string_len("entity_type", 64))
                .col(string_len("entity_id", 128))
                .col(text_null("before"))
                .col(text_null("after"))
                .col(char_len("prev_hash", 64))
                .col(char_len("hash", 64))
                .to_owned(),
        )
        .await?;
        for cols in [
            &["entity_type", "entity_id"][..],
            &["actor_kind", "actor_id"][..],
        ] {
            let mut idx = Index::create();
            idx.name(format!("ix_audit_entry_{}", cols.join("_")))
                .table("audit_entry");
            for c in cols {
                idx.col(*c);
            }
            m.create_index(idx.to_owned()).await?;
        }
        // One row: the last entry's sequence number and hash. Every audited
        // write updates it first, which takes the write lock (SQLite) or the
        // row lock (PostgreSQL) before anything else: appends never race.
        m.create_table(
            Table::create()
                .table("audit_head")
                .col(integer("id").primary_key())
                .col(big_integer("seq"))
                .col(char_len("hash", 64))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table("audit_head")
                .columns(["id", "seq", "hash"])
                .values_panic([1.into(), 0i64.into(), "0".repeat(64).into()])
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("inventory_movement")
                .col(big_pk_auto("id"))
                .col(big_integer("variant_id"))
                .col(big_integer("location_id"))
                .col(integer("delta"))
                .col(integer("on_hand_after"))
                .col(string_len("reason", 32))
                .col(string_null("reference"))
                .col(string("actor_label"))
                .col(timestamp_with_time_zone_null("source_at"))
                .col(timestamp_with_time_zone("at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_inventory_movement_variant_id")
                        .from("inventory_movement", "variant_id")
                        .to("variant", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_inventory_movement_variant_id_id")
                .table("inventory_movement")
                .col("variant_id")
                .col("id")
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("stock_level")
                .add_column(timestamp_with_time_zone_null("source_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("idempotency_key")
                .col(string_len("scope", 128))
                .col(string_len("key", 255))
                .col(char_len("request_hash", 64))
                .col(text_null("response"))
                .col(timestamp_with_time_zone("created_at"))
                .primary_key(Index::create().col("scope").col("key"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("idempotency_key").to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table("stock_level")
                .drop_column("source_at")
                .to_owned(),
        )
        .await?;
        for table in ["inventory_movement", "audit_head", "audit_entry"] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
