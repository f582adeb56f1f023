//! Staff users: created by an admin (or the CLI for the first one), each with
//! one role.

use chrono::Utc;
use entity::staff_user;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::{
    customer::check_credentials,
    password::Hashing,
    permission::Role,
    session::{self, RevokeReason, SubjectKind},
};
use crate::domain::error::{
    DomainError, DomainResult, Outcome, UserError, UserErrorCode, is_unique_violation,
};

/// The role of a stored staff user.
pub fn role_of(user: &staff_user::Model) -> DomainResult<Role> {
    user.role.parse().map_err(|_| {
        DomainError::Inconsistent(format!("staff user {} has role `{}`", user.id, user.role))
    })
}

/// What a new staff user gets.
#[derive(Debug, Clone)]
pub struct NewStaff {
    /// Email (stored lower-cased).
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Password, checked against the policy.
    pub password: String,
    /// Role.
    pub role: Role,
}

/// Creates a staff user (a taken email costs the same work as a new user).
pub async fn create(
    db: &impl ConnectionTrait,
    hashing: &Hashing,
    input: NewStaff,
) -> Outcome<staff_user::Model> {
    let (email, errors) = check_credentials(&input.email, &input.password);
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return Ok(Err(errors));
    };
    let taken = || {
        vec![UserError::new(
            &["email"],
            UserErrorCode::Taken,
            "a staff user with this email already exists",
        )]
    };
    let exists = find_by_email(db, &email).await?.is_some();
    let hash = hashing.hash(&input.password).await?;
    if exists {
        return Ok(Err(taken()));
    }
    let row = staff_user::ActiveModel {
        email: Set(email),
        name: Set(input
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())),
        password_hash: Set(hash),
        role: Set(input.role.as_str().to_owned()),
        active: Set(true),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
        ..Default::default()
    };
    match row.insert(db).await {
        Ok(m) => Ok(Ok(m)),
        Err(e) if is_unique_violation(&e) => Ok(Err(taken())),
        Err(e) => Err(e.into()),
    }
}

/// The staff user with this email.
pub async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> DomainResult<Option<staff_user::Model>> {
    Ok(staff_user::Entity::find()
        .filter(staff_user::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?)
}

/// The staff user with this id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> DomainResult<Option<staff_user::Model>> {
    Ok(staff_user::Entity::find_by_id(id).one(db).await?)
}

/// Every staff user, oldest first.
pub async fn list(db: &impl ConnectionTrait) -> DomainResult<Vec<staff_user::Model>> {
    Ok(staff_user::Entity::find()
        .order_by_asc(staff_user::Column::Id)
        .all(db)
        .await?)
}

/// The active staff user whose email and password match (same work and
/// answer for an unknown email, a wrong password and a deactivated user).
pub async fn authenticate(
    db: &impl ConnectionTrait,
    hashing: &Hashing,
    email: &str,
    password: &str,
) -> DomainResult<Option<staff_user::Model>> {
    let found = find_by_email(db, email).await?;
    let ok = hashing
        .verify(password, found.as_ref().map(|s| s.password_hash.as_str()))
        .await?;
    let Some(user) = found.filter(|u| ok && u.active) else {
        return Ok(None);
    };
    let mut row: staff_user::ActiveModel = user.into();
    row.last_login_at = Set(Some(Utc::now()));
    Ok(Some(row.update(db).await?))
}

/// Changes a staff user's role and whether they are active. Either change
/// ends the user's sessions, so their tokens never outlive their rights.
pub async fn update(
    db: &impl ConnectionTrait,
    id: i64,
    role: Option<Role>,
    active: Option<bool>,
) -> Outcome<staff_user::Model> {
    let Some(user) = get(db, id).await? else {
        return Ok(Err(vec![UserError::new(
            &["id"],
            UserErrorCode::NotFound,
            "no such staff user",
        )]));
    };
    let changes =
        role.is_some_and(|r| r.as_str() != user.role) || active.is_some_and(|a| a != user.active);
    let mut row: staff_user::ActiveModel = user.into();
    if let Some(role) = role {
        row.role = Set(role.as_str().to_owned());
    }
    if let Some(active) = active {
        row.active = Set(active);
    }
    let updated = row.update(db).await?;
    if changes {
        session::revoke_all(db, SubjectKind::Staff, id, RevokeReason::Deactivated, None).await?;
    }
    Ok(Ok(updated))
}
