//! Clients that give up or retry: one order, one charge, the longest key, a hold taken again.

use super::*;

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
