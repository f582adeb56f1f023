//! The storefront response cache: hits cost one statement, and any change to
//! catalog rows (made by anyone, even by hand in SQL) makes the next read fresh.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::harness::{TestApp, header};

const QUERY: &str = r#"query($h: String!) { product(handle: $h) { title variants { sku price { amount currencyCode } quantityAvailable } } }"#;

async fn fetch(app: &TestApp, handle: &str, channel: Option<&str>) -> (String, Value) {
    let headers: Vec<(&str, &str)> = channel
        .map(|c| ("emporium-channel", c))
        .into_iter()
        .collect();
    let body = json!({ "query": QUERY, "variables": { "h": handle } });
    let res = app.post_json(&body, &headers).await;
    let cache = header(&res, "x-emporium-cache").unwrap_or_else(|| "none".into());
    let mut body = res.json().await.unwrap_or(Value::Null);
    // The cost report differs per response (it shows the caller's budget);
    // the rest must be identical between a miss and a hit.
    if let Some(map) = body.as_object_mut() {
        let ext = map.remove("extensions");
        assert!(ext.is_some_and(|e| e["cost"]["requestedQueryCost"].is_u64()));
    }
    (cache, body)
}

async fn exec(app: &TestApp, sql: &str) {
    app.db
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test]
async fn hits_are_cheap_and_catalog_changes_make_the_next_read_fresh() {
    let app = TestApp::spawn().await;
    let handle = "pocket-journal-0";
    let (c1, first) = fetch(&app, handle, None).await;
    assert_eq!(c1, "miss");
    assert_eq!(
        first["data"]["product"]["variants"][0]["sku"],
        json!("EMP-00000-01")
    );

    let before = app.statement_count();
    let (c2, second) = fetch(&app, handle, None).await;
    assert_eq!((c2.as_str(), &second), ("hit", &first));
    assert_eq!(
        app.statement_count() - before,
        1,
        "a hit only reads the catalog version"
    );

    // Another channel is another entry.
    let (c3, eur) = fetch(&app, handle, Some("eu")).await;
    assert_eq!(c3, "miss");
    assert_eq!(
        eur["data"]["product"]["variants"][0]["price"]["currencyCode"],
        json!("EUR")
    );

    // A price changed behind the API's back.
    exec(&app, "UPDATE variant_price SET amount_minor = 123456 WHERE variant_id = (SELECT id FROM variant WHERE sku = 'EMP-00000-01') AND customer_group_id IS NULL AND min_quantity = 1").await;
    let (c4, fresh) = fetch(&app, handle, None).await;
    assert_eq!(c4, "miss");
    assert_eq!(
        fresh["data"]["product"]["variants"][0]["price"]["amount"],
        json!("1234.56")
    );
    assert_eq!(fetch(&app, handle, None).await.0, "hit");

    // Stock moves too.
    exec(&app, "UPDATE stock_level SET on_hand = 0, reserved = 0 WHERE variant_id = (SELECT id FROM variant WHERE sku = 'EMP-00000-01')").await;
    let (c5, sold_out) = fetch(&app, handle, None).await;
    assert_eq!(c5, "miss");
    assert_eq!(
        sold_out["data"]["product"]["variants"][0]["quantityAvailable"],
        json!(0)
    );

    // And a product being unpublished.
    exec(
        &app,
        "UPDATE product SET status = 'draft' WHERE handle = 'pocket-journal-0'",
    )
    .await;
    let (_, gone) = fetch(&app, handle, None).await;
    assert_eq!(gone["data"]["product"], Value::Null);
}

#[tokio::test]
async fn errors_mutations_and_credentialed_requests_are_never_cached() {
    let app = TestApp::spawn().await;
    for _ in 0..2 {
        let res = app
            .post_json(&json!({ "query": "{ product { id } }" }), &[])
            .await;
        assert_eq!(header(&res, "x-emporium-cache").as_deref(), Some("miss"));
    }
    let res = app
        .post_json(&json!({ "query": "mutation { __typename }" }), &[])
        .await;
    assert_eq!(header(&res, "x-emporium-cache"), None);
}
