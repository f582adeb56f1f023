//! The JSON shapes clients build on, as snapshots: a storefront product
//! page, a cart's cost, an order with its timeline, and error bodies. A
//! change to any of them shows up as a snapshot diff to review (regenerate
//! with `INSTA_UPDATE=always cargo test snapshots`). IDs, cursors and times
//! differ per run and backend, so they are redacted.

use insta::assert_json_snapshot;
use serde_json::{Value, json};

use crate::{
    accounts,
    cart::{
        address, line, mutate, new_cart, place_order, product, ship, shop_with, signed_in, usd,
    },
    harness::TestApp,
};

const PAGE: &str = "{ products(first: 3) { totalCount pageInfo { hasNextPage hasPreviousPage } nodes { id handle title vendor productType tags availableForSale priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } } options { name values } variants { id sku title availableForSale quantityAvailable price { amount currencyCode } compareAtPrice { amount } selectedOptions { name value } } } } }";

#[tokio::test]
async fn a_storefront_product_page() {
    let app = TestApp::spawn().await;
    let page = app.query(PAGE, json!({})).await;
    assert_json_snapshot!("product_page", page, {
        ".**.id" => "[id]",
        ".**.startCursor" => "[cursor]",
        ".**.endCursor" => "[cursor]",
    });
}

const COST: &str = "id totalQuantity cost { subtotal { amount currencyCode } discounts { amount } shipping { amount } tax { amount } total { amount } taxIncluded giftCards { amount } storeCredit { amount } amountDue { amount } } lines { quantity merchandise { sku } cost { unitPrice { amount } subtotal { amount } discount { amount } tax { amount } total { amount } } discountAllocations { code discountedAmount { amount } } } discountCodes { code applicable reason } selectedShippingMethod { code price { amount } }";

const ORDER: &str = "id name number createdAt updatedAt email currencyCode status paymentStatus fulfillmentStatus subtotal { amount } discounts { amount } shipping { amount } tax { amount } total { amount } taxIncluded giftCards { amount } storeCredit { amount } totalReceived { amount } shippingMethod shippingAddress { address1 city provinceCode countryCode } lines { sku title variantTitle quantity unitPrice { amount } subtotal { amount } discount { amount } tax { amount } taxRate total { amount } } payments { gateway amount { amount } status } transitions { event from to actor at }";

#[tokio::test]
async fn a_cart_cost_and_the_order_it_becomes() {
    let (app, admin) = shop_with(None).await;
    let (_, v) = product(&app, &admin, "SNAP-1", json!({ "prices": [usd("19.99")] })).await;
    let (_, w) = product(&app, &admin, "SNAP-2", json!({ "prices": [usd("5.00")] })).await;
    let buyer = accounts::customer(&app, "snap@example.com").await;
    let me = signed_in(&buyer.access);
    let cart = new_cart(
        &app,
        me,
        json!({ "lines": [line(&v, 2), line(&w, 3)], "discountCodes": ["SAVE10"] }),
    )
    .await;
    let id = cart["id"].as_str().unwrap_or_default().to_owned();
    // New York taxes both the goods and (at the standard rate) shipping.
    ship(&app, me, &id, address(Some("NY"), "US"), "standard").await;
    let priced = app
        .query_as(
            &buyer.access,
            &format!("query($id: ID!) {{ cart(id: $id) {{ {COST} }} }}"),
            json!({ "id": id }),
        )
        .await;
    assert_json_snapshot!("cart_cost", priced, { ".**.id" => "[id]" });

    let order = place_order(&app, me, &id).await;
    let full = app
        .query_as(
            &buyer.access,
            &format!("query($id: ID!) {{ order(id: $id) {{ {ORDER} }} }}"),
            json!({ "id": order["id"] }),
        )
        .await;
    assert_json_snapshot!("order_with_timeline", full, {
        ".**.id" => "[id]",
        ".**.name" => "[order name]",
        ".**.number" => "[order number]",
        ".**.createdAt" => "[datetime]",
        ".**.updatedAt" => "[datetime]",
        ".**.at" => "[datetime]",
        ".**.actor" => "[actor]",
    });
}

/// The body of a POST with `headers`, with the cost report left out (it
/// shows the caller's remaining budget).
async fn body_of(app: &TestApp, query: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let res = app.post_json(&json!({ "query": query }), headers).await;
    let status = res.status().as_u16();
    let mut body: Value = res.json().await.unwrap_or_else(|e| panic!("not JSON: {e}"));
    if let Some(map) = body.as_object_mut() {
        map.remove("extensions");
    }
    (status, body)
}

#[tokio::test]
async fn error_bodies() {
    let (app, admin) = shop_with(None).await;
    let json = [("accept", "application/json")];
    let mut bodies = serde_json::Map::new();
    for (name, query, headers) in [
        ("syntax", "{ products(first: ", &json[..]),
        ("unknown_field", "{ nope }", &json[..]),
        (
            "forbidden",
            "{ customers(first: 1) { nodes { email } } }",
            &json[..],
        ),
        (
            "bad_token",
            "{ __typename }",
            &[
                ("accept", "application/json"),
                ("authorization", "Bearer nope"),
            ][..],
        ),
    ] {
        let (status, body) = body_of(&app, query, headers).await;
        bodies.insert(name.into(), json!({ "status": status, "body": body }));
    }
    let buyer = accounts::customer(&app, "errors@example.com").await;
    let (status, body) = body_of(
        &app,
        "{ customers(first: 1) { nodes { email } } }",
        &[("authorization", &format!("Bearer {}", buyer.access))],
    )
    .await;
    bodies.insert(
        "customer_forbidden".into(),
        json!({ "status": status, "body": body }),
    );
    // A business failure is data: typed user errors, nothing changed.
    let (_, v) = product(
        &app,
        &admin,
        "SNAP-SCARCE",
        json!({ "prices": [usd("1.00")], "trackInventory": true }),
    )
    .await;
    let refused = mutate(
        &app,
        crate::cart::GUEST,
        "cartCreate",
        json!({ "input": { "lines": [line(&v, 2)] } }),
    )
    .await;
    bodies.insert("out_of_stock".into(), refused["userErrors"].clone());
    assert_json_snapshot!("error_bodies", Value::Object(bodies));
}
