//! Payments over real HTTP: an order awaiting 3-D Secure is paid or
//! cancelled by the gateway's signed webhook, exactly once, with the `test`
//! gateway and with the Stripe adapter against a mock Stripe; and a slow or
//! unlucky payment never leaves a charge without an order, an order without
//! its stock, or an idempotency key without an answer.

use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

use chrono::Utc;
use emporium::{
    config::CommerceConfig,
    domain::{
        identity::permission::Role,
        payments::{WebhookEvent, WebhookEventKind, signature, stripe_event_json},
    },
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, Request, Respond, ResponseTemplate,
    matchers::{method, path},
};

use crate::{
    accounts,
    checkout::{
        Item, checkout, codes, due, order_count, order_id, order_row, payload, payment_count,
        pending_order, ready_cart, reservations, shop, stock_of, stocked_item, transitions_of,
    },
    harness::{Options, TestApp},
};

/// An order as staff with `orders:read` see it.
const ORDER: &str = "query($id: ID!) { order(id: $id) { status paymentStatus payments { gateway reference status } transitions { event from to actor } } }";

/// POSTs a webhook delivery; returns the status and the answer's text.
async fn deliver(
    app: &TestApp,
    gateway: &str,
    headers: http::HeaderMap,
    body: Vec<u8>,
) -> (u16, String) {
    let res = app
        .client
        .post(format!("{}/webhooks/payments/{gateway}", app.base))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("webhook delivery failed: {e}"));
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

/// Headers of a Stripe-style delivery with this `Stripe-Signature`.
fn signed(signature: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "stripe-signature",
        http::HeaderValue::from_str(signature).unwrap_or_else(|e| panic!("header: {e}")),
    );
    headers
}

/// The order `gid` as a support agent reads it.
async fn order_as_staff(app: &TestApp, staff: &str, gid: &str) -> Value {
    app.query_as(staff, ORDER, json!({ "id": gid })).await["order"].clone()
}

/// The checkout settings of the app being spawned (the harness's
/// `configure` is a plain `fn`, so they travel through here, one spawn at a
/// time).
static COMMERCE: Mutex<Option<CommerceConfig>> = Mutex::new(None);
static SPAWNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const STRIPE_WEBHOOK_SECRET: &str = "whsec_emporium_tests";

/// Default checkout settings plus the `stripe` gateway talking to `stripe`.
fn with_stripe(stripe: &MockServer) -> CommerceConfig {
    let mut c = CommerceConfig::default();
    c.gateways.push("stripe".into());
    c.stripe_secret_key = Some("sk_test_emporium".into());
    c.stripe_webhook_secret = Some(STRIPE_WEBHOOK_SECRET.into());
    c.stripe_api_base = Some(stripe.uri());
    c
}

/// An app with these checkout settings.
async fn shop_with(commerce: CommerceConfig) -> TestApp {
    spawn_shop(commerce, false).await
}

/// An app with these checkout settings, served on a runtime of its own
/// when `apart` (for races).
async fn spawn_shop(commerce: CommerceConfig, apart: bool) -> TestApp {
    let _one_at_a_time = SPAWNING.lock().await;
    *COMMERCE.lock().unwrap_or_else(PoisonError::into_inner) = Some(commerce);
    TestApp::spawn_with(Options {
        products: Some(20),
        configure: Some(|c| {
            if let Some(commerce) = COMMERCE
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                c.commerce = commerce;
            }
        }),
        own_runtime: apart,
        ..Default::default()
    })
    .await
}

/// Moves the app's clock past the expiry of every expiring hold of `item`,
/// so that the sweeper releases them.
async fn expire_holds(app: &TestApp, item: &Item) {
    let latest = reservations(app, item.id)
        .await
        .iter()
        .filter_map(|r| r.expires_at)
        .max()
        .unwrap_or_else(|| panic!("no expiring hold of variant {}", item.id));
    app.advance_past(latest);
}

/// An app with the `stripe` gateway talking to `stripe`.
async fn stripe_shop(stripe: &MockServer) -> TestApp {
    shop_with(with_stripe(stripe)).await
}

/// A Stripe event about `pi_123`, signed at now with `secret`: (headers, body).
fn stripe_event(secret: &str, id: &str, kind: WebhookEventKind) -> (http::HeaderMap, Vec<u8>) {
    let now = Utc::now().timestamp();
    let event = WebhookEvent {
        id: id.to_owned(),
        kind,
    };
    let body = stripe_event_json(&event, now).to_string().into_bytes();
    (signed(&signature::sign(secret, now, &body)), body)
}

