//! Login sessions and their rotating refresh tokens.
//!
//! A login starts a session (a family of refresh tokens). Each refresh token
//! can be exchanged once for a new one; presenting a token that was already
//! exchanged means it leaked (or a client raced itself), so the whole family
//! is revoked and every holder has to log in again. Access tokens name their
//! session, so ending a session ends its access tokens at once too.
//!
//! The session id is a bearer secret (with the token-signing key it makes
//! an access token), so only its SHA-256 digest is stored, as the session
//! row's key; lookups digest the id an access token names. A refresh token
//! carries its session's id after a `.`, so a rotation can name the session
//! in the next access token; the stored refresh token digest covers it
//! whole. A refresh token issued before ids were hashed carries none: it is
//! exchanged once more for a login in a new session (its old one ends).

use chrono::{DateTime, Duration, Utc};
use entity::{auth_session, refresh_token};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr,
};

use super::secret;
use crate::domain::error::DomainResult;

/// Who a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    /// A shop customer.
    Customer,
    /// A staff user.
    Staff,
}

impl SubjectKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Staff => "staff",
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// The holder logged out.
    Logout,
    /// A rotated refresh token was presented again.
    Reuse,
    /// The password changed or was reset.
    Password,
    /// The staff user was deactivated or changed role.
    Deactivated,
    /// A refresh token of the format before hashed session ids was
    /// exchanged for a login in a new session.
    Upgraded,
}

impl RevokeReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Reuse => "reuse",
            Self::Password => "password",
            Self::Deactivated => "deactivated",
            Self::Upgraded => "upgraded",
        }
    }
}

/// A refresh token handed to a client, with its session.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The session the token belongs to (its `id` is the stored digest).
    pub session: auth_session::Model,
    /// The session's id, for access tokens (`sid`); stored only as a digest.
    pub session_id: String,
    /// The refresh token; shown once, stored only as a digest.
    pub refresh_token: String,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone)]
pub enum Refresh {
    /// A new refresh token replaces the presented one.
    Rotated(Issued),
    /// Unknown token, or its session ended or expired.
    Invalid,
    /// The token had already been exchanged: the session is now revoked.
    Reused,
}

const REFRESH_PREFIX: &str = "emp_rt_";

/// The session id a refresh token carries (`None` in the format before
/// session ids were hashed).
fn session_id_in(token: &str) -> Option<&str> {
    token
        .strip_prefix(REFRESH_PREFIX)?
        .split_once('.')
        .map(|(_, sid)| sid)
        .filter(|sid| !sid.is_empty())
}

async fn issue(
    db: &impl ConnectionTrait,
    session: auth_session::Model,
    session_id: String,
    now: DateTime<Utc>,
) -> DomainResult<Issued> {
    let token = format!("{}.{session_id}", secret::random_token(REFRESH_PREFIX));
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        session_id: Set(session.id.clone()),
        token_hash: Set(secret::digest(&token)),
        created_at: Set(now),
        used_at: Set(None),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(Issued {
        session,
        session_id,
        refresh_token: token,
    })
}

