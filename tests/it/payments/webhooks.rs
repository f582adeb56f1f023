//! Orders awaiting 3-D Secure paid by signed gateway webhooks, with the test gateway and the Stripe adapter; card errors.

use super::*;

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
