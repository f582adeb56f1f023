//! The guard against private targets, at creation and at delivery.

use super::*;

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