/// Checks what the app sent Stripe to create PaymentIntents: a key per
/// attempt, the payment method token, never card data.
async fn assert_intents_carry_keys_and_no_card_data(stripe: &MockServer, token: &str) {
    let requests = stripe
        .received_requests()
        .await
        .unwrap_or_else(|| panic!("the mock records no requests"));
    let intents: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/v1/payment_intents")
        .collect();
    assert_eq!(intents.len(), 1, "one PaymentIntent created");
    let r = intents[0];
    let key = r
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(!key.is_empty(), "no Idempotency-Key header");
    let body = String::from_utf8_lossy(&r.body).to_string();
    assert!(body.contains(&format!("payment_method={token}")), "{body}");
    for card_data in ["card%5B", "card[", "number", "cvc", "exp_month", "4242"] {
        assert!(
            !body.contains(card_data),
            "card data `{card_data}` sent: {body}"
        );
    }
}

/// Stripe confirming a PaymentIntent at once (a card without 3-D Secure),
/// for the amount asked.
struct SucceededIntent;

impl Respond for SucceededIntent {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let amount: i64 = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&request.body)
            .unwrap_or_default()
            .into_iter()
            .find(|(k, _)| k == "amount")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "pi_456",
            "object": "payment_intent",
            "status": "succeeded",
            "amount": amount,
            "amount_received": amount,
            "client_secret": "pi_456_secret_def",
        }))
    }
}

/// [`SucceededIntent`] after two seconds.
struct SlowIntent;

impl Respond for SlowIntent {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        SucceededIntent
            .respond(request)
            .set_delay(std::time::Duration::from_secs(2))
    }
}

/// Holds Stripe's answer to a PaymentIntent until the test opens the gate
/// (at most 20 s, under the adapter's own timeout), then confirms it.
struct Gate(Mutex<std::sync::mpsc::Receiver<()>>);

impl Respond for Gate {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        // The mock server answers on a thread of its own: waiting here
        // stalls only the mock.
        let _ = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv_timeout(std::time::Duration::from_secs(20));
        SucceededIntent.respond(request)
    }
}

