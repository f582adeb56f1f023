//! A catalog version that every change to catalog data moves forward, kept by
//! database triggers so that no writer can forget it: the API, the CLI, an
//! import, another node, or an operator's hand-written SQL.
//!
//! Cached storefront responses are tagged with the version they were built
//! at and are served only while it is current. The counter row is updated in
//! the writer's own transaction, so a reader never sees a new version before
//! the data it stands for.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

/// Creates `catalog_version` and the triggers that bump it.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables whose rows make up what the storefront catalog shows.
const CATALOG_TABLES: &[&str] = &[
    "channel",
    "customer_group",
    "product",
    "product_tag",
    "product_option",
    "product_option_value",
    "variant",
    "variant_option_value",
    "variant_price",
    "collection",
    "collection_product",
    "media",
    "stock_location",
    "stock_level",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE TABLE catalog_version (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)",
        )
        .await?;
        db.execute_unprepared("INSERT INTO catalog_version (id, version) VALUES (1, 1)")
            .await?;
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION bump_catalog_version() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN UPDATE catalog_version SET version = version + 1 WHERE id = 1; RETURN NULL; END $$",
                )
                .await?;
                for t in CATALOG_TABLES {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {t}_bumps_catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE \
                         ON {t} FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()"
                    ))
                    .await?;
                }
            }
            _ => {
                for t in CATALOG_TABLES {
                    for event in ["INSERT", "UPDATE", "DELETE"] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {t}_{}_bumps_catalog_version AFTER {event} ON {t} \
                             BEGIN UPDATE catalog_version SET version = version + 1 WHERE id = 1; END",
                            event.to_lowercase()
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                for t in CATALOG_TABLES {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS {t}_bumps_catalog_version ON {t}"
                    ))
                    .await?;
                }
                db.execute_unprepared("DROP FUNCTION IF EXISTS bump_catalog_version()")
                    .await?;
            }
            _ => {
                for t in CATALOG_TABLES {
                    for event in ["insert", "update", "delete"] {
                        db.execute_unprepared(&format!(
                            "DROP TRIGGER IF EXISTS {t}_{event}_bumps_catalog_version"
                        ))
                        .await?;
                    }
                }
            }
        }
        db.execute_unprepared("DROP TABLE catalog_version").await?;
        Ok(())
    }
}
