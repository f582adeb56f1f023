//! Infrastructure: database connections and the response cache (an event bus
//! and a shared Redis tier come with the multi-node work).

pub mod cache;
pub mod db;
pub mod rows;
