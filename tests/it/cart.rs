//! Carts over HTTP: server-side pricing with hand-computed totals (tax
//! exclusive in `default`, inclusive in `eu`), cart mutations and their
//! userErrors, guest cart merging, gift cards and store credit, stock holds
//! on add to cart, and promotion rules.
//!
//! Every test builds its own products, prices and promotions, so the numbers
//! below do not depend on the random seed catalog. Amounts in comments are in
//! cents; tax is rounded half-up per line.

use emporium::{config::Config, domain::identity::permission::Role};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{
    accounts,
    authz::gid,
    harness::{Options, TestApp},
};

// ---------------------------------------------------------------------------
// Helpers.

/// Who calls, and in which channel.
#[derive(Clone, Copy, Default)]
pub(crate) struct As<'a> {
    token: Option<&'a str>,
    channel: Option<&'a str>,
}

/// An anonymous caller in the `default` channel.
pub(crate) const GUEST: As<'static> = As {
    token: None,
    channel: None,
};

/// An anonymous caller in the `eu` channel.
const EU: As<'static> = As {
    token: None,
    channel: Some("eu"),
};

/// A signed-in caller in the `default` channel.
pub(crate) fn signed_in(token: &str) -> As<'_> {
    As {
        token: Some(token),
        channel: None,
    }
}

const CART: &str = "id completed totalQuantity \
    buyerIdentity { email countryCode signedIn shippingAddress { city provinceCode countryCode } } \
    cost { subtotal { amount currencyCode } discounts { amount } shipping { amount } tax { amount } total { amount } taxIncluded giftCards { amount } storeCredit { amount } amountDue { amount } } \
    lines { id quantity quantityAvailable availableForSale merchandise { id sku } cost { unitPrice { amount } subtotal { amount } discount { amount } tax { amount } total { amount } } discountAllocations { code discountedAmount { amount } } } \
    discountCodes { code applicable reason } \
    discountAllocations { title code discountedAmount { amount } targetType } \
    appliedGiftCards { lastCharacters amountUsed { amount } balance { amount } } \
    availableShippingMethods { code price { amount } } \
    selectedShippingMethod { code price { amount } }";

const ERRORS: &str = "userErrors { field code message quantityAvailable }";

const ORDER: &str = "id email subtotal { amount } discounts { amount } shipping { amount } tax { amount } total { amount } giftCards { amount } storeCredit { amount } totalReceived { amount } payments { amount { amount } status } lines { sku quantity unitPrice { amount } }";

/// POSTs an operation that must succeed and returns its `data`.
pub(crate) async fn gql(app: &TestApp, who: As<'_>, query: &str, vars: Value) -> Value {
    let auth = who.token.map(|t| format!("Bearer {t}"));
    let mut headers = Vec::new();
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    if let Some(c) = who.channel {
        headers.push(("emporium-channel", c));
    }
    let (status, body) = app.post_with(query, vars, &headers).await;
    assert_eq!(status, 200, "unexpected status; body: {body}");
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    body["data"].clone()
}

/// Runs the cart mutation `name`; `vars` are named as its arguments.
/// Returns the payload (`cart` and `userErrors`).
pub(crate) async fn mutate(app: &TestApp, who: As<'_>, name: &str, vars: Value) -> Value {
    let params = match name {
        "cartCreate" => "$input: CartInput",
        "cartLinesAdd" => "$cartId: ID!, $lines: [CartLineInput!]!",
        "cartLinesUpdate" => "$cartId: ID!, $lines: [CartLineUpdateInput!]!",
        "cartLinesRemove" => "$cartId: ID!, $lineIds: [ID!]!",
        "cartBuyerIdentityUpdate" => "$cartId: ID!, $buyerIdentity: CartBuyerIdentityInput!",
        "cartDiscountCodesUpdate" => "$cartId: ID!, $discountCodes: [String!]!",
        "cartGiftCardCodesUpdate" => "$cartId: ID!, $giftCardCodes: [String!]!",
        "cartShippingMethodSelect" => "$cartId: ID!, $shippingMethodCode: String!",
        other => panic!("not a cart mutation: {other}"),
    };
    let args: Vec<String> = params
        .split(", ")
        .filter_map(|p| p.split(':').next())
        .map(|p| format!("{0}: ${0}", p.trim_start_matches('$')))
        .collect();
    let doc = format!(
        "mutation({params}) {{ {name}({}) {{ cart {{ {CART} }} {ERRORS} }} }}",
        args.join(", ")
    );
    gql(app, who, &doc, vars).await[name].clone()
}

/// The cart of a payload that must have succeeded.
pub(crate) fn ok(payload: Value) -> Value {
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    payload["cart"].clone()
}

/// The error codes of a payload.
fn error_codes(payload: &Value) -> Vec<&str> {
    payload["userErrors"]
        .as_array()
        .map(|es| es.iter().filter_map(|e| e["code"].as_str()).collect())
        .unwrap_or_default()
}

/// `cart(id:)` as `who`: the cart, or null.
pub(crate) async fn read(app: &TestApp, who: As<'_>, id: &str) -> Value {
    let doc = format!("query($id: ID!) {{ cart(id: $id) {{ {CART} }} }}");
    gql(app, who, &doc, json!({ "id": id })).await["cart"].clone()
}

/// A new cart with `input` that must succeed.
pub(crate) async fn new_cart(app: &TestApp, who: As<'_>, input: Value) -> Value {
    ok(mutate(app, who, "cartCreate", json!({ "input": input })).await)
}

/// A cart line input.
pub(crate) fn line(variant: &str, quantity: i64) -> Value {
    json!({ "merchandiseId": variant, "quantity": quantity })
}

/// A street address in `province` of `country`.
pub(crate) fn address(province: Option<&str>, country: &str) -> Value {
    json!({ "address1": "1 Main St", "city": "Springfield", "provinceCode": province, "countryCode": country })
}

/// The cart's `cost`: subtotal, discounts, shipping, tax, total.
fn totals(cart: &Value) -> Vec<&str> {
    let c = &cart["cost"];
    ["subtotal", "discounts", "shipping", "tax", "total"]
        .iter()
        .map(|k| c[*k]["amount"].as_str().unwrap_or("?"))
        .collect()
}

/// Line `i`'s cost: unit price, subtotal, discount, tax, total.
fn line_cost(cart: &Value, i: usize) -> Vec<&str> {
    let c = &cart["lines"][i]["cost"];
    ["unitPrice", "subtotal", "discount", "tax", "total"]
        .iter()
        .map(|k| c[*k]["amount"].as_str().unwrap_or("?"))
        .collect()
}

