//! emporium: a GraphQL headless-commerce API server.
//!
//! Layers, and the only direction they may point:
//! `http` -> `graphql` -> `domain` -> `entity`; `infra` is used by all of them.
//! Domain code knows nothing of GraphQL or HTTP, so it is tested as plain
//! functions; resolvers parse, authorize and call the domain.

pub mod app;
pub mod config;
pub mod domain;
pub mod graphql;
pub mod http;
pub mod infra;
pub mod seed;
