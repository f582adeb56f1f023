//! Stock levels no longer move the catalog version.
//!
//! Every cart hold, order and inventory sync writes `stock_level`. With its
//! trigger, each of those statements also updated the one `catalog_version`
//! row, so concurrent checkouts on PostgreSQL queued behind each other on it,
//! and each one started the shared row cache over. Stock is now read fresh
//! by every request (it is never kept in the row cache), and cached
//! responses showing it are dropped by the stock events, so the version has
//! nothing left to say about it.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

/// Drops the `stock_level` triggers of the catalog version.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "DROP TRIGGER IF EXISTS stock_level_bumps_catalog_version ON stock_level",
                )
                .await?;
            }
            _ => {
                for event in ["insert", "update", "delete"] {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS stock_level_{event}_bumps_catalog_version"
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE TRIGGER stock_level_bumps_catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE \
                     ON stock_level FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()",
                )
                .await?;
            }
            _ => {
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER stock_level_{}_bumps_catalog_version AFTER {event} ON stock_level \
                         BEGIN UPDATE catalog_version SET version = version + 1 WHERE id = 1; END",
                        event.to_lowercase()
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }
}
