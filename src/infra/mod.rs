//! Infrastructure: database connections (and, later, cache and event bus).

pub mod db;