/// Line `i`'s discount allocations as (code, amount).
fn line_allocations(cart: &Value, i: usize) -> Vec<(&str, &str)> {
    cart["lines"][i]["discountAllocations"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["code"].as_str().unwrap_or("-"),
                        x["discountedAmount"]["amount"].as_str().unwrap_or("?"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The cart's discount allocations as (code, amount, target type).
fn cart_allocations(cart: &Value) -> Vec<(&str, &str, &str)> {
    cart["discountAllocations"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["code"].as_str().unwrap_or("-"),
                        x["discountedAmount"]["amount"].as_str().unwrap_or("?"),
                        x["targetType"].as_str().unwrap_or("?"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Shipping methods offered, as (code, price or "-").
fn shipping_offers(cart: &Value) -> Vec<(&str, &str)> {
    cart["availableShippingMethods"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["code"].as_str().unwrap_or("?"),
                        m["price"]["amount"].as_str().unwrap_or("-"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An app with a small seed (channels, tax, shipping, the demo promotions
/// and gift card) and an admin's access token.
pub(crate) async fn shop_with(configure: Option<fn(&mut Config)>) -> (TestApp, String) {
    let app = TestApp::spawn_with(Options {
        products: Some(2),
        configure,
        ..Default::default()
    })
    .await;
    let admin = accounts::staff_user(&app, "admin@example.com", Role::Admin)
        .await
        .access;
    (app, admin)
}

async fn shop() -> (TestApp, String) {
    shop_with(None).await
}

/// Creates an active product titled `sku` with one variant (`variant` adds
/// to `{ sku, trackInventory: false }`: prices, weight, tax class...);
/// returns the product's and the variant's IDs.
pub(crate) async fn product(
    app: &TestApp,
    admin: &str,
    sku: &str,
    variant: Value,
) -> (String, String) {
    let mut v = json!({ "sku": sku, "trackInventory": false });
    if let (Some(v), Some(extra)) = (v.as_object_mut(), variant.as_object()) {
        v.extend(extra.clone());
    }
    let data = gql(
        app,
        signed_in(admin),
        "mutation($i: ProductCreateInput!) { productCreate(input: $i) { product { id variants { id } } userErrors { field code message } } }",
        json!({ "i": { "title": sku, "status": "ACTIVE", "variants": [v] } }),
    )
    .await;
    let p = &data["productCreate"];
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let id = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        id(&p["product"]["id"]),
        id(&p["product"]["variants"][0]["id"]),
    )
}

/// A price in the `default` channel (USD).
pub(crate) fn usd(amount: &str) -> Value {
    json!({ "channel": "default", "amount": amount })
}

/// A price in the `eu` channel (EUR).
fn eur(amount: &str) -> Value {
    json!({ "channel": "eu", "amount": amount })
}

/// Sets the on-hand stock of `sku` in the `warehouse` location.
async fn stock(app: &TestApp, admin: &str, sku: &str, on_hand: i64) {
    let data = gql(
        app,
        signed_in(admin),
        "mutation($i: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $i) { appliedCount userErrors { code message } } }",
        json!({ "i": { "quantities": [{ "sku": sku, "location": "warehouse", "onHand": on_hand }] } }),
    )
    .await;
    assert_eq!(data["inventorySetQuantities"]["appliedCount"], 1, "{data}");
}

/// Creates a promotion (as `admin`) that must succeed; returns it.
async fn promotion(app: &TestApp, admin: &str, input: Value) -> Value {
    let p = promotion_create(app, admin, input).await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    p["promotion"].clone()
}

async fn promotion_create(app: &TestApp, admin: &str, input: Value) -> Value {
    gql(
        app,
        signed_in(admin),
        "mutation($i: PromotionCreateInput!) { promotionCreate(input: $i) { promotion { id code timesUsed } userErrors { field code message } } }",
        json!({ "i": input }),
    )
    .await["promotionCreate"]
        .clone()
}

/// Sets the shipping address and picks a shipping method.
pub(crate) async fn ship(app: &TestApp, who: As<'_>, id: &str, to: Value, method: &str) -> Value {
    ok(mutate(
        app,
        who,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": id, "buyerIdentity": { "shippingAddress": to } }),
    )
    .await);
    ok(mutate(
        app,
        who,
        "cartShippingMethodSelect",
        json!({ "cartId": id, "shippingMethodCode": method }),
    )
    .await)
}

/// `checkoutComplete` paying the rest with the test gateway; returns the payload.
pub(crate) async fn checkout(app: &TestApp, who: As<'_>, id: &str) -> Value {
    let doc = format!(
        "mutation($id: ID!) {{ checkoutComplete(cartId: $id, payment: {{ gateway: \"test\", token: \"tok_visa\" }}) {{ order {{ {ORDER} }} {ERRORS} }} }}"
    );
    gql(app, who, &doc, json!({ "id": id })).await["checkoutComplete"].clone()
}

/// A checkout that must place an order; returns the order.
pub(crate) async fn place_order(app: &TestApp, who: As<'_>, id: &str) -> Value {
    let done = checkout(app, who, id).await;
    assert_eq!(done["userErrors"], json!([]), "{done}");
    done["order"].clone()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// `customerLogin` with a guest cart; returns (access token, cartId).
async fn login_with_cart(app: &TestApp, email: &str, guest_cart: &str) -> (String, Value) {
    let data = gql(
        app,
        GUEST,
        "mutation($e: String!, $p: String!, $g: ID) { customerLogin(email: $e, password: $p, guestCartId: $g) { cartId tokens { accessToken } userErrors { code } } }",
        json!({ "e": email, "p": accounts::PASSWORD, "g": guest_cart }),
    )
    .await;
    let login = &data["customerLogin"];
    assert_eq!(login["userErrors"], json!([]), "{login}");
    (
        login["tokens"]["accessToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        login["cartId"].clone(),
    )
}

/// Units reserved on a variant's stock levels, and units held by
/// reservation rows: the two must always agree.
async fn reserved(app: &TestApp, sku: &str) -> (i64, i64) {
    let sql = |q: String| sea_orm::Statement::from_string(app.db.get_database_backend(), q);
    let row = |q: String| async move {
        app.db
            .query_one_raw(sql(q))
            .await
            .unwrap_or_else(|e| panic!("query: {e}"))
            .and_then(|r| r.try_get::<i64>("", "n").ok())
            .unwrap_or_else(|| panic!("no count"))
    };
    let levels = row(format!(
        "SELECT CAST(COALESCE(SUM(l.reserved), 0) AS BIGINT) AS n FROM stock_level l JOIN variant v ON v.id = l.variant_id WHERE v.sku = '{sku}'"
    ))
    .await;
    let rows = row(format!(
        "SELECT CAST(COALESCE(SUM(r.quantity), 0) AS BIGINT) AS n FROM reservation r JOIN variant v ON v.id = r.variant_id WHERE v.sku = '{sku}'"
    ))
    .await;
    (levels, rows)
}

// ---------------------------------------------------------------------------
// 1. Worked examples.

#[tokio::test]
async fn percentage_and_fixed_codes_stack_and_tax_is_added_on_the_discounted_lines() {
    let (app, admin) = shop().await;
    let (_, a) = product(&app, &admin, "STACK-A", json!({ "prices": [usd("20.00")] })).await;
    let (_, b) = product(&app, &admin, "STACK-B", json!({ "prices": [usd("15.50")] })).await;
    let cart = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&a, 3), line(&b, 1)], "discountCodes": ["save10", "TAKE5"] }),
    )
    .await;
    let id = id_of(&cart);
    let cart = ship(&app, GUEST, &id, address(Some("CA"), "US"), "standard").await;

    // Subtotal: A 3 x 2000 = 6000, B 1550: 7550.
    // SAVE10 (10 %, stackable) first: 755, spread by line: A 600, B 155;
    // left A 5400, B 1395.
    // TAKE5 (500 off from 40.00, stackable) on what is left, largest
    // remainder: A 500*5400/6795 = 397.35, B 500*1395/6795 = 102.65 -> the
    // spare cent goes to B: A 397, B 103.
    // Discounts: A 997, B 258: 1255.
    // Shipping `standard`: 5.99 below 75.00 after discounts (6295); untaxed.
    // CA 7.25 %: A 5003 x 0.0725 = 362.72 -> 363; B 1292 x 0.0725 = 93.67 -> 94.
    // Total: 7550 - 1255 + 599 + 457 = 7351.
    assert_eq!(totals(&cart), ["75.50", "12.55", "5.99", "4.57", "73.51"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["20.00", "60.00", "9.97", "3.63", "53.66"]
    );
    assert_eq!(
        line_cost(&cart, 1),
        ["15.50", "15.50", "2.58", "0.94", "13.86"]
    );
    assert_eq!(
        line_allocations(&cart, 0),
        [("SAVE10", "6.00"), ("TAKE5", "3.97")]
    );
    assert_eq!(
        line_allocations(&cart, 1),
        [("SAVE10", "1.55"), ("TAKE5", "1.03")]
    );
    assert_eq!(
        cart_allocations(&cart),
        [
            ("SAVE10", "7.55", "LINE_ITEM"),
            ("TAKE5", "5.00", "LINE_ITEM")
        ]
    );
    assert_eq!(
        cart["discountCodes"],
        json!([
            { "code": "SAVE10", "applicable": true, "reason": null },
            { "code": "TAKE5", "applicable": true, "reason": null }
        ])
    );
    assert_eq!(cart["cost"]["subtotal"]["currencyCode"], "USD");
    assert_eq!(cart["cost"]["taxIncluded"], false);
    assert_eq!(cart["cost"]["amountDue"]["amount"], "73.51");

    // The order keeps exactly what the cart showed.
    ok(mutate(
        &app,
        GUEST,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": id, "buyerIdentity": { "email": "buyer@example.com" } }),
    )
    .await);
    let order = place_order(&app, GUEST, &id).await;
    let amounts: Vec<&str> = ["subtotal", "discounts", "shipping", "tax", "total"]
        .iter()
        .map(|k| order[*k]["amount"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(amounts, ["75.50", "12.55", "5.99", "4.57", "73.51"]);
    assert_eq!(order["payments"][0]["amount"]["amount"], "73.51");
}

#[tokio::test]
async fn the_best_exclusive_code_wins_and_stackable_codes_apply_after_it() {
    let (app, admin) = shop().await;
    let (_, v) = product(&app, &admin, "EXCL", json!({ "prices": [usd("40.00")] })).await;
    promotion(
        &app,
        &admin,
        json!({ "name": "11 off", "code": "BIG11", "kind": "FIXED_AMOUNT", "amount": "11.00", "exclusive": true }),
    )
    .await;
    let me = accounts::customer(&app, "welcome@example.com").await;
    let who = signed_in(&me.access);
    let cart = new_cart(
        &app,
        who,
        json!({ "lines": [line(&v, 2)], "discountCodes": ["WELCOME15", "BIG11", "SAVE10"] }),
    )
    .await;
    let id = id_of(&cart);
    let cart = ship(&app, who, &id, address(Some("NY"), "US"), "express").await;

    // Subtotal 2 x 4000 = 8000. Exclusive candidates: WELCOME15 is worth
    // 15 % = 1200, BIG11 1100: WELCOME15 wins, BIG11 is dropped.
    // SAVE10 (stackable) on what is left: 10 % of 6800 = 680.
    // Discounts 1880; express 14.99 flat, untaxed.
    // NY 8.875 %: 6120 x 0.08875 = 543.15 -> 543.
    // Total: 8000 - 1880 + 1499 + 543 = 8162.
    assert_eq!(totals(&cart), ["80.00", "18.80", "14.99", "5.43", "81.62"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["40.00", "80.00", "18.80", "5.43", "66.63"]
    );
    assert_eq!(
        line_allocations(&cart, 0),
        [("WELCOME15", "12.00"), ("SAVE10", "6.80")]
    );
    assert_eq!(
        cart_allocations(&cart),
        [
            ("WELCOME15", "12.00", "LINE_ITEM"),
            ("SAVE10", "6.80", "LINE_ITEM")
        ]
    );
    assert_eq!(
        cart["discountCodes"],
        json!([
            { "code": "WELCOME15", "applicable": true, "reason": null },
            { "code": "BIG11", "applicable": false, "reason": "a better offer that does not combine applies instead" },
            { "code": "SAVE10", "applicable": true, "reason": null }
        ])
    );

    // WELCOME15 is once per customer: after this order it no longer applies.
    place_order(&app, who, &id).await;
    let again = new_cart(
        &app,
        who,
        json!({ "lines": [line(&v, 2)], "discountCodes": ["WELCOME15", "BIG11"] }),
    )
    .await;
    assert_eq!(again["discountCodes"][0]["applicable"], false);
    // BIG11 is the best exclusive offer left.
    assert_eq!(totals(&again)[..2], ["80.00", "11.00"]);
}

#[tokio::test]
async fn buy_two_get_one_free_in_a_collection() {
    let (app, admin) = shop().await;
    let (c, cv) = product(&app, &admin, "B2G1-C", json!({ "prices": [usd("9.00")] })).await;
    let (d, dv) = product(&app, &admin, "B2G1-D", json!({ "prices": [usd("6.00")] })).await;
    let (_, ev) = product(&app, &admin, "B2G1-E", json!({ "prices": [usd("10.00")] })).await;
    let who = signed_in(&admin);
    let created = gql(
        &app,
        who,
        "mutation { collectionCreate(input: { title: \"Bundle\" }) { collection { id } userErrors { message } } }",
        json!({}),
    )
    .await;
    let collection = id_of(&created["collectionCreate"]["collection"]);
    gql(
        &app,
        who,
        "mutation($c: ID!, $p: [ID!]!) { collectionProductsAdd(collectionId: $c, productIds: $p) { userErrors { message } } }",
        json!({ "c": collection, "p": [c, d] }),
    )
    .await;
    promotion(
        &app,
        &admin,
        json!({ "name": "Bundle: buy 2, get 1 free", "code": "BUNDLE3", "kind": "BUY_X_GET_Y", "buyQuantity": 2, "getQuantity": 1, "collectionIds": [collection] }),
    )
    .await;

    // Two units of the collection are not enough for a group of three.
    let cart = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&cv, 2), line(&ev, 1)], "discountCodes": ["BUNDLE3"] }),
    )
    .await;
    let id = id_of(&cart);
    assert_eq!(
        cart["discountCodes"][0],
        json!({ "code": "BUNDLE3", "applicable": false, "reason": "add more qualifying items to use this code" })
    );

    ok(mutate(
        &app,
        GUEST,
        "cartLinesUpdate",
        json!({ "cartId": id, "lines": [{ "id": cart["lines"][0]["id"], "quantity": 4 }] }),
    )
    .await);
    ok(mutate(
        &app,
        GUEST,
        "cartLinesAdd",
        json!({ "cartId": id, "lines": [line(&dv, 2)] }),
    )
    .await);
    let cart = ship(&app, GUEST, &id, address(Some("NY"), "US"), "standard").await;

    // Lines: C 4 x 900 = 3600, E 1000 (not in the collection), D 2 x 600 = 1200.
    // Collection units, dearest first: C C C C D D -> groups [C C C] [C D D]:
    // the last unit of each group is free: one C (900) and one D (600).
    // Discounts 1500; 4300 after discounts, below 75.00: shipping 5.99.
    // NY 8.875 %: C 2700 -> 239.625 -> 240; E 1000 -> 88.75 -> 89;
    // D 600 -> 53.25 -> 53: 382.
    // Total: 5800 - 1500 + 599 + 382 = 5281.
    assert_eq!(totals(&cart), ["58.00", "15.00", "5.99", "3.82", "52.81"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["9.00", "36.00", "9.00", "2.40", "29.40"]
    );
    assert_eq!(
        line_cost(&cart, 1),
        ["10.00", "10.00", "0.00", "0.89", "10.89"]
    );
    assert_eq!(
        line_cost(&cart, 2),
        ["6.00", "12.00", "6.00", "0.53", "6.53"]
    );
    assert_eq!(line_allocations(&cart, 0), [("BUNDLE3", "9.00")]);
    assert!(line_allocations(&cart, 1).is_empty());
    assert_eq!(line_allocations(&cart, 2), [("BUNDLE3", "6.00")]);
    assert_eq!(cart_allocations(&cart), [("BUNDLE3", "15.00", "LINE_ITEM")]);
}

#[tokio::test]
async fn shipping_is_free_over_the_threshold_after_discounts_or_with_freeship() {
    let (app, admin) = shop().await;
    let (_, v) = product(
        &app,
        &admin,
        "SHIP-80",
        json!({ "prices": [usd("80.00")], "weightGrams": 500 }),
    )
    .await;
    let (_, small) = product(&app, &admin, "SHIP-20", json!({ "prices": [usd("20.00")] })).await;
    // Oregon: no sales tax in the demo setup, so only shipping moves.
    let oregon = address(Some("OR"), "US");
    let cart = new_cart(&app, GUEST, json!({ "lines": [line(&v, 1)] })).await;
    let id = id_of(&cart);
    let cart = ship(&app, GUEST, &id, oregon.clone(), "standard").await;
    // 8000 >= 7500: `standard` is free; freight for 500 g is 8.00.
    assert_eq!(totals(&cart), ["80.00", "0.00", "0.00", "0.00", "80.00"]);
    assert_eq!(
        shipping_offers(&cart),
        [
            ("standard", "0.00"),
            ("express", "14.99"),
            ("freight", "8.00")
        ]
    );

    // The threshold is on the subtotal after discounts: 7200 < 7500.
    let cart = ok(mutate(
        &app,
        GUEST,
        "cartDiscountCodesUpdate",
        json!({ "cartId": id, "discountCodes": ["SAVE10"] }),
    )
    .await);
    assert_eq!(totals(&cart), ["80.00", "8.00", "5.99", "0.00", "77.99"]);
    assert_eq!(cart["selectedShippingMethod"]["price"]["amount"], "5.99");

    // FREESHIP (from 30.00) takes the shipping off: 800 + 599 in discounts.
    let cart = ok(mutate(
        &app,
        GUEST,
        "cartDiscountCodesUpdate",
        json!({ "cartId": id, "discountCodes": ["SAVE10", "FREESHIP"] }),
    )
    .await);
    assert_eq!(totals(&cart), ["80.00", "13.99", "5.99", "0.00", "72.00"]);
    assert_eq!(
        cart_allocations(&cart),
        [
            ("SAVE10", "8.00", "LINE_ITEM"),
            ("FREESHIP", "5.99", "SHIPPING_LINE")
        ]
    );
    // Free shipping never touches the lines.
    assert_eq!(line_allocations(&cart, 0), [("SAVE10", "8.00")]);
    // And whatever the method costs.
    let cart = ok(mutate(
        &app,
        GUEST,
        "cartShippingMethodSelect",
        json!({ "cartId": id, "shippingMethodCode": "express" }),
    )
    .await);
    assert_eq!(totals(&cart), ["80.00", "22.99", "14.99", "0.00", "72.00"]);

    // Below its minimum, or before a method is chosen, FREESHIP says why.
    let other = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&small, 1)], "discountCodes": ["FREESHIP"] }),
    )
    .await;
    assert_eq!(
        other["discountCodes"][0]["reason"],
        "the cart is below this code's minimum amount"
    );
    let other = ok(mutate(
        &app,
        GUEST,
        "cartLinesUpdate",
        json!({ "cartId": other["id"], "lines": [{ "id": other["lines"][0]["id"], "quantity": 2 }] }),
    )
    .await);
    assert_eq!(
        other["discountCodes"][0]["reason"],
        "choose a shipping method first"
    );
    let other = ship(&app, GUEST, &id_of(&other), oregon, "express").await;
    assert_eq!(totals(&other), ["40.00", "14.99", "14.99", "0.00", "40.00"]);
}

#[tokio::test]
async fn freight_is_priced_by_weight() {
    let (app, admin) = shop().await;
    let (_, v) = product(
        &app,
        &admin,
        "HEAVY",
        json!({ "prices": [usd("12.00")], "weightGrams": 1000 }),
    )
    .await;
    let cart = new_cart(&app, GUEST, json!({ "lines": [line(&v, 1)] })).await;
    let id = id_of(&cart);
    // Brackets: up to 1 kg 8.00, up to 5 kg 15.00, up to 30 kg 35.00
    // (inclusive).
    let cart = ship(&app, GUEST, &id, address(Some("CA"), "US"), "freight").await;
    assert_eq!(cart["selectedShippingMethod"]["price"]["amount"], "8.00");
    let line_id = cart["lines"][0]["id"].clone();
    let set = |q: i64| {
        mutate(
            &app,
            GUEST,
            "cartLinesUpdate",
            json!({ "cartId": id, "lines": [{ "id": line_id, "quantity": q }] }),
        )
    };

    // 3 kg: 15.00. CA 7.25 % on 3600 = 261 (shipping is untaxed in the US).
    let cart = ok(set(3).await);
    assert_eq!(totals(&cart), ["36.00", "0.00", "15.00", "2.61", "53.61"]);
    assert_eq!(
        shipping_offers(&cart),
        [
            ("standard", "5.99"),
            ("express", "14.99"),
            ("freight", "15.00")
        ]
    );
    // 30 kg: the last bracket.
    let cart = ok(set(30).await);
    assert_eq!(cart["selectedShippingMethod"]["price"]["amount"], "35.00");
    // 31 kg: too heavy for freight. The cart still reads; freight has no
    // price and is no longer the selected method; checkout refuses it.
    let cart = ok(set(31).await);
    assert_eq!(
        shipping_offers(&cart),
        [("standard", "0.00"), ("express", "14.99"), ("freight", "-")]
    );
    assert_eq!(cart["selectedShippingMethod"], Value::Null);
    assert_eq!(totals(&cart), ["372.00", "0.00", "0.00", "26.97", "398.97"]);
    ok(mutate(
        &app,
        GUEST,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": id, "buyerIdentity": { "email": "heavy@example.com" } }),
    )
    .await);
    let done = checkout(&app, GUEST, &id).await;
    assert_eq!(error_codes(&done), ["INVALID_SHIPPING_METHOD"]);
    // Choosing it again is refused while the cart is too heavy.
    let refused = mutate(
        &app,
        GUEST,
        "cartShippingMethodSelect",
        json!({ "cartId": id, "shippingMethodCode": "freight" }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["INVALID_SHIPPING_METHOD"]);
    let cart = ship(&app, GUEST, &id, address(Some("CA"), "US"), "express").await;
    assert_eq!(cart["selectedShippingMethod"]["code"], "express");
}

#[tokio::test]
async fn an_eu_cart_includes_vat_and_taxes_shipping_at_the_standard_rate() {
    let (app, admin) = shop().await;
    let (_, g) = product(&app, &admin, "EU-STD", json!({ "prices": [eur("11.90")] })).await;
    let (_, h) = product(
        &app,
        &admin,
        "EU-RED",
        json!({ "prices": [eur("10.70")], "taxClass": "reduced" }),
    )
    .await;
    let cart = new_cart(&app, EU, json!({ "lines": [line(&g, 2), line(&h, 1)] })).await;
    let id = id_of(&cart);
    let cart = ship(&app, EU, &id, address(None, "DE"), "standard").await;
    assert_eq!(cart["cost"]["subtotal"]["currencyCode"], "EUR");
    assert_eq!(cart["cost"]["taxIncluded"], true);

    // Gross prices. G: 2 x 1190 = 2380, VAT 19 %: 2380 - 2380/1.19 = 380.
    // H (reduced, 7 %): 1070 - 1070/1.07 = 70.
    // Shipping `standard` 4.90 below 50.00, taxed at the standard rate:
    // 490 - 490/1.19 = 78.24 -> 78.
    // Total (tax included): 3450 + 490 = 3940; tax 380 + 70 + 78 = 528.
    assert_eq!(totals(&cart), ["34.50", "0.00", "4.90", "5.28", "39.40"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["11.90", "23.80", "0.00", "3.80", "23.80"]
    );
    assert_eq!(
        line_cost(&cart, 1),
        ["10.70", "10.70", "0.00", "0.70", "10.70"]
    );

    // SAVE10 (eu): 345 off, G 238, H 107. VAT on what is left:
    // G 2142 - 2142/1.19 = 342; H 963 - 963/1.07 = 63; shipping still 78.
    // Total 3450 - 345 + 490 = 3595; tax 483.
    let cart = ok(mutate(
        &app,
        EU,
        "cartDiscountCodesUpdate",
        json!({ "cartId": id, "discountCodes": ["SAVE10"] }),
    )
    .await);
    assert_eq!(totals(&cart), ["34.50", "3.45", "4.90", "4.83", "35.95"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["11.90", "23.80", "2.38", "3.42", "21.42"]
    );
    assert_eq!(
        line_cost(&cart, 1),
        ["10.70", "10.70", "1.07", "0.63", "9.63"]
    );
    assert_eq!(line_allocations(&cart, 1), [("SAVE10", "1.07")]);

    // Express 12.90: 1290 - 1290/1.19 = 205.97 -> 206 of VAT.
    // Total 3105 + 1290 = 4395; tax 342 + 63 + 206 = 611.
    let cart = ok(mutate(
        &app,
        EU,
        "cartShippingMethodSelect",
        json!({ "cartId": id, "shippingMethodCode": "express" }),
    )
    .await);
    assert_eq!(totals(&cart), ["34.50", "3.45", "12.90", "6.11", "43.95"]);

    // FREESHIP takes the shipping off, and its VAT with it.
    let cart = ok(mutate(
        &app,
        EU,
        "cartDiscountCodesUpdate",
        json!({ "cartId": id, "discountCodes": ["SAVE10", "FREESHIP"] }),
    )
    .await);
    assert_eq!(totals(&cart), ["34.50", "16.35", "12.90", "4.05", "31.05"]);

    // The cart keeps its channel: read without the header, still EUR.
    let plain = read(&app, GUEST, &id).await;
    assert_eq!(plain["cost"]["total"]["amount"], "31.05");
    assert_eq!(plain["cost"]["subtotal"]["currencyCode"], "EUR");
}

#[tokio::test]
async fn tax_and_percentages_round_half_up_per_line() {
    let (app, admin) = shop().await;
    let (_, p1) = product(&app, &admin, "HALF-1", json!({ "prices": [usd("2.00")] })).await;
    let (_, p2) = product(&app, &admin, "HALF-2", json!({ "prices": [usd("10.05")] })).await;
    let cart = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&p1, 1), line(&p2, 1)], "buyerIdentity": { "shippingAddress": address(Some("CA"), "US") } }),
    )
    .await;
    // CA 7.25 %: 200 x 0.0725 = 14.5 -> 15 (half-up, not to even);
    // 1005 x 0.0725 = 72.86 -> 73. No shipping method yet: no shipping.
    assert_eq!(totals(&cart), ["12.05", "0.00", "0.00", "0.88", "12.93"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["2.00", "2.00", "0.00", "0.15", "2.15"]
    );

    // SAVE10: 10 % of 1205 = 120.5 -> 121. Spread: 121 x 200/1205 = 20.08,
    // 121 x 1005/1205 = 100.92 -> the spare cent goes to the larger
    // remainder: 20 and 101. Tax: 180 x 0.0725 = 13.05 -> 13;
    // 904 x 0.0725 = 65.54 -> 66. Total 1205 - 121 + 79 = 1163.
    let cart = ok(mutate(
        &app,
        GUEST,
        "cartDiscountCodesUpdate",
        json!({ "cartId": cart["id"], "discountCodes": ["SAVE10"] }),
    )
    .await);
    assert_eq!(totals(&cart), ["12.05", "1.21", "0.00", "0.79", "11.63"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["2.00", "2.00", "0.20", "0.13", "1.93"]
    );
    assert_eq!(
        line_cost(&cart, 1),
        ["10.05", "10.05", "1.01", "0.66", "9.70"]
    );
}

#[tokio::test]
async fn quantity_tiers_and_the_wholesale_group_set_the_unit_price() {
    let (app, admin) = shop().await;
    let (_, t) = product(
        &app,
        &admin,
        "TIERED",
        json!({ "prices": [
            usd("10.00"),
            { "channel": "default", "amount": "8.00", "minQuantity": 10 },
            { "channel": "default", "amount": "7.00", "customerGroup": "wholesale" }
        ] }),
    )
    .await;
    let cart = new_cart(&app, GUEST, json!({ "lines": [line(&t, 9)] })).await;
    assert_eq!(line_cost(&cart, 0)[..2], ["10.00", "90.00"]);
    let cart = ok(mutate(
        &app,
        GUEST,
        "cartLinesUpdate",
        json!({ "cartId": cart["id"], "lines": [{ "id": cart["lines"][0]["id"], "quantity": 10 }] }),
    )
    .await);
    // From 10 units the tier price applies.
    assert_eq!(line_cost(&cart, 0)[..2], ["8.00", "80.00"]);

    // A wholesale customer pays the group price (the lowest that applies).
    let buyer = accounts::customer(&app, "wholesale@example.com").await;
    let assigned = gql(
        &app,
        signed_in(&admin),
        "mutation($c: ID!) { customerAssignGroup(customerId: $c, group: \"wholesale\") { userErrors { code } } }",
        json!({ "c": buyer.id }),
    )
    .await;
    assert_eq!(assigned["customerAssignGroup"]["userErrors"], json!([]));
    let who = signed_in(&buyer.access);
    let own = new_cart(&app, who, json!({ "lines": [line(&t, 1)] })).await;
    assert_eq!(line_cost(&own, 0)[..2], ["7.00", "7.00"]);
    let own = ok(mutate(
        &app,
        who,
        "cartLinesUpdate",
        json!({ "cartId": own["id"], "lines": [{ "id": own["lines"][0]["id"], "quantity": 10 }] }),
    )
    .await);
    assert_eq!(line_cost(&own, 0)[..2], ["7.00", "70.00"]);
    // A customer outside the group pays the public price.
    let retail = accounts::customer(&app, "retail@example.com").await;
    let theirs = new_cart(
        &app,
        signed_in(&retail.access),
        json!({ "lines": [line(&t, 1)] }),
    )
    .await;
    assert_eq!(line_cost(&theirs, 0)[..2], ["10.00", "10.00"]);
}

// ---------------------------------------------------------------------------
// 2. Cart mutations and their userErrors.

#[tokio::test]
async fn unsellable_variants_and_bad_quantities_are_refused_and_change_nothing() {
    let (app, admin) = shop().await;
    let (_, okv) = product(&app, &admin, "OK-1", json!({ "prices": [usd("5.00")] })).await;
    let (_, stocked) = product(
        &app,
        &admin,
        "STOCKED-1",
        json!({ "prices": [usd("5.00")], "trackInventory": true }),
    )
    .await;
    stock(&app, &admin, "STOCKED-1", 3).await;
    let (_, unpriced) = product(&app, &admin, "UNPRICED-1", json!({})).await;
    let draft = gql(
        &app,
        signed_in(&admin),
        "mutation($i: ProductCreateInput!) { productCreate(input: $i) { product { variants { id } } userErrors { message } } }",
        json!({ "i": { "title": "Draft", "status": "DRAFT", "variants": [{ "sku": "DRAFT-1", "trackInventory": false, "prices": [usd("5.00")] }] } }),
    )
    .await;
    let draft = id_of(&draft["productCreate"]["product"]["variants"][0]);
    let unknown = gid("ProductVariant", 999_999);

    let cart = new_cart(&app, GUEST, json!({ "lines": [line(&okv, 1)] })).await;
    let id = id_of(&cart);
    let add = |lines: Value| {
        mutate(
            &app,
            GUEST,
            "cartLinesAdd",
            json!({ "cartId": id, "lines": lines }),
        )
    };

    for bad in [&unknown, &draft, &unpriced] {
        let refused = add(json!([line(bad, 1)])).await;
        // With userErrors the payload still shows the cart, unchanged.
        assert_eq!(refused["cart"], cart);
        assert_eq!(
            refused["userErrors"],
            json!([{ "field": ["lines", "0", "merchandiseId"], "code": "VARIANT_NOT_FOUND", "message": "this variant does not exist or is not for sale in this channel", "quantityAvailable": null }])
        );
    }
    // One bad line spoils the call: the good one is not added either.
    let refused = add(json!([line(&okv, 2), line(&unknown, 1)])).await;
    assert_eq!(error_codes(&refused), ["VARIANT_NOT_FOUND"]);
    assert_eq!(
        refused["userErrors"][0]["field"],
        json!(["lines", "1", "merchandiseId"])
    );
    // Quantities below 1.
    for q in [0, -3] {
        let refused = add(json!([line(&okv, q)])).await;
        assert_eq!(error_codes(&refused), ["INVALID"]);
    }
    // More than in stock, with what is available.
    let refused = add(json!([line(&stocked, 4)])).await;
    assert_eq!(
        refused["userErrors"],
        json!([{ "field": ["lines", "0", "quantity"], "code": "OUT_OF_STOCK", "message": "only 3 left in stock", "quantityAvailable": 3 }])
    );
    // Empty additions.
    assert_eq!(error_codes(&add(json!([])).await), ["BLANK"]);
    assert_eq!(
        read(&app, GUEST, &id).await,
        cart,
        "a refused mutation changed the cart"
    );

    // What is in stock can be added; then updates are checked the same way.
    let cart = ok(add(json!([line(&stocked, 3)])).await);
    assert_eq!(cart["lines"][1]["quantityAvailable"], 3);
    let stocked_line = cart["lines"][1]["id"].clone();
    let update = |lines: Value| {
        mutate(
            &app,
            GUEST,
            "cartLinesUpdate",
            json!({ "cartId": id, "lines": lines }),
        )
    };
    let refused = update(json!([{ "id": stocked_line, "quantity": 4 }])).await;
    assert_eq!(error_codes(&refused), ["OUT_OF_STOCK"]);
    assert_eq!(refused["userErrors"][0]["quantityAvailable"], 3);
    let refused = update(json!([{ "id": stocked_line, "quantity": -1 }])).await;
    assert_eq!(error_codes(&refused), ["INVALID"]);
    let refused = update(json!([{ "id": gid("CartLine", 999_999), "quantity": 1 }])).await;
    assert_eq!(error_codes(&refused), ["NOT_FOUND"]);
    let refused = mutate(
        &app,
        GUEST,
        "cartLinesRemove",
        json!({ "cartId": id, "lineIds": [stocked_line, gid("CartLine", 999_999)] }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["NOT_FOUND"]);
    assert_eq!(refused["userErrors"][0]["field"], json!(["lineIds", "1"]));
    // A variant priced only in USD is not for sale in the EU channel.
    let refused = mutate(
        &app,
        EU,
        "cartCreate",
        json!({ "input": { "lines": [line(&okv, 1)] } }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["VARIANT_NOT_FOUND"]);
    assert_eq!(
        read(&app, GUEST, &id).await,
        cart,
        "a refused mutation changed the cart"
    );

    // Quantity 0 removes a line.
    let cart = ok(update(json!([{ "id": stocked_line, "quantity": 0 }])).await);
    assert_eq!(cart["totalQuantity"], 1);
}

#[tokio::test]
async fn codes_gift_cards_and_shipping_choices_are_checked_and_change_nothing() {
    let (app, admin) = shop().await;
    let (_, v) = product(&app, &admin, "CODES-1", json!({ "prices": [usd("50.00")] })).await;
    promotion(
        &app,
        &admin,
        json!({ "name": "Expired", "code": "OLD20", "kind": "PERCENTAGE", "percentage": "20", "endsAt": "2020-01-01T00:00:00Z" }),
    )
    .await;
    let cart = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&v, 1)], "discountCodes": ["SAVE10"] }),
    )
    .await;
    let id = id_of(&cart);

    let codes = |list: Value| {
        mutate(
            &app,
            GUEST,
            "cartDiscountCodesUpdate",
            json!({ "cartId": id, "discountCodes": list }),
        )
    };
    for list in [json!(["NOPE"]), json!(["old20"]), json!(["TAKE5", "NOPE"])] {
        let refused = codes(list).await;
        assert_eq!(error_codes(&refused), ["INVALID_CODE"]);
        assert_eq!(refused["cart"], cart);
    }
    let refused = codes(json!(["TAKE5", "NOPE"])).await;
    assert_eq!(
        refused["userErrors"][0]["field"],
        json!(["discountCodes", "1"])
    );
    // A code of another channel is unknown here.
    let (_, euv) = product(&app, &admin, "CODES-EU", json!({ "prices": [eur("9.00")] })).await;
    let refused = mutate(
        &app,
        EU,
        "cartCreate",
        json!({ "input": { "lines": [line(&euv, 1)], "discountCodes": ["TAKE5"] } }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["INVALID_CODE"]);
    // An unknown code at creation refuses the whole cart.
    let refused = mutate(
        &app,
        GUEST,
        "cartCreate",
        json!({ "input": { "lines": [line(&v, 1)], "discountCodes": ["NOPE"] } }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["INVALID_CODE"]);

    let gift = |list: Value| {
        mutate(
            &app,
            GUEST,
            "cartGiftCardCodesUpdate",
            json!({ "cartId": id, "giftCardCodes": list }),
        )
    };
    assert_eq!(
        error_codes(&gift(json!(["NOT-A-CARD-0000"])).await),
        ["INVALID_CODE"]
    );

    let select = |code: &str| {
        mutate(
            &app,
            GUEST,
            "cartShippingMethodSelect",
            json!({ "cartId": id, "shippingMethodCode": code }),
        )
    };
    let refused = select("standard").await;
    assert_eq!(
        refused["userErrors"][0],
        json!({ "field": ["buyerIdentity", "shippingAddress"], "code": "MISSING_SHIPPING_ADDRESS", "message": "set a shipping address (or a country) first", "quantityAvailable": null })
    );
    let refused = mutate(
        &app,
        GUEST,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": id, "buyerIdentity": { "email": "not an email", "countryCode": "USA" } }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["INVALID", "INVALID"]);
    assert_eq!(
        read(&app, GUEST, &id).await,
        cart,
        "a refused mutation changed the cart"
    );

    let cart = ok(mutate(
        &app,
        GUEST,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": id, "buyerIdentity": { "shippingAddress": address(Some("CA"), "US") } }),
    )
    .await);
    let refused = select("teleport").await;
    assert_eq!(error_codes(&refused), ["INVALID_SHIPPING_METHOD"]);
    // The UK ships `international` only: `standard` is not offered there.
    let uk = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&v, 1)], "buyerIdentity": { "countryCode": "GB" } }),
    )
    .await;
    let refused = mutate(
        &app,
        GUEST,
        "cartShippingMethodSelect",
        json!({ "cartId": uk["id"], "shippingMethodCode": "standard" }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["INVALID_SHIPPING_METHOD"]);
    assert_eq!(
        read(&app, GUEST, &id).await,
        cart,
        "a refused mutation changed the cart"
    );
}

