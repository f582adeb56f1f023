//! Outbound webhooks over real HTTP: a receiver inside the test (an axum
//! server on a loopback port) checks every signature the way the README
//! tells receivers to; failing receivers are retried with backoff until the
//! attempts run out, and a manual retry sends a failed delivery again;
//! partners manage only their own subscriptions; events of a real checkout
//! arrive; two nodes never send one delivery twice.

mod delivery;
mod guard;
mod manage;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use emporium::{config::Config, domain::identity::permission::Role};
use hmac::{Hmac, Mac};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{
    accounts,
    checkout::eventually,
    harness::{Options, TestApp, first_code},
};

const CREATE: &str = "mutation($i: WebhookSubscriptionCreateInput!) { webhookSubscriptionCreate(input: $i) { webhookSubscription { id url topics active createdByStaffUserId createdByApiTokenId } secret userErrors { field code message } } }";
const LIST: &str = "{ webhookSubscriptions { id url topics } }";
const DELETE: &str = "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field code message } } }";
const DELIVERIES: &str = "query($s: ID, $status: WebhookDeliveryStatus) { webhookDeliveries(subscriptionId: $s, status: $status, first: 100) { nodes { id subscriptionId eventId topic status attempts nextAttemptAt lastResponseStatus lastError payload createdAt updatedAt deliveredAt } } }";
const RETRY: &str = "mutation($id: ID!) { webhookDeliveryRetry(id: $id) { webhookDelivery { id status attempts nextAttemptAt } userErrors { field code message } } }";
const SET: &str = "mutation($i: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $i) { appliedCount userErrors { code } } }";

/// How long any wait for a delivery may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// Three attempts, 50 ms apart at first, polled every 50 ms; the guard
/// against private targets is off, since the receivers listen on
/// 127.0.0.1.
fn fast(c: &mut Config) {
    guarded(c);
    c.webhooks.allow_private = true;
}

/// As [`fast`] with the guard on (the default).
fn guarded(c: &mut Config) {
    c.webhooks.max_attempts = 3;
    c.webhooks.retry_base_ms = 50;
    c.webhooks.retry_cap_secs = 1;
    c.webhooks.poll_ms = 50;
    c.webhooks.timeout_secs = 5;
    c.webhooks.allow_private = false;
}

async fn app(products: usize) -> TestApp {
    TestApp::spawn_with(Options {
        products: Some(products),
        configure: Some(fast),
        ..Default::default()
    })
    .await
}

/// One delivery the receiver accepted.
#[derive(Debug, Clone)]
struct Received {
    event_id: String,
    topic: String,
    body: Value,
}

/// What the receiver has seen, and how it answers.
#[derive(Default)]
struct Inbox {
    /// Secrets whose signatures it accepts.
    secrets: Mutex<Vec<String>>,
    /// Answer 500 to the first this-many attempts of each event.
    fail_first: AtomicU32,
    /// Answer 500 to everything.
    always_fail: AtomicBool,
    /// Requests per event id.
    hits: Mutex<HashMap<String, u32>>,
    /// Accepted deliveries.
    accepted: Mutex<Vec<Received>>,
    /// Requests refused for a missing or wrong signature or headers.
    refused: AtomicU32,
}

impl Inbox {
    fn trust(&self, secret: &str) {
        if let Ok(mut s) = self.secrets.lock() {
            s.push(secret.to_owned());
        }
    }

    fn accepted(&self) -> Vec<Received> {
        self.accepted.lock().map(|a| a.clone()).unwrap_or_default()
    }

    fn hits(&self, event_id: &str) -> u32 {
        self.hits
            .lock()
            .map(|h| h.get(event_id).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

/// Verifies `Emporium-Signature: t=<unix seconds>,v1=<hex>` as a receiver
/// would, following the README: HMAC-SHA256 of `"<t>.<body>"` with the
/// secret, and `t` within five minutes of now.
fn signed_by_any(secrets: &[String], header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (chrono::Utc::now().timestamp() - t).abs() > 300 {
        return false;
    }
    secrets.iter().any(|secret| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|e| panic!("hmac: {e}"));
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        let expected = hex::encode(mac.finalize().into_bytes());
        candidates.contains(&expected)
    })
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let secrets = inbox.secrets.lock().map(|s| s.clone()).unwrap_or_default();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let event_id = header("emporium-event-id");
    let topic = header("emporium-topic");
    if !signed_by_any(&secrets, &header("emporium-signature"), &body)
        || parsed["id"] != json!(event_id)
        || parsed["topic"] != json!(topic)
        || header("content-type") != "application/json"
    {
        inbox.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::BAD_REQUEST;
    }
    let n = match inbox.hits.lock() {
        Ok(mut hits) => {
            let n = hits.entry(event_id.clone()).or_insert(0);
            *n += 1;
            *n
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR,
    };
    if inbox.always_fail.load(Ordering::SeqCst) || n <= inbox.fail_first.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if let Ok(mut a) = inbox.accepted.lock() {
        a.push(Received {
            event_id,
            topic,
            body: parsed,
        });
    }
    StatusCode::OK
}

/// Starts a receiver; returns its URL and inbox.
async fn receiver() -> (String, Arc<Inbox>) {
    let inbox = Arc::new(Inbox::default());
    let router = axum::Router::new()
        .route("/hooks", post(receive))
        .with_state(inbox.clone());
    let (listener, addr) = crate::harness::loopback().await;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}/hooks"), inbox)
}

/// Creates a subscription as `token`; returns (its ID, its secret).
async fn subscribe(app: &TestApp, token: &str, url: &str, topics: &[&str]) -> (String, String) {
    let data = app
        .query_as(
            token,
            CREATE,
            json!({ "i": { "url": url, "topics": topics } }),
        )
        .await;
    let p = &data["webhookSubscriptionCreate"];
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let secret = p["secret"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{p}");
    (
        p["webhookSubscription"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        secret,
    )
}

/// The delivery log `token` sees (of `subscription`, if given).
async fn deliveries(app: &TestApp, token: &str, subscription: Option<&str>) -> Vec<Value> {
    let data = app
        .query_as(token, DELIVERIES, json!({ "s": subscription }))
        .await;
    data["webhookDeliveries"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls the delivery log until `done` holds for it.
async fn log_until(
    app: &TestApp,
    token: &str,
    subscription: Option<&str>,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let log = deliveries(app, token, subscription).await;
        if done(&log) {
            return log;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}; log: {log:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the receiver accepted at least `n` deliveries.
async fn accepted(inbox: &Inbox, n: usize) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let got = inbox.accepted();
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} deliveries not accepted within {PATIENCE:?}; got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sets the on-hand quantity of a seeded variant at the warehouse: one
/// `stock.changed` event when it changes.
async fn set_stock(app: &TestApp, token: &str, on_hand: i32) {
    let res = app
        .query_as(
            token,
            SET,
            json!({ "i": { "quantities": [
                { "sku": "EMP-00000-01", "location": "warehouse", "onHand": on_hand },
            ] } }),
        )
        .await;
    assert_eq!(
        res["inventorySetQuantities"]["appliedCount"],
        json!(1),
        "{res}"
    );
}

/// Asks to subscribe `url` to `order.paid` as `token`; the mutation's data.
async fn create_for(app: &TestApp, token: &str, url: &str) -> Value {
    app.query_as(
        token,
        CREATE,
        json!({ "i": { "url": url, "topics": ["order.paid"] } }),
    )
    .await
}
