//! Inventory sync for partner apps: absolute quantities with
//! compare-and-set and source timestamps, deltas with reasons, atomic or
//! row-by-row calls, idempotency keys, movements, and the audit trail that
//! records every change in a tamper-evident chain.

use emporium::domain::identity::permission::Role;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{
    accounts,
    harness::{Options, TestApp},
};

const SET: &str = "mutation($i: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $i) { appliedCount rejectedCount results { index status error onHandBefore onHandAfter available } userErrors { field code message } } }";
const ADJUST: &str = "mutation($i: InventoryAdjustQuantitiesInput!) { inventoryAdjustQuantities(input: $i) { appliedCount rejectedCount results { index status error onHandBefore onHandAfter } userErrors { field code message } } }";
const SKU: &str = "EMP-00000-01";

async fn app_with_partner() -> (TestApp, String) {
    partner_app(false).await
}

/// [`app_with_partner`] served on a runtime of its own, so concurrent
/// writers race for real (its statements are not counted).
async fn app_with_partner_apart() -> (TestApp, String) {
    partner_app(true).await
}

async fn partner_app(own_runtime: bool) -> (TestApp, String) {
    let app = TestApp::spawn_with(Options {
        products: Some(20),
        configure: Some(|c| c.response_cache_mb = 0),
        own_runtime,
        ..Default::default()
    })
    .await;
    let (token, _) =
        accounts::partner_token(&app, &["inventory:read", "inventory:write"], None).await;
    (app, token)
}

async fn set(app: &TestApp, token: &str, input: Value) -> Value {
    app.query_as(token, SET, json!({ "i": input })).await["inventorySetQuantities"].clone()
}

async fn on_hand(app: &TestApp, token: &str, sku: &str, location: &str) -> i64 {
    let data = app
        .query_as(
            token,
            "query($h: String!) { product(handle: $h) { variants { sku quantityAvailable inventoryLevels { location onHand } } } }",
            json!({ "h": "pocket-journal-0" }),
        )
        .await;
    let variants = data["product"]["variants"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let v = variants
        .iter()
        .find(|v| v["sku"] == sku)
        .unwrap_or_else(|| panic!("no {sku}"));
    v["inventoryLevels"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["location"] == location))
        .and_then(|l| l["onHand"].as_i64())
        .unwrap_or(0)
}

