//! No N+1: a storefront page costs the same small number of SQL statements
//! whether it shows 5 products or 50.

use serde_json::json;

use crate::harness::{Options, TestApp};

const PAGE: &str = r#"
query Page($first: Int!) {
  products(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id handle title vendor productType tags
      priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } }
      availableForSale
      options { name values }
      media { id url alt }
      collections { id handle title }
      variants {
        id sku title
        price { amount currencyCode }
        compareAtPrice { amount currencyCode }
        quantityAvailable availableForSale
        selectedOptions { name value }
      }
    } }
  }
}"#;

async fn statements_for(app: &TestApp, first: i64) -> (Vec<String>, usize) {
    let before = app.statement_count();
    let data = app.query(PAGE, json!({ "first": first })).await;
    let edges = data["products"]["edges"].as_array().map_or(0, Vec::len);
    (app.statements_since(before), edges)
}

#[tokio::test]
async fn a_page_costs_a_fixed_number_of_statements() {
    // Measure execution itself, not the caches.
    let app = TestApp::spawn_with(Options {
        configure: Some(|c| {
            c.response_cache_mb = 0;
            c.row_cache_entries = 0;
        }),
        ..Default::default()
    })
    .await;
    // Warm up (the first request may prepare statements).
    statements_for(&app, 5).await;
    let (small, n5) = statements_for(&app, 5).await;
    let (large, n50) = statements_for(&app, 50).await;
    assert_eq!((n5, n50), (5, 50));
    let shapes =
        |s: &[String]| -> Vec<String> { s.iter().map(|q| q.chars().take(60).collect()).collect() };
    assert_eq!(
        small.len(),
        large.len(),
        "5 products cost {} statements, 50 cost {}:\n{:#?}\n{:#?}",
        small.len(),
        large.len(),
        shapes(&small),
        shapes(&large)
    );
    // channel, page, count, variants, tags, options (2), media, collections,
    // prices, stock, selected options.
    assert_eq!(
        large.len(),
        12,
        "a page costs {} statements: {:#?}",
        large.len(),
        shapes(&large)
    );
}

