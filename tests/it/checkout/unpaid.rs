//! Declined payments, unpaid orders and expired holds: the sweeper releases each hold once.

use super::*;

#[tokio::test]
async fn the_sweeper_cancels_an_order_whose_payment_never_completes() {
    let app = TestApp::spawn_with(Options {
        products: Some(20),
        configure: Some(|c| c.commerce.sweep_interval_secs = 1),
        ..Default::default()
    })
    .await;
    let item = stocked_item(&app, 4).await;
    let p = pending_order(&app, &item, 3, "3ds-abandoned").await;
    let gid = order_id(&p);
    let order = order_row(&app, &gid).await;
    // Held while the customer is away...
    let held = reservations(&app, item.id).await;
    assert_eq!(held.iter().map(|r| r.quantity).sum::<i32>(), 3, "{held:?}");
    assert!(
        held.iter()
            .all(|r| r.order_id == Some(order.id) && r.expires_at == order.payment_due_at)
    );
    // (a sweep before the deadline gives nothing back) ...
    assert_eq!(sweep(&app).await, 0);
    assert_eq!(order_row(&app, &gid).await.status, "pending");

    // ... and given back when they never return.
    app.advance_past(due(&order));
    eventually(
        Duration::from_secs(30),
        "the order is cancelled",
        || async { order_row(&app, &gid).await.status == "cancelled" },
    )
    .await;
    assert_eq!(stock_of(&app, item.id).await, (4, 0));
    assert!(reservations(&app, item.id).await.is_empty());
    assert_eq!(quantity_available(&app).await, 4);
    let moves = transitions_of(&app, order.id).await;
    let last: Vec<(&str, &str)> = moves
        .iter()
        .skip(1)
        .map(|t| (t.event.as_str(), t.actor.as_str()))
        .collect();
    assert_eq!(
        last,
        [
            ("payment_failed", "system:expiry"),
            ("cancelled", "system:expiry")
        ],
        "{moves:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sweeps_release_each_expired_hold_once() {
    const ORDERS: usize = 4;
    let app = TestApp::spawn_with(Options {
        products: Some(20),
        configure: Some(|c| {
            // Only the sweeps this test runs.
            c.commerce.sweep_interval_secs = 3600;
            // One buyer with more unpaid orders than the default cap.
            c.commerce.unpaid_orders_per_email = 0;
        }),
        own_runtime: true,
        ..Default::default()
    })
    .await;
    let item = stocked_item(&app, 10).await;
    // One order that stays: paid, held without expiry.
    let paid = ready_cart(&app, None, &item, 2).await;
    let (status, body) = checkout(&app, None, &paid, "test", "tok_visa", Some("paid")).await;
    assert_eq!(payload(status, &body)["order"]["status"], "OPEN");
    let mut pending = Vec::new();
    for i in 0..ORDERS {
        let p = pending_order(&app, &item, 1, &format!("pending-{i}")).await;
        pending.push(order_row(&app, &order_id(&p)).await.id);
    }
    assert_eq!(stock_of(&app, item.id).await, (10, 2 + ORDERS as i64));
    let expiring: Vec<reservation::Model> = reservations(&app, item.id)
        .await
        .into_iter()
        .filter(|r| r.expires_at.is_some())
        .collect();
    assert_eq!(expiring.len(), ORDERS, "{expiring:?}");
    let latest = expiring
        .iter()
        .filter_map(|r| r.expires_at)
        .max()
        .unwrap_or_else(|| panic!("no expiry in {expiring:?}"));
    assert_eq!(sweep(&app).await, 0, "nothing has expired yet");
    app.advance_past(latest);

    let now = app.clock.now();
    let sweeps = [app.db.clone(), app.db.clone()]
        .map(|db| tokio::spawn(async move { expiry::sweep(&db, now, 500).await }));
    let mut released = 0;
    for sweep in sweeps {
        released += sweep
            .await
            .unwrap_or_else(|e| panic!("sweep task: {e}"))
            .unwrap_or_else(|e| panic!("sweep: {e}"));
    }
    assert_eq!(
        released, ORDERS,
        "each expired hold released by exactly one sweep"
    );
    assert_eq!(sweep(&app).await, 0, "nothing left");
    assert_eq!(
        stock_of(&app, item.id).await,
        (10, 2),
        "only the paid order holds"
    );
    for id in pending {
        let cancelled = transitions_of(&app, id)
            .await
            .iter()
            .filter(|t| t.event == "cancelled")
            .count();
        assert_eq!(cancelled, 1, "order {id} cancelled once");
    }
}

#[tokio::test]
async fn a_release_racing_the_sweeper_gives_nothing_back_twice() {
    let app = TestApp::spawn_with(Options {
        products: Some(20),
        configure: Some(|c| c.commerce.sweep_interval_secs = 3600),
        ..Default::default()
    })
    .await;
    let item = stocked_item(&app, 5).await;
    let paid = ready_cart(&app, None, &item, 2).await;
    let (status, body) = checkout(&app, None, &paid, "test", "tok_visa", Some("paid")).await;
    assert_eq!(payload(status, &body)["order"]["status"], "OPEN");
    pending_order(&app, &item, 2, "pending").await;
    assert_eq!(stock_of(&app, item.id).await, (5, 4));
    // Another releaser (a failed-payment webhook, a declined checkout) read
    // the hold just before the sweeper released it.
    let stale: Vec<reservation::Model> = reservations(&app, item.id)
        .await
        .into_iter()
        .filter(|r| r.expires_at.is_some())
        .collect();
    assert_eq!(stale.len(), 1, "{stale:?}");
    let until = stale[0]
        .expires_at
        .unwrap_or_else(|| panic!("no expiry: {stale:?}"));
    app.advance_past(until);
    assert_eq!(sweep(&app).await, 1);
    assert_eq!(stock_of(&app, item.id).await, (5, 2));

    let again = stock::release(&app.db, &stale)
        .await
        .unwrap_or_else(|e| panic!("release: {e}"));
    assert_eq!(again, 0, "the stale hold was already released");
    assert_eq!(
        stock_of(&app, item.id).await,
        (5, 2),
        "the paid order still holds its units"
    );
}

#[tokio::test]
async fn an_order_is_seen_by_its_owner_and_by_staff_who_read_orders_only() {
    let app = shop().await;
    let item = stocked_item(&app, 5).await;
    let owner = accounts::customer(&app, "owner@example.com").await;
    let other = accounts::customer(&app, "other@example.com").await;
    let support = accounts::staff_user(&app, "support@example.com", Role::Support).await;
    let merch = accounts::staff_user(&app, "merch@example.com", Role::Merchandiser).await;

    let cart = ready_cart(&app, Some(&owner.access), &item, 1).await;
    let (status, body) = checkout(
        &app,
        Some(&owner.access),
        &cart,
        "test",
        "tok_visa",
        Some("mine"),
    )
    .await;
    let placed = payload(status, &body);
    let order = order_id(&placed);
    let owner_id = order_row(&app, &order)
        .await
        .customer_id
        .unwrap_or_else(|| panic!("the order has no customer"));
    assert_eq!(
        placed["order"]["transitions"][0]["actor"],
        format!("customer:{owner_id}")
    );
    // Another customer's cart is not theirs to check out either.
    let (status, body) = checkout(
        &app,
        Some(&other.access),
        &cart,
        "test",
        "tok_visa",
        Some("theirs"),
    )
    .await;
    assert_eq!(codes(&payload(status, &body)), ["NOT_FOUND"]);

    const BY_ID: &str = "query($id: ID!) { order(id: $id) { id email status } node(id: $id) { ... on Order { id } } }";
    const MINE: &str = "{ me { orders(first: 10) { nodes { id } } } }";
    let vars = json!({ "id": order });

    let seen = data(&app, Some(&owner.access), BY_ID, vars.clone()).await;
    assert_eq!(seen["order"]["id"], order.as_str());
    assert_eq!(seen["order"]["email"], "buyer@example.com");
    assert_eq!(seen["node"]["id"], order.as_str());
    let mine = data(&app, Some(&owner.access), MINE, json!({})).await;
    assert_eq!(mine["me"]["orders"]["nodes"], json!([{ "id": order }]));

    let theirs = data(&app, Some(&other.access), BY_ID, vars.clone()).await;
    assert_eq!(theirs, json!({ "order": null, "node": null }));
    let theirs = data(&app, Some(&other.access), MINE, json!({})).await;
    assert_eq!(theirs["me"]["orders"]["nodes"], json!([]));

    let anonymous = data(&app, None, BY_ID, vars.clone()).await;
    assert_eq!(anonymous, json!({ "order": null, "node": null }));

    let staff = data(&app, Some(&support.access), BY_ID, vars.clone()).await;
    assert_eq!(staff["order"]["id"], order.as_str());
    assert_eq!(staff["node"]["id"], order.as_str());
    let without = data(&app, Some(&merch.access), BY_ID, vars).await;
    assert_eq!(
        without,
        json!({ "order": null, "node": null }),
        "no orders:read"
    );
}
