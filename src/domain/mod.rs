//! Business rules, free of GraphQL and HTTP types.
//!
//! Functions take a `&impl ConnectionTrait` so a use case can run them inside
//! one transaction; errors are per-use-case enums mapped once in `graphql::error`.

pub mod audit;
pub mod catalog;
pub mod catalog_admin;
pub mod channel;
pub mod checkout;
pub mod clock;
pub mod error;
pub mod events;
pub mod feed;
pub mod fulfillment;
pub mod gid;
pub mod idempotency;
pub mod identity;
pub mod import;
pub mod inventory;
pub mod merchandising;
pub mod money;
pub mod notifications;
pub mod order_state;
pub mod order_timeline;
pub mod orders;
pub mod orders_search;
pub mod payments;
pub mod pricing;
pub mod retention;
pub mod sealing;
pub mod settings;
pub mod tx;
pub mod webhooks_out;