#[tokio::test]
async fn a_3ds_order_is_paid_by_its_signed_webhook_once() {
    let app = shop().await;
    let item = stocked_item(&app, 5).await;
    let staff = accounts::staff_user(&app, "support@example.com", Role::Support).await;
    let p = pending_order(&app, &item, 2, "3ds-passes").await;
    let order = order_id(&p);
    let reference = p["order"]["payments"][0]["reference"]
        .as_str()
        .unwrap_or_else(|| panic!("no payment reference in {p}"))
        .to_owned();
    assert_eq!(
        p["order"]["payments"][0]["status"], "requires_action",
        "{p}"
    );
    let secret = p["nextAction"]["clientSecret"]
        .as_str()
        .unwrap_or_else(|| panic!("no client secret in {p}"));
    assert!(secret.starts_with(&reference), "{p}");
    // The stock waits for the customer, with a deadline.
    assert_eq!(stock_of(&app, item.id).await, (5, 2));
    assert!(
        reservations(&app, item.id)
            .await
            .iter()
            .all(|r| r.expires_at.is_some())
    );
    let transitions_before = transitions_of(&app, order_row(&app, &order).await.id)
        .await
        .len();

    // The customer passes 3-D Secure; the gateway says so.
    let gateway = app
        .state
        .gateways
        .test_gateway()
        .unwrap_or_else(|| panic!("no test gateway"));
    let hook = gateway
        .complete_action(&reference, true, Utc::now())
        .unwrap_or_else(|e| panic!("complete_action: {e}"));
    assert_eq!(
        deliver(&app, "test", hook.headers(), hook.body.clone()).await,
        (200, "applied".to_owned())
    );
    let seen = order_as_staff(&app, &staff.access, &order).await;
    assert_eq!(
        (&seen["status"], &seen["paymentStatus"]),
        (&json!("OPEN"), &json!("PAID")),
        "{seen}"
    );
    assert_eq!(seen["payments"][0]["status"], "captured");
    let by_gateway: Vec<&Value> = seen["transitions"]
        .as_array()
        .map(|ts| ts.iter().filter(|t| t["actor"] == "gateway:test").collect())
        .unwrap_or_default();
    assert_eq!(by_gateway.len(), 1, "{seen}");
    assert_eq!(by_gateway[0]["event"], "payment_captured");
    assert_eq!(by_gateway[0]["to"], "open/paid/unfulfilled");
    // Secured: held until fulfilment, no deadline any more.
    assert_eq!(stock_of(&app, item.id).await, (5, 2));
    assert!(
        reservations(&app, item.id)
            .await
            .iter()
            .all(|r| r.expires_at.is_none())
    );
    let row = order_row(&app, &order).await;
    let transitions = transitions_of(&app, row.id).await.len();
    assert_eq!(transitions, transitions_before + 1);

    // The gateway delivers at least once: a replay changes nothing.
    assert_eq!(
        deliver(&app, "test", hook.headers(), hook.body.clone()).await,
        (200, "duplicate".to_owned())
    );
    // Forgeries are refused: a tampered body, a wrong secret, no signature.
    let body = String::from_utf8(hook.body.clone()).unwrap_or_default();
    let tampered = body.replacen("evt_test_", "evt_forged_", 1);
    assert_ne!(tampered, body);
    let (status, _) = deliver(&app, "test", hook.headers(), tampered.clone().into_bytes()).await;
    assert_eq!(status, 400, "tampered body");
    let now = Utc::now().timestamp();
    let wrong = signature::sign("whsec_not_the_secret", now, tampered.as_bytes());
    let (status, _) = deliver(&app, "test", signed(&wrong), tampered.clone().into_bytes()).await;
    assert_eq!(status, 400, "wrong secret");
    let (status, _) = deliver(&app, "test", http::HeaderMap::new(), tampered.into_bytes()).await;
    assert_eq!(status, 400, "no signature");
    let (status, _) = deliver(&app, "stripe", hook.headers(), hook.body.clone()).await;
    assert_eq!(status, 404, "a gateway that is not enabled");
    let after = order_row(&app, &order).await;
    assert_eq!(
        after.lock_version, row.lock_version,
        "the order did not move"
    );
    assert_eq!(transitions_of(&app, row.id).await.len(), transitions);
    assert_eq!(payment_count(&app).await, 1);

    // Another customer fails 3-D Secure: that order is cancelled and its
    // stock given back; the paid order keeps its own.
    let failed = pending_order(&app, &item, 1, "3ds-fails").await;
    assert_eq!(stock_of(&app, item.id).await, (5, 3));
    let hook = gateway
        .complete_action(
            failed["order"]["payments"][0]["reference"]
                .as_str()
                .unwrap_or_else(|| panic!("no payment reference in {failed}")),
            false,
            Utc::now(),
        )
        .unwrap_or_else(|e| panic!("complete_action: {e}"));
    assert_eq!(
        deliver(&app, "test", hook.headers(), hook.body.clone()).await,
        (200, "applied".to_owned())
    );
    let seen = order_as_staff(&app, &staff.access, &order_id(&failed)).await;
    assert_eq!(
        (&seen["status"], &seen["paymentStatus"]),
        (&json!("CANCELLED"), &json!("FAILED")),
        "{seen}"
    );
    assert_eq!(seen["payments"][0]["status"], "failed");
    assert_eq!(stock_of(&app, item.id).await, (5, 2));
    assert_eq!(
        deliver(&app, "test", hook.headers(), hook.body).await,
        (200, "duplicate".to_owned())
    );
    assert_eq!(stock_of(&app, item.id).await, (5, 2), "released once");
    assert_eq!(order_count(&app).await, 2);
}

