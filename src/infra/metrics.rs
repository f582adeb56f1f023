//! Prometheus metrics, served at `/metrics`.
//!
//! Recorded through the `metrics` facade into one process-wide Prometheus
//! recorder, installed on first use. The names:
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `emporium_graphql_requests_total` | counter | `operation`, `cache` |
//! | `emporium_graphql_request_duration_seconds` | histogram | `operation` |
//! | `emporium_graphql_errors_total` | counter | `code` |
//! | `emporium_response_cache_total` | counter | `outcome` (`hit`, `miss`, `bypass`) |
//! | `emporium_subscriptions_open` | gauge | |
//! | `emporium_outbox_lag_seconds` | gauge | age of the oldest event the relay last published |
//! | `emporium_outbox_published_total` | counter | |
//! | `emporium_webhook_attempts_failed_total` | counter | |
//! | `emporium_webhook_deliveries_failed_total` | counter | |
//! | `emporium_webhook_deliveries_succeeded_total` | counter | |
//! | `emporium_captures_total` | counter | captures recorded (`orderCapture`, `orderMarkAsPaid`, fulfilments) |
//! | `emporium_captures_failed_total` | counter | captures the gateway failed |
//! | `emporium_refunds_total` | counter | refunds paid back |
//! | `emporium_refunds_failed_total` | counter | refunds left FAILED by a gateway |
//! | `emporium_cancellations_total` | counter | orders (or their unshipped rest) cancelled |
//!
//! Operation names come from clients: only names of letters, digits and
//! underscores up to 64 characters count, and past [`MAX_OPERATIONS`]
//! distinct ones the rest are `other`, so a client cannot grow the series
//! without bound. Anonymous operations are `anonymous`.

use std::{
    collections::HashSet,
    sync::{Mutex, OnceLock},
    time::Duration,
};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Distinct operation names tracked before the rest count as `other`.
pub const MAX_OPERATIONS: usize = 200;

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
static OPERATIONS: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

/// Installs the recorder (once per process); `None` if another recorder
/// was installed first.
fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(LATENCY_BUCKETS).ok()?;
            match builder.install_recorder() {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: cannot install the Prometheus recorder");
                    None
                }
            }
        })
        .as_ref()
}

/// Makes sure metrics are recorded from now on.
pub fn init() {
    let _ = handle();
}

/// The Prometheus text exposition of every metric.
pub fn render() -> String {
    match handle() {
        Some(h) => {
            h.run_upkeep();
            h.render()
        }
        None => String::new(),
    }
}

/// The label for a client's operation name.
fn operation_label(name: Option<&str>) -> String {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return "anonymous".into();
    };
    let valid = name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return "other".into();
    }
    let mut seen = OPERATIONS
        .get_or_init(|| Mutex::new(HashSet::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if seen.contains(name) {
        return name.to_owned();
    }
    if seen.len() < MAX_OPERATIONS {
        seen.insert(name.to_owned());
        return name.to_owned();
    }
    "other".into()
}

/// One GraphQL operation answered in `elapsed`; `cache` is `hit`, `miss`
/// or `none`.
pub fn request(operation: Option<&str>, elapsed: Duration, cache: &'static str) {
    let op = operation_label(operation);
    metrics::counter!("emporium_graphql_requests_total", "operation" => op.clone(), "cache" => cache)
        .increment(1);
    metrics::histogram!("emporium_graphql_request_duration_seconds", "operation" => op)
        .record(elapsed.as_secs_f64());
}

/// One error answered with `code`.
pub fn error(code: &str) {
    metrics::counter!("emporium_graphql_errors_total", "code" => code.to_owned()).increment(1);
}

/// A request refused because the node was at its limit of requests in flight.
pub fn shed() {
    metrics::counter!("emporium_requests_shed_total").increment(1);
}

/// One response-cache lookup: `hit`, `miss` or `bypass`.
pub fn cache(outcome: &'static str) {
    metrics::counter!("emporium_response_cache_total", "outcome" => outcome).increment(1);
}

/// The relay published `n` events, the oldest recorded `lag` ago.
pub fn relayed(n: usize, lag: Duration) {
    metrics::counter!("emporium_outbox_published_total").increment(n as u64);
    metrics::gauge!("emporium_outbox_lag_seconds").set(lag.as_secs_f64());
}

/// One customer notification attempt: `sent` or `failed` (retried).
pub fn notification(outcome: &'static str) {
    metrics::counter!("emporium_notifications_total", "outcome" => outcome).increment(1);
}

/// Sets a gauge to a value read at scrape time.
pub fn gauge(name: &'static str, value: f64) {
    metrics::gauge!(name).set(value);
}

/// Sets a counter to a total kept elsewhere, read at scrape time.
pub fn total(name: &'static str, value: u64) {
    metrics::counter!(name).absolute(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_operation_names_cannot_grow_the_series_without_bound() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("Products")), "Products");
        assert_eq!(operation_label(Some("drop table; --")), "other");
        assert_eq!(operation_label(Some(&"x".repeat(65))), "other");
        for i in 0..(MAX_OPERATIONS * 2) {
            let _ = operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(operation_label(Some("NeverSeenBefore")), "other");
        assert_eq!(operation_label(Some("Products")), "Products");
    }
}
