//! Infrastructure: database connections, the response and row caches (with a
//! shared Redis tier), the event bus and outbox relay, metrics, rate
//! limiting, mail (and the customer notification worker) and the master
//! key's source.

pub mod cache;
pub mod db;
pub mod events;
pub mod keys;
pub mod live;
pub mod mail;
pub mod metrics;
pub mod notify;
pub mod ratelimit;
pub mod rows;
