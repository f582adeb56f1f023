//! Deliveries: retries with backoff, manual retry, checkout and catalog events, two nodes and a relay crash delivering each event once.

use super::*;

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
