//! Who is asking: the principal behind a request's bearer token.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::{
    api_token,
    jwt::{JwtKeys, TokenError},
    permission::{Permission, PermissionSet, Role},
    session::{self, SubjectKind},
    staff,
};
use crate::domain::{audit::Actor, error::DomainResult};

/// The caller of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// No credentials.
    Anonymous,
    /// A signed-in customer.
    Customer {
        /// The customer.
        id: i64,
        /// The login session.
        session: String,
    },
    /// A signed-in staff user.
    Staff {
        /// The staff user.
        id: i64,
        /// The login session.
        session: String,
        /// Their role.
        role: Role,
        /// What the token grants.
        permissions: PermissionSet,
    },
    /// A partner app with an API token.
    Partner {
        /// The token.
        token_id: i64,
        /// Its scopes.
        scopes: PermissionSet,
        /// Its own rate budget (capacity, restore per second), if set.
        rate: Option<(u32, u32)>,
    },
}

impl Principal {
    /// The audit actor behind the principal: the staff user (by email) or
    /// partner token (by name and prefix) it stands for.
    pub async fn actor(&self, db: &impl ConnectionTrait) -> DomainResult<Actor> {
        Ok(match self {
            Self::Staff { id, .. } => Actor {
                kind: "staff",
                id: Some(*id),
                label: staff::get(db, *id)
                    .await?
                    .map_or_else(|| format!("staff {id}"), |u| u.email),
            },
            Self::Partner { token_id, .. } => Actor {
                kind: "partner",
                id: Some(*token_id),
                label: api_token::get(db, *token_id).await?.map_or_else(
                    || format!("token {token_id}"),
                    |t| format!("{} ({})", t.name, t.prefix),
                ),
            },
            Self::Customer { id, .. } => Actor {
                kind: "customer",
                id: Some(*id),
                label: format!("customer {id}"),
            },
            Self::Anonymous => Actor {
                kind: "anonymous",
                id: None,
                label: "anonymous".into(),
            },
        })
    }

    /// The scope idempotency keys of this principal live in: two callers'
    /// equal keys never meet.
    pub fn idempotency_scope(&self) -> String {
        match self {
            Self::Staff { id, .. } => format!("staff:{id}"),
            Self::Partner { token_id, .. } => format!("token:{token_id}"),
            Self::Customer { id, .. } => format!("customer:{id}"),
            Self::Anonymous => "anonymous".into(),
        }
    }

    /// What the principal may do.
    pub fn permissions(&self) -> PermissionSet {
        match self {
            Self::Anonymous | Self::Customer { .. } => PermissionSet::EMPTY,
            Self::Staff { permissions, .. } => *permissions,
            Self::Partner { scopes, .. } => *scopes,
        }
    }

    /// Whether the principal holds `p`.
    pub fn can(&self, p: Permission) -> bool {
        self.permissions().contains(p)
    }

    /// The signed-in customer, if that is who is asking.
    pub fn customer_id(&self) -> Option<i64> {
        match self {
            Self::Customer { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// A short name of the kind of principal (for logs and metrics).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Customer { .. } => "customer",
            Self::Staff { .. } => "staff",
            Self::Partner { .. } => "partner",
        }
    }

    /// Whether the caller is staff or a partner app (not the storefront public).
    pub fn is_operator(&self) -> bool {
        matches!(self, Self::Staff { .. } | Self::Partner { .. })
    }
}

/// Why credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not a token this server issued, or altered.
    Invalid,
    /// Past its expiry.
    Expired,
    /// Revoked, logged out, or its user deactivated.
    Revoked,
}

impl Refused {
    /// What to tell the client.
    pub fn message(self) -> &'static str {
        match self {
            Self::Invalid => "the access token is invalid",
            Self::Expired => "the access token has expired; refresh it or log in again",
            Self::Revoked => "the access token has been revoked",
        }
    }
}

