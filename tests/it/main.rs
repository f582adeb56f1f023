//! emporium's integration tests: one binary, one module per capability.
//!
//! Every test builds its own app on a fresh database through
//! [`harness::TestApp`]: SQLite by default, PostgreSQL (and Redis) when
//! `TEST_DATABASE_URL` / `TEST_REDIS_URL` are set.

mod accounts;
mod auth;
mod authz;
mod authz_paths;
mod cache;
mod cart;
mod catalog;
mod catalog_admin;
mod checkout;
mod checkout_limits;
mod codes;
mod db_outage;
mod defaults;
mod docs;
mod edge;
mod events;
mod examples;
mod feed;
mod fulfillment;
mod harness;
mod http;
mod import;
mod inventory;
mod lifecycle;
mod merchandising;
mod notifications;
mod orders_money;
mod orders_release;
mod orders_staff;
mod passwords;
mod payments;
mod ratelimit;
mod redis_outage;
mod retention;
mod schema;
mod secrets;
mod seed;
mod settings;
mod snapshots;
mod statements;
mod subscriptions;
mod webhooks;
