//! Infrastructure: database connections, caches, rate limiting and mail (an
//! event bus and a shared Redis cache tier come with the multi-node work).

pub mod cache;
pub mod db;
pub mod events;
pub mod live;
pub mod mail;
pub mod ratelimit;
pub mod rows;
