//! The one mapping of errors to what clients see.
//!
//! Policy: every error a client receives carries a stable `extensions.code`
//! from [`ErrorCode`]. Client mistakes say what was wrong; internal failures
//! (database, inconsistent data) are logged here with their cause and reach
//! the client only as `INTERNAL` with a generic message, except a database
//! that cannot be reached: that is `SERVICE_UNAVAILABLE`, which a client may
//! retry (over HTTP a 503 with `Retry-After`).

use async_graphql::ErrorExtensions;

use crate::domain::error::DomainError;

/// Stable error codes clients may rely on (`extensions.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The document does not parse.
    GraphqlParseFailed,
    /// The document does not validate against the schema.
    GraphqlValidationFailed,
    /// An argument or variable has a bad value.
    BadUserInput,
    /// The query is too deep, too complex or has too many aliases.
    TooComplex,
    /// The HTTP request is malformed (bad JSON, no query, bad parameters).
    BadRequest,
    /// The body is larger than the configured limit.
    PayloadTooLarge,
    /// The request's content type is not `application/json`.
    UnsupportedMediaType,
    /// The `Accept` header names no media type the server can produce.
    NotAcceptable,
    /// A mutation was sent with GET.
    MethodNotAllowed,
    /// No credentials, or bad ones.
    Unauthenticated,
    /// Authenticated but not allowed.
    Forbidden,
    /// No such object, or not one the caller may see (indistinguishable).
    NotFound,
    /// Over the request budget.
    RateLimited,
    /// The server cannot answer now (the database is unreachable, or the
    /// node is at its limit of requests in flight); retry shortly.
    ServiceUnavailable,
    /// Something failed on the server; details are in the server log.
    Internal,
}

impl ErrorCode {
    /// The code as sent in `extensions.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Self::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::TooComplex => "TOO_COMPLEX",
            Self::BadRequest => "BAD_REQUEST",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::NotAcceptable => "NOT_ACCEPTABLE",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::RateLimited => "RATE_LIMITED",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }

    /// A resolver error with this code.
    pub fn error(self, message: impl Into<String>) -> ApiError {
        ApiError::Graphql(self.graphql_error(message))
    }

    /// An async-graphql error with this code.
    pub fn graphql_error(self, message: impl Into<String>) -> async_graphql::Error {
        async_graphql::Error::new(message).extend_with(|_, e| e.set("code", self.as_str()))
    }

    /// A server error (as returned by parsing and validation) with this code.
    pub fn server_error(self, message: impl Into<String>) -> async_graphql::ServerError {
        let mut e = async_graphql::ServerError::new(message, None);
        set_code(&mut e, self);
        e
    }
}

/// Sets `extensions.code` on a server error unless it already has one.
pub fn set_code(e: &mut async_graphql::ServerError, code: ErrorCode) {
    let ext = e.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code.as_str());
    }
}

/// Whether a server error already carries a code.
pub fn has_code(e: &async_graphql::ServerError) -> bool {
    e.extensions
        .as_ref()
        .is_some_and(|x| x.get("code").is_some())
}

/// An error a resolver returns: a domain failure, or an already shaped
/// GraphQL error. It deliberately has no `Display`, so it never reaches a
/// client through async-graphql's catch-all conversion: only through the
/// mapping below, which sets the code and hides internal causes.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// A failure reported by domain code.
    Domain(DomainError),
    /// An error already carrying its code.
    Graphql(async_graphql::Error),
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self::Domain(e)
    }
}

impl From<async_graphql::Error> for ApiError {
    fn from(e: async_graphql::Error) -> Self {
        Self::Graphql(e)
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Graphql(e) => e,
            ApiError::Domain(DomainError::UnknownChannel(code)) => {
                ErrorCode::BadUserInput.graphql_error(format!("unknown channel `{code}`"))
            }
            ApiError::Domain(DomainError::InvalidArgument(message)) => {
                ErrorCode::BadUserInput.graphql_error(message)
            }
            ApiError::Domain(DomainError::Busy { what, retry_after }) => {
                let ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX);
                ErrorCode::RateLimited
                    .graphql_error(format!(
                        "too many {what} at once on this server; retry in {ms} ms"
                    ))
                    .extend_with(|_, e| e.set("retryAfterMs", ms))
            }
            ApiError::Domain(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                ErrorCode::ServiceUnavailable.graphql_error(UNAVAILABLE)
            }
            ApiError::Domain(e @ (DomainError::Storage(_) | DomainError::Inconsistent(_))) => {
                tracing::error!(error = %e, "internal error");
                ErrorCode::Internal.graphql_error("internal error; it has been logged")
            }
        }
    }
}

/// What a client is told when the database cannot be reached.
pub const UNAVAILABLE: &str = "the database is unavailable; retry shortly";

/// Result type of resolvers.
pub type ApiResult<T> = Result<T, ApiError>;