#[tokio::test]
async fn stripe_3ds_checkout_is_paid_by_a_signed_stripe_webhook() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "pi_123",
            "object": "payment_intent",
            "status": "requires_action",
            "client_secret": "pi_123_secret_abc",
            "next_action": { "type": "use_stripe_sdk" },
        })))
        .expect(1)
        .mount(&stripe)
        .await;
    let app = stripe_shop(&stripe).await;
    let item = stocked_item(&app, 5).await;
    let staff = accounts::staff_user(&app, "support@example.com", Role::Support).await;
    let cart = ready_cart(&app, None, &item, 1).await;
    let (status, body) = checkout(
        &app,
        None,
        &cart,
        "stripe",
        "pm_card_threeDSecure2Required",
        Some("stripe-3ds"),
    )
    .await;
    let p = payload(status, &body);
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(
        (
            p["order"]["status"].as_str(),
            p["order"]["paymentStatus"].as_str()
        ),
        (Some("PENDING"), Some("PENDING")),
        "{p}"
    );
    assert_eq!(p["nextAction"]["clientSecret"], "pi_123_secret_abc");
    assert_eq!(
        p["order"]["payments"][0],
        json!({ "gateway": "stripe", "reference": "pi_123", "status": "requires_action" })
    );
    // The customer has the client secret now; the payment row does not keep it.
    let kept = entity::payment::Entity::find()
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("payments: {e}"));
    assert!(kept.iter().all(|p| p.client_secret.is_none()), "{kept:?}");
    assert_eq!(stock_of(&app, item.id).await, (5, 1));
    assert_intents_carry_keys_and_no_card_data(&stripe, "pm_card_threeDSecure2Required").await;
    let order = order_id(&p);
    let due = order_row(&app, &order).await.amount_due_minor;

    let (headers, body) = stripe_event(
        STRIPE_WEBHOOK_SECRET,
        "evt_1",
        WebhookEventKind::PaymentSucceeded {
            reference: "pi_123".into(),
            amount_minor: due,
        },
    );
    assert_eq!(
        deliver(&app, "stripe", headers.clone(), body.clone()).await,
        (200, "applied".to_owned())
    );
    let seen = order_as_staff(&app, &staff.access, &order).await;
    assert_eq!(
        (&seen["status"], &seen["paymentStatus"]),
        (&json!("OPEN"), &json!("PAID")),
        "{seen}"
    );
    assert!(
        seen["transitions"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["actor"] == "gateway:stripe")),
        "{seen}"
    );
    let row = order_row(&app, &order).await;

    assert_eq!(
        deliver(&app, "stripe", headers, body.clone()).await,
        (200, "duplicate".to_owned())
    );
    let (bad, _) = stripe_event(
        "whsec_someone_else",
        "evt_2",
        WebhookEventKind::Canceled {
            reference: "pi_123".into(),
        },
    );
    assert_eq!(deliver(&app, "stripe", bad, body).await.0, 400);
    assert_eq!(order_row(&app, &order).await.lock_version, row.lock_version);
    assert_eq!(order_as_staff(&app, &staff.access, &order).await, seen);
    assert_eq!(stock_of(&app, item.id).await, (5, 1));
}

#[tokio::test]
async fn a_stripe_card_error_is_a_decline_that_places_nothing() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({ "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
            "param": "payment_method",
            "payment_intent": { "id": "pi_declined", "status": "requires_payment_method" },
        } })))
        .expect(1)
        .mount(&stripe)
        .await;
    let app = stripe_shop(&stripe).await;
    let item: Item = stocked_item(&app, 5).await;
    let cart = ready_cart(&app, None, &item, 1).await;
    let (status, body) = checkout(
        &app,
        None,
        &cart,
        "stripe",
        "pm_card_visa_chargeDeclinedInsufficientFunds",
        Some("stripe-declined"),
    )
    .await;
    let p = payload(status, &body);
    assert_eq!(codes(&p), ["PAYMENT_DECLINED"], "{p}");
    assert!(
        p["userErrors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("insufficient_funds")),
        "{p}"
    );
    assert!(p["order"].is_null());
    assert_eq!(order_count(&app).await, 0);
    assert_eq!(payment_count(&app).await, 0);
    assert_eq!(stock_of(&app, item.id).await, (5, 0));
    assert_intents_carry_keys_and_no_card_data(
        &stripe,
        "pm_card_visa_chargeDeclinedInsufficientFunds",
    )
    .await;
}

#[tokio::test]
async fn a_checkout_the_client_gave_up_on_completes_and_its_retry_gets_the_order() {
    let stripe = MockServer::start().await;
    // Stripe is slow today: the client stops waiting before it answers.
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(SlowIntent)
        .expect(1)
        .mount(&stripe)
        .await;
    let app = stripe_shop(&stripe).await;
    let item = stocked_item(&app, 5).await;
    let cart = ready_cart(&app, None, &item, 1).await;
    let vars = json!({
        "cart": cart,
        "payment": { "gateway": "stripe", "token": "pm_card_visa" },
        "key": "given-up-once",
    });
    let gave_up = app
        .client
        .post(app.graphql_url())
        .timeout(std::time::Duration::from_millis(500))
        .json(&json!({ "query": crate::checkout::CHECKOUT, "variables": vars }))
        .send()
        .await;
    assert!(
        gave_up.is_err(),
        "the client was meant to give up: {gave_up:?}"
    );

    // The retry with the same key gets the order the first attempt placed.
    let (status, body) = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        app.post(crate::checkout::CHECKOUT, vars.clone()),
    )
    .await
    .unwrap_or_else(|_| panic!("the retry got no answer in 60 s"));
    let p = payload(status, &body);
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["order"]["status"], "OPEN", "{p}");
    assert_eq!(order_count(&app).await, 1);
    assert_eq!(payment_count(&app).await, 1);
    assert_eq!(stock_of(&app, item.id).await, (5, 1));
    assert_intents_carry_keys_and_no_card_data(&stripe, "pm_card_visa").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_with_one_idempotency_key_reach_stripe_once() {
    let stripe = MockServer::start().await;
    // Slow enough that the retries arrive while the first one waits.
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(SlowIntent)
        .expect(1)
        .named("the PaymentIntent of the checkout")
        .mount(&stripe)
        .await;
    let app = spawn_shop(with_stripe(&stripe), true).await;
    let item = stocked_item(&app, 5).await;
    let cart = ready_cart(&app, None, &item, 1).await;
    let order = crate::checkout::retry_at_once(
        &app,
        &cart,
        ("stripe", "pm_card_visa"),
        "stripe-retry-once",
        20,
    )
    .await;
    assert_eq!(order_row(&app, &order).await.status, "open");
    assert_eq!(order_count(&app).await, 1);
    assert_eq!(payment_count(&app).await, 1);
    assert_eq!(stock_of(&app, item.id).await, (5, 1));
    // Stripe was asked once (the mock's expectation), under one key.
    stripe.verify().await;
    assert_intents_carry_keys_and_no_card_data(&stripe, "pm_card_visa").await;
}

