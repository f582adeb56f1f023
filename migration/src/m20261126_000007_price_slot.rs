//! One price per slot, enforced by the database: a slot is a variant, a
//! channel, a customer group (none: everyone) and a minimum quantity. The
//! unique index of the first step leaves "everyone" rows unconstrained,
//! since NULLs are distinct in a unique index on both backends; this one
//! indexes the group as `COALESCE(customer_group_id, 0)`.

use sea_orm_migration::prelude::*;

/// Creates `ux_variant_price_slot`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_variant_price_slot ON variant_price \
                 (variant_id, channel_id, COALESCE(customer_group_id, 0), min_quantity)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS ux_variant_price_slot")
            .await?;
        Ok(())
    }
}
