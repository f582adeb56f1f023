//! emporium: a GraphQL headless-commerce API server.
//!
//! Layers, and the only direction they may point:
//! `http` -> `graphql` -> `domain` -> `entity`, and `infra` -> `domain`:
//! infra (caches, rate limits, mail, the event bus) implements what the
//! domain needs and imports its types, never the other way round. Domain
//! code knows nothing of GraphQL, HTTP or infra, so it is tested as plain
//! functions; resolvers parse, authorize and call the domain. `app`
//! assembles a node from all of them (see `docs/architecture.md`).

pub mod app;
pub mod config;
pub mod domain;
pub mod graphql;
pub mod http;
pub mod infra;
pub mod seed;
pub mod state;
