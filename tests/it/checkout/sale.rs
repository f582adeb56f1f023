//! A flash sale sells exactly the stock; retries with one idempotency key make one order and one charge.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flash_sale_sells_exactly_the_stock_and_no_more() {
    const UNITS: i32 = 20;
    const BUYERS: usize = 200;
    let app = shop_apart().await;
    let item = stocked_item(&app, UNITS).await;
    let (on_hand, reserved) = stock_of(&app, item.id).await;
    assert_eq!((on_hand, reserved), (i64::from(UNITS), 0));

    // Every buyer gets a cart ready first (adding to a cart holds nothing).
    let carts: Vec<String> = stream::iter(0..BUYERS)
        .map(|_| ready_cart(&app, None, &item, 1))
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(stock_of(&app, item.id).await, (i64::from(UNITS), 0));
    let charged_before = authorizations(&app);
    let asked_before = authorize_calls(&app);

    // Then all of them press "buy" at once.
    let started = std::time::Instant::now();
    let answers = join_all(carts.iter().enumerate().map(|(i, cart)| {
        let app = &app;
        async move {
            let key = format!("flash-{i}");
            tokio::time::timeout(
                Duration::from_secs(180),
                checkout(app, None, cart, "test", "tok_visa", Some(&key)),
            )
            .await
            .unwrap_or_else(|_| panic!("checkout {i} got no answer in 180 s"))
        }
    }))
    .await;
    eprintln!(
        "{BUYERS} concurrent checkouts answered in {:?}",
        started.elapsed()
    );

    let mut placed = Vec::new();
    let mut out_of_stock = 0;
    for (status, body) in &answers {
        let p = payload(*status, body);
        if p["order"].is_null() {
            assert_eq!(codes(&p), ["OUT_OF_STOCK"], "a buyer without an order: {p}");
            assert_eq!(p["userErrors"][0]["quantityAvailable"], 0, "{p}");
            out_of_stock += 1;
        } else {
            assert_eq!(p["userErrors"], json!([]), "{p}");
            assert_eq!(
                (
                    p["order"]["status"].as_str(),
                    p["order"]["paymentStatus"].as_str()
                ),
                (Some("OPEN"), Some("PAID")),
                "{p}"
            );
            placed.push(order_id(&p));
        }
    }
    placed.sort();
    placed.dedup();
    assert_eq!(placed.len(), UNITS as usize, "orders answered");
    assert_eq!(out_of_stock, BUYERS - UNITS as usize);
    assert_eq!(order_count(&app).await, UNITS as u64, "orders stored");
    assert_eq!(payment_count(&app).await, UNITS as u64, "payments stored");
    assert_eq!(
        authorizations(&app) - charged_before,
        UNITS as u64,
        "only the winners were charged"
    );
    assert_eq!(
        authorize_calls(&app) - asked_before,
        UNITS as u64,
        "the gateway was asked once per winner, never for a loser"
    );

    // The stock: all sold, held for the orders, none for the losers.
    assert_eq!(quantity_available(&app).await, 0);
    assert_eq!(
        stock_of(&app, item.id).await,
        (i64::from(UNITS), i64::from(UNITS))
    );
    let held = reservations(&app, item.id).await;
    assert_eq!(
        held.iter().map(|r| i64::from(r.quantity)).sum::<i64>(),
        i64::from(UNITS)
    );
    assert!(
        held.iter()
            .all(|r| r.order_id.is_some() && r.cart_id.is_none() && r.expires_at.is_none()),
        "only order holds, without expiry: {held:?}"
    );
    let levels = stock_level::Entity::find()
        .filter(stock_level::Column::VariantId.eq(item.id))
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("query: {e}"));
    assert!(
        levels
            .iter()
            .all(|l| l.reserved <= l.on_hand && l.reserved >= 0),
        "{levels:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_with_one_idempotency_key_make_one_order_and_one_charge() {
    const RETRIES: usize = 50;
    const KEY: &str = "6a1f0c1e-retry-once";
    let app = shop_apart().await;
    let item = stocked_item(&app, 5).await;
    let cart = ready_cart(&app, None, &item, 1).await;
    let charged_before = authorizations(&app);
    let asked_before = authorize_calls(&app);

    retry_at_once(&app, &cart, ("test", "tok_visa"), KEY, RETRIES).await;
    assert_eq!(order_count(&app).await, 1);
    assert_eq!(payment_count(&app).await, 1);
    assert_eq!(
        authorizations(&app) - charged_before,
        1,
        "one authorization"
    );
    // The gateway replays a key it has seen, so the count above would stay
    // at one even if every retry reached it: count the calls themselves.
    assert_eq!(
        authorize_calls(&app) - asked_before,
        1,
        "the gateway was asked once"
    );
    assert_eq!(stock_of(&app, item.id).await, (5, 1));

    // The key belongs to that request: another card with it is refused.
    let (status, body) = checkout(&app, None, &cart, "test", "tok_decline", Some(KEY)).await;
    let p = payload(status, &body);
    assert_eq!(codes(&p), ["IDEMPOTENCY_KEY_REUSED"], "{p}");
    assert!(p["order"].is_null());
    assert_eq!(authorizations(&app) - charged_before, 1);
    // And a new key on the completed cart places nothing more.
    let (status, body) = checkout(&app, None, &cart, "test", "tok_visa", Some("another-key")).await;
    assert_eq!(codes(&payload(status, &body)), ["CART_COMPLETED"]);
    assert_eq!(order_count(&app).await, 1);
    assert_eq!(authorizations(&app) - charged_before, 1);
    assert_eq!(authorize_calls(&app) - asked_before, 1);
}

