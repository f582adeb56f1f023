//! Errors the domain reports. Storage failures are kept whole for the logs;
//! the GraphQL layer turns them into a generic INTERNAL error for clients.

use std::sync::Arc;

/// A failure of a domain operation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DomainError {
    /// The database failed; the cause is logged, never sent to clients.
    #[error("storage error: {0}")]
    Storage(Arc<sea_orm::DbErr>),
    /// The request named a channel that does not exist.
    #[error("unknown channel `{0}`")]
    UnknownChannel(String),
    /// Stored data breaks an invariant (e.g. a currency we do not know).
    #[error("inconsistent data: {0}")]
    Inconsistent(String),
}

impl From<sea_orm::DbErr> for DomainError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Storage(Arc::new(e))
    }
}

/// Result of a domain operation.
pub type DomainResult<T> = Result<T, DomainError>;