#[tokio::test]
async fn the_longest_idempotency_key_a_client_may_send_reaches_stripe() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(SucceededIntent)
        .expect(1)
        .mount(&stripe)
        .await;
    let app = stripe_shop(&stripe).await;
    let item = stocked_item(&app, 5).await;
    let cart = ready_cart(&app, None, &item, 1).await;
    let key = "k".repeat(255);
    let (status, body) = checkout(&app, None, &cart, "stripe", "pm_card_visa", Some(&key)).await;
    let p = payload(status, &body);
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["order"]["status"], "OPEN", "{p}");
    let sent = stripe
        .received_requests()
        .await
        .unwrap_or_else(|| panic!("the mock records no requests"));
    let sent_key = sent
        .first()
        .and_then(|r| r.headers.get("idempotency-key"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .len();
    assert!(
        (1..=255).contains(&sent_key),
        "Stripe takes keys of at most 255 characters"
    );
    // One character more is the client's mistake.
    let (status, body) = checkout(
        &app,
        None,
        &cart,
        "stripe",
        "pm_card_visa",
        Some(&"k".repeat(256)),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(crate::harness::first_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_hold_that_expires_while_the_gateway_thinks_is_taken_again() {
    let stripe = MockServer::start().await;
    // Stripe answers after the checkout's hold has expired and been swept.
    let (open, gate) = std::sync::mpsc::channel();
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(Gate(Mutex::new(gate)))
        .expect(1)
        .mount(&stripe)
        .await;
    let app = forgetful_stripe_shop(&stripe).await;
    let item = stocked_item(&app, 1).await;
    let first = ready_cart(&app, None, &item, 1).await;
    let second = ready_cart(&app, None, &item, 1).await;
    let slow = checkout(&app, None, &first, "stripe", "pm_card_visa", Some("slow"));
    let rest = async {
        crate::checkout::eventually(Duration::from_secs(20), "the hold is taken", || async {
            stock_of(&app, item.id).await == (1, 1)
        })
        .await;
        expire_holds(&app, &item).await;
        crate::checkout::eventually(Duration::from_secs(20), "the hold is swept", || async {
            stock_of(&app, item.id).await == (1, 0)
        })
        .await;
        let _ = open.send(());
    };
    let ((status, body), ()) = tokio::join!(slow, rest);
    let p = payload(status, &body);
    assert_eq!(p["order"]["status"], "OPEN", "{p}");
    // The order holds the unit it sold ...
    assert_eq!(stock_of(&app, item.id).await, (1, 1));
    let held = reservations(&app, item.id).await;
    assert!(
        held.len() == 1 && held[0].expires_at.is_none() && held[0].order_id.is_some(),
        "{held:?}"
    );
    // ... so nobody else can buy it.
    let (status, body) =
        checkout(&app, None, &second, "stripe", "pm_card_visa", Some("late")).await;
    assert_eq!(codes(&payload(status, &body)), ["OUT_OF_STOCK"]);
    assert_eq!(order_count(&app).await, 1);
}

#[tokio::test]
async fn a_sale_that_cannot_become_an_order_is_refunded() {
    let stripe = MockServer::start().await;
    let (open, gate) = std::sync::mpsc::channel();
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(Gate(Mutex::new(gate)))
        .expect(1)
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "re_1", "object": "refund", "amount": 1,
            "status": "succeeded", "payment_intent": "pi_456",
        })))
        .mount(&stripe)
        .await;
    let app = forgetful_stripe_shop(&stripe).await;
    let item = stocked_item(&app, 1).await;
    let slow = ready_cart(&app, None, &item, 1).await;
    let quick = ready_cart(&app, None, &item, 1).await;

    // The first buyer waits on Stripe; their hold expires and is swept ...
    let first = checkout(&app, None, &slow, "stripe", "pm_card_visa", Some("slow"));
    let rest = async {
        crate::checkout::eventually(Duration::from_secs(20), "the hold is taken", || async {
            stock_of(&app, item.id).await == (1, 1)
        })
        .await;
        expire_holds(&app, &item).await;
        crate::checkout::eventually(Duration::from_secs(20), "the hold is swept", || async {
            stock_of(&app, item.id).await == (1, 0)
        })
        .await;
        // ... a second buyer takes the unit ...
        let (status, body) = checkout(&app, None, &quick, "test", "tok_visa", Some("quick")).await;
        assert_eq!(payload(status, &body)["order"]["status"], "OPEN");
        // ... and then Stripe charges the first buyer.
        let _ = open.send(());
    };
    let ((status, body), ()) = tokio::join!(first, rest);
    let p = payload(status, &body);
    assert_eq!(codes(&p), ["OUT_OF_STOCK"], "{p}");
    assert!(p["order"].is_null());
    assert_eq!(order_count(&app).await, 1);
    assert_eq!(stock_of(&app, item.id).await, (1, 1));
    // The charge without an order went back.
    let requests = stripe
        .received_requests()
        .await
        .unwrap_or_else(|| panic!("the mock records no requests"));
    let refunds: Vec<String> = requests
        .iter()
        .filter(|r| r.url.path() == "/v1/refunds")
        .map(|r| String::from_utf8_lossy(&r.body).to_string())
        .collect();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert!(refunds[0].contains("payment_intent=pi_456"), "{refunds:?}");
}

