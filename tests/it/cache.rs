//! The storefront response cache: hits touch no database, and a change made
//! through emporium to what an entry shows makes the next read fresh.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use emporium::domain::identity::permission::Role;

use crate::{
    accounts,
    harness::{Options, TestApp, header},
};

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

/// Runs a staff mutation and checks it reported no user errors.
async fn staff(app: &TestApp, token: &str, doc: &str, field: &str) {
    let data = app.query_as(token, doc, json!({})).await;
    assert_eq!(data[field]["userErrors"], json!([]), "{field}: {data}");
}

#[tokio::test]
async fn hits_cost_no_statement_and_changes_make_the_next_read_fresh() {
    let app = TestApp::spawn().await;
    let admin = accounts::staff_user(&app, "cache-admin@example.com", Role::Admin).await;
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
        0,
        "a hit touches no database"
    );

    // Another channel is another entry.
    let (c3, eur) = fetch(&app, handle, Some("eu")).await;
    assert_eq!(c3, "miss");
    assert_eq!(
        eur["data"]["product"]["variants"][0]["price"]["currencyCode"],
        json!("EUR")
    );
    // So is another product, which a change to this one leaves alone.
    let other = handle_with(&app, "EMP-00001-01").await;
    assert_eq!(fetch(&app, &other, None).await.0, "miss");
    assert_eq!(fetch(&app, &other, None).await.0, "hit");

    // A price change: the next read is fresh.
    staff(
        &app,
        &admin.access,
        r#"mutation { pricesSet(prices: [{ sku: "EMP-00000-01", channel: "default", amount: "1234.56" }]) { updatedCount userErrors { code } } }"#,
        "pricesSet",
    )
    .await;
    let (c4, fresh) = fetch(&app, handle, None).await;
    assert_eq!(c4, "miss");
    assert_eq!(
        fresh["data"]["product"]["variants"][0]["price"]["amount"],
        json!("1234.56")
    );
    assert_eq!(fetch(&app, handle, None).await.0, "hit");

    // Stock moves too, and only this product's entries go.
    staff(
        &app,
        &admin.access,
        r#"mutation { inventorySetQuantities(input: { quantities: [{ sku: "EMP-00000-01", location: "warehouse", onHand: 0 }, { sku: "EMP-00000-01", location: "store", onHand: 0 }] }) { appliedCount userErrors { code } } }"#,
        "inventorySetQuantities",
    )
    .await;
    assert_eq!(fetch(&app, &other, None).await.0, "hit");
    let (c5, sold_out) = fetch(&app, handle, None).await;
    assert_eq!(c5, "miss");
    assert_eq!(
        sold_out["data"]["product"]["variants"][0]["quantityAvailable"],
        json!(0)
    );

    // A change behind emporium's back is seen once the entry's time is up,
    // or at once by a request asking for a fresh answer.
    exec(
        &app,
        "UPDATE product SET title = 'Renamed by hand' WHERE handle = 'pocket-journal-0'",
    )
    .await;
    let res = app
        .post_json(
            &json!({ "query": QUERY, "variables": { "h": handle } }),
            &[("cache-control", "no-cache")],
        )
        .await;
    assert_eq!(header(&res, "x-emporium-cache"), None);
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(body["data"]["product"]["title"], json!("Renamed by hand"));

    // Unpublishing it through the API.
    staff(
        &app,
        &admin.access,
        &format!(
            r#"mutation {{ productUpdate(id: "{}", input: {{ status: DRAFT }}) {{ userErrors {{ code }} }} }}"#,
            product_id(&app, handle).await
        ),
        "productUpdate",
    )
    .await;
    let (_, gone) = fetch(&app, handle, None).await;
    assert_eq!(gone["data"]["product"], Value::Null);
}

