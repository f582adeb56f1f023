//! Retention: rows kept only for a while are purged by a background job.
//!
//! - carts not changed for [`Policy::carts`] (abandoned, or long since
//!   checked out: the order keeps what was bought), unless stock is still
//!   held for them (the reservation sweeper releases that first);
//! - idempotency keys older than [`Policy::idempotency_keys`] (a retry
//!   after that runs as a new request);
//! - login sessions ended (expired or revoked) more than
//!   [`Policy::sessions`] ago, with their refresh tokens;
//! - password reset tokens expired more than [`Policy::reset_tokens`] ago.
//!
//! Rounds are claimed through a lease ([`claim`]): every node runs the job,
//! and of nodes sharing a database exactly one purges per interval. Rows go
//! in batches, each its own short statement, so a first purge of a large
//! backlog never holds a long lock.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use entity::{
    auth_session, cart, idempotency_key, job_lease, password_reset, refresh_token, reservation,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect,
    sea_query::{Expr, OnConflict, Query},
};

use super::{clock::Clock, error::DomainResult};

/// The name of the retention job's lease.
pub const JOB: &str = "retention";

/// Rows per delete statement.
const BATCH: u64 = 500;

/// How long rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Carts, after their last change.
    pub carts: TimeDelta,
    /// Idempotency keys, after their first use.
    pub idempotency_keys: TimeDelta,
    /// Sessions, after they expired or were revoked.
    pub sessions: TimeDelta,
    /// Password reset tokens, after they expired.
    pub reset_tokens: TimeDelta,
}

/// What a round purged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Carts (their lines with them).
    pub carts: u64,
    /// Idempotency keys.
    pub idempotency_keys: u64,
    /// Sessions.
    pub sessions: u64,
    /// Refresh tokens of those sessions.
    pub refresh_tokens: u64,
    /// Password reset tokens.
    pub reset_tokens: u64,
}

