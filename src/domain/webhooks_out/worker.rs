//! The delivery worker: claims due deliveries, POSTs them signed, and
//! records each outcome (2xx: succeeded; anything else: retried with
//! exponential backoff until the attempts run out, then failed).
//!
//! Every request carries:
//!
//! - `Emporium-Signature: t=<unix seconds>,v1=<hex>`: HMAC-SHA256, keyed
//!   with the subscription's secret, of `"<t>.<raw body>"` (the scheme of
//!   [`crate::domain::payments::signature`]); a receiver recomputes it,
//!   compares in constant time and refuses a `t` further than
//!   [`TOLERANCE_SECS`] from its clock;
//! - `Emporium-Event-Id` (de-duplicate by it: a delivery may come twice)
//!   and `Emporium-Topic`.
//!
//! Redirects are not followed: a 3xx answer is a failed attempt.
//!
//! Unless private targets are allowed ([`Targets::Any`]), a host that is
//! not public is refused before anything is sent ([`super::target`]): an
//! IP literal is checked before the request, a name is resolved by a
//! resolver that keeps only public answers, and system proxy settings are
//! ignored (a proxy would resolve the name where the guard cannot see
//! it). A refusal is a failed attempt whose `last_error` says why.
//!
//! Deliveries of a paused subscription are not claimed ([`queue::claim`]
//! takes only live subscriptions'), so they wait, pending, until it is
//! resumed; an attempt already in flight when it is paused completes.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::Utc;
use futures_util::StreamExt;
use sea_orm::DatabaseConnection;

use super::{
    Status,
    queue::{self, Attempt, Claimed, Retry},
    target::{self, GuardedResolver, Targets},
};
use crate::domain::{clock::Clock, error::DomainResult, payments::signature, sealing::MasterKey};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Emporium-Signature";
/// The header carrying the event id.
pub const EVENT_ID_HEADER: &str = "Emporium-Event-Id";
/// The header carrying the topic.
pub const TOPIC_HEADER: &str = "Emporium-Topic";
/// How far a receiver should let a signature's timestamp be from its clock.
pub const TOLERANCE_SECS: i64 = signature::TOLERANCE_SECS;

/// Deliveries claimed per round.
const CLAIM: u64 = 32;
/// Deliveries in flight at once per node.
const CONCURRENCY: usize = 8;
/// How much of an error response's body is kept in the log.
const BODY_SNIPPET: usize = 200;

/// How the worker delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The retry policy.
    pub retry: Retry,
    /// Longest one attempt may take.
    pub timeout: Duration,
    /// Pause when nothing is due.
    pub poll: Duration,
    /// Which hosts deliveries may reach.
    pub targets: Targets,
}

impl Settings {
    /// How long a claimed delivery stays hidden from other workers: the
    /// attempt's timeout with room to record the outcome.
    fn lease(&self) -> Duration {
        self.timeout + Duration::from_secs(30)
    }
}

/// Delivery counters since the process started, for metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    succeeded: AtomicU64,
    failed_attempts: AtomicU64,
    failed_deliveries: AtomicU64,
}

impl Metrics {
    /// Deliveries a receiver accepted.
    pub fn succeeded(&self) -> u64 {
        self.succeeded.load(Ordering::Relaxed)
    }

    /// Attempts that failed (non-2xx answer, timeout, connection error).
    pub fn failed_attempts(&self) -> u64 {
        self.failed_attempts.load(Ordering::Relaxed)
    }

    /// Deliveries that ran out of attempts and are now `failed`.
    pub fn failed_deliveries(&self) -> u64 {
        self.failed_deliveries.load(Ordering::Relaxed)
    }

