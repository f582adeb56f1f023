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
    /// An argument is malformed in a way no user error of the operation's
    /// payload describes (e.g. an idempotency key over 255 characters).
    #[error("{0}")]
    InvalidArgument(String),
    /// A bounded resource (password hashing) is saturated: retry shortly.
    #[error("too many {what} at once; retry in {retry_after:?}")]
    Busy {
        /// What is saturated, e.g. `password checks`.
        what: &'static str,
        /// When a retry may succeed.
        retry_after: std::time::Duration,
    },
}

impl From<sea_orm::DbErr> for DomainError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Storage(Arc::new(e))
    }
}

/// Result of a domain operation.
pub type DomainResult<T> = Result<T, DomainError>;

/// A client's input checked: accepted (`Ok`), or refused with the mistakes
/// found (`Err`), in which case nothing was written.
pub type Checked<T> = Result<T, Vec<UserError>>;

/// What a use case that checks its input answers: `Ok(Ok(value))` when it
/// was done, `Ok(Err(mistakes))` when the input was refused and nothing was
/// written, `Err(e)` when it failed (storage, inconsistent data).
pub type Outcome<T> = DomainResult<Checked<T>>;

impl DomainError {
    /// Whether the database could not be reached (see [`lost_connection`]):
    /// nothing is wrong with the request, and it may be sent again.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Storage(e) if lost_connection(e))
    }
}

/// Whether a database error means the database could not be reached, as
/// opposed to a statement it refused: no connection to be had (the pool
/// timed out or was closed, connecting failed), or the connection broke
/// (I/O or TLS failure, the server shutting down or terminating the
/// session). A transaction that failed so before its commit was rolled
/// back with its connection.
pub fn lost_connection(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx::Error};
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                Error::Io(_)
                | Error::Tls(_)
                | Error::PoolTimedOut
                | Error::PoolClosed
                | Error::WorkerCrashed => true,
                // SQLSTATE class 08 (connection exception) and the server
                // going away: admin_shutdown, crash_shutdown,
                // cannot_connect_now.
                Error::Database(db) => db.code().is_some_and(|code| {
                    code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
                }),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether a write failed on a unique index (two writers racing for one value).
pub fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Stable codes of the mistakes a client can make in a mutation's input,
/// reported as typed `userErrors` (the operation changed nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum UserErrorCode {
    /// A required value is empty.
    Blank,
    /// The value does not have the expected form.
    Invalid,
    /// The value must be unique and is already used.
    Taken,
    /// The value is too short.
    TooShort,
    /// The value is too long.
    TooLong,
    /// The password is too easy to guess.
    PasswordTooWeak,
    /// The email and password do not match an account (or the account cannot log in).
    InvalidCredentials,
    /// The current password given is wrong.
    WrongPassword,
    /// A one-time token is unknown, used or expired.
    TokenInvalid,
    /// The object named does not exist or is not yours.
    NotFound,
    /// Not enough stock: the error carries the quantity still available.
    OutOfStock,
    /// The variant does not exist or is not for sale in this channel.
    VariantNotFound,
    /// A discount or gift card code is unknown, expired or used up.
    InvalidCode,
    /// A gift card or store credit is in another currency than the cart.
    CurrencyMismatch,
    /// Checkout needs an email.
    MissingEmail,
    /// Checkout needs a shipping address for shippable lines.
    MissingShippingAddress,
    /// Checkout needs a shipping method for shippable lines.
    MissingShippingMethod,
    /// The shipping method is not offered for this cart.
    InvalidShippingMethod,
    /// The cart has no lines.
    EmptyCart,
    /// The cart was already checked out.
    CartCompleted,
    /// The payment was declined by the gateway.
    PaymentDeclined,
    /// The payment gateway could not be reached or failed; nothing was charged.
    PaymentFailed,
    /// The idempotency key was used before with a different request.
    IdempotencyKeyReused,
    /// The first request with this idempotency key is still running.
    RequestInProgress,
    /// The buyer (email, customer or client address) already has as many
    /// orders awaiting payment as allowed; a payment secured at checkout
    /// (a card) is not refused.
    TooManyUnpaidOrders,
    /// A webhook URL is not an absolute http or https URL.
    InvalidUrl,
    /// A webhook URL's host is not on the public internet (loopback,
    /// private, link-local ... addresses, `localhost`).
    PrivateUrl,
    /// A webhook topic is not one of the event topics.
    UnknownTopic,
}

/// One mistake in a mutation's input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserError {
    /// The input at fault, if any, named as the use case was given it: a
    /// field of its input (`["email"]`, `["variants", "2", "sku"]`) or the
    /// object it acts on (`["id"]`). The API layer maps this to where the
    /// field sits in its own arguments.
    pub field: Vec<String>,
    /// Stable code.
    pub code: UserErrorCode,
    /// What is wrong, for people.
    pub message: String,
    /// For [`UserErrorCode::OutOfStock`]: units still available.
    pub quantity_available: Option<i64>,
}

impl UserError {
    /// An out-of-stock error at `field` with what is still available.
    pub fn out_of_stock(field: &[&str], available: i64, message: impl Into<String>) -> Self {
        Self {
            quantity_available: Some(available.max(0)),
            ..Self::new(field, UserErrorCode::OutOfStock, message)
        }
    }

    /// A mistake in the input at `field`.
    pub fn new(field: &[&str], code: UserErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.iter().map(|s| (*s).to_owned()).collect(),
            code,
            message: message.into(),
            quantity_available: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, sqlx};

    use super::*;

    fn query(e: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
    }

    #[test]
    fn a_lost_connection_is_told_from_a_refused_statement() {
        assert!(lost_connection(&DbErr::ConnectionAcquire(
            ConnAcquireErr::Timeout
        )));
        assert!(lost_connection(&query(sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset)
        ))));
        assert!(lost_connection(&query(sqlx::Error::PoolClosed)));
        assert!(lost_connection(&DbErr::Conn(RuntimeErr::Internal(
            "connection refused".into()
        ))));
        assert!(!lost_connection(&query(sqlx::Error::RowNotFound)));
        assert!(!lost_connection(&query(sqlx::Error::Protocol("x".into()))));
        assert!(!lost_connection(&DbErr::Custom("x".into())));
        assert!(!lost_connection(&DbErr::RecordNotFound("x".into())));
        assert!(DomainError::from(query(sqlx::Error::PoolTimedOut)).is_unavailable());
        assert!(!DomainError::Inconsistent("x".into()).is_unavailable());
    }
}
