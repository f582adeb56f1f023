//! Idempotent replays for the gateways that keep their own state (`test`,
//! `manual`): the first result of a request is kept under its idempotency
//! key, and a retry gets it back instead of a second payment.

use std::{sync::Arc, time::Duration};

use moka::sync::Cache;

use super::GatewayError;

/// How long a result is replayed (as Stripe keeps idempotency keys).
const KEEP: Duration = Duration::from_secs(24 * 60 * 60);

/// Results by idempotency key, bounded in count and age.
pub(super) struct Replays<T> {
    /// Key -> (what the request asked, its result).
    cache: Cache<String, Arc<(String, T)>>,
}

impl<T: Clone + Send + Sync + 'static> Replays<T> {
    /// Room for `capacity` results.
    pub(super) fn new(capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(KEEP)
                .build(),
        }
    }

    /// The result kept under `key`, or runs `run` once (concurrent callers
    /// with the same key wait for it) and keeps its result. `request`
    /// describes what was asked: a key reused for a different request is
    /// refused. Errors are not kept, so a failed request can be retried.
    pub(super) fn once(
        &self,
        key: &str,
        request: String,
        run: impl FnOnce() -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        let entry = self
            .cache
            .entry(key.to_owned())
            .or_try_insert_with(|| run().map(|result| Arc::new((request.clone(), result))))
            .map_err(|err| (*err).clone())?;
        let kept = entry.into_value();
        let (asked, result) = &*kept;
        if *asked == request {
            Ok(result.clone())
        } else {
            Err(GatewayError::rejected(
                "idempotency_key_reused",
                "the idempotency key was used for a different request",
            ))
        }
    }
}