#[tokio::test]
async fn quantities_set_by_sku_show_on_the_storefront_with_their_history() {
    let (app, token) = app_with_partner().await;
    let result = set(
        &app,
        &token,
        json!({ "quantities": [
        { "sku": SKU, "location": "warehouse", "onHand": 7 },
        { "sku": SKU, "location": "store", "onHand": 0 },
    ], "referenceDocument": "ERP-42" }),
    )
    .await;
    assert_eq!(result["userErrors"], json!([]));
    assert_eq!(result["appliedCount"], 2, "{result}");
    assert_eq!(result["results"][0]["onHandAfter"], 7);

    // The storefront (anonymous) sees the new availability.
    let data = app
        .query(
            "{ product(handle: \"pocket-journal-0\") { variants { sku quantityAvailable } } }",
            json!({}),
        )
        .await;
    let first = &data["product"]["variants"][0];
    assert_eq!(
        (first["sku"].as_str(), first["quantityAvailable"].as_i64()),
        (Some(SKU), Some(7))
    );

    let history = app
        .query_as(
            &token,
            "{ product(handle: \"pocket-journal-0\") { variants { sku inventoryMovements { location delta onHandAfter reason referenceDocument actor } } } }",
            json!({}),
        )
        .await;
    let moves = history["product"]["variants"][0]["inventoryMovements"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(moves.len(), 2);
    assert!(
        moves
            .iter()
            .all(|m| m["reason"] == "sync" && m["referenceDocument"] == "ERP-42")
    );
    assert!(
        moves[0]["actor"]
            .as_str()
            .unwrap_or("")
            .contains("emp_pat_"),
        "{moves:?}"
    );

    // The same quantity again changes nothing.
    let again = set(
        &app,
        &token,
        json!({ "quantities": [{ "sku": SKU, "location": "warehouse", "onHand": 7 }] }),
    )
    .await;
    assert_eq!(again["results"][0]["status"], "UNCHANGED");

    // The audit trail has one entry per change, by the partner.
    let admin = accounts::staff_user(&app, "admin@example.com", Role::Admin).await;
    let audit = app
        .query_as(&admin.access, "{ auditEntries(first: 10, entityType: \"stock_level\") { nodes { action actorKind actor before after } } auditVerify { ok checked } }", json!({}))
        .await;
    let entries = audit["auditEntries"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(entries.len(), 2);
    assert!(
        entries
            .iter()
            .all(|e| e["action"] == "inventory.set" && e["actorKind"] == "partner")
    );
    assert_eq!(audit["auditVerify"], json!({ "ok": true, "checked": 2 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_set_lets_exactly_one_concurrent_writer_win() {
    let (app, token) = app_with_partner_apart().await;
    set(
        &app,
        &token,
        json!({ "quantities": [{ "sku": SKU, "location": "warehouse", "onHand": 10 }] }),
    )
    .await;
    // Eight writers all saw 10; each wants its own new quantity.
    let writers = (0..8).map(|i| {
        let (app, token) = (&app, &token);
        async move {
            set(app, token, json!({ "quantities": [{ "sku": SKU, "location": "warehouse", "onHand": 100 + i, "compareQuantity": 10 }] })).await
        }
    });
    let results = futures_util::future::join_all(writers).await;
    let winners: Vec<&Value> = results
        .iter()
        .filter(|r| r["results"][0]["status"] == "APPLIED")
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r["results"][0]["status"] != "APPLIED")
            .all(|r| r["results"][0]["error"] == "COMPARE_FAILED")
    );
    let won = winners[0]["results"][0]["onHandAfter"]
        .as_i64()
        .unwrap_or(-1);
    assert_eq!(on_hand(&app, &token, SKU, "warehouse").await, won);
}

#[tokio::test]
async fn stale_source_updates_are_ignored() {
    let (app, token) = app_with_partner().await;
    let row = |q: i64, at: &str| json!({ "quantities": [{ "sku": SKU, "location": "store", "onHand": q, "sourceUpdatedAt": at }] });
    let newer = set(&app, &token, row(5, "2026-11-26T10:00:00Z")).await;
    assert_eq!(newer["results"][0]["status"], "APPLIED");
    let late = set(&app, &token, row(9, "2026-11-26T09:59:59Z")).await;
    assert_eq!(late["results"][0]["status"], "STALE");
    assert_eq!(late["results"][0]["onHandAfter"], 5);
    let same = set(&app, &token, row(9, "2026-11-26T10:00:00Z")).await;
    assert_eq!(
        same["results"][0]["status"], "STALE",
        "an equal timestamp is not newer"
    );
    assert_eq!(on_hand(&app, &token, SKU, "store").await, 5);
    let next = set(&app, &token, row(2, "2026-11-26T10:00:01Z")).await;
    assert_eq!(next["results"][0]["status"], "APPLIED");
    assert_eq!(on_hand(&app, &token, SKU, "store").await, 2);
}

#[tokio::test]
async fn atomic_calls_apply_all_or_nothing_and_row_by_row_reports_each_row() {
    let (app, token) = app_with_partner().await;
    let rows = json!([
        { "sku": SKU, "location": "warehouse", "onHand": 3 },
        { "sku": "NO-SUCH-SKU", "location": "warehouse", "onHand": 1 },
        { "sku": SKU, "location": "moon", "onHand": 1 },
        { "sku": "EMP-00000-02", "location": "warehouse", "onHand": -4 },
    ]);
    let atomic = set(&app, &token, json!({ "quantities": rows })).await;
    let statuses: Vec<&str> = atomic["results"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["status"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        statuses,
        ["NOT_APPLIED", "REJECTED", "REJECTED", "REJECTED"]
    );
    let errors: Vec<&str> = atomic["results"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["error"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        errors,
        ["UNKNOWN_VARIANT", "UNKNOWN_LOCATION", "NEGATIVE_QUANTITY"]
    );
    assert_ne!(
        on_hand(&app, &token, SKU, "warehouse").await,
        3,
        "nothing applied"
    );

    let each = set(
        &app,
        &token,
        json!({ "quantities": rows, "mode": "ROW_BY_ROW" }),
    )
    .await;
    assert_eq!(
        (
            each["appliedCount"].as_i64(),
            each["rejectedCount"].as_i64()
        ),
        (Some(1), Some(3))
    );
    assert_eq!(on_hand(&app, &token, SKU, "warehouse").await, 3);

    // Mistakes in the call itself.
    let both = set(&app, &token, json!({ "quantities": [{ "sku": SKU, "variantId": "x", "location": "store", "onHand": 1 }] })).await;
    assert_eq!(both["userErrors"][0]["code"], "INVALID");
    let none = set(&app, &token, json!({ "quantities": [] })).await;
    assert_eq!(none["userErrors"][0]["code"], "INVALID");
}

#[tokio::test]
async fn adjustments_carry_a_reason_and_never_go_below_zero() {
    let (app, token) = app_with_partner().await;
    set(
        &app,
        &token,
        json!({ "quantities": [{ "sku": SKU, "location": "warehouse", "onHand": 4 }] }),
    )
    .await;
    let adjust = |delta: i64, reason: &str| json!({ "i": { "changes": [{ "sku": SKU, "location": "warehouse", "delta": delta }], "reason": reason, "referenceDocument": "PO-7" } });
    let received = app.query_as(&token, ADJUST, adjust(6, "RECEIVED")).await;
    assert_eq!(
        received["inventoryAdjustQuantities"]["results"][0]["onHandAfter"],
        10
    );
    let too_many = app.query_as(&token, ADJUST, adjust(-11, "DAMAGED")).await;
    assert_eq!(
        too_many["inventoryAdjustQuantities"]["results"][0]["error"],
        "NEGATIVE_QUANTITY"
    );
    let damaged = app.query_as(&token, ADJUST, adjust(-3, "DAMAGED")).await;
    assert_eq!(
        damaged["inventoryAdjustQuantities"]["results"][0]["onHandAfter"],
        7
    );
    let history = app
        .query_as(&token, "{ product(handle: \"pocket-journal-0\") { variants { inventoryMovements(first: 2) { delta reason referenceDocument } } } }", json!({}))
        .await;
    assert_eq!(
        history["product"]["variants"][0]["inventoryMovements"],
        json!([{ "delta": -3, "reason": "damaged", "referenceDocument": "PO-7" }, { "delta": 6, "reason": "received", "referenceDocument": "PO-7" }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_applies_a_call_once_even_for_concurrent_duplicates() {
    let (app, token) = app_with_partner_apart().await;
    set(
        &app,
        &token,
        json!({ "quantities": [{ "sku": SKU, "location": "warehouse", "onHand": 10 }] }),
    )
    .await;
    let input = json!({ "i": { "changes": [{ "sku": SKU, "location": "warehouse", "delta": 5 }], "reason": "RECEIVED", "idempotencyKey": "delivery-1" } });
    let calls = (0..5).map(|_| app.query_as(&token, ADJUST, input.clone()));
    let answers = futures_util::future::join_all(calls).await;
    for a in &answers {
        assert_eq!(a, &answers[0], "every duplicate gets the first answer");
    }
    assert_eq!(
        answers[0]["inventoryAdjustQuantities"]["results"][0]["onHandAfter"],
        15
    );
    assert_eq!(
        on_hand(&app, &token, SKU, "warehouse").await,
        15,
        "applied once"
    );
    let later = app.query_as(&token, ADJUST, input.clone()).await;
    assert_eq!(later, answers[0]);
    let other = json!({ "i": { "changes": [{ "sku": SKU, "location": "warehouse", "delta": 6 }], "reason": "RECEIVED", "idempotencyKey": "delivery-1" } });
    let reused = app.query_as(&token, ADJUST, other).await;
    assert_eq!(
        reused["inventoryAdjustQuantities"]["userErrors"][0]["field"],
        json!(["input", "idempotencyKey"])
    );
    assert_eq!(on_hand(&app, &token, SKU, "warehouse").await, 15);
}

#[tokio::test]
async fn a_bulk_sync_sets_every_stock_level_in_one_call() {
    let (app, token) = app_with_partner().await;
    use sea_orm::{EntityTrait, QueryOrder};
    let skus: Vec<String> = entity::variant::Entity::find()
        .order_by_asc(entity::variant::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|v| v.sku)
        .collect();
    let rows: Vec<Value> = skus
        .iter()
        .flat_map(|s| {
            ["warehouse", "store"].map(|l| json!({ "sku": s, "location": l, "onHand": 3 }))
        })
        .collect();
    let n = rows.len();
    assert!(n > 100);
    let before = app.statement_count();
    let result = set(&app, &token, json!({ "quantities": rows })).await;
    assert_eq!(result["rejectedCount"], 0);
    // Levels are written 500 to a statement, not one by one.
    let updates = app
        .statements_since(before)
        .iter()
        .filter(|s| s.starts_with("UPDATE \"stock_level\""))
        .count();
    assert_eq!(updates, n.div_ceil(500), "{n} rows");
    let touched = result["results"].as_array().map_or(0, Vec::len);
    assert_eq!(touched, n);
    let admin = accounts::staff_user(&app, "admin@example.com", Role::Admin).await;
    let verify = app
        .query_as(&admin.access, "{ auditVerify { ok checked } }", json!({}))
        .await;
    assert_eq!(verify["auditVerify"]["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_chain_survives_concurrent_writers_and_exposes_tampering() {
    let (app, token) = app_with_partner_apart().await;
    let writers = (0..10).map(|i| {
        let (app, token) = (&app, &token);
        async move {
            let sku = format!("EMP-0000{}-01", i % 5);
            app.query_as(token, ADJUST, json!({ "i": { "changes": [{ "sku": sku, "location": "warehouse", "delta": 1 }], "reason": "CORRECTION" } }))
                .await
        }
    });
    futures_util::future::join_all(writers).await;
    let admin = accounts::staff_user(&app, "admin@example.com", Role::Admin).await;
    let verify = "{ auditVerify { ok checked firstBrokenSequence } }";
    let ok = app.query_as(&admin.access, verify, json!({})).await;
    assert_eq!(
        ok["auditVerify"],
        json!({ "ok": true, "checked": 10, "firstBrokenSequence": null })
    );

    // Someone edits entry 4 directly in the database.
    app.db
        .execute_unprepared(
            "UPDATE audit_entry SET after = REPLACE(after, 'correction', 'received') WHERE id = 4",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let broken = app.query_as(&admin.access, verify, json!({})).await;
    assert_eq!(broken["auditVerify"]["ok"], false);
    assert_eq!(broken["auditVerify"]["firstBrokenSequence"], 4);

    // The CLI says so too, and fails.
    let out = app.cli(&["audit", "verify"], &[]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken at entry 4"));

    // Deleting the last entry is caught as well.
    app.db
        .execute_unprepared(
            "UPDATE audit_entry SET after = REPLACE(after, 'received', 'correction') WHERE id = 4",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    app.db
        .execute_unprepared("DELETE FROM audit_entry WHERE id = 10")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cut = app.query_as(&admin.access, verify, json!({})).await;
    assert_eq!(cut["auditVerify"]["firstBrokenSequence"], 10);
}
