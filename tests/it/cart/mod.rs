//! Carts over HTTP: server-side pricing with hand-computed totals (tax
//! exclusive in `default`, inclusive in `eu`), cart mutations and their
//! userErrors, guest cart merging, gift cards and store credit, stock holds
//! on add to cart, and promotion rules.
//!
//! Every test builds its own products, prices and promotions, so the numbers
//! below do not depend on the random seed catalog. Amounts in comments are in
//! cents; tax is rounded half-up per line.

mod guests;
mod holds;
mod mutations;
mod pricing;
mod promotions;
mod tenders;

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
