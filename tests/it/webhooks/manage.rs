//! Managing subscriptions: input checks, partner scopes and ownership, updates, pausing, and the creator's rights.

use super::*;

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