#[tokio::test]
async fn money_arriving_for_a_cancelled_order_is_given_back() {
    let app = TestApp::spawn_with(Options {
        products: Some(20),
        configure: Some(|c| c.commerce.sweep_interval_secs = 1),
        ..Default::default()
    })
    .await;
    let item = stocked_item(&app, 3).await;
    let p = pending_order(&app, &item, 1, "3ds-too-late").await;
    let order = order_id(&p);
    let reference = p["order"]["payments"][0]["reference"]
        .as_str()
        .unwrap_or_else(|| panic!("no payment reference in {p}"))
        .to_owned();
    // The customer is away too long: the order is cancelled, the stock freed.
    app.advance_past(due(&order_row(&app, &order).await));
    crate::checkout::eventually(
        Duration::from_secs(30),
        "the order is cancelled",
        || async { order_row(&app, &order).await.status == "cancelled" },
    )
    .await;
    // Then they pass 3-D Secure after all: the gateway takes the money and
    // says so. It goes straight back; the order stays cancelled.
    let gateway = app
        .state
        .gateways
        .test_gateway()
        .unwrap_or_else(|| panic!("no test gateway"));
    let hook = gateway
        .complete_action(&reference, true, Utc::now())
        .unwrap_or_else(|e| panic!("complete_action: {e}"));
    assert_eq!(
        deliver(&app, "test", hook.headers(), hook.body.clone()).await,
        (200, "returned".to_owned())
    );
    let row = order_row(&app, &order).await;
    assert_eq!(row.status, "cancelled");
    let pay = entity::payment::Entity::find()
        .filter(entity::payment::Column::OrderId.eq(row.id))
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no payment"));
    assert_eq!(pay.status, "refunded");
    let kinds: Vec<String> = entity::payment_transaction::Entity::find()
        .filter(entity::payment_transaction::Column::PaymentId.eq(pay.id))
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|t| t.kind)
        .collect();
    assert_eq!(kinds, ["capture", "refund"]);
    assert_eq!(stock_of(&app, item.id).await, (3, 0));
    // A replay changes nothing more.
    assert_eq!(
        deliver(&app, "test", hook.headers(), hook.body.clone()).await,
        (200, "duplicate".to_owned())
    );
}