#[tokio::test]
async fn an_unknown_cart_is_not_found_everywhere() {
    let (app, admin) = shop().await;
    let (_, v) = product(&app, &admin, "ANY-1", json!({ "prices": [usd("5.00")] })).await;
    let missing = "cart_doesnotexist";
    assert_eq!(read(&app, GUEST, missing).await, Value::Null);
    for (name, vars) in [
        ("cartLinesAdd", json!({ "lines": [line(&v, 1)] })),
        ("cartLinesUpdate", json!({ "lines": [] })),
        ("cartLinesRemove", json!({ "lineIds": [] })),
        ("cartBuyerIdentityUpdate", json!({ "buyerIdentity": {} })),
        ("cartDiscountCodesUpdate", json!({ "discountCodes": [] })),
        ("cartGiftCardCodesUpdate", json!({ "giftCardCodes": [] })),
        (
            "cartShippingMethodSelect",
            json!({ "shippingMethodCode": "standard" }),
        ),
    ] {
        let mut vars = vars;
        vars["cartId"] = json!(missing);
        let refused = mutate(&app, GUEST, name, vars).await;
        assert_eq!(
            refused["userErrors"],
            json!([{ "field": ["cartId"], "code": "NOT_FOUND", "message": "no cart with this id", "quantityAvailable": null }]),
            "{name}"
        );
        assert_eq!(refused["cart"], Value::Null, "{name}");
    }
    let done = checkout(&app, GUEST, missing).await;
    assert_eq!(error_codes(&done), ["NOT_FOUND"]);
}

