//! emporium's integration tests: one binary, one module per capability.
//!
//! Every test builds its own app on a fresh database through
//! [`harness::TestApp`]: SQLite by default, PostgreSQL (and Redis) when
//! `TEST_DATABASE_URL` / `TEST_REDIS_URL` are set.

mod accounts;
mod auth;
mod authz;
mod cache;
mod cart;
mod catalog;
mod catalog_admin;
mod checkout;
mod edge;
mod events;
mod examples;
mod feed;
mod harness;
mod http;
mod import;
mod inventory;
mod merchandising;
mod outage;
mod payments;
mod ratelimit;
mod schema;
mod seed;
mod statements;
mod subscriptions;
mod webhooks;