#[tokio::test]
async fn a_declined_payment_places_nothing_and_holds_nothing() {
    let app = shop().await;
    let item = stocked_item(&app, 3).await;
    let cart = ready_cart(&app, None, &item, 2).await;
    let before = stock_of(&app, item.id).await;
    assert_eq!(before, (3, 0));

    for (token, code) in [
        ("tok_decline", "PAYMENT_DECLINED"),
        ("tok_insufficient_funds", "PAYMENT_DECLINED"),
        ("tok_gateway_error", "PAYMENT_FAILED"),
    ] {
        let key = format!("attempt-{token}");
        let (status, body) = checkout(&app, None, &cart, "test", token, Some(&key)).await;
        let p = payload(status, &body);
        assert_eq!(codes(&p), [code], "{token}: {p}");
        assert_eq!(p["userErrors"][0]["field"], json!(["payment"]), "{p}");
        assert!(p["order"].is_null() && p["nextAction"].is_null(), "{p}");
        assert_eq!(order_count(&app).await, 0, "{token}");
        assert_eq!(payment_count(&app).await, 0, "{token}");
        assert_eq!(
            stock_of(&app, item.id).await,
            before,
            "{token} left stock held"
        );
        assert!(reservations(&app, item.id).await.is_empty(), "{token}");
        assert_eq!(quantity_available(&app).await, 3, "{token}");
        // The decline is the answer to that key, kept.
        let (status, body) = checkout(&app, None, &cart, "test", token, Some(&key)).await;
        assert_eq!(codes(&payload(status, &body)), [code], "{token} replayed");
    }

    // The cart is still open, and a good card buys it.
    let open = data(
        &app,
        None,
        "query($c: ID!) { cart(id: $c) { completed totalQuantity } }",
        json!({ "c": cart }),
    )
    .await;
    assert_eq!(
        open["cart"],
        json!({ "completed": false, "totalQuantity": 2 })
    );
    let (status, body) =
        checkout(&app, None, &cart, "test", "tok_visa", Some("attempt-visa")).await;
    let p = payload(status, &body);
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["order"]["status"], "OPEN", "{p}");
    assert_eq!(order_count(&app).await, 1);
    assert_eq!(stock_of(&app, item.id).await, (3, 2));
    assert_eq!(quantity_available(&app).await, 1);
}