#[tokio::test]
async fn a_checked_out_cart_is_read_only() {
    let (app, admin) = shop().await;
    let (_, v) = product(&app, &admin, "DONE-1", json!({ "prices": [usd("5.00")] })).await;
    let cart = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&v, 1)], "buyerIdentity": { "email": "done@example.com" } }),
    )
    .await;
    let id = id_of(&cart);
    ship(&app, GUEST, &id, address(Some("OR"), "US"), "standard").await;
    let order = place_order(&app, GUEST, &id).await;
    assert_eq!(order["total"]["amount"], "10.99");
    let before = read(&app, GUEST, &id).await;
    assert_eq!(before["completed"], true);

    for (name, vars) in [
        ("cartLinesAdd", json!({ "lines": [line(&v, 1)] })),
        (
            "cartLinesUpdate",
            json!({ "lines": [{ "id": before["lines"][0]["id"], "quantity": 2 }] }),
        ),
        (
            "cartLinesRemove",
            json!({ "lineIds": [before["lines"][0]["id"]] }),
        ),
        (
            "cartBuyerIdentityUpdate",
            json!({ "buyerIdentity": { "email": "late@example.com" } }),
        ),
        (
            "cartDiscountCodesUpdate",
            json!({ "discountCodes": ["SAVE10"] }),
        ),
        ("cartGiftCardCodesUpdate", json!({ "giftCardCodes": [] })),
        (
            "cartShippingMethodSelect",
            json!({ "shippingMethodCode": "express" }),
        ),
    ] {
        let mut vars = vars;
        vars["cartId"] = json!(id);
        let refused = mutate(&app, GUEST, name, vars).await;
        assert_eq!(error_codes(&refused), ["CART_COMPLETED"], "{name}");
        assert_eq!(refused["cart"], before, "{name}");
    }
    let again = checkout(&app, GUEST, &id).await;
    assert_eq!(error_codes(&again), ["CART_COMPLETED"]);
    assert_eq!(again["order"], Value::Null);
    assert_eq!(read(&app, GUEST, &id).await, before);
}