/// Resolves a bearer token: a partner token (by its prefix) or an access JWT
/// whose session is live at `now`.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    keys: &JwtKeys,
    token: &str,
    now: DateTime<Utc>,
) -> DomainResult<Result<Principal, Refused>> {
    let token = token.trim();
    if token.starts_with(api_token::PREFIX) {
        return Ok(match api_token::authenticate(db, token, now).await? {
            Ok(t) => Ok(Principal::Partner {
                token_id: t.id,
                scopes: api_token::scopes_of(&t),
                rate: t
                    .rate_capacity
                    .zip(t.rate_restore_per_second)
                    .and_then(|(c, r)| Some((u32::try_from(c).ok()?, u32::try_from(r).ok()?))),
            }),
            Err(api_token::Refused::Unknown) => Err(Refused::Invalid),
            Err(api_token::Refused::Revoked) => Err(Refused::Revoked),
            Err(api_token::Refused::Expired) => Err(Refused::Expired),
        });
    }
    let claims = match keys.verify(token) {
        Ok(c) => c,
        Err(TokenError::Expired) => return Ok(Err(Refused::Expired)),
        Err(TokenError::Invalid) => return Ok(Err(Refused::Invalid)),
    };
    let Some((kind, id)) = claims.subject() else {
        return Ok(Err(Refused::Invalid));
    };
    let Some(session) = session::live(db, &claims.sid, now).await? else {
        return Ok(Err(Refused::Revoked));
    };
    if session.subject_kind != kind.as_str() || session.subject_id != id {
        return Ok(Err(Refused::Invalid));
    }
    Ok(Ok(match kind {
        SubjectKind::Customer => Principal::Customer {
            id,
            session: claims.sid,
        },
        SubjectKind::Staff => {
            let Some(role) = claims.role.as_deref().and_then(|r| r.parse::<Role>().ok()) else {
                return Ok(Err(Refused::Invalid));
            };
            // The token carries its permissions; they can only be those of
            // its role (a staff token never grants more than the role).
            let permissions = claims
                .perms
                .iter()
                .filter_map(|p| p.parse::<Permission>().ok())
                .filter(|p| role.permissions().contains(*p))
                .collect();
            Principal::Staff {
                id,
                session: claims.sid,
                role,
                permissions,
            }
        }
    }))
}

/// How long a long-lived connection (a subscription) trusts a token it has
/// checked before checking it again.
pub const RECHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The credentials of a long-lived connection: the token it presented and
/// the principal last resolved from it. [`Credential::current`] checks the
/// token again (expiry, revocation, logout, deactivation) at most every
/// [`RECHECK_EVERY`], so a connection with many events costs one lookup per
/// interval, not one per event.
#[derive(Debug)]
pub struct Credential {
    token: Option<String>,
    last: tokio::sync::Mutex<(Principal, std::time::Instant)>,
}

impl Credential {
    /// Credentials resolved to `principal` just now (`token: None`: anonymous).
    pub fn new(token: Option<String>, principal: Principal) -> Self {
        Self {
            token,
            last: tokio::sync::Mutex::new((principal, std::time::Instant::now())),
        }
    }

    /// No credentials.
    pub fn anonymous() -> Self {
        Self::new(None, Principal::Anonymous)
    }

    /// The principal at `now`, checking the token again if it was last
    /// checked more than [`RECHECK_EVERY`] ago; `Err` once it is no longer
    /// valid.
    pub async fn current(
        &self,
        db: &impl ConnectionTrait,
        keys: &JwtKeys,
        now: DateTime<Utc>,
    ) -> DomainResult<Result<Principal, Refused>> {
        let Some(token) = &self.token else {
            return Ok(Ok(Principal::Anonymous));
        };
        let mut last = self.last.lock().await;
        if last.1.elapsed() < RECHECK_EVERY {
            return Ok(Ok(last.0.clone()));
        }
        let checked = authenticate(db, keys, token, now).await?;
        if let Ok(p) = &checked {
            *last = (p.clone(), std::time::Instant::now());
        }
        Ok(checked)
    }
}
