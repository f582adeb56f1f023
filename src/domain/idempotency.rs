//! Idempotency keys: a client may send a key with a mutation; the first
//! request with that key runs, and every later one with the same key (and
//! the same request) gets the first answer instead of running again, even
//! when the duplicates arrive concurrently. The same key with a different
//! request is refused. Keys are per principal.

use std::time::Duration;
use tracing::instrument;

use chrono::{DateTime, Utc};
use entity::idempotency_key;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::Expr,
};
use serde::{Serialize, de::DeserializeOwned};

use super::{
    clock::Clock,
    error::{DomainError, DomainResult, is_unique_violation},
    identity::secret,
};

/// Why a keyed request was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The key was used before with a different request.
    DifferentRequest,
    /// The first request with this key is still running.
    InProgress,
}

/// How long a duplicate waits for the first request's answer.
const WAIT: Duration = Duration::from_secs(10);

/// A claim older than this without an answer belongs to a request that died
/// (the process crashed mid-way): the next request with the key takes it
/// over and runs. Longer than any request may take.
const LEASE: Duration = Duration::from_secs(120);

/// What a duplicate request found.
enum Replay<T> {
    /// The first request's answer.
    Answer(T),
    /// Why the request cannot run.
    Refused(Refusal),
    /// The first request died: this one owns the key now.
    TakenOver,
}

/// Runs `f` once per `(scope, key)`; later calls with the same key and
/// request get the stored answer. Claims are dated and judged abandoned by
/// `clock`.
#[instrument(name = "idempotency.once", skip_all, fields(scope, key = key.unwrap_or_default()))]
pub async fn once<T, F, Fut>(
    db: &DatabaseConnection,
    clock: &Clock,
    scope: &str,
    key: Option<&str>,
    request: &impl Serialize,
    f: F,
) -> DomainResult<Result<T, Refusal>>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: Future<Output = DomainResult<T>>,
{
    let Some(key) = key.map(str::trim).filter(|k| !k.is_empty()) else {
        return Ok(Ok(f().await?));
    };
    let request_hash = secret::digest(
        &serde_json::to_string(request)
            .map_err(|e| DomainError::Inconsistent(format!("request not serializable: {e}")))?,
    );
    let claim = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
        scope: Set(scope.to_owned()),
        key: Set(key.to_owned()),
        request_hash: Set(request_hash.clone()),
        response: Set(None),
        created_at: Set(clock.now()),
    })
    .exec_without_returning(db)
    .await;
    match claim {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            match replay(db, clock, scope, key, &request_hash).await? {
                Replay::Answer(answer) => return Ok(Ok(answer)),
                Replay::Refused(refusal) => return Ok(Err(refusal)),
                Replay::TakenOver => {}
            }
        }
        Err(e) => return Err(e.into()),
    }
    match f().await {
        Ok(answer) => {
            let stored = serde_json::to_string(&answer)
                .map_err(|e| DomainError::Inconsistent(format!("answer not serializable: {e}")))?;
            idempotency_key::Entity::update_many()
                .col_expr(idempotency_key::Column::Response, Expr::value(stored))
                .filter(idempotency_key::Column::Scope.eq(scope))
                .filter(idempotency_key::Column::Key.eq(key))
                .exec(db)
                .await?;
            Ok(Ok(answer))
        }
        Err(e) => {
            // Nothing was done: free the key so the client can retry.
            idempotency_key::Entity::delete_many()
                .filter(idempotency_key::Column::Scope.eq(scope))
                .filter(idempotency_key::Column::Key.eq(key))
                .exec(db)
                .await?;
            Err(e)
        }
    }
}

async fn replay<T: DeserializeOwned>(
    db: &impl ConnectionTrait,
    clock: &Clock,
    scope: &str,
    key: &str,
    request_hash: &str,
) -> DomainResult<Replay<T>> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let row = idempotency_key::Entity::find()
            .filter(idempotency_key::Column::Scope.eq(scope))
            .filter(idempotency_key::Column::Key.eq(key))
            .one(db)
            .await?;
        match row {
            Some(r) if r.request_hash != request_hash => {
                return Ok(Replay::Refused(Refusal::DifferentRequest));
            }
            Some(idempotency_key::Model {
                response: Some(stored),
                ..
            }) => {
                return serde_json::from_str(&stored)
                    .map(Replay::Answer)
                    .map_err(|e| {
                        DomainError::Inconsistent(format!("stored answer unreadable: {e}"))
                    });
            }
            Some(r) if is_abandoned(r.created_at, clock.now()) => {
                // Take the dead request's claim over, if no one else did.
                let taken = idempotency_key::Entity::update_many()
                    .col_expr(idempotency_key::Column::CreatedAt, Expr::value(clock.now()))
                    .filter(idempotency_key::Column::Scope.eq(scope))
                    .filter(idempotency_key::Column::Key.eq(key))
                    .filter(idempotency_key::Column::Response.is_null())
                    .filter(idempotency_key::Column::CreatedAt.eq(r.created_at))
                    .exec(db)
                    .await?;
                if taken.rows_affected == 1 {
                    return Ok(Replay::TakenOver);
                }
            }
            // Still running, or failed and freed (then a retry may claim it).
            _ if tokio::time::Instant::now() >= deadline => {
                return Ok(Replay::Refused(Refusal::InProgress));
            }
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// Whether a claim made at `claimed_at` is abandoned at `now`.
fn is_abandoned(claimed_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    chrono::Duration::from_std(LEASE).is_ok_and(|lease| claimed_at + lease < now)
}