#[tokio::test]
async fn an_event_for_a_payment_not_known_yet_is_retried_not_dropped() {
    let app = shop().await;
    let gateway = app
        .state
        .gateways
        .test_gateway()
        .unwrap_or_else(|| panic!("no test gateway"));
    let event = WebhookEvent {
        id: "evt_early".into(),
        kind: WebhookEventKind::PaymentSucceeded {
            reference: "test_pi_not_yet".into(),
            amount_minor: 100,
        },
    };
    let hook = gateway.signed_webhook(&event, Utc::now());
    // 409: not recorded, so the gateway's next delivery is processed.
    for _ in 0..2 {
        let (status, _) = deliver(&app, "test", hook.headers(), hook.body.clone()).await;
        assert_eq!(status, 409);
    }
    let seen = entity::payment_webhook_event::Entity::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen, 0);
}

/// Stripe answering refunds with 503 `failures` times, then accepting them.
struct FlakyRefunds {
    failures: usize,
    seen: std::sync::atomic::AtomicUsize,
}

impl Respond for FlakyRefunds {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n < self.failures {
            ResponseTemplate::new(503).set_body_json(json!({ "error": {
                "type": "api_error", "message": "Stripe is having a bad day."
            } }))
        } else {
            ResponseTemplate::new(200).set_body_json(json!({
                "id": "re_1", "object": "refund", "amount": 1,
                "status": "succeeded", "payment_intent": "pi_456",
            }))
        }
    }
}

/// The requests Stripe received at `at`: their `Idempotency-Key` and body.
async fn received_at(stripe: &MockServer, at: &str) -> Vec<(String, String)> {
    stripe
        .received_requests()
        .await
        .unwrap_or_else(|| panic!("the mock records no requests"))
        .iter()
        .filter(|r| r.url.path() == at)
        .map(|r| {
            (
                r.headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned(),
                String::from_utf8_lossy(&r.body).to_string(),
            )
        })
        .collect()
}

/// A shop on `stripe` swept every second: a test moves its clock past a
/// checkout's hold (see [`expire_holds`]) so that a slow gateway loses its
/// buyer the stock.
async fn forgetful_stripe_shop(stripe: &MockServer) -> TestApp {
    let mut commerce = with_stripe(stripe);
    commerce.sweep_interval_secs = 1;
    shop_with(commerce).await
}

#[tokio::test]
async fn refunds_after_failed_placements_use_short_keys_of_their_own_cart() {
    let stripe = MockServer::start().await;
    let (open, gate) = std::sync::mpsc::channel();
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(Gate(Mutex::new(gate)))
        .expect(2)
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(FlakyRefunds {
            failures: 0,
            seen: Default::default(),
        })
        .mount(&stripe)
        .await;
    let app = forgetful_stripe_shop(&stripe).await;
    let item = stocked_item(&app, 2).await;
    let alice = accounts::customer(&app, "alice@example.com").await;
    let bob = accounts::customer(&app, "bob@example.com").await;
    let alices = ready_cart(&app, Some(&alice.access), &item, 1).await;
    let bobs = ready_cart(&app, Some(&bob.access), &item, 1).await;
    let quick = ready_cart(&app, None, &item, 2).await;
    // Two customers send the same key, as long as a key may be.
    let key = "k".repeat(255);

    // Both wait on Stripe; their holds expire and are swept ...
    let first = checkout(
        &app,
        Some(&alice.access),
        &alices,
        "stripe",
        "pm_card_visa",
        Some(&key),
    );
    let second = checkout(
        &app,
        Some(&bob.access),
        &bobs,
        "stripe",
        "pm_card_visa",
        Some(&key),
    );
    let rest = async {
        crate::checkout::eventually(Duration::from_secs(20), "both holds are taken", || async {
            stock_of(&app, item.id).await == (2, 2)
        })
        .await;
        expire_holds(&app, &item).await;
        crate::checkout::eventually(Duration::from_secs(20), "the holds are swept", || async {
            stock_of(&app, item.id).await == (2, 0)
        })
        .await;
        // ... a third buyer takes both units ...
        let (status, body) = checkout(&app, None, &quick, "test", "tok_visa", Some("quick")).await;
        assert_eq!(payload(status, &body)["order"]["status"], "OPEN");
        // ... and then Stripe charges the first two.
        let _ = open.send(());
        let _ = open.send(());
    };
    let ((s1, b1), (s2, b2), ()) = tokio::join!(first, second, rest);
    for p in [payload(s1, &b1), payload(s2, &b2)] {
        assert_eq!(codes(&p), ["OUT_OF_STOCK"], "{p}");
    }
    assert_eq!(order_count(&app).await, 1);

    // Both charges went back, each under a key of its own that Stripe
    // takes (at most 255 characters), not the client's key.
    let intents = received_at(&stripe, "/v1/payment_intents").await;
    let refunds = received_at(&stripe, "/v1/refunds").await;
    assert_eq!(refunds.len(), 2, "{refunds:?}");
    for (sent, _) in intents.iter().chain(&refunds) {
        assert!((1..=255).contains(&sent.len()), "{} characters", sent.len());
        assert!(!sent.contains(&key[..32]), "the client's key: {sent}");
    }
    assert_ne!(
        intents[0].0, intents[1].0,
        "equal keys of two buyers collide"
    );
    assert_ne!(
        refunds[0].0, refunds[1].0,
        "equal keys of two buyers collide"
    );
    assert!(
        refunds
            .iter()
            .all(|(_, body)| body.contains("payment_intent=pi_456"))
    );
}

