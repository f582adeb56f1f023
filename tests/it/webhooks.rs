//! Outbound webhooks over real HTTP: a receiver inside the test (an axum
//! server on a loopback port) checks every signature the way the README
//! tells receivers to; failing receivers are retried with backoff until the
//! attempts run out, and a manual retry sends a failed delivery again;
//! partners manage only their own subscriptions; events of a real checkout
//! arrive; two nodes never send one delivery twice.

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

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_signed_event_on_the_third_attempt() {
    let app = app(3).await;
    let admin = accounts::staff_user(&app, "owner@example.com", Role::Admin).await;
    let (url, inbox) = receiver().await;
    inbox.fail_first.store(2, Ordering::SeqCst);
    let (sub, secret) = subscribe(&app, &admin.access, &url, &["stock.changed"]).await;
    inbox.trust(&secret);
    let (inventory, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    set_stock(&app, &inventory, 17).await;

    let got = accepted(&inbox, 1).await;
    let r = &got[0];
    assert_eq!(r.topic, "stock.changed");
    assert_eq!(r.body["topic"], "stock.changed");
    assert_eq!(r.body["data"]["type"], "stockChanged");
    assert_eq!(r.body["data"]["onHand"], 17);
    assert!(r.body["createdAt"].is_string(), "{}", r.body);
    assert_eq!(inbox.hits(&r.event_id), 3);
    assert_eq!(inbox.refused.load(Ordering::SeqCst), 0);

    let log = log_until(&app, &admin.access, Some(&sub), "succeeded", |log| {
        log.iter().any(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    assert_eq!(log.len(), 1, "{log:?}");
    let d = &log[0];
    assert_eq!(d["eventId"], json!(r.event_id));
    assert_eq!(d["subscriptionId"], json!(sub));
    assert_eq!(d["topic"], "stock.changed");
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["lastResponseStatus"], 200);
    assert_eq!(d["lastError"], Value::Null);
    assert_eq!(d["nextAttemptAt"], Value::Null);
    assert!(d["deliveredAt"].is_string(), "{d}");
    let payload: Value = serde_json::from_str(d["payload"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("payload: {e}"));
    assert_eq!(payload, r.body);
    let metrics = app.state.webhook_metrics.clone();
    eventually(PATIENCE, "counted", || {
        let m = metrics.clone();
        async move { m.succeeded() == 1 }
    })
    .await;
    assert_eq!(metrics.failed_attempts(), 2);
    assert_eq!(metrics.failed_deliveries(), 0);
}

#[tokio::test]
async fn a_delivery_failing_every_attempt_ends_failed_and_a_retry_sends_it_once_fixed() {
    let app = app(3).await;
    let admin = accounts::staff_user(&app, "owner@example.com", Role::Admin).await;
    let (url, inbox) = receiver().await;
    inbox.always_fail.store(true, Ordering::SeqCst);
    let (sub, secret) = subscribe(&app, &admin.access, &url, &["stock.changed"]).await;
    inbox.trust(&secret);
    let (inventory, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    set_stock(&app, &inventory, 5).await;

    let log = log_until(&app, &admin.access, Some(&sub), "failed", |log| {
        log.iter().any(|d| d["status"] == "FAILED")
    })
    .await;
    let d = &log[0];
    assert_eq!(d["attempts"], 3, "{d}");
    assert_eq!(d["lastResponseStatus"], 500);
    assert!(
        d["lastError"]
            .as_str()
            .is_some_and(|e| e.starts_with("HTTP 500")),
        "{d}"
    );
    assert_eq!(d["deliveredAt"], Value::Null);
    let event_id = d["eventId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(inbox.hits(&event_id), 3);
    let metrics = app.state.webhook_metrics.clone();
    eventually(PATIENCE, "counted", || {
        let m = metrics.clone();
        async move { m.failed_deliveries() == 1 }
    })
    .await;
    assert_eq!(metrics.failed_attempts(), 3);
    let failed = deliveries(&app, &admin.access, None).await;
    assert_eq!(failed.len(), 1);
    let only_failed = app
        .query_as(&admin.access, DELIVERIES, json!({ "status": "SUCCEEDED" }))
        .await;
    assert_eq!(only_failed["webhookDeliveries"]["nodes"], json!([]));

    // Fixed: a manual retry makes it pending, due now, and it goes out.
    inbox.always_fail.store(false, Ordering::SeqCst);
    let retried = app
        .query_as(&admin.access, RETRY, json!({ "id": d["id"] }))
        .await;
    let p = &retried["webhookDeliveryRetry"];
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["webhookDelivery"]["status"], "PENDING");
    let got = accepted(&inbox, 1).await;
    assert_eq!(got[0].event_id, event_id);
    let log = log_until(&app, &admin.access, Some(&sub), "retried", |log| {
        log.iter().any(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    assert_eq!(log[0]["attempts"], 4);
    assert_eq!(log[0]["lastResponseStatus"], 200);

    // Only a failed delivery can be retried; a missing one is NOT_FOUND.
    let again = app
        .query_as(&admin.access, RETRY, json!({ "id": d["id"] }))
        .await;
    assert_eq!(
        again["webhookDeliveryRetry"]["userErrors"][0]["code"],
        "INVALID"
    );
    let missing = crate::authz::gid("WebhookDelivery", 999_999);
    let none = app
        .query_as(&admin.access, RETRY, json!({ "id": missing }))
        .await;
    assert_eq!(
        none["webhookDeliveryRetry"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    // The writes are audited.
    let audit = app
        .query_as(
            &admin.access,
            "{ auditEntries(first: 10) { nodes { action entityType after } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = audit["auditEntries"]["nodes"]
        .as_array()
        .map(|n| n.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert!(actions.contains(&"webhook_delivery.retry"), "{actions:?}");
    assert!(
        actions.contains(&"webhook_subscription.create"),
        "{actions:?}"
    );
    assert!(
        !audit.to_string().contains(&secret),
        "the secret is audited"
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

#[tokio::test]
async fn bad_urls_and_unknown_topics_are_user_errors() {
    let app = app(0).await;
    let admin = accounts::staff_user(&app, "owner@example.com", Role::Admin).await;
    for url in [
        "ftp://partner.example.com/hooks",
        "/hooks",
        "partner.example.com/hooks",
        "not a url",
        "",
    ] {
        let data = create_for(&app, &admin.access, url).await;
        let p = &data["webhookSubscriptionCreate"];
        assert_eq!(
            p["userErrors"],
            json!([{ "field": ["input", "url"], "code": "INVALID_URL", "message": p["userErrors"][0]["message"] }]),
            "{url}"
        );
        assert_eq!(p["webhookSubscription"], Value::Null);
        assert_eq!(p["secret"], Value::Null);
    }
    let data = app
        .query_as(
            &admin.access,
            CREATE,
            json!({ "i": { "url": "https://partner.example.com/hooks", "topics": ["order.paid", "order.shipped"] } }),
        )
        .await;
    let errors = &data["webhookSubscriptionCreate"]["userErrors"];
    assert_eq!(errors.as_array().map(Vec::len), Some(1), "{errors}");
    assert_eq!(errors[0]["code"], "UNKNOWN_TOPIC");
    assert_eq!(errors[0]["field"], json!(["input", "topics", "1"]));
    let data = app
        .query_as(
            &admin.access,
            CREATE,
            json!({ "i": { "url": "https://partner.example.com/hooks", "topics": [] } }),
        )
        .await;
    assert_eq!(
        data["webhookSubscriptionCreate"]["userErrors"][0]["code"],
        "BLANK"
    );
    // Nothing was created.
    let list = app.query_as(&admin.access, LIST, json!({})).await;
    assert_eq!(list["webhookSubscriptions"], json!([]));
    // A malformed ID is a request error, not a user error.
    let (_, body) = app
        .post_as(&admin.access, DELETE, json!({ "id": "nope" }))
        .await;
    assert_eq!(first_code(&body), "BAD_USER_INPUT");
    let (_, body) = app
        .post_as(
            &admin.access,
            DELETE,
            json!({ "id": crate::authz::gid("Product", 1) }),
        )
        .await;
    assert_eq!(first_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn partners_need_the_scope_and_manage_only_their_own_subscriptions() {
    let app = app(3).await;
    let admin = accounts::staff_user(&app, "owner@example.com", Role::Admin).await;
    let (url, inbox) = receiver().await;
    let (outsider, _) = accounts::partner_token(&app, &["orders:read"], None).await;
    let input = json!({ "i": { "url": url, "topics": ["stock.changed"] } });
    let (_, body) = app.post_as(&outsider, CREATE, input.clone()).await;
    assert_eq!(first_code(&body), "FORBIDDEN");
    let (_, body) = app.post_as(&outsider, LIST, json!({})).await;
    assert_eq!(first_code(&body), "FORBIDDEN");
    let (_, body) = app.post(LIST, json!({})).await;
    assert_eq!(first_code(&body), "UNAUTHENTICATED");
    let support = accounts::staff_user(&app, "support@example.com", Role::Support).await;
    let (_, body) = app.post_as(&support.access, CREATE, input).await;
    assert_eq!(first_code(&body), "FORBIDDEN");

    // A webhook carries the event's data: its topic needs the read scope.
    let (blind, _) = accounts::partner_token(&app, &["webhooks:write"], None).await;
    let (_, body) = app
        .post_as(
            &blind,
            CREATE,
            json!({ "i": { "url": url, "topics": ["stock.changed"] } }),
        )
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN");
    assert!(body.to_string().contains("inventory:read"), "{body}");

    let scopes = ["webhooks:write", "inventory:read"];
    let (a, a_token) = accounts::partner_token(&app, &scopes, None).await;
    let (b, b_token) = accounts::partner_token(&app, &scopes, None).await;
    let (_, body) = app
        .post_as(
            &a,
            CREATE,
            json!({ "i": { "url": url, "topics": ["order.paid"] } }),
        )
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN");
    let (a_sub, a_secret) = subscribe(&app, &a, &url, &["stock.changed"]).await;
    let (b_sub, b_secret) = subscribe(&app, &b, &url, &["stock.changed"]).await;
    inbox.trust(&a_secret);
    inbox.trust(&b_secret);
    let ids = |data: &Value| -> Vec<String> {
        data["webhookSubscriptions"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|s| s["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        ids(&app.query_as(&a, LIST, json!({})).await),
        vec![a_sub.clone()]
    );
    assert_eq!(
        ids(&app.query_as(&b, LIST, json!({})).await),
        vec![b_sub.clone()]
    );
    assert_eq!(
        ids(&app.query_as(&admin.access, LIST, json!({})).await),
        vec![b_sub.clone(), a_sub.clone()]
    );
    let created = app
        .query_as(
            &admin.access,
            "{ webhookSubscriptions { createdByApiTokenId createdByStaffUserId } }",
            json!({}),
        )
        .await;
    assert_eq!(
        created["webhookSubscriptions"][1],
        json!({ "createdByApiTokenId": crate::authz::gid("ApiToken", a_token), "createdByStaffUserId": null })
    );

    // One event, one delivery per subscription; each partner sees its own.
    let (inventory, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    set_stock(&app, &inventory, 9).await;
    accepted(&inbox, 2).await;
    let all = log_until(&app, &admin.access, None, "both delivered", |log| {
        log.len() == 2 && log.iter().all(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    assert_eq!(all[0]["eventId"], all[1]["eventId"]);
    let a_log = deliveries(&app, &a, None).await;
    assert_eq!(a_log.len(), 1);
    assert_eq!(a_log[0]["subscriptionId"], json!(a_sub));
    assert_eq!(
        deliveries(&app, &b, Some(&a_sub)).await,
        Vec::<Value>::new()
    );

    // B can neither delete A's subscription nor retry A's delivery.
    let refused = app.query_as(&b, DELETE, json!({ "id": a_sub })).await;
    assert_eq!(
        refused["webhookSubscriptionDelete"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    let refused = app
        .query_as(&b, RETRY, json!({ "id": a_log[0]["id"] }))
        .await;
    assert_eq!(
        refused["webhookDeliveryRetry"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    assert_eq!(
        ids(&app.query_as(&a, LIST, json!({})).await),
        vec![a_sub.clone()]
    );

    // A revoked token's subscription gets no new events.
    emporium::domain::identity::api_token::revoke(&app.db, b_token)
        .await
        .unwrap_or_else(|e| panic!("revoke: {e}"))
        .unwrap_or_else(|e| panic!("revoke: {e:?}"));
    set_stock(&app, &inventory, 10).await;
    accepted(&inbox, 3).await;
    log_until(&app, &admin.access, Some(&a_sub), "A's second", |log| {
        log.len() == 2 && log.iter().all(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    assert_eq!(deliveries(&app, &admin.access, Some(&b_sub)).await.len(), 1);
    assert_eq!(inbox.accepted().len(), 3);

    // A deletes its own: the subscription and its log are gone; B's stay.
    let deleted = app.query_as(&a, DELETE, json!({ "id": a_sub })).await;
    assert_eq!(
        deleted["webhookSubscriptionDelete"],
        json!({ "deletedWebhookSubscriptionId": a_sub, "userErrors": [] })
    );
    assert_eq!(
        ids(&app.query_as(&a, LIST, json!({})).await),
        Vec::<String>::new()
    );
    assert_eq!(deliveries(&app, &admin.access, None).await.len(), 1);
    let audit = app
        .query_as(
            &admin.access,
            "{ auditEntries(first: 10, entityType: \"webhook_subscription\") { nodes { action actorKind } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        audit["auditEntries"]["nodes"][0],
        json!({ "action": "webhook_subscription.delete", "actorKind": "partner" })
    );
}

#[tokio::test]
async fn a_checkout_delivers_order_created_and_order_paid() {
    use crate::checkout::{checkout, order_row, payload, ready_cart, stocked_item};
    let app = app(20).await;
    let admin = accounts::staff_user(&app, "owner@example.com", Role::Admin).await;
    let (url, inbox) = receiver().await;
    let (_, secret) = subscribe(&app, &admin.access, &url, &["order.created", "order.paid"]).await;
    inbox.trust(&secret);
    let item = stocked_item(&app, 5).await;
    let cart = ready_cart(&app, None, &item, 2).await;
    let (status, body) = checkout(&app, None, &cart, "test", "tok_visa", Some("hook-1")).await;
    let p = payload(status, &body);
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let order = order_row(&app, p["order"]["id"].as_str().unwrap_or_default()).await;

    let got = accepted(&inbox, 2).await;
    let mut topics: Vec<&str> = got.iter().map(|r| r.topic.as_str()).collect();
    topics.sort_unstable();
    assert_eq!(topics, vec!["order.created", "order.paid"], "{got:?}");
    for r in &got {
        // The API's ID of the order, usable as is with `order(id:)`.
        assert_eq!(r.body["data"]["orderId"], p["order"]["id"], "{:?}", r.body);
        assert_eq!(
            r.body["data"]["orderId"],
            json!(emporium::domain::gid::encode(
                emporium::domain::gid::Kind::Order,
                order.id
            ))
        );
    }
    let created = got.iter().find(|r| r.topic == "order.created");
    assert_eq!(
        created.map(|r| r.body["data"]["totalMinor"].clone()),
        Some(json!(order.total_minor))
    );
    // Stock events of the checkout were not subscribed to: nothing else
    // was enqueued.
    let log = deliveries(&app, &admin.access, None).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(inbox.refused.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn two_nodes_deliver_each_event_once() {
    let app = app(3).await;
    let sibling = app.spawn_sibling().await;
    let admin = accounts::staff_user(&app, "owner@example.com", Role::Admin).await;
    let (url, inbox) = receiver().await;
    let (sub, secret) = subscribe(&app, &admin.access, &url, &["stock.changed"]).await;
    inbox.trust(&secret);
    let (inventory, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    const EVENTS: usize = 12;
    for i in 0..EVENTS {
        let node = if i % 2 == 0 { &app } else { &sibling };
        set_stock(node, &inventory, 100 + i as i32).await;
    }
    let got = accepted(&inbox, EVENTS).await;
    let log = log_until(&app, &admin.access, Some(&sub), "all delivered", |log| {
        log.len() == EVENTS && log.iter().all(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    assert!(log.iter().all(|d| d["attempts"] == 1), "{log:?}");
    for r in &got {
        assert_eq!(inbox.hits(&r.event_id), 1, "{} was sent twice", r.event_id);
    }
    assert_eq!(got.len(), EVENTS);
}

#[tokio::test]
async fn a_catalog_change_is_delivered_to_a_catalog_subscription() {
    let app = app(3).await;
    let (url, inbox) = receiver().await;
    let (partner, _) =
        accounts::partner_token(&app, &["webhooks:write", "inventory:read"], None).await;
    let input = json!({ "i": { "url": url, "topics": ["catalog.changed"] } });
    let (_, body) = app.post_as(&partner, CREATE, input).await;
    assert_eq!(first_code(&body), "FORBIDDEN");
    assert!(body.to_string().contains("catalog:read"), "{body}");
    let (pim, _) = accounts::partner_token(&app, &["webhooks:write", "catalog:read"], None).await;
    let (_, secret) = subscribe(&app, &pim, &url, &["catalog.changed"]).await;
    inbox.trust(&secret);
    let (prices, _) = accounts::partner_token(&app, &["prices:write"], None).await;
    let set = app
        .query_as(
            &prices,
            r#"mutation { pricesSet(prices: [{ sku: "EMP-00000-01", channel: "default", amount: "12.34" }]) { updatedCount userErrors { code } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(set["pricesSet"]["userErrors"], json!([]), "{set}");
    let got = accepted(&inbox, 1).await;
    assert_eq!(got[0].topic, "catalog.changed");
    assert_eq!(got[0].body["data"]["type"], "catalogChanged");
    assert!(
        got[0].body["data"]["variantIds"]
            .as_array()
            .is_some_and(|v| !v.is_empty()),
        "{:?}",
        got[0].body
    );
}

const UPDATE: &str = "mutation($id: ID!, $i: WebhookSubscriptionUpdateInput!) { webhookSubscriptionUpdate(id: $id, input: $i) { webhookSubscription { id url topics active } userErrors { field code message } } }";

/// Runs `webhookSubscriptionUpdate` as `token`; returns its payload.
async fn update(app: &TestApp, token: &str, id: &str, input: Value) -> Value {
    let data = app
        .query_as(token, UPDATE, json!({ "id": id, "i": input }))
        .await;
    data["webhookSubscriptionUpdate"].clone()
}

/// The codes of a payload's user errors.
fn codes(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_subscription_update_changes_url_and_topics_with_the_create_checks_and_is_audited() {
    let app = app(3).await;
    let admin = accounts::staff_user(&app, "owner@example.com", Role::Admin).await;
    let (old_url, old_inbox) = receiver().await;
    let (new_url, new_inbox) = receiver().await;
    let scopes = ["webhooks:write", "inventory:read"];
    let (a, _) = accounts::partner_token(&app, &scopes, None).await;
    let (b, _) = accounts::partner_token(&app, &scopes, None).await;
    let (sub, secret) = subscribe(&app, &a, &old_url, &["stock.changed"]).await;
    old_inbox.trust(&secret);
    new_inbox.trust(&secret);

    // The checks of create, each with its code; nothing changes.
    let p = update(
        &app,
        &a,
        &sub,
        json!({ "url": "ftp://partner.example.com/" }),
    )
    .await;
    assert_eq!(p["userErrors"][0]["field"], json!(["input", "url"]), "{p}");
    assert_eq!(codes(&p), vec!["INVALID_URL"]);
    assert_eq!(p["webhookSubscription"], Value::Null);
    let p = update(
        &app,
        &a,
        &sub,
        json!({ "topics": ["stock.changed", "stock.moved"] }),
    )
    .await;
    assert_eq!(codes(&p), vec!["UNKNOWN_TOPIC"], "{p}");
    assert_eq!(p["userErrors"][0]["field"], json!(["input", "topics", "1"]));
    let p = update(&app, &a, &sub, json!({ "topics": [], "url": "nope" })).await;
    assert_eq!(codes(&p), vec!["INVALID_URL", "BLANK"], "{p}");
    // A topic needs the permission to read its data, as at creation.
    let (_, body) = app
        .post_as(
            &a,
            UPDATE,
            json!({ "id": sub, "i": { "topics": ["order.paid"] } }),
        )
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN");
    assert!(body.to_string().contains("orders:read"), "{body}");
    // Another partner does not see it; a missing one is not found either.
    let p = update(&app, &b, &sub, json!({ "active": false })).await;
    assert_eq!(codes(&p), vec!["NOT_FOUND"], "{p}");
    let missing = crate::authz::gid("WebhookSubscription", 999_999);
    let p = update(&app, &a, &missing, json!({ "active": false })).await;
    assert_eq!(codes(&p), vec!["NOT_FOUND"], "{p}");
    // Without the scope it is refused outright; a malformed id is a bad request.
    let (outsider, _) = accounts::partner_token(&app, &["inventory:read"], None).await;
    let (_, body) = app
        .post_as(
            &outsider,
            UPDATE,
            json!({ "id": sub, "i": { "active": false } }),
        )
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN");
    let (_, body) = app
        .post_as(&a, UPDATE, json!({ "id": "nope", "i": {} }))
        .await;
    assert_eq!(first_code(&body), "BAD_USER_INPUT");
    let list = app.query_as(&admin.access, LIST, json!({})).await;
    assert_eq!(
        list["webhookSubscriptions"],
        json!([{ "id": sub, "url": old_url, "topics": ["stock.changed"] }])
    );

    // A valid change: the new URL and topics take effect for the next event.
    let p = update(
        &app,
        &a,
        &sub,
        json!({ "url": new_url, "topics": ["stock.changed", "stock.changed"] }),
    )
    .await;
    assert_eq!(
        p,
        json!({ "webhookSubscription": { "id": sub, "url": new_url, "topics": ["stock.changed"], "active": true }, "userErrors": [] })
    );
    let (inventory, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    set_stock(&app, &inventory, 21).await;
    let got = accepted(&new_inbox, 1).await;
    assert_eq!(got[0].body["data"]["onHand"], 21);
    assert!(old_inbox.accepted().is_empty());
    assert_eq!(old_inbox.refused.load(Ordering::SeqCst), 0);
    // Staff manage every subscription.
    let p = update(&app, &admin.access, &sub, json!({ "active": false })).await;
    assert_eq!(p["webhookSubscription"]["active"], false, "{p}");
    // A change that changes nothing is not audited.
    let p = update(&app, &a, &sub, json!({ "active": false })).await;
    assert_eq!(p["userErrors"], json!([]), "{p}");

    // Audited with before and after, never the secret.
    let audit = app
        .query_as(
            &admin.access,
            "{ auditEntries(first: 10, entityType: \"webhook_subscription\") { nodes { action actorKind before after } } }",
            json!({}),
        )
        .await;
    let nodes = audit["auditEntries"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let updates: Vec<&Value> = nodes
        .iter()
        .filter(|n| n["action"] == "webhook_subscription.update")
        .collect();
    assert_eq!(updates.len(), 2, "{nodes:?}");
    let snapshot = |entry: &Value, side: &str| -> Value {
        serde_json::from_str(entry[side].as_str().unwrap_or("null"))
            .unwrap_or_else(|e| panic!("{side}: {e}"))
    };
    let (paused, moved) = (updates[0], updates[1]);
    assert_eq!(paused["actorKind"], "staff");
    assert_eq!(moved["actorKind"], "partner");
    assert_eq!(snapshot(moved, "before")["url"], json!(old_url), "{moved}");
    assert_eq!(snapshot(moved, "after")["url"], json!(new_url), "{moved}");
    assert_eq!(snapshot(paused, "before")["active"], true, "{paused}");
    assert_eq!(snapshot(paused, "after")["active"], false, "{paused}");
    assert!(
        !audit.to_string().contains(&secret),
        "the secret is audited"
    );
}

#[tokio::test]
async fn a_paused_subscription_gets_no_new_deliveries_and_its_pending_ones_wait_until_resumed() {
    // Many attempts, soon after each other, so a failing delivery stays
    // pending and would be retried several times a second if not held.
    fn retrying(c: &mut Config) {
        fast(c);
        c.webhooks.max_attempts = 1_000;
        c.webhooks.retry_cap_secs = 1;
    }
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        configure: Some(retrying),
        ..Default::default()
    })
    .await;
    let admin = accounts::staff_user(&app, "owner@example.com", Role::Admin).await;
    let (url, inbox) = receiver().await;
    let (control_url, control) = receiver().await;
    inbox.always_fail.store(true, Ordering::SeqCst);
    let (sub, secret) = subscribe(&app, &admin.access, &url, &["stock.changed"]).await;
    let (control_sub, control_secret) =
        subscribe(&app, &admin.access, &control_url, &["stock.changed"]).await;
    inbox.trust(&secret);
    control.trust(&control_secret);
    let (inventory, _) = accounts::partner_token(&app, &["inventory:write"], None).await;

    // A first event: its delivery fails and stays pending, retried.
    set_stock(&app, &inventory, 31).await;
    let log = log_until(&app, &admin.access, Some(&sub), "retried", |log| {
        log.len() == 1 && log[0]["attempts"].as_i64().unwrap_or(0) >= 2
    })
    .await;
    let first_event = log[0]["eventId"].as_str().unwrap_or_default().to_owned();

    // Paused. A second event: the control subscription gets it, in a round
    // of the worker that began after the pause (so an attempt in flight at
    // the pause has been recorded by then); the paused one does not even
    // get a delivery queued.
    let p = update(&app, &admin.access, &sub, json!({ "active": false })).await;
    assert_eq!(p["webhookSubscription"]["active"], false, "{p}");
    set_stock(&app, &inventory, 32).await;
    accepted(&control, 2).await;
    let held = deliveries(&app, &admin.access, Some(&sub)).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["status"], "PENDING", "{held:?}");
    // Its retry falls due, and a further round (the control subscription
    // gets a third event) passes it by.
    app.clock.advance(Duration::from_secs(60));
    set_stock(&app, &inventory, 33).await;
    accepted(&control, 3).await;
    let still = deliveries(&app, &admin.access, Some(&sub)).await;
    assert_eq!(
        still[0]["attempts"], held[0]["attempts"],
        "retried while paused"
    );
    let hits = inbox.hits(&first_event);
    assert_eq!(
        Some(u64::from(hits)),
        held[0]["attempts"].as_u64(),
        "{held:?}"
    );
    log_until(&app, &admin.access, Some(&control_sub), "control", |log| {
        log.len() == 3 && log.iter().all(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    assert_eq!(deliveries(&app, &admin.access, Some(&sub)).await.len(), 1);

    // Resumed (and the receiver fixed): the held delivery goes out, only it.
    inbox.always_fail.store(false, Ordering::SeqCst);
    let p = update(&app, &admin.access, &sub, json!({ "active": true })).await;
    assert_eq!(p["webhookSubscription"]["active"], true, "{p}");
    let got = accepted(&inbox, 1).await;
    assert_eq!(got[0].event_id, first_event);
    let log = log_until(&app, &admin.access, Some(&sub), "resumed", |log| {
        log.len() == 1 && log[0]["status"] == "SUCCEEDED"
    })
    .await;
    assert_eq!(log[0]["eventId"], json!(first_event));
    assert_eq!(inbox.accepted().len(), 1);
    assert_eq!(inbox.hits(&first_event), hits + 1);
}

#[tokio::test]
async fn the_guard_refuses_private_targets_when_a_url_is_set() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        configure: Some(guarded),
        ..Default::default()
    })
    .await;
    let admin = accounts::staff_user(&app, "owner@example.com", Role::Admin).await;
    for url in [
        "http://127.0.0.1:9000/hooks",
        "http://10.1.2.3/hooks",
        "http://192.168.0.10/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hooks",
        "http://[::1]:8080/hooks",
        "http://[fd00::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://localhost:8000/hooks",
        "http://0.0.0.0/hooks",
        "http://2130706433/hooks",
    ] {
        let data = create_for(&app, &admin.access, url).await;
        let p = &data["webhookSubscriptionCreate"];
        assert_eq!(codes(p), vec!["PRIVATE_URL"], "{url}: {p}");
        assert_eq!(p["userErrors"][0]["field"], json!(["input", "url"]));
        assert_eq!(p["webhookSubscription"], Value::Null);
    }
    let list = app.query_as(&admin.access, LIST, json!({})).await;
    assert_eq!(list["webhookSubscriptions"], json!([]));

    // A name is not resolved when it is set (it is at delivery).
    let (sub, _) = subscribe(
        &app,
        &admin.access,
        "https://partner.example.com/hooks",
        &["order.paid"],
    )
    .await;
    for url in [
        "http://169.254.169.254/",
        "http://[::1]/",
        "http://localhost./",
    ] {
        let p = update(&app, &admin.access, &sub, json!({ "url": url })).await;
        assert_eq!(codes(&p), vec!["PRIVATE_URL"], "{url}: {p}");
    }
    let list = app.query_as(&admin.access, LIST, json!({})).await;
    assert_eq!(
        list["webhookSubscriptions"][0]["url"],
        "https://partner.example.com/hooks"
    );
}

#[tokio::test]
async fn the_guard_refuses_at_delivery_a_host_that_resolves_to_loopback() {
    use entity::webhook_subscription;
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        configure: Some(guarded),
        ..Default::default()
    })
    .await;
    let admin = accounts::staff_user(&app, "owner@example.com", Role::Admin).await;
    // A live receiver on 127.0.0.1 that would accept these deliveries.
    let (url, inbox) = receiver().await;
    let port = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/hooks")
        .to_owned();
    let (owner, owner_id) =
        accounts::partner_token(&app, &["webhooks:write", "inventory:read"], None).await;
    // Rows as they would be if written before the guard, or by hand: the
    // create check would refuse both URLs.
    let secret = "whsec_guard_test_secret_0123456789abcdef0123456789";
    inbox.trust(secret);
    let mut ids = Vec::new();
    for target in [
        format!("http://localhost:{port}/hooks"),
        format!("http://127.0.0.1:{port}/hooks"),
    ] {
        let row = webhook_subscription::Entity::insert(webhook_subscription::ActiveModel {
            url: Set(target),
            topics: Set("stock.changed".into()),
            secret: Set(secret.into()),
            created_by_staff_id: Set(None),
            created_by_token_id: Set(Some(owner_id)),
            active: Set(true),
            created_at: Set(chrono::Utc::now()),
            ..Default::default()
        })
        .exec(&app.db)
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
        ids.push(crate::authz::gid("WebhookSubscription", row.last_insert_id));
    }
    let (inventory, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    set_stock(&app, &inventory, 41).await;

    // Settled: failed for good, or (without the guard) delivered.
    let settled = |log: &[Value]| log.len() == 1 && log[0]["status"] != "PENDING";
    let by_name = log_until(
        &app,
        &admin.access,
        Some(&ids[0]),
        "refused by name",
        settled,
    )
    .await;
    let d = &by_name[0];
    assert_eq!(
        (&d["status"], &d["attempts"]),
        (&json!("FAILED"), &json!(3)),
        "{d}"
    );
    assert_eq!(d["lastResponseStatus"], Value::Null, "{d}");
    let error = d["lastError"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("refused: localhost resolves to ")
            && error.contains("a loopback address"),
        "{d}"
    );
    let literal = log_until(
        &app,
        &admin.access,
        Some(&ids[1]),
        "refused literal",
        settled,
    )
    .await;
    assert_eq!(
        literal[0]["lastError"], "refused: 127.0.0.1 is a loopback address, not a public one",
        "{literal:?}"
    );
    // Nothing reached the receiver.
    assert!(inbox.accepted().is_empty());
    assert_eq!(inbox.refused.load(Ordering::SeqCst), 0);
    let event = d["eventId"]
        .as_str()
        .unwrap_or_else(|| panic!("no event id in {d}"));
    assert_eq!(inbox.hits(event), 0);
    // The owner sees why in its own log.
    let own = deliveries(&app, &owner, Some(&ids[0])).await;
    assert_eq!(own[0]["lastError"], d["lastError"]);
}

/// At least once, and seen once: the relay crashes after publishing a
/// stock change and before marking it published (a failpoint the test
/// arms), so the event goes out again with the same id. The bus carries it
/// twice; a webhook receiver and a WebSocket subscriber each get it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_crash_after_publishing_sends_again_and_receivers_see_each_event_once() {
    use crate::subscriptions::{STOCK, Ws, listening};
    let app = app(3).await;
    let admin = accounts::staff_user(&app, "crash@example.com", Role::Admin).await;
    let (url, inbox) = receiver().await;
    let (_, secret) = subscribe(&app, &admin.access, &url, &["stock.changed"]).await;
    inbox.trust(&secret);
    let (inventory, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    let product = app
        .query(
            "{ product(handle: \"pocket-journal-0\") { variants { id sku } } }",
            json!({}),
        )
        .await;
    let variant = product["product"]["variants"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["sku"] == "EMP-00000-01")
        .map(|v| v["id"].clone())
        .unwrap_or_else(|| panic!("no EMP-00000-01: {product}"));
    let mut ws = Ws::connect(&app, None).await;
    let live = ws.subscribe(STOCK, json!({ "ids": [variant] })).await;
    listening(&app, 1).await;
    let mut bus = app.state.events.subscribe();

    app.state.relay.crash_after_publish(1);
    set_stock(&app, &inventory, 41).await;
    let mut next = async || {
        tokio::time::timeout(PATIENCE, bus.recv())
            .await
            .unwrap_or_else(|_| panic!("no event within {PATIENCE:?}"))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (first, again) = (next().await, next().await);
    assert_eq!(
        first.id, again.id,
        "the crashed round's event went out again with its id"
    );
    assert_eq!(first.event.topic(), "stock.changed");

    // A later change is the next thing every receiver gets.
    set_stock(&app, &inventory, 42).await;
    let after = next().await;
    assert_ne!(after.id, first.id);
    let got = accepted(&inbox, 2).await;
    assert_eq!(inbox.hits(&first.id), 1, "the webhook got the event twice");
    // Deliveries of two events may overtake each other; each came once.
    let mut ids: Vec<&str> = got.iter().map(|r| r.event_id.as_str()).collect();
    ids.sort_unstable();
    let mut want = [first.id.as_str(), after.id.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);
    // Available counts every location: the warehouse's 41, then one more.
    let seen: Vec<i64> = [ws.next_of(&live).await, ws.next_of(&live).await]
        .iter()
        .map(|p| {
            p["data"]["stockUpdated"]["quantityAvailable"]
                .as_i64()
                .unwrap_or(-1)
        })
        .collect();
    assert_eq!(
        seen[1],
        seen[0] + 1,
        "the subscriber saw the event twice: {seen:?}"
    );
}

#[tokio::test]
async fn a_subscription_delivers_only_while_its_creator_holds_the_rights() {
    let app = app(3).await;
    let root = accounts::staff_user(&app, "root@example.com", Role::Admin).await;
    let ops = accounts::staff_user(&app, "ops@example.com", Role::Admin).await;
    let (url, inbox) = receiver().await;
    let (ops_sub, ops_secret) = subscribe(&app, &ops.access, &url, &["stock.changed"]).await;
    let (root_sub, root_secret) = subscribe(&app, &root.access, &url, &["stock.changed"]).await;
    inbox.trust(&ops_secret);
    inbox.trust(&root_secret);
    let role = |role: &'static str| {
        let (app, root, ops) = (&app, &root, &ops);
        async move {
            let data = app
                .query_as(
                    &root.access,
                    "mutation($id: ID!, $r: StaffRole) { staffUserUpdate(id: $id, role: $r) { staffUser { role } userErrors { code } } }",
                    json!({ "id": ops.id, "r": role }),
                )
                .await;
            assert_eq!(data["staffUserUpdate"]["userErrors"], json!([]), "{data}");
        }
    };
    // Fulfillment still reads inventory, but manages no webhooks.
    role("FULFILLMENT").await;
    let (inventory, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    set_stock(&app, &inventory, 41).await;
    log_until(
        &app,
        &root.access,
        Some(&root_sub),
        "root's delivery",
        |log| log.len() == 1 && log[0]["status"] == "SUCCEEDED",
    )
    .await;
    // The event reached the relay for both: nothing was enqueued for the
    // demoted creator's subscription.
    assert_eq!(
        deliveries(&app, &root.access, Some(&ops_sub)).await,
        Vec::<Value>::new()
    );

    // A delivery enqueued before the demotion is refused when it falls due.
    let ops_user = emporium::domain::identity::staff::find_by_email(&app.db, "ops@example.com")
        .await
        .unwrap_or_else(|e| panic!("staff: {e}"))
        .unwrap_or_else(|| panic!("no ops user"));
    let ops_row = entity::webhook_subscription::Entity::find()
        .filter(entity::webhook_subscription::Column::CreatedByStaffId.eq(ops_user.id))
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("subscription: {e}"))
        .unwrap_or_else(|| panic!("no subscription of ops"));
    let now = chrono::Utc::now();
    entity::webhook_delivery::Entity::insert(entity::webhook_delivery::ActiveModel {
        subscription_id: Set(ops_row.id),
        event_id: Set("evt-before-the-demotion".into()),
        topic: Set("stock.changed".into()),
        payload: Set("{}".into()),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&app.db)
    .await
    .unwrap_or_else(|e| panic!("insert: {e}"));
    let log = log_until(&app, &root.access, Some(&ops_sub), "refused", |log| {
        log.len() == 1 && log[0]["status"] == "FAILED"
    })
    .await;
    assert!(
        log[0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("webhooks:write")),
        "{log:?}"
    );
    assert_eq!(inbox.hits("evt-before-the-demotion"), 0);

    // With the rights back, it delivers again.
    role("ADMIN").await;
    set_stock(&app, &inventory, 42).await;
    log_until(
        &app,
        &root.access,
        Some(&ops_sub),
        "delivered again",
        |log| log.iter().any(|d| d["status"] == "SUCCEEDED"),
    )
    .await;
}
