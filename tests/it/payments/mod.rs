//! Payments over real HTTP: an order awaiting 3-D Secure is paid or
//! cancelled by the gateway's signed webhook, exactly once, with the `test`
//! gateway and with the Stripe adapter against a mock Stripe; and a slow or
//! unlucky payment never leaves a charge without an order, an order without
//! its stock, or an idempotency key without an answer.

mod retries;
mod undo;
mod webhooks;

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

/// A shop on `stripe` swept every second: a test moves its clock past a
/// checkout's hold (see [`expire_holds`]) so that a slow gateway loses its
/// buyer the stock.
async fn forgetful_stripe_shop(stripe: &MockServer) -> TestApp {
    let mut commerce = with_stripe(stripe);
    commerce.sweep_interval_secs = 1;
    shop_with(commerce).await
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