#[tokio::test]
async fn prices_come_from_the_server_on_every_read() {
    let (app, admin) = shop().await;
    let (_, v) = product(
        &app,
        &admin,
        "REPRICE-1",
        json!({ "prices": [usd("10.00")] }),
    )
    .await;
    let cart = new_cart(&app, GUEST, json!({ "lines": [line(&v, 2)] })).await;
    let id = id_of(&cart);
    assert_eq!(line_cost(&cart, 0)[..2], ["10.00", "20.00"]);

    // A line input has no price to send: the schema does not take one.
    let fields = gql(
        &app,
        GUEST,
        "{ __type(name: \"CartLineInput\") { inputFields { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        fields["__type"]["inputFields"],
        json!([{ "name": "merchandiseId" }, { "name": "quantity" }])
    );
    let (_, body) = app
        .post(
            "mutation($c: ID!, $v: ID!) { cartLinesAdd(cartId: $c, lines: [{ merchandiseId: $v, quantity: 1, price: \"0.01\" }]) { userErrors { code } } }",
            json!({ "c": id, "v": v }),
        )
        .await;
    assert!(
        body["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert_eq!(read(&app, GUEST, &id).await, cart);

    // The merchant changes the price: the next read shows it, no mutation needed.
    let set = gql(
        &app,
        signed_in(&admin),
        "mutation { pricesSet(prices: [{ sku: \"REPRICE-1\", channel: \"default\", amount: \"12.50\" }]) { userErrors { code message } } }",
        json!({}),
    )
    .await;
    assert_eq!(set["pricesSet"]["userErrors"], json!([]));
    let cart = read(&app, GUEST, &id).await;
    assert_eq!(line_cost(&cart, 0)[..2], ["12.50", "25.00"]);
    assert_eq!(cart["cost"]["total"]["amount"], "25.00");
}

// ---------------------------------------------------------------------------
// 3. Guest carts and login.

#[tokio::test]
async fn a_guest_cart_merges_into_the_customers_cart_at_login() {
    let (app, admin) = shop().await;
    let (_, x) = product(&app, &admin, "MERGE-X", json!({ "prices": [usd("5.00")] })).await;
    let (_, y) = product(&app, &admin, "MERGE-Y", json!({ "prices": [usd("3.00")] })).await;
    let me = accounts::customer(&app, "merger@example.com").await;
    let mine = new_cart(
        &app,
        signed_in(&me.access),
        json!({ "lines": [line(&x, 2)], "discountCodes": ["SAVE10"], "buyerIdentity": { "shippingAddress": address(Some("NY"), "US") } }),
    )
    .await;
    let guest = new_cart(
        &app,
        GUEST,
        json!({
            "lines": [line(&x, 998), line(&y, 1)],
            "discountCodes": ["TAKE5", "save10"],
            "buyerIdentity": { "email": "someone@example.com", "shippingAddress": address(Some("CA"), "US") }
        }),
    )
    .await;

    let (token, cart_id) = login_with_cart(&app, "merger@example.com", &id_of(&guest)).await;
    // The customer's cart is the result, under its own ID.
    assert_eq!(cart_id, mine["id"]);
    let merged = read(&app, signed_in(&token), &id_of(&mine)).await;
    // Same variant: 2 + 998 = 1000, capped at 999; new variants are added.
    let lines: Vec<(&str, i64)> = merged["lines"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .map(|l| {
                    (
                        l["merchandise"]["sku"].as_str().unwrap_or("?"),
                        l["quantity"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(lines, [("MERGE-X", 999), ("MERGE-Y", 1)]);
    let codes: Vec<&str> = merged["discountCodes"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["code"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(codes, ["SAVE10", "TAKE5"]);
    // The customer's buyer details are kept.
    assert_eq!(
        merged["buyerIdentity"],
        json!({ "email": "merger@example.com", "countryCode": null, "signedIn": true, "shippingAddress": { "city": "Springfield", "provinceCode": "NY", "countryCode": "US" } })
    );
    // The guest cart is gone, for everyone.
    assert_eq!(read(&app, GUEST, &id_of(&guest)).await, Value::Null);
    assert_eq!(
        read(&app, signed_in(&token), &id_of(&guest)).await,
        Value::Null
    );
}

#[tokio::test]
async fn a_guest_cart_becomes_the_customers_when_they_have_none() {
    let (app, admin) = shop().await;
    let (_, x) = product(&app, &admin, "ADOPT-X", json!({ "prices": [usd("5.00")] })).await;
    accounts::customer(&app, "adopter@example.com").await;
    let guest = new_cart(&app, GUEST, json!({ "lines": [line(&x, 2)] })).await;
    assert_eq!(guest["buyerIdentity"]["signedIn"], false);

    let (token, cart_id) = login_with_cart(&app, "adopter@example.com", &id_of(&guest)).await;
    assert_eq!(cart_id, guest["id"], "the same cart, now the customer's");
    let theirs = read(&app, signed_in(&token), &id_of(&guest)).await;
    assert_eq!(theirs["buyerIdentity"]["signedIn"], true);
    assert_eq!(theirs["buyerIdentity"]["email"], "adopter@example.com");
    assert_eq!(theirs["totalQuantity"], 2);
    // No longer a guest cart: its ID alone does not open it.
    assert_eq!(read(&app, GUEST, &id_of(&guest)).await, Value::Null);
    let refused = mutate(
        &app,
        GUEST,
        "cartLinesAdd",
        json!({ "cartId": guest["id"], "lines": [line(&x, 1)] }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["NOT_FOUND"]);
}

#[tokio::test]
async fn a_signed_in_buyer_identity_update_takes_a_guest_cart_over() {
    let (app, admin) = shop().await;
    let (_, x) = product(&app, &admin, "TAKE-X", json!({ "prices": [usd("5.00")] })).await;
    let (_, z) = product(&app, &admin, "TAKE-Z", json!({ "prices": [usd("2.00")] })).await;
    let me = accounts::customer(&app, "taker@example.com").await;
    let who = signed_in(&me.access);

    // No cart of their own yet: the guest cart becomes theirs.
    let first = new_cart(&app, GUEST, json!({ "lines": [line(&x, 1)] })).await;
    let taken = ok(mutate(
        &app,
        who,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": first["id"], "buyerIdentity": { "countryCode": "US" } }),
    )
    .await);
    assert_eq!(taken["id"], first["id"]);
    assert_eq!(taken["buyerIdentity"]["signedIn"], true);
    assert_eq!(taken["buyerIdentity"]["email"], "taker@example.com");
    assert_eq!(read(&app, GUEST, &id_of(&first)).await, Value::Null);

    // With a cart of their own, another guest cart merges into it.
    let second = new_cart(&app, GUEST, json!({ "lines": [line(&z, 3), line(&x, 1)] })).await;
    let merged = ok(mutate(
        &app,
        who,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": second["id"], "buyerIdentity": { "email": "other@example.com" } }),
    )
    .await);
    assert_eq!(merged["id"], first["id"]);
    assert_eq!(merged["totalQuantity"], 5);
    assert_eq!(merged["buyerIdentity"]["email"], "taker@example.com");
    assert_eq!(read(&app, who, &id_of(&second)).await, Value::Null);
}

// ---------------------------------------------------------------------------
// 4. Gift cards and store credit.

#[tokio::test]
async fn a_gift_card_pays_part_of_carts_until_its_balance_is_spent() {
    let (app, admin) = shop().await;
    let (_, v) = product(&app, &admin, "GIFT-1", json!({ "prices": [usd("20.00")] })).await;
    let issued = gql(
        &app,
        signed_in(&admin),
        "mutation { giftCardCreate(input: { initialValue: \"50.00\", currencyCode: USD }) { code giftCard { lastCharacters initialValue { amount } balance { amount currencyCode } } userErrors { code } } }",
        json!({}),
    )
    .await;
    let issued = &issued["giftCardCreate"];
    assert_eq!(issued["userErrors"], json!([]));
    let code = issued["code"].as_str().unwrap_or_default().to_owned();
    assert_eq!(code.len(), 16, "a generated code: {code}");
    let last4 = &code[12..];
    assert_eq!(issued["giftCard"]["lastCharacters"], last4);
    // Only its digest is kept: a gift card has no field that shows the code.
    let fields = gql(
        &app,
        GUEST,
        "{ __type(name: \"GiftCard\") { fields { name } } }",
        json!({}),
    )
    .await;
    let names = fields["__type"]["fields"].to_string();
    assert!(!names.contains("\"code\""), "{names}");
    assert!(names.contains("\"lastCharacters\""), "{names}");
    assert_eq!(
        issued["giftCard"]["balance"],
        json!({ "amount": "50.00", "currencyCode": "USD" })
    );

    let buy = |quantity: i64, code: String| {
        let app = &app;
        let v = v.clone();
        async move {
            let cart = new_cart(
                app,
                GUEST,
                json!({ "lines": [line(&v, quantity)], "buyerIdentity": { "email": "gift@example.com" } }),
            )
            .await;
            let id = id_of(&cart);
            ship(app, GUEST, &id, address(Some("OR"), "US"), "standard").await;
            let payload = mutate(
                app,
                GUEST,
                "cartGiftCardCodesUpdate",
                json!({ "cartId": id, "giftCardCodes": [code] }),
            )
            .await;
            (id, payload)
        }
    };

    // 20.00 + 5.99 shipping: the card pays it all, nothing is due.
    // Codes are read without case, spaces or dashes.
    let spaced = format!(
        "{}-{} {}",
        &code[..4].to_lowercase(),
        &code[4..8],
        &code[8..]
    );
    let (id, payload) = buy(1, spaced).await;
    let cart = ok(payload);
    assert_eq!(cart["cost"]["giftCards"]["amount"], "25.99");
    assert_eq!(cart["cost"]["amountDue"]["amount"], "0.00");
    assert_eq!(
        cart["appliedGiftCards"],
        json!([{ "lastCharacters": last4, "amountUsed": { "amount": "25.99" }, "balance": { "amount": "50.00" } }])
    );
    let order = place_order(&app, GUEST, &id).await;
    assert_eq!(order["giftCards"]["amount"], "25.99");
    assert_eq!(order["payments"], json!([]), "nothing for the gateway");

    // 2 x 20.00 + 5.99 = 45.99: the 24.01 left pays part, 21.98 is due.
    let (id, payload) = buy(2, code.clone()).await;
    let cart = ok(payload);
    assert_eq!(
        cart["appliedGiftCards"],
        json!([{ "lastCharacters": last4, "amountUsed": { "amount": "24.01" }, "balance": { "amount": "24.01" } }])
    );
    assert_eq!(cart["cost"]["giftCards"]["amount"], "24.01");
    assert_eq!(cart["cost"]["amountDue"]["amount"], "21.98");
    let order = place_order(&app, GUEST, &id).await;
    assert_eq!(order["giftCards"]["amount"], "24.01");
    assert_eq!(order["payments"][0]["amount"]["amount"], "21.98");
    assert_eq!(order["totalReceived"]["amount"], "45.99");

    // Spent: the code no longer applies.
    let (_, payload) = buy(1, code.clone()).await;
    assert_eq!(error_codes(&payload), ["INVALID_CODE"]);

    // A USD card on a EUR cart: answered like an unknown code, so a
    // guesser cannot tell that it exists.
    let (_, eu_only) = product(&app, &admin, "GIFT-EU", json!({ "prices": [eur("9.00")] })).await;
    let eu_cart = new_cart(&app, EU, json!({ "lines": [line(&eu_only, 1)] })).await;
    let refused = mutate(
        &app,
        EU,
        "cartGiftCardCodesUpdate",
        json!({ "cartId": eu_cart["id"], "giftCardCodes": ["DEMO-GIFT-CARD-0001"] }),
    )
    .await;
    let unknown = mutate(
        &app,
        EU,
        "cartGiftCardCodesUpdate",
        json!({ "cartId": eu_cart["id"], "giftCardCodes": ["NO-SUCH-CARD-0001"] }),
    )
    .await;
    assert_eq!(
        refused["userErrors"],
        json!([{ "field": ["giftCardCodes", "0"], "code": "INVALID_CODE", "message": "this gift card code is not valid here or has no balance left", "quantityAvailable": null }])
    );
    assert_eq!(refused["userErrors"], unknown["userErrors"]);
    assert_eq!(read(&app, EU, &id_of(&eu_cart)).await, eu_cart);
}

#[tokio::test]
async fn store_credit_pays_at_a_signed_in_checkout_and_never_goes_below_zero() {
    let (app, admin) = shop().await;
    let (_, v) = product(
        &app,
        &admin,
        "CREDIT-1",
        json!({ "prices": [usd("20.00")] }),
    )
    .await;
    let me = accounts::customer(&app, "credit@example.com").await;
    let who = signed_in(&me.access);
    let adjust = |amount: &str| {
        gql(
            &app,
            signed_in(&admin),
            "mutation($c: ID!, $a: Decimal!) { storeCreditAdjust(customerId: $c, amount: $a, currencyCode: USD) { balance { amount } userErrors { field code } } }",
            json!({ "c": me.id, "a": amount }),
        )
    };
    let balance = || async {
        gql(
            &app,
            who,
            "{ me { storeCredit { amount currencyCode } } }",
            json!({}),
        )
        .await["me"]["storeCredit"]
            .clone()
    };
    let added = adjust("30.00").await;
    assert_eq!(added["storeCreditAdjust"]["balance"]["amount"], "30.00");
    let refused = adjust("-40.00").await;
    assert_eq!(
        refused["storeCreditAdjust"],
        json!({ "balance": null, "userErrors": [{ "field": ["amount"], "code": "INVALID" }] })
    );
    assert_eq!(
        balance().await,
        json!([{ "amount": "30.00", "currencyCode": "USD" }])
    );

    // 20.00 + 5.99: the credit pays it all.
    let cart = new_cart(&app, who, json!({ "lines": [line(&v, 1)] })).await;
    let cart = ship(
        &app,
        who,
        &id_of(&cart),
        address(Some("OR"), "US"),
        "standard",
    )
    .await;
    assert_eq!(cart["cost"]["storeCredit"]["amount"], "25.99");
    assert_eq!(cart["cost"]["amountDue"]["amount"], "0.00");
    // A guest holding the same cart's ID... cannot: it is the customer's.
    assert_eq!(read(&app, GUEST, &id_of(&cart)).await, Value::Null);
    let order = place_order(&app, who, &id_of(&cart)).await;
    assert_eq!(order["storeCredit"]["amount"], "25.99");
    // 30.00 - 25.99.
    assert_eq!(balance().await[0]["amount"], "4.01");

    // The rest pays part of the next cart.
    let cart = new_cart(&app, who, json!({ "lines": [line(&v, 1)] })).await;
    let cart = ship(
        &app,
        who,
        &id_of(&cart),
        address(Some("OR"), "US"),
        "standard",
    )
    .await;
    assert_eq!(cart["cost"]["storeCredit"]["amount"], "4.01");
    assert_eq!(cart["cost"]["amountDue"]["amount"], "21.98");
    let order = place_order(&app, who, &id_of(&cart)).await;
    assert_eq!(order["payments"][0]["amount"]["amount"], "21.98");
    assert_eq!(balance().await[0]["amount"], "0.00");
    let refused = adjust("-0.01").await;
    assert_eq!(
        refused["storeCreditAdjust"]["userErrors"][0]["code"],
        "INVALID"
    );
    // More decimals than the currency has: the error names the argument.
    let refused = adjust("0.001").await;
    assert_eq!(
        refused["storeCreditAdjust"],
        json!({ "balance": null, "userErrors": [{ "field": ["amount"], "code": "INVALID" }] })
    );
    assert_eq!(balance().await[0]["amount"], "0.00");
}

// ---------------------------------------------------------------------------
// 5. Stock holds on add to cart.

fn hold_long(c: &mut Config) {
    c.commerce.cart_reservation_secs = 600;
}

/// Holds of ten minutes, swept every second.
fn hold_and_sweep(c: &mut Config) {
    hold_long(c);
    c.commerce.sweep_interval_secs = 1;
}

#[tokio::test]
async fn adding_to_a_cart_holds_stock_against_other_carts() {
    // A long hold, so that nothing expires while the test looks.
    let (app, admin) = shop_with(Some(hold_long)).await;
    let (_, r) = product(
        &app,
        &admin,
        "HELD-1",
        json!({ "prices": [usd("5.00")], "trackInventory": true }),
    )
    .await;
    stock(&app, &admin, "HELD-1", 5).await;

    let a = new_cart(&app, GUEST, json!({ "lines": [line(&r, 3)] })).await;
    assert_eq!(a["lines"][0]["quantityAvailable"], 2);
    assert_eq!(reserved(&app, "HELD-1").await, (3, 3));
    // Another cart sees what is left.
    let refused = mutate(
        &app,
        GUEST,
        "cartCreate",
        json!({ "input": { "lines": [line(&r, 3)] } }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["OUT_OF_STOCK"]);
    assert_eq!(refused["userErrors"][0]["quantityAvailable"], 2);
    let b = new_cart(&app, GUEST, json!({ "lines": [line(&r, 2)] })).await;
    assert_eq!(b["lines"][0]["quantityAvailable"], 0);
    assert_eq!(reserved(&app, "HELD-1").await, (5, 5));

    // A cart's own hold is available to it; nothing more is.
    let update = |q: i64| {
        mutate(
            &app,
            GUEST,
            "cartLinesUpdate",
            json!({ "cartId": a["id"], "lines": [{ "id": a["lines"][0]["id"], "quantity": q }] }),
        )
    };
    let refused = update(4).await;
    assert_eq!(error_codes(&refused), ["OUT_OF_STOCK"]);
    assert_eq!(refused["userErrors"][0]["quantityAvailable"], 3);
    ok(update(1).await);
    assert_eq!(reserved(&app, "HELD-1").await, (3, 3));
    // Removing the line lets the stock go.
    ok(mutate(
        &app,
        GUEST,
        "cartLinesRemove",
        json!({ "cartId": a["id"], "lineIds": [a["lines"][0]["id"]] }),
    )
    .await);
    assert_eq!(reserved(&app, "HELD-1").await, (2, 2));
    let c = new_cart(&app, GUEST, json!({ "lines": [line(&r, 3)] })).await;
    assert_eq!(c["lines"][0]["quantityAvailable"], 0);
}

#[tokio::test]
async fn held_stock_is_released_when_the_hold_expires() {
    let (app, admin) = shop_with(Some(hold_and_sweep)).await;
    let (_, r) = product(
        &app,
        &admin,
        "EXPIRES-1",
        json!({ "prices": [usd("5.00")], "trackInventory": true }),
    )
    .await;
    stock(&app, &admin, "EXPIRES-1", 5).await;
    let a = new_cart(&app, GUEST, json!({ "lines": [line(&r, 5)] })).await;
    let id = id_of(&a);
    assert_eq!(reserved(&app, "EXPIRES-1").await, (5, 5));

    // Ten minutes later the sweeper (every second) releases it.
    app.clock.advance(std::time::Duration::from_secs(601));
    crate::checkout::eventually(
        std::time::Duration::from_secs(30),
        "the hold is released",
        || async { read(&app, GUEST, &id).await["lines"][0]["quantityAvailable"] == 5 },
    )
    .await;
    assert_eq!(reserved(&app, "EXPIRES-1").await, (0, 0));
    // The lines stay in the cart; another cart can now take the stock.
    assert_eq!(read(&app, GUEST, &id).await["totalQuantity"], 5);
    new_cart(&app, GUEST, json!({ "lines": [line(&r, 5)] })).await;
}

#[tokio::test]
async fn without_reservations_adding_to_a_cart_holds_nothing() {
    let (app, admin) = shop().await;
    let (_, r) = product(
        &app,
        &admin,
        "FREE-1",
        json!({ "prices": [usd("5.00")], "trackInventory": true }),
    )
    .await;
    stock(&app, &admin, "FREE-1", 5).await;
    let a = new_cart(&app, GUEST, json!({ "lines": [line(&r, 3)] })).await;
    assert_eq!(a["lines"][0]["quantityAvailable"], 5);
    let b = new_cart(&app, GUEST, json!({ "lines": [line(&r, 5)] })).await;
    assert_eq!(b["lines"][0]["quantityAvailable"], 5);
    assert_eq!(reserved(&app, "FREE-1").await, (0, 0));
}

#[tokio::test]
async fn merging_a_guest_cart_keeps_its_holds_and_leaks_none() {
    let (app, admin) = shop_with(Some(hold_long)).await;
    let (_, r) = product(
        &app,
        &admin,
        "MERGE-HELD",
        json!({ "prices": [usd("5.00")], "trackInventory": true }),
    )
    .await;
    stock(&app, &admin, "MERGE-HELD", 5).await;
    let me = accounts::customer(&app, "holder@example.com").await;
    let mine = new_cart(
        &app,
        signed_in(&me.access),
        json!({ "lines": [line(&r, 1)] }),
    )
    .await;
    let guest = new_cart(&app, GUEST, json!({ "lines": [line(&r, 2)] })).await;
    assert_eq!(reserved(&app, "MERGE-HELD").await, (3, 3));

    let (token, cart_id) = login_with_cart(&app, "holder@example.com", &id_of(&guest)).await;
    assert_eq!(cart_id, mine["id"]);
    // The merged cart holds what both held; no unit is held by nobody.
    assert_eq!(reserved(&app, "MERGE-HELD").await, (3, 3));
    let merged = read(&app, signed_in(&token), &id_of(&mine)).await;
    assert_eq!(merged["lines"][0]["quantity"], 3);
    assert_eq!(merged["lines"][0]["quantityAvailable"], 2);
    // Emptying the cart gives every unit back.
    ok(mutate(
        &app,
        signed_in(&token),
        "cartLinesRemove",
        json!({ "cartId": mine["id"], "lineIds": [merged["lines"][0]["id"]] }),
    )
    .await);
    assert_eq!(reserved(&app, "MERGE-HELD").await, (0, 0));
}

// ---------------------------------------------------------------------------
// 7. Promotions.

#[tokio::test]
async fn promotion_create_validates_its_input_and_writes_nothing_on_error() {
    let (app, admin) = shop().await;
    let count = || async {
        gql(
            &app,
            signed_in(&admin),
            "{ promotions { name } }",
            json!({}),
        )
        .await["promotions"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let before = count().await;
    let base = json!({ "name": "Bad", "kind": "PERCENTAGE" });
    let with = |extra: Value| {
        let mut input = base.clone();
        if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
            i.extend(e.clone());
        }
        input
    };
    for (input, field, code) in [
        (with(json!({ "percentage": "0" })), "percentage", "INVALID"),
        (
            with(json!({ "percentage": "100.5" })),
            "percentage",
            "INVALID",
        ),
        (with(json!({})), "percentage", "INVALID"),
        (
            with(json!({ "kind": "FIXED_AMOUNT", "amount": "-1" })),
            "amount",
            "INVALID",
        ),
        (
            with(json!({ "kind": "FIXED_AMOUNT", "amount": "1.234" })),
            "amount",
            "INVALID",
        ),
        (
            with(json!({ "kind": "BUY_X_GET_Y", "buyQuantity": 0, "getQuantity": 1 })),
            "buyQuantity",
            "INVALID",
        ),
        (
            with(json!({ "percentage": "10", "code": "BAD CODE" })),
            "code",
            "INVALID",
        ),
        (
            with(json!({ "percentage": "10", "usageLimit": 0 })),
            "usageLimit",
            "INVALID",
        ),
        (
            with(json!({ "percentage": "10", "name": " " })),
            "name",
            "BLANK",
        ),
        (
            with(json!({ "percentage": "10", "productIds": [gid("Product", 999_999)] })),
            "productIds",
            "NOT_FOUND",
        ),
        // Codes are unique per channel, whatever their case.
        (
            with(json!({ "percentage": "10", "code": "save10" })),
            "code",
            "TAKEN",
        ),
    ] {
        let p = promotion_create(&app, &admin, input.clone()).await;
        assert_eq!(p["promotion"], Value::Null, "{input}");
        assert_eq!(
            p["userErrors"][0]["field"],
            json!(["input", field]),
            "{input}: {p}"
        );
        assert_eq!(p["userErrors"][0]["code"], code, "{input}: {p}");
    }
    assert_eq!(count().await, before, "a refused promotion was written");
    // The same code in another channel is another promotion.
    let eu = promotion(
        &app,
        &admin,
        json!({ "name": "5 € off", "code": "take5", "kind": "FIXED_AMOUNT", "amount": "5", "channel": "eu" }),
    )
    .await;
    assert_eq!(eu["code"], "TAKE5");
}

#[tokio::test]
async fn a_code_with_a_usage_limit_of_one_works_once() {
    let (app, admin) = shop().await;
    let (_, v) = product(&app, &admin, "ONCE-1", json!({ "prices": [usd("10.00")] })).await;
    promotion(
        &app,
        &admin,
        json!({ "name": "Once", "code": "ONCE", "kind": "PERCENTAGE", "percentage": "50", "usageLimit": 1 }),
    )
    .await;
    let cart = |email: &str| {
        new_cart(
            &app,
            GUEST,
            json!({ "lines": [line(&v, 1)], "discountCodes": ["once"], "buyerIdentity": { "email": email } }),
        )
    };
    let first = cart("first@example.com").await;
    let second = cart("second@example.com").await;
    assert_eq!(second["discountCodes"][0]["applicable"], true);
    ship(
        &app,
        GUEST,
        &id_of(&first),
        address(Some("OR"), "US"),
        "standard",
    )
    .await;
    let order = place_order(&app, GUEST, &id_of(&first)).await;
    assert_eq!(order["discounts"]["amount"], "5.00");

    // Used up: an open cart that holds it shows it does not apply ...
    let second = read(&app, GUEST, &id_of(&second)).await;
    assert_eq!(second["discountCodes"][0]["applicable"], false);
    assert_eq!(second["cost"]["discounts"]["amount"], "0.00");
    // ... and it can no longer be entered.
    let refused = mutate(
        &app,
        GUEST,
        "cartDiscountCodesUpdate",
        json!({ "cartId": second["id"], "discountCodes": ["ONCE"] }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["INVALID_CODE"]);
    // Checking the open cart out charges the full price.
    ship(
        &app,
        GUEST,
        &id_of(&second),
        address(Some("OR"), "US"),
        "standard",
    )
    .await;
    let order = place_order(&app, GUEST, &id_of(&second)).await;
    assert_eq!(order["discounts"]["amount"], "0.00");
    let used = gql(
        &app,
        signed_in(&admin),
        "{ promotions { code timesUsed usageLimit } }",
        json!({}),
    )
    .await;
    let once = used["promotions"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["code"] == "ONCE").cloned())
        .unwrap_or_default();
    assert_eq!(
        once,
        json!({ "code": "ONCE", "timesUsed": 1, "usageLimit": 1 })
    );
}
