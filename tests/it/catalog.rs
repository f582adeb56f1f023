//! The storefront catalog through the real HTTP API.

use emporium::seed;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::harness::{Options, TEST_PRODUCTS, TestApp, first_code};

fn visible_count(n: usize) -> usize {
    (0..n).filter(|i| seed::is_storefront_visible(*i)).count()
}

fn nodes(conn: &Value) -> Vec<Value> {
    conn["edges"]
        .as_array()
        .map(|e| e.iter().map(|e| e["node"].clone()).collect())
        .unwrap_or_default()
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
}

const LIST: &str = r#"
query List($first: Int, $after: String, $last: Int, $before: String, $query: String,
           $filter: ProductFilter, $sortKey: ProductSortKeys, $reverse: Boolean, $channel: String) {
  products(first: $first, after: $after, last: $last, before: $before, query: $query,
           filter: $filter, sortKey: $sortKey, reverse: $reverse, channel: $channel) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node {
      id handle title vendor productType tags createdAt
      priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } }
      availableForSale
      collections { handle }
      variants { sku price { amount currencyCode } quantityAvailable availableForSale }
    } }
  }
}"#;

async fn list(app: &TestApp, vars: Value) -> Value {
    app.query(LIST, vars).await["products"].clone()
}

#[tokio::test]
async fn only_active_products_are_listed_and_pages_do_not_overlap() {
    let app = TestApp::spawn().await;
    let expected = visible_count(TEST_PRODUCTS);
    let first = list(&app, json!({ "first": 50 })).await;
    assert_eq!(first["totalCount"], json!(expected));
    assert_eq!(first["pageInfo"]["hasNextPage"], json!(true));
    assert_eq!(first["pageInfo"]["hasPreviousPage"], json!(false));

    // Walk forward through every page, then backward from the end.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list(&app, json!({ "first": 50, "after": after })).await;
        seen.extend(
            nodes(&page)
                .into_iter()
                .map(|n| n["handle"].as_str().unwrap_or("").to_owned()),
        );
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (expected, expected));

    let last = list(&app, json!({ "last": 10 })).await;
    let tail: Vec<String> = nodes(&last)
        .iter()
        .map(|n| n["handle"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(tail, seen[expected - 10..].to_vec());
    assert_eq!(last["pageInfo"]["hasPreviousPage"], json!(true));
    assert_eq!(last["pageInfo"]["hasNextPage"], json!(false));
    let before = last["pageInfo"]["startCursor"].clone();
    let prev = list(&app, json!({ "last": 5, "before": before })).await;
    let prev: Vec<String> = nodes(&prev)
        .iter()
        .map(|n| n["handle"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(prev, seen[expected - 15..expected - 10].to_vec());
}

#[tokio::test]
async fn drafts_and_archived_products_are_invisible_everywhere() {
    let app = TestApp::spawn().await;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let hidden = entity::product::Entity::find()
        .filter(entity::product::Column::Status.ne(entity::product_status::ProductStatus::Active))
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("query: {e}"));
    assert!(
        hidden.len() >= 2,
        "the seed has drafts and archived products"
    );
    for p in hidden {
        let data = app
            .query(
                "query($h: String!) { product(handle: $h) { id } }",
                json!({ "h": p.handle }),
            )
            .await;
        assert_eq!(
            data["product"],
            Value::Null,
            "{} is visible by handle",
            p.handle
        );
        let id = base64_id("Product", p.id);
        let data = app
            .query(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(
            data["node"],
            Value::Null,
            "{} is visible as a node",
            p.handle
        );
        let data = list(&app, json!({ "first": 250, "query": p.title })).await;
        assert!(nodes(&data).iter().all(|n| n["handle"] != json!(p.handle)));
    }
}

fn base64_id(kind: &str, id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("gid://emporium/{kind}/{id}"))
}

#[tokio::test]
async fn prices_follow_the_requested_channel() {
    let app = TestApp::spawn().await;
    let q = r#"query($c: String) { channel(code: $c) { code currencyCode }
        products(first: 3, channel: $c) { edges { node { variants { price { amount currencyCode } } } } } }"#;
    let usd = app.query(q, json!({})).await;
    assert_eq!(usd["channel"]["currencyCode"], json!("USD"));
    let eur = app.query(q, json!({ "c": "eu" })).await;
    assert_eq!(eur["channel"]["currencyCode"], json!("EUR"));
    for n in nodes(&eur["products"]) {
        for v in n["variants"].as_array().cloned().unwrap_or_default() {
            assert_eq!(v["price"]["currencyCode"], json!("EUR"));
            // Two decimals: the currency's minor unit, as a string.
            let amount = v["price"]["amount"].as_str().unwrap_or("");
            assert_eq!(amount.split('.').nth(1).map(str::len), Some(2), "{amount}");
        }
    }
    // The header selects the channel when no argument does; the argument wins over it.
    let (_, body) = app
        .post_with(q, json!({}), &[("emporium-channel", "eu")])
        .await;
    assert_eq!(body["data"]["channel"]["currencyCode"], json!("EUR"));
    let (_, body) = app
        .post_with(q, json!({ "c": "default" }), &[("emporium-channel", "eu")])
        .await;
    assert_eq!(body["data"]["channel"]["currencyCode"], json!("USD"));
    // An unknown channel is the client's mistake.
    assert_eq!(
        app.error_code(q, json!({ "c": "mars" })).await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn filters_narrow_the_listing() {
    // A dozen full 250-product listings back to back: more than one client
    // address may spend by default (rate limits have their own tests).
    let app = TestApp::spawn_with(Options {
        configure: Some(|c| c.rate.anonymous = None),
        ..Default::default()
    })
    .await;
    let all = nodes(&list(&app, json!({ "first": 250 })).await);
    let sample = &all[3];

    let vendor = sample["vendor"].clone();
    let by_vendor = nodes(
        &list(
            &app,
            json!({ "first": 250, "filter": { "vendor": vendor } }),
        )
        .await,
    );
    assert!(!by_vendor.is_empty() && by_vendor.iter().all(|n| n["vendor"] == vendor));
    assert!(by_vendor.len() < all.len());

    let ty = sample["productType"].clone();
    let by_type = nodes(
        &list(
            &app,
            json!({ "first": 250, "filter": { "productType": ty } }),
        )
        .await,
    );
    assert!(!by_type.is_empty() && by_type.iter().all(|n| n["productType"] == ty));

    let tag = sample["tags"][0].clone();
    let by_tag = nodes(&list(&app, json!({ "first": 250, "filter": { "tags": [tag] } })).await);
    assert!(
        !by_tag.is_empty()
            && by_tag
                .iter()
                .all(|n| n["tags"].as_array().is_some_and(|t| t.contains(&tag)))
    );

    let coll = sample["collections"][0]["handle"].clone();
    let by_coll = nodes(
        &list(
            &app,
            json!({ "first": 250, "filter": { "collection": coll } }),
        )
        .await,
    );
    assert!(!by_coll.is_empty());
    assert!(by_coll.iter().all(|n| {
        n["collections"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["handle"] == coll))
    }));

    let (lo, hi) = (Decimal::new(20, 0), Decimal::new(60, 0));
    let by_price = nodes(
        &list(
            &app,
            json!({ "first": 250, "filter": { "price": { "min": "20", "max": "60" } } }),
        )
        .await,
    );
    assert!(!by_price.is_empty());
    for n in &by_price {
        let prices: Vec<Decimal> = n["variants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| !v["price"].is_null())
            .map(|v| dec(&v["price"]["amount"]))
            .collect();
        assert!(prices.iter().any(|p| *p >= lo && *p <= hi), "{n}");
    }

    let available = nodes(
        &list(
            &app,
            json!({ "first": 250, "filter": { "available": true } }),
        )
        .await,
    );
    assert!(
        available
            .iter()
            .all(|n| n["availableForSale"] == json!(true))
    );
    let sold_out = all
        .iter()
        .filter(|n| n["availableForSale"] == json!(false))
        .count();
    assert_eq!(available.len() + sold_out, all.len());

    // Text query: every word must match somewhere; relevance puts title matches first.
    let word = sample["title"]
        .as_str()
        .unwrap_or("")
        .split_whitespace()
        .last()
        .unwrap_or("")
        .to_lowercase();
    let found = nodes(&list(&app, json!({ "first": 250, "query": word.to_uppercase() })).await);
    assert!(!found.is_empty());
    assert!(
        found[0]["title"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains(&word)
    );
    let none = list(&app, json!({ "first": 10, "query": "zzzz-no-such-thing" })).await;
    assert_eq!(none["totalCount"], json!(0));
    // LIKE wildcards in user text match literally.
    let percent = list(&app, json!({ "first": 10, "query": "%" })).await;
    assert_eq!(percent["totalCount"], json!(0));
}

#[tokio::test]
async fn sort_keys_order_the_listing() {
    let app = TestApp::spawn().await;
    let titles = nodes(&list(&app, json!({ "first": 250, "sortKey": "TITLE" })).await);
    let t: Vec<String> = titles
        .iter()
        .map(|n| n["title"].as_str().unwrap_or("").to_owned())
        .collect();
    let mut sorted = t.clone();
    sorted.sort();
    assert_eq!(t, sorted);

    let by_price = nodes(&list(&app, json!({ "first": 250, "sortKey": "PRICE" })).await);
    let mins: Vec<Decimal> = by_price
        .iter()
        .map(|n| dec(&n["priceRange"]["minVariantPrice"]["amount"]))
        .collect();
    assert!(mins.windows(2).all(|w| w[0] <= w[1]), "ascending by price");
    let desc = nodes(
        &list(
            &app,
            json!({ "first": 250, "sortKey": "PRICE", "reverse": true }),
        )
        .await,
    );
    let dmins: Vec<Decimal> = desc
        .iter()
        .map(|n| dec(&n["priceRange"]["minVariantPrice"]["amount"]))
        .collect();
    assert!(
        dmins.windows(2).all(|w| w[0] >= w[1]),
        "descending by price"
    );

    let created = nodes(
        &list(
            &app,
            json!({ "first": 250, "sortKey": "CREATED_AT", "reverse": true }),
        )
        .await,
    );
    let c: Vec<String> = created
        .iter()
        .map(|n| n["createdAt"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(c.windows(2).all(|w| w[0] >= w[1]));
}

#[tokio::test]
async fn products_by_handle_and_id_and_collections() {
    let app = TestApp::spawn().await;
    let first = nodes(&list(&app, json!({ "first": 1 })).await).remove(0);
    let by_handle = app
        .query(
            "query($h: String!) { product(handle: $h) { id title options { name values } media { url position } variants { selectedOptions { name value } weight { value unit } } } }",
            json!({ "h": first["handle"] }),
        )
        .await;
    assert_eq!(by_handle["product"]["id"], first["id"]);
    let by_id = app
        .query(
            "query($id: ID!) { product(id: $id) { handle } }",
            json!({ "id": first["id"] }),
        )
        .await;
    assert_eq!(by_id["product"]["handle"], first["handle"]);
    let options = by_handle["product"]["options"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let selected = by_handle["product"]["variants"][0]["selectedOptions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(options.len(), selected.len());
    assert!(
        by_handle["product"]["media"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
    );

    // Both or neither of id/handle is a client error.
    let code = app.error_code("{ product { id } }", json!({})).await;
    assert_eq!(code, "BAD_USER_INPUT");

    let colls = app
        .query(
            "{ collections(first: 50) { edges { node { id handle title } } } }",
            json!({}),
        )
        .await;
    let list = nodes(&colls["collections"]);
    assert!(list.len() >= 3);
    let handle = list[0]["handle"].clone();
    let coll = app
        .query(
            "query($h: String!) { collection(handle: $h) { id title products(first: 250) { totalCount edges { node { handle } } } } }",
            json!({ "h": handle }),
        )
        .await;
    assert!(
        coll["collection"]["products"]["totalCount"]
            .as_i64()
            .unwrap_or(0)
            > 0
    );
    let node = app
        .query(
            "query($id: ID!) { node(id: $id) { __typename ... on Collection { handle } } }",
            json!({ "id": list[0]["id"] }),
        )
        .await;
    assert_eq!(node["node"]["handle"], handle);
    let missing = app
        .query("{ collection(handle: \"no-such\") { id } }", json!({}))
        .await;
    assert_eq!(missing["collection"], Value::Null);
}

#[tokio::test]
async fn node_resolves_every_kind_and_rejects_bad_ids() {
    let app = TestApp::spawn().await;
    let data = app
        .query(
            "{ products(first: 1) { edges { node { id variants { id } media { id } } } } channels { id code } }",
            json!({}),
        )
        .await;
    let p = nodes(&data["products"]).remove(0);
    let ids = [
        (p["id"].clone(), "Product"),
        (p["variants"][0]["id"].clone(), "ProductVariant"),
        (p["media"][0]["id"].clone(), "MediaImage"),
        (data["channels"][0]["id"].clone(), "Channel"),
    ];
    for (id, kind) in ids {
        let d = app
            .query(
                "query($id: ID!) { node(id: $id) { __typename id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(d["node"]["__typename"], json!(kind));
        assert_eq!(d["node"]["id"], id);
    }
    let many = app
        .query(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [p["id"], base64_id("Product", 999_999)] }),
        )
        .await;
    assert_eq!(many["nodes"][0]["id"], p["id"]);
    assert_eq!(many["nodes"][1], Value::Null);

    for bad in [
        "not-an-id",
        "",
        &base64_id("Invoice", 1),
        &base64_id("Product", -4),
    ] {
        let (status, body) = app
            .post(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": bad }),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(first_code(&body), "BAD_USER_INPUT", "{bad}");
    }
    // An ID of another kind where a product is expected.
    let code = app
        .error_code(
            "query($id: ID!) { product(id: $id) { id } }",
            json!({ "id": p["variants"][0]["id"] }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}