#[tokio::test]
async fn a_refund_stripe_fails_is_retried_until_it_goes_through() {
    let stripe = MockServer::start().await;
    let (open, gate) = std::sync::mpsc::channel();
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(Gate(Mutex::new(gate)))
        .expect(1)
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(FlakyRefunds {
            failures: 2,
            seen: Default::default(),
        })
        .mount(&stripe)
        .await;
    let app = forgetful_stripe_shop(&stripe).await;
    let item = stocked_item(&app, 1).await;
    let slow = ready_cart(&app, None, &item, 1).await;
    let quick = ready_cart(&app, None, &item, 1).await;
    let first = checkout(&app, None, &slow, "stripe", "pm_card_visa", Some("slow"));
    let rest = async {
        crate::checkout::eventually(Duration::from_secs(20), "the hold is taken", || async {
            stock_of(&app, item.id).await == (1, 1)
        })
        .await;
        expire_holds(&app, &item).await;
        crate::checkout::eventually(Duration::from_secs(20), "the hold is swept", || async {
            stock_of(&app, item.id).await == (1, 0)
        })
        .await;
        let (status, body) = checkout(&app, None, &quick, "test", "tok_visa", Some("quick")).await;
        assert_eq!(payload(status, &body)["order"]["status"], "OPEN");
        let _ = open.send(());
    };
    let ((status, body), ()) = tokio::join!(first, rest);
    assert_eq!(codes(&payload(status, &body)), ["OUT_OF_STOCK"]);

    // Stripe refused the refund at once; it is retried in the background,
    // with the same key, until Stripe takes it: each retry once the clock
    // passes the time it was put off to.
    let recorded = std::cell::Cell::new(0);
    crate::checkout::eventually(
        Duration::from_secs(60),
        "the refund is retried until it succeeds",
        || async {
            let undos = entity::payment_undo::Entity::find()
                .all(&app.db)
                .await
                .unwrap_or_else(|e| panic!("undos: {e}"));
            for u in &undos {
                // A failed attempt was recorded: its retry is due next.
                if u.status == "pending" && u.attempts > recorded.get() {
                    recorded.set(u.attempts);
                    app.advance_past(u.next_attempt_at);
                }
            }
            undos
                .iter()
                .any(|u| u.status == "done" && u.action == "refund")
        },
    )
    .await;
    let refunds = received_at(&stripe, "/v1/refunds").await;
    assert_eq!(
        refunds.len(),
        3,
        "two refused, the third taken: {refunds:?}"
    );
    assert!(
        refunds
            .iter()
            .all(|(k, b)| *k == refunds[0].0 && *b == refunds[0].1),
        "{refunds:?}"
    );
}

#[tokio::test]
async fn the_cart_token_never_reaches_stripe() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(SucceededIntent)
        .expect(1)
        .mount(&stripe)
        .await;
    let app = stripe_shop(&stripe).await;
    let item = stocked_item(&app, 5).await;
    let cart = ready_cart(&app, None, &item, 1).await;
    // The cart's ID is its token: whoever holds it may use the cart.
    assert!(cart.starts_with("cart_"), "{cart}");
    let (status, body) = checkout(&app, None, &cart, "stripe", "pm_card_visa", Some("k1")).await;
    assert_eq!(payload(status, &body)["order"]["status"], "OPEN");
    let secret = &cart["cart_".len()..];
    let requests = stripe
        .received_requests()
        .await
        .unwrap_or_else(|| panic!("the mock records no requests"));
    assert_eq!(requests.len(), 1);
    for r in &requests {
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains(secret), "the cart token in the body: {body}");
        for (name, value) in &r.headers {
            let value = value.to_str().unwrap_or_default();
            assert!(!value.contains(secret), "the cart token in {name}: {value}");
        }
    }
    // Stripe's dashboard still links the payment to the checkout.
    let body = String::from_utf8_lossy(&requests[0].body).to_string();
    assert!(body.contains("metadata%5Breference%5D=cart%3A"), "{body}");
}
