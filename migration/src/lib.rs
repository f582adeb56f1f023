//! Schema migrations of emporium, one module per step, applied in order by
//! `emporium migrate` (and by `emporium serve` at start).
//!
//! A step that has landed on `main` is never edited again: later changes are
//! new steps, so every database reaches the same schema by the same path.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_catalog;
mod m20261125_000002_catalog_version;
mod m20261126_000003_identity;
mod m20261126_000004_audit_inventory;
mod m20261126_000006_outbox;
mod m20261126_000007_price_slot;
mod m20261126_000008_commerce;
mod m20261126_000009_webhooks;
mod m20261126_000010_stock_outside_catalog_version;
mod m20261127_000011_checkout_limits;
mod m20261201_000012_secrets_at_rest;
mod m20261201_000013_job_lease;
mod m20261203_000014_orders_after_payment;
mod m20261203_000015_notifications;

/// The ordered list of migration steps.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_catalog::Migration),
            Box::new(m20261125_000002_catalog_version::Migration),
            Box::new(m20261126_000003_identity::Migration),
            Box::new(m20261126_000004_audit_inventory::Migration),
            Box::new(m20261126_000006_outbox::Migration),
            Box::new(m20261126_000007_price_slot::Migration),
            Box::new(m20261126_000008_commerce::Migration),
            Box::new(m20261126_000009_webhooks::Migration),
            Box::new(m20261126_000010_stock_outside_catalog_version::Migration),
            Box::new(m20261127_000011_checkout_limits::Migration),
            Box::new(m20261201_000012_secrets_at_rest::Migration),
            Box::new(m20261201_000013_job_lease::Migration),
            Box::new(m20261203_000014_orders_after_payment::Migration),
            Box::new(m20261203_000015_notifications::Migration),
        ]
    }
}
