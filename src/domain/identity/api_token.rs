//! Partner API tokens: long random secrets with a recognizable prefix,
//! stored as digests, each with its scopes, optional expiry and rate budget.

use chrono::{DateTime, Duration, Utc};
use entity::api_token;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, sea_query::Expr,
};

use super::{
    permission::{Permission, PermissionSet},
    secret,
};
use crate::domain::error::{DomainResult, Outcome, UserError, UserErrorCode};

/// Every partner token starts with this, so it is recognized in logs, diffs
/// and secret scanners.
pub const PREFIX: &str = "emp_pat_";
/// Characters of the token kept in clear to tell tokens apart.
const SHOWN: usize = PREFIX.len() + 6;
/// How stale `last_used_at` may get before a request refreshes it.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// What an admin asks for.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// What the token is for.
    pub name: String,
    /// Scopes, by name.
    pub scopes: Vec<String>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Rate budget: bucket size in cost points.
    pub rate_capacity: Option<i32>,
    /// Rate budget: points restored per second.
    pub rate_restore_per_second: Option<i32>,
    /// The staff user creating it (none from the CLI).
    pub created_by: Option<i64>,
}

/// A token as created: the stored row and the secret, shown this once.
#[derive(Debug, Clone)]
pub struct Created {
    /// The stored token.
    pub token: api_token::Model,
    /// The full secret.
    pub secret: String,
}

/// The scopes of a stored token.
pub fn scopes_of(token: &api_token::Model) -> PermissionSet {
    token
        .scopes
        .split(' ')
        .filter_map(|s| s.parse::<Permission>().ok())
        .filter(|p| p.is_scope())
        .collect()
}

/// Creates a token.
pub async fn create(db: &impl ConnectionTrait, input: NewToken) -> Outcome<Created> {
    let mut errors = Vec::new();
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        errors.push(UserError::new(
            &["name"],
            UserErrorCode::Blank,
            "the name is required",
        ));
    } else if name.chars().count() > 255 {
        errors.push(UserError::new(
            &["name"],
            UserErrorCode::TooLong,
            "at most 255 characters",
        ));
    }
    let mut scopes = Vec::new();
    for s in &input.scopes {
        match s.parse::<Permission>() {
            Ok(p) if p.is_scope() => scopes.push(p),
            _ => errors.push(UserError::new(
                &["scopes"],
                UserErrorCode::Invalid,
                format!("`{}` is not a partner scope", s.trim()),
            )),
        }
    }
    if input.scopes.is_empty() {
        errors.push(UserError::new(
            &["scopes"],
            UserErrorCode::Blank,
            "at least one scope",
        ));
    }
    if input.expires_at.is_some_and(|t| t <= Utc::now()) {
        errors.push(UserError::new(
            &["expiresAt"],
            UserErrorCode::Invalid,
            "the expiry is in the past",
        ));
    }
    if input.rate_capacity.is_some() != input.rate_restore_per_second.is_some() {
        errors.push(UserError::new(
            &["rateRestorePerSecond"],
            UserErrorCode::Invalid,
            "give rateCapacity and rateRestorePerSecond together",
        ));
    }
    for (value, field) in [
        (input.rate_capacity, "rateCapacity"),
        (input.rate_restore_per_second, "rateRestorePerSecond"),
    ] {
        if value.is_some_and(|v| v <= 0) {
            errors.push(UserError::new(
                &[field],
                UserErrorCode::Invalid,
                "must be positive",
            ));
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let secret = secret::random_token(PREFIX);
    let row = api_token::ActiveModel {
        name: Set(name),
        prefix: Set(secret.chars().take(SHOWN).collect()),
        token_hash: Set(secret::digest(&secret)),
        scopes: Set(scopes.into_iter().collect::<PermissionSet>().to_list()),
        rate_capacity: Set(input.rate_capacity),
        rate_restore_per_second: Set(input.rate_restore_per_second),
        expires_at: Set(input.expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        created_by_staff_id: Set(input.created_by),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let token = row.insert(db).await?;
    Ok(Ok(Created { token, secret }))
}

/// Every token, newest first.
pub async fn list(db: &impl ConnectionTrait) -> DomainResult<Vec<api_token::Model>> {
    Ok(api_token::Entity::find()
        .order_by_desc(api_token::Column::Id)
        .all(db)
        .await?)
}

/// The token with this id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> DomainResult<Option<api_token::Model>> {
    Ok(api_token::Entity::find_by_id(id).one(db).await?)
}

/// Revokes a token; it is refused from the next request on.
pub async fn revoke(db: &impl ConnectionTrait, id: i64) -> Outcome<api_token::Model> {
    let Some(token) = get(db, id).await? else {
        return Ok(Err(vec![UserError::new(
            &["id"],
            UserErrorCode::NotFound,
            "no such token",
        )]));
    };
    if token.revoked_at.is_some() {
        return Ok(Ok(token));
    }
    let mut row: api_token::ActiveModel = token.into();
    row.revoked_at = Set(Some(Utc::now()));
    Ok(Ok(row.update(db).await?))
}

/// Why a presented token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such token.
    Unknown,
    /// Revoked.
    Revoked,
    /// Past its expiry.
    Expired,
}

/// The token matching `secret` if it is live at `now`; refreshes its
/// last-used time when stale.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    secret: &str,
    now: DateTime<Utc>,
) -> DomainResult<Result<api_token::Model, Refused>> {
    let digest = secret::digest(secret);
    let Some(token) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(digest.as_str()))
        .one(db)
        .await?
    else {
        return Ok(Err(Refused::Unknown));
    };
    // The lookup was by digest; compare again without early exit anyway.
    if !secret::ct_eq(token.token_hash.as_bytes(), digest.as_bytes()) {
        return Ok(Err(Refused::Unknown));
    }
    if token.revoked_at.is_some() {
        return Ok(Err(Refused::Revoked));
    }
    if token.expires_at.is_some_and(|t| t <= now) {
        return Ok(Err(Refused::Expired));
    }
    if token.last_used_at.is_none_or(|t| now - t > TOUCH_EVERY) {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
            .filter(api_token::Column::Id.eq(token.id))
            .exec(db)
            .await?;
    }
    Ok(Ok(token))
}