/// Takes the lease of `job` for `lease` if nobody holds it at `now`;
/// whether `holder` got it. One conditional update decides between nodes.
pub async fn claim(
    db: &impl ConnectionTrait,
    job: &str,
    holder: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    let now = now.trunc_subsecs(6);
    job_lease::Entity::insert(job_lease::ActiveModel {
        name: sea_orm::Set(job.to_owned()),
        holder: sea_orm::Set(String::new()),
        lease_until: sea_orm::Set(DateTime::<Utc>::UNIX_EPOCH),
    })
    .on_conflict(
        OnConflict::column(job_lease::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let until = now + TimeDelta::from_std(lease).unwrap_or(TimeDelta::hours(1));
    let taken = job_lease::Entity::update_many()
        .col_expr(job_lease::Column::Holder, Expr::value(holder))
        .col_expr(job_lease::Column::LeaseUntil, Expr::value(until))
        .filter(job_lease::Column::Name.eq(job))
        .filter(job_lease::Column::LeaseUntil.lte(now))
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Purges what `policy` no longer keeps at `now`.
pub async fn purge(
    db: &impl ConnectionTrait,
    policy: &Policy,
    now: DateTime<Utc>,
) -> DomainResult<Purged> {
    // A period too long to subtract keeps everything.
    let cutoff = |keep: TimeDelta| {
        now.checked_sub_signed(keep)
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    };
    Ok(Purged {
        carts: purge_carts(db, cutoff(policy.carts)).await?,
        idempotency_keys: purge_idempotency_keys(db, cutoff(policy.idempotency_keys)).await?,
        reset_tokens: purge_reset_tokens(db, cutoff(policy.reset_tokens)).await?,
        ..purge_sessions(db, cutoff(policy.sessions)).await?
    })
}

async fn purge_carts(db: &impl ConnectionTrait, before: DateTime<Utc>) -> DomainResult<u64> {
    let held = Query::select()
        .column(reservation::Column::CartId)
        .from(reservation::Entity)
        .and_where(reservation::Column::CartId.is_not_null())
        .to_owned();
    let mut purged = 0;
    loop {
        let ids: Vec<i64> = cart::Entity::find()
            .select_only()
            .column(cart::Column::Id)
            .filter(cart::Column::UpdatedAt.lt(before))
            .filter(cart::Column::Id.not_in_subquery(held.clone()))
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        if ids.is_empty() {
            return Ok(purged);
        }
        // Lines go with their cart (foreign key cascade).
        purged += cart::Entity::delete_many()
            .filter(cart::Column::Id.is_in(ids))
            .exec(db)
            .await?
            .rows_affected;
    }
}

async fn purge_idempotency_keys(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> DomainResult<u64> {
    let mut purged = 0;
    loop {
        let keys: Vec<(String, String)> = idempotency_key::Entity::find()
            .select_only()
            .column(idempotency_key::Column::Scope)
            .column(idempotency_key::Column::Key)
            .filter(idempotency_key::Column::CreatedAt.lt(before))
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        if keys.is_empty() {
            return Ok(purged);
        }
        let which = keys.into_iter().fold(Condition::any(), |c, (scope, key)| {
            c.add(
                Condition::all()
                    .add(idempotency_key::Column::Scope.eq(scope))
                    .add(idempotency_key::Column::Key.eq(key)),
            )
        });
        purged += idempotency_key::Entity::delete_many()
            .filter(which)
            .filter(idempotency_key::Column::CreatedAt.lt(before))
            .exec(db)
            .await?
            .rows_affected;
    }
}

async fn purge_sessions(db: &impl ConnectionTrait, before: DateTime<Utc>) -> DomainResult<Purged> {
    let mut purged = Purged::default();
    loop {
        let ids: Vec<String> = auth_session::Entity::find()
            .select_only()
            .column(auth_session::Column::Id)
            .filter(
                Condition::any()
                    .add(auth_session::Column::ExpiresAt.lt(before))
                    .add(auth_session::Column::RevokedAt.lt(before)),
            )
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        if ids.is_empty() {
            return Ok(purged);
        }
        purged.refresh_tokens += refresh_token::Entity::delete_many()
            .filter(refresh_token::Column::SessionId.is_in(ids.clone()))
            .exec(db)
            .await?
            .rows_affected;
        purged.sessions += auth_session::Entity::delete_many()
            .filter(auth_session::Column::Id.is_in(ids))
            .exec(db)
            .await?
            .rows_affected;
    }
}

async fn purge_reset_tokens(db: &impl ConnectionTrait, before: DateTime<Utc>) -> DomainResult<u64> {
    let mut purged = 0;
    loop {
        let ids: Vec<i64> = password_reset::Entity::find()
            .select_only()
            .column(password_reset::Column::Id)
            .filter(password_reset::Column::ExpiresAt.lt(before))
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        if ids.is_empty() {
            return Ok(purged);
        }
        purged += password_reset::Entity::delete_many()
            .filter(password_reset::Column::Id.is_in(ids))
            .exec(db)
            .await?
            .rows_affected;
    }
}

/// Runs one round at `now` if this node (`holder`) wins the lease for
/// `interval`; `None` when another node holds it.
pub async fn run_once(
    db: &impl ConnectionTrait,
    policy: &Policy,
    holder: &str,
    interval: Duration,
    now: DateTime<Utc>,
) -> DomainResult<Option<Purged>> {
    if !claim(db, JOB, holder, interval, now).await? {
        return Ok(None);
    }
    purge(db, policy, now).await.map(Some)
}

/// Runs the job every `interval`, at `clock`'s time, until the task is
/// dropped.
pub async fn run(db: DatabaseConnection, clock: Clock, policy: Policy, interval: Duration) {
    let holder = uuid::Uuid::new_v4().to_string();
    loop {
        match run_once(&db, &policy, &holder, interval, clock.now()).await {
            Ok(Some(purged)) if purged != Purged::default() => {
                tracing::info!(?purged, "retention: purged old rows");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "retention round failed; retrying next interval"),
        }
        tokio::time::sleep(interval).await;
    }
}