/// The handle of the product whose variant has `sku`.
pub(crate) async fn handle_with(app: &TestApp, sku: &str) -> String {
    let data = app
        .query(
            "{ products(first: 10) { nodes { handle variants { sku } } } }",
            json!({}),
        )
        .await;
    let nodes = data["products"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    nodes
        .iter()
        .find(|p| p["variants"][0]["sku"] == json!(sku))
        .and_then(|p| p["handle"].as_str())
        .unwrap_or_else(|| panic!("no product with {sku}: {data}"))
        .to_owned()
}

/// The global ID of a product.
async fn product_id(app: &TestApp, handle: &str) -> String {
    let data = app
        .query(
            "query($h: String!) { product(handle: $h) { id } }",
            json!({ "h": handle }),
        )
        .await;
    data["product"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn errors_and_mutations_are_never_cached() {
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

/// The bypass that keeps one caller's answer from another: a request
/// carrying `Authorization` or `Cookie` is neither answered from the cache
/// (it reaches the database even when an anonymous answer to the same
/// document is cached) nor stored in it (in production mode a staff
/// token's introspection answer must never be served to anonymous callers,
/// who are refused it).
#[tokio::test]
async fn credentialed_requests_are_never_answered_from_or_stored_in_the_cache() {
    let app = TestApp::spawn_with(Options {
        configure: Some(|c| {
            c.mode = emporium::config::Mode::Production;
            c.secret_key = Some("a production master key of 32+ bytes".into());
            c.auth.jwt_secret = Some("a production signing key of 32+ bytes".into());
        }),
        ..Default::default()
    })
    .await;
    let admin = accounts::staff_user(&app, "bypass@example.com", Role::Admin).await;
    let buyer = accounts::customer(&app, "buyer@example.com").await;
    let handle = &handle_with(&app, "EMP-00003-01").await;
    let (c, public) = price_on(&app, handle).await;
    assert_eq!(c, "miss");
    assert_eq!(price_on(&app, handle).await, ("hit".to_owned(), public));

    let body = json!({ "query": PRICE, "variables": { "h": handle } });
    let bearer = format!("Bearer {}", buyer.access);
    for credential in [
        ("authorization", bearer.as_str()),
        ("cookie", "session=someone-elses"),
    ] {
        let before = app.statement_count();
        let res = app.post_json(&body, &[credential]).await;
        assert_ne!(
            header(&res, "x-emporium-cache").as_deref(),
            Some("hit"),
            "{}",
            credential.0
        );
        assert_eq!(res.status().as_u16(), 200);
        assert!(
            app.statement_count() > before,
            "a request with {} was answered without the database",
            credential.0
        );
    }

    let schema = json!({ "query": "{ __schema { queryType { name } } }" });
    let staff_bearer = format!("Bearer {}", admin.access);
    for _ in 0..2 {
        let res = app
            .post_json(&schema, &[("authorization", staff_bearer.as_str())])
            .await;
        let got: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(
            got["data"]["__schema"]["queryType"]["name"], "Query",
            "{got}"
        );
    }
    let res = app.post_json(&schema, &[]).await;
    assert_ne!(header(&res, "x-emporium-cache").as_deref(), Some("hit"));
    let got: Value = res.json().await.unwrap_or(Value::Null);
    assert!(
        got.get("data").is_none_or(Value::is_null),
        "the staff answer leaked: {got}"
    );
    assert!(got["errors"].is_array(), "{got}");
}

const PRICE: &str =
    r#"query($h: String!) { product(handle: $h) { variants { sku price { amount } } } }"#;

/// The product's first price and the cache header, read from `app`.
pub(crate) async fn price_on(app: &TestApp, handle: &str) -> (String, Value) {
    let res = app
        .post_json(
            &json!({ "query": PRICE, "variables": { "h": handle } }),
            &[],
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let cache = header(&res, "x-emporium-cache").unwrap_or_else(|| "none".into());
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (
        cache,
        body["data"]["product"]["variants"][0]["price"]["amount"].clone(),
    )
}

pub(crate) async fn set_price(app: &TestApp, token: &str, amount: &str) {
    staff(
        app,
        token,
        &format!(
            r#"mutation {{ pricesSet(prices: [{{ sku: "EMP-00003-01", channel: "default", amount: "{amount}" }}]) {{ updatedCount userErrors {{ code }} }} }}"#
        ),
        "pricesSet",
    )
    .await;
}

#[tokio::test]
#[ignore = "needs TEST_REDIS_URL: nodes share nothing without Redis, by design"]
async fn with_redis_a_change_on_one_node_is_fresh_in_the_next_read_on_the_other() {
    crate::harness::require_redis();
    let a = TestApp::spawn().await;
    let b = a.spawn_sibling().await;
    let admin = accounts::staff_user(&a, "two-nodes@example.com", Role::Admin).await;
    let handle = &handle_with(&a, "EMP-00003-01").await;

    // What A computed, B answers from the shared tier.
    let (c, before) = price_on(&a, handle).await;
    assert_eq!(c, "miss");
    assert!(before.is_string(), "{before}");
    let statements = b.statement_count();
    let (c, on_b) = price_on(&b, handle).await;
    assert_eq!((c.as_str(), &on_b), ("hit", &before));
    assert_eq!(b.statement_count(), statements, "served from Redis");
    assert_eq!(price_on(&b, handle).await.0, "hit");

    for amount in ["77.70", "88.80", "99.90"] {
        set_price(&a, &admin.access, amount).await;
        assert_eq!(price_on(&b, handle).await.1, json!(amount));
        assert_eq!(price_on(&a, handle).await.1, json!(amount));
        assert_eq!(price_on(&b, handle).await.0, "hit");
    }
}
