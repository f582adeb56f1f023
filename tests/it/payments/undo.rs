//! Payments that cannot become orders are given back; late money, unknown events and refunds retried until they go through.

use super::*;

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
