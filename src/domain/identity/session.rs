//! Login sessions and their rotating refresh tokens.
//!
//! A login starts a session (a family of refresh tokens). Each refresh token
//! can be exchanged once for a new one; presenting a token that was already
//! exchanged means it leaked (or a client raced itself), so the whole family
//! is revoked and every holder has to log in again. Access tokens name their
//! session, so ending a session ends its access tokens at once too.

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
}

impl RevokeReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Reuse => "reuse",
            Self::Password => "password",
            Self::Deactivated => "deactivated",
        }
    }
}

/// A refresh token handed to a client, with its session.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The session the token belongs to.
    pub session: auth_session::Model,
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

async fn issue(db: &impl ConnectionTrait, session: auth_session::Model) -> DomainResult<Issued> {
    let token = secret::random_token(REFRESH_PREFIX);
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        session_id: Set(session.id.clone()),
        token_hash: Set(secret::digest(&token)),
        created_at: Set(Utc::now()),
        used_at: Set(None),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(Issued {
        session,
        refresh_token: token,
    })
}

/// Starts a session for `subject` that can be refreshed for `lifetime`.
pub async fn start(
    db: &impl ConnectionTrait,
    kind: SubjectKind,
    subject_id: i64,
    lifetime: Duration,
) -> DomainResult<Issued> {
    let now = Utc::now();
    let session = auth_session::Model {
        id: uuid::Uuid::new_v4().to_string(),
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
    issue(db, session).await
}

fn is_live(s: &auth_session::Model, now: DateTime<Utc>) -> bool {
    s.revoked_at.is_none() && s.expires_at > now
}

/// Exchanges a refresh token of a `kind` session for a new one.
pub async fn rotate(
    db: &impl ConnectionTrait,
    kind: SubjectKind,
    token: &str,
) -> DomainResult<Refresh> {
    let now = Utc::now();
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
    if row.used_at.is_some() {
        revoke(db, &session.id, RevokeReason::Reuse).await?;
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
        revoke(db, &session.id, RevokeReason::Reuse).await?;
        return Ok(Refresh::Reused);
    }
    Ok(Refresh::Rotated(issue(db, session).await?))
}

/// Ends one session.
pub async fn revoke(
    db: &impl ConnectionTrait,
    session_id: &str,
    reason: RevokeReason,
) -> DomainResult<()> {
    auth_session::Entity::update_many()
        .col_expr(auth_session::Column::RevokedAt, Expr::value(Utc::now()))
        .col_expr(
            auth_session::Column::RevokedReason,
            Expr::value(reason.as_str()),
        )
        .filter(auth_session::Column::Id.eq(session_id))
        .filter(auth_session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every session of a subject, except `keep` if given.
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
        q = q.filter(auth_session::Column::Id.ne(keep));
    }
    q.exec(db).await?;
    Ok(())
}

/// The session if it is neither revoked nor expired.
pub async fn live(
    db: &impl ConnectionTrait,
    session_id: &str,
) -> DomainResult<Option<auth_session::Model>> {
    let now = Utc::now();
    Ok(auth_session::Entity::find_by_id(session_id.to_owned())
        .one(db)
        .await?
        .filter(|s| is_live(s, now)))
}