/// Starts a session for `subject` at `now` that can be refreshed for
/// `lifetime`.
pub async fn start(
    db: &impl ConnectionTrait,
    kind: SubjectKind,
    subject_id: i64,
    lifetime: Duration,
    now: DateTime<Utc>,
) -> DomainResult<Issued> {
    let session_id = secret::random_token("");
    let session = auth_session::Model {
        id: secret::digest(&session_id),
        subject_kind: kind.as_str().to_owned(),
        subject_id,
        created_at: now,
        expires_at: now + lifetime,
        revoked_at: None,
        revoked_reason: None,
    };
    auth_session::Entity::insert(auth_session::ActiveModel {
        id: Set(session.id.clone()),
        subject_kind: Set(session.subject_kind.clone()),
        subject_id: Set(subject_id),
        created_at: Set(now),
        expires_at: Set(session.expires_at),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    issue(db, session, session_id, now).await
}

fn is_live(s: &auth_session::Model, now: DateTime<Utc>) -> bool {
    s.revoked_at.is_none() && s.expires_at > now
}

/// Exchanges a refresh token of a `kind` session for a new one at `now`
/// (an expired session's tokens are refused).
pub async fn rotate(
    db: &impl ConnectionTrait,
    kind: SubjectKind,
    token: &str,
    now: DateTime<Utc>,
) -> DomainResult<Refresh> {
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(secret::digest(token)))
        .one(db)
        .await?
    else {
        return Ok(Refresh::Invalid);
    };
    let Some(session) = auth_session::Entity::find_by_id(row.session_id.clone())
        .one(db)
        .await?
        .filter(|s| s.subject_kind == kind.as_str())
    else {
        return Ok(Refresh::Invalid);
    };
    let session_id = session_id_in(token);
    if session_id.is_some_and(|sid| secret::digest(sid) != session.id) {
        return Ok(Refresh::Invalid);
    }
    if row.used_at.is_some() {
        revoke_row(db, &session.id, RevokeReason::Reuse).await?;
        return Ok(Refresh::Reused);
    }
    if !is_live(&session, now) {
        return Ok(Refresh::Invalid);
    }
    // Claim the token; of two concurrent exchanges exactly one wins, and the
    // other is a reuse.
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        revoke_row(db, &session.id, RevokeReason::Reuse).await?;
        return Ok(Refresh::Reused);
    }
    match session_id {
        Some(sid) => Ok(Refresh::Rotated(
            issue(db, session, sid.to_owned(), now).await?,
        )),
        None => {
            // Its session's id is known only as a digest now: the login
            // goes on in a new session, for what remains of the old one.
            revoke_row(db, &session.id, RevokeReason::Upgraded).await?;
            let lifetime = session.expires_at - now;
            let kind = if session.subject_kind == SubjectKind::Staff.as_str() {
                SubjectKind::Staff
            } else {
                SubjectKind::Customer
            };
            Ok(Refresh::Rotated(
                start(db, kind, session.subject_id, lifetime, now).await?,
            ))
        }
    }
}

/// Ends the session with id `session_id` (as access tokens name it).
pub async fn revoke(
    db: &impl ConnectionTrait,
    session_id: &str,
    reason: RevokeReason,
) -> DomainResult<()> {
    revoke_row(db, &secret::digest(session_id), reason).await
}

/// Ends the session stored under the digest `row_id`.
async fn revoke_row(
    db: &impl ConnectionTrait,
    row_id: &str,
    reason: RevokeReason,
) -> DomainResult<()> {
    auth_session::Entity::update_many()
        .col_expr(auth_session::Column::RevokedAt, Expr::value(Utc::now()))
        .col_expr(
            auth_session::Column::RevokedReason,
            Expr::value(reason.as_str()),
        )
        .filter(auth_session::Column::Id.eq(row_id))
        .filter(auth_session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every session of a subject, except the one with id `keep` if given.
pub async fn revoke_all(
    db: &impl ConnectionTrait,
    kind: SubjectKind,
    subject_id: i64,
    reason: RevokeReason,
    keep: Option<&str>,
) -> DomainResult<()> {
    let mut q = auth_session::Entity::update_many()
        .col_expr(auth_session::Column::RevokedAt, Expr::value(Utc::now()))
        .col_expr(
            auth_session::Column::RevokedReason,
            Expr::value(reason.as_str()),
        )
        .filter(auth_session::Column::SubjectKind.eq(kind.as_str()))
        .filter(auth_session::Column::SubjectId.eq(subject_id))
        .filter(auth_session::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        q = q.filter(auth_session::Column::Id.ne(secret::digest(keep)));
    }
    q.exec(db).await?;
    Ok(())
}

/// The session with id `session_id` (as access tokens name it) if it is
/// neither revoked nor expired at `now`.
pub async fn live(
    db: &impl ConnectionTrait,
    session_id: &str,
    now: DateTime<Utc>,
) -> DomainResult<Option<auth_session::Model>> {
    Ok(auth_session::Entity::find_by_id(secret::digest(session_id))
        .one(db)
        .await?
        .filter(|s| is_live(s, now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_carry_their_session_id_after_a_dot() {
        assert_eq!(session_id_in("emp_rt_abc-_def.sid-1"), Some("sid-1"));
        assert_eq!(session_id_in("emp_rt_abc-_def"), None);
        assert_eq!(session_id_in("emp_rt_abc."), None);
        assert_eq!(session_id_in("other_abc.sid"), None);
    }
}