    fn count(&self, attempt: &Attempt, status: Status) {
        if !attempt.succeeded() {
            self.failed_attempts.fetch_add(1, Ordering::Relaxed);
        }
        let counter = match status {
            Status::Succeeded => &self.succeeded,
            Status::Failed => &self.failed_deliveries,
            Status::Pending => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends deliveries.
pub struct Worker {
    db: DatabaseConnection,
    client: reqwest::Client,
    settings: Settings,
    metrics: Arc<Metrics>,
    master: Arc<MasterKey>,
    clock: Clock,
}

impl Worker {
    /// A worker on `db` (the background pool), counting into `metrics`,
    /// opening signing secrets with `master`; deliveries fall due by `clock`.
    pub fn new(
        db: DatabaseConnection,
        settings: Settings,
        metrics: Arc<Metrics>,
        master: Arc<MasterKey>,
        clock: Clock,
    ) -> reqwest::Result<Self> {
        let mut client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("emporium-webhooks/", env!("CARGO_PKG_VERSION")));
        if settings.targets == Targets::Public {
            client = client.dns_resolver(Arc::new(GuardedResolver)).no_proxy();
        }
        let client = client.build()?;
        Ok(Self {
            db,
            client,
            settings,
            metrics,
            master,
            clock,
        })
    }

    /// Claims one round of due deliveries and attempts them; returns how
    /// many it claimed.
    pub async fn run_once(&self) -> DomainResult<usize> {
        let claimed =
            queue::claim(&self.db, CLAIM, self.settings.lease(), self.clock.now()).await?;
        let n = claimed.len();
        let results: Vec<DomainResult<()>> = futures_util::stream::iter(claimed)
            .map(|c| self.deliver(c))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for r in results {
            r?;
        }
        Ok(n)
    }

    async fn deliver(&self, c: Claimed) -> DomainResult<()> {
        let attempt = self.attempt(&c).await;
        let status = queue::record(
            &self.db,
            &c.delivery,
            &attempt,
            self.settings.retry,
            self.clock.now(),
        )
        .await?;
        self.metrics.count(&attempt, status);
        if let Some(error) = &attempt.error {
            tracing::info!(
                delivery = c.delivery.id,
                subscription = c.subscription.id,
                topic = %c.delivery.topic,
                status = status.as_str(),
                error = %error,
                "webhook attempt failed"
            );
        }
        Ok(())
    }

    async fn attempt(&self, c: &Claimed) -> Attempt {
        // IP literals never reach the resolver: check them here.
        let checked = reqwest::Url::parse(&c.subscription.url)
            .map_err(|_| "the URL does not parse".to_owned())
            .and_then(|url| {
                target::check_literal(&url, self.settings.targets).map_err(|r| r.to_string())
            });
        if let Err(why) = checked {
            return Attempt {
                response_status: None,
                error: Some(why),
            };
        }
        let Ok(secret) = super::signing_secret(&c.subscription, &self.master) else {
            return Attempt {
                response_status: None,
                error: Some(
                    "the signing secret does not open with this node's master key".to_owned(),
                ),
            };
        };
        let body = c.delivery.payload.as_bytes();
        let timestamp = Utc::now().timestamp();
        let sent = self
            .client
            .post(&c.subscription.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature::sign(&secret, timestamp, body))
            .header(EVENT_ID_HEADER, &c.delivery.event_id)
            .header(TOPIC_HEADER, &c.delivery.topic)
            .body(c.delivery.payload.clone())
            .send()
            .await;
        let mut res = match sent {
            Ok(res) => res,
            Err(e) => {
                let why = if let Some(refused) = target::refused_in(&e) {
                    refused.to_string()
                } else if e.is_timeout() {
                    format!("timed out after {} s", self.settings.timeout.as_secs())
                } else if e.is_connect() {
                    "cannot connect".to_owned()
                } else {
                    "request failed".to_owned()
                };
                return Attempt {
                    response_status: None,
                    error: Some(why),
                };
            }
        };
        let status = res.status();
        if status.is_success() {
            return Attempt {
                response_status: Some(status.as_u16()),
                error: None,
            };
        }
        // The start of the body, if it comes in time: it often says why.
        let snippet = match res.chunk().await {
            Ok(Some(bytes)) => String::from_utf8_lossy(&bytes)
                .chars()
                .take(BODY_SNIPPET)
                .collect::<String>(),
            _ => String::new(),
        };
        let mut error = format!("HTTP {}", status.as_u16());
        if status.is_redirection() {
            error.push_str(" (redirects are not followed)");
        }
        if !snippet.trim().is_empty() {
            error.push_str(": ");
            error.push_str(snippet.trim());
        }
        Attempt {
            response_status: Some(status.as_u16()),
            error: Some(error),
        }
    }
}

/// Delivers until the task is dropped: at once while there is a backlog,
/// otherwise every `settings.poll`.
pub async fn run(worker: Worker) {
    loop {
        match worker.run_once().await {
            Ok(n) if n as u64 == CLAIM => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "webhook delivery round failed; retrying"),
        }
        tokio::time::sleep(worker.settings.poll).await;
    }
}
