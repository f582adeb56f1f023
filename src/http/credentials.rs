//! The caller's credentials, the one way both transports read them: the
//! `Authorization` header of an HTTP request, or the `Authorization` entry
//! of a WebSocket's `connection_init` payload. Either is `Bearer <token>`
//! (an access JWT or a partner token); none at all means anonymous.

use crate::graphql::error::UNAVAILABLE;
use crate::{
    domain::identity::access::{self, Principal, Refused},
    state::AppState,
};

/// Why credentials were not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialError {
    /// Not `Bearer <token>`.
    Malformed,
    /// A token that is invalid, expired or revoked.
    Refused(Refused),
    /// They could not be checked: the database is unreachable (logged).
    Unavailable,
    /// They could not be checked (logged).
    Internal,
}

impl CredentialError {
    /// What to tell the client.
    pub fn message(self) -> &'static str {
        match self {
            Self::Malformed => "the Authorization header must be `Bearer <token>`",
            Self::Refused(r) => r.message(),
            Self::Unavailable => UNAVAILABLE,
            Self::Internal => "internal error; it has been logged",
        }
    }
}

/// Resolves `authorization` (the value of an `Authorization` header, if
/// any) to the caller and the token it carried.
pub async fn resolve(
    app: &AppState,
    authorization: Option<&str>,
) -> Result<(Principal, Option<String>), CredentialError> {
    let Some(value) = authorization else {
        return Ok((Principal::Anonymous, None));
    };
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .ok_or(CredentialError::Malformed)?;
    match access::authenticate(&app.db, &app.jwt, token, app.clock.now()).await {
        Ok(Ok(principal)) => Ok((principal, Some(token.to_owned()))),
        Ok(Err(refused)) => Err(CredentialError::Refused(refused)),
        Err(e) if e.is_unavailable() => {
            tracing::warn!(error = %e, "cannot check credentials");
            Err(CredentialError::Unavailable)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check credentials");
            Err(CredentialError::Internal)
        }
    }
}