#[tokio::test]
async fn the_row_cache_serves_what_another_request_read() {
    // Response cache off: every request executes, but rows read by one
    // request serve the next at the same catalog version.
    let app = TestApp::spawn_with(Options {
        configure: Some(|c| c.response_cache_mb = 0),
        ..Default::default()
    })
    .await;
    let (cold, _) = statements_for(&app, 50).await;
    let (warm, n) = statements_for(&app, 50).await;
    assert_eq!(n, 50);
    // Catalog version, channel, page, count and stock (always read fresh);
    // every other relation from the cache.
    assert_eq!(warm.len(), 5, "a warm page read {:#?}", warm);
    assert!(warm.iter().any(|q| q.contains("stock_level")), "{warm:#?}");
    assert!(cold.len() > warm.len());

    // A stock change (as every cart hold and order makes) leaves the cache
    // warm, and the next page shows the new quantity.
    let (token, _) = crate::accounts::partner_token(&app, &["inventory:write"], None).await;
    let set = app
        .query_as(
            &token,
            r#"mutation { inventorySetQuantities(input: { quantities: [{ sku: "EMP-00000-01", location: "warehouse", onHand: 0 }, { sku: "EMP-00000-01", location: "store", onHand: 0 }] }) { appliedCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(set["inventorySetQuantities"]["appliedCount"], 2);
    let before = app.statement_count();
    let data = app.query(PAGE, json!({ "first": 50 })).await;
    let after_sale = app.statements_since(before);
    assert_eq!(after_sale.len(), 5, "{after_sale:#?}");
    let first = data["products"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| {
            e["node"]["variants"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find(|v| v["sku"] == "EMP-00000-01")
        .unwrap_or_else(|| panic!("EMP-00000-01 is not on the page"));
    assert_eq!(first["quantityAvailable"], 0, "{first}");
}

#[tokio::test]
async fn credentials_cost_one_lookup_per_request() {
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        configure: Some(|c| c.response_cache_mb = 0),
        ..Default::default()
    })
    .await;
    let ada = crate::accounts::customer(&app, "ada@example.com").await;
    for city in ["Ayton", "Beeton"] {
        app.query_as(
            &ada.access,
            "mutation($c: String!) { customerAddressCreate(address: { address1: \"1 St\", city: $c, countryCode: \"GB\" }) { address { id } } }",
            json!({ "c": city }),
        )
        .await;
    }
    let me = "{ me { email defaultAddress { city } addresses { city } } }";
    app.query_as(&ada.access, me, json!({})).await;
    let before = app.statement_count();
    app.query_as(&ada.access, me, json!({})).await;
    let sql = app.statements_since(before);
    // The session check, the catalog version (read by every request for the
    // row cache), the customer, the addresses and the default address.
    assert_eq!(sql.len(), 5, "{sql:#?}");
    assert!(sql[0].contains("auth_session"), "{sql:#?}");

    let (partner, _) = crate::accounts::partner_token(&app, &["catalog:read"], None).await;
    let catalog = "{ catalogProducts(first: 3) { nodes { id } } }";
    app.query_as(&partner, catalog, json!({})).await;
    let before = app.statement_count();
    app.query_as(&partner, catalog, json!({})).await;
    let sql = app.statements_since(before);
    // The token lookup (last-used is written at most once a minute), then
    // the catalog version, the channel and the page.
    assert!(
        sql[0].contains("api_token") && !sql.iter().any(|s| s.starts_with("UPDATE")),
        "{sql:#?}"
    );
    assert_eq!(sql.len(), 4, "{sql:#?}");
}

const ADMIN_PAGE: &str = r#"
query AdminPage($first: Int!) {
  catalogProducts(first: $first) {
    nodes {
      id status
      variants {
        sku
        priceList { channel { code } customerGroup { code } minQuantity amount { amount } }
        inventoryLevels { location onHand reserved available }
        inventoryMovements(first: 3) { location delta reason }
      }
    }
  }
}"#;

#[tokio::test]
async fn staff_only_relations_are_batched_too() {
    let app = TestApp::spawn_with(Options {
        configure: Some(|c| {
            c.response_cache_mb = 0;
            c.row_cache_entries = 0;
        }),
        ..Default::default()
    })
    .await;
    let staff = crate::accounts::staff_user(
        &app,
        "merch@example.com",
        emporium::domain::identity::permission::Role::Merchandiser,
    )
    .await;
    let run = |first: i64| {
        let (app, token) = (&app, staff.access.clone());
        async move {
            let before = app.statement_count();
            let data = app
                .query_as(&token, ADMIN_PAGE, json!({ "first": first }))
                .await;
            let nodes = data["catalogProducts"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let levels = nodes
                .iter()
                .flat_map(|n| n["variants"].as_array().cloned().unwrap_or_default())
                .filter(|v| v["priceList"].as_array().is_some_and(|p| !p.is_empty()))
                .filter(|v| {
                    v["inventoryLevels"]
                        .as_array()
                        .is_some_and(|l| !l.is_empty())
                })
                .count();
            (app.statements_since(before).len(), nodes.len(), levels)
        }
    };
    run(5).await;
    let (small, n5, priced5) = run(5).await;
    let (large, n50, priced50) = run(50).await;
    assert_eq!((n5, n50), (5, 50));
    assert!(
        priced5 > 5 && priced50 > 50,
        "variants carry prices and stock"
    );
    assert_eq!(
        small, large,
        "5 products cost {small} statements, 50 cost {large}"
    );
}

/// Variant ids of the seeded storefront with stock to spare.
async fn variants_in_stock(app: &TestApp, n: usize) -> Vec<String> {
    let data = app
        .query(
            "{ products(first: 50) { nodes { variants { id quantityAvailable availableForSale } } } }",
            json!({}),
        )
        .await;
    data["products"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["variants"].as_array().cloned().unwrap_or_default())
        .filter(|v| {
            v["availableForSale"] == true && v["quantityAvailable"].as_i64().is_none_or(|q| q >= 5)
        })
        .filter_map(|v| v["id"].as_str().map(str::to_owned))
        .take(n)
        .collect()
}

const ADD: &str = "mutation($c: ID!, $v: ID!) { cartLinesAdd(cartId: $c, lines: [{ merchandiseId: $v, quantity: 1 }]) {
  cart { id totalQuantity lines { quantity merchandise { sku } cost { unitPrice { amount } total { amount } } }
         cost { subtotal { amount } discounts { amount } tax { amount } total { amount } } }
  userErrors { code } } }";

#[tokio::test]
async fn adding_to_a_cart_costs_the_same_whatever_the_cart_holds() {
    let app = TestApp::spawn_with(Options {
        products: Some(60),
        ..Default::default()
    })
    .await;
    let variants = variants_in_stock(&app, 12).await;
    assert_eq!(variants.len(), 12);
    let cart = app
        .query("mutation { cartCreate { cart { id } } }", json!({}))
        .await["cartCreate"]["cart"]["id"]
        .clone();
    let mut costs = Vec::new();
    for v in &variants {
        let before = app.statement_count();
        let data = app.query(ADD, json!({ "c": cart, "v": v })).await;
        assert_eq!(data["cartLinesAdd"]["userErrors"], json!([]));
        costs.push(app.statements_since(before).len());
    }
    // The first add may prepare statements; after it, a cart of 2 lines and
    // one of 12 cost the same.
    assert_eq!(costs[1], costs[11], "statements per add: {costs:?}");
    assert!(costs[11] <= 18, "an add costs {} statements", costs[11]);
    println!("statements per cartLinesAdd: {costs:?}");
}

#[tokio::test]
async fn a_page_of_orders_costs_a_fixed_number_of_statements() {
    let app = TestApp::spawn_with(Options {
        products: Some(60),
        // Count execution, not what the shared row cache already holds.
        configure: Some(|c| {
            c.response_cache_mb = 0;
            c.row_cache_entries = 0;
        }),
        ..Default::default()
    })
    .await;
    let customer = crate::accounts::customer(&app, "orders@example.com").await;
    let variants = variants_in_stock(&app, 6).await;
    for (i, v) in variants.iter().enumerate() {
        let data = app
            .query_as(
                &customer.access,
                "mutation($v: ID!) { cartCreate(input: { lines: [{ merchandiseId: $v, quantity: 1 }], buyerIdentity: {
                   shippingAddress: { address1: \"1 Main St\", city: \"Albany\", provinceCode: \"NY\", countryCode: \"US\" } } }) { cart { id } userErrors { code } } }",
                json!({ "v": v }),
            )
            .await;
        let cart = data["cartCreate"]["cart"]["id"].clone();
        app.query_as(
            &customer.access,
            "mutation($c: ID!) { cartShippingMethodSelect(cartId: $c, shippingMethodCode: \"standard\") { userErrors { code } } }",
            json!({ "c": cart }),
        )
        .await;
        let done = app
            .query_as(
                &customer.access,
                "mutation($c: ID!, $k: String!) { checkoutComplete(cartId: $c, payment: { gateway: \"test\", token: \"tok_visa\" }, idempotencyKey: $k) { order { id } userErrors { code message } } }",
                json!({ "c": cart, "k": format!("k{i}") }),
            )
            .await;
        assert_eq!(done["checkoutComplete"]["userErrors"], json!([]), "{done}");
    }
    let page = "query($n: Int!) { me { orders(first: $n) { totalCount nodes { name status total { amount }
        lines { sku quantity total { amount } variant { sku } } payments { status } transitions { event actor }
        events { kind message } fulfillments { status lines { quantity } } refunds { status tenders { kind } } } } } }";
    let cost = |n: i64| {
        let app = &app;
        let token = customer.access.clone();
        async move {
            let before = app.statement_count();
            let data = app.query_as(&token, page, json!({ "n": n })).await;
            assert_eq!(
                data["me"]["orders"]["nodes"].as_array().map_or(0, Vec::len),
                n as usize
            );
            app.statements_since(before).len()
        }
    };
    cost(2).await;
    let (two, six) = (cost(2).await, cost(6).await);
    assert_eq!(two, six, "2 orders cost {two} statements, 6 cost {six}");
}
