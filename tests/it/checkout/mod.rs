//! `checkoutComplete` over real HTTP: a flash sale sells exactly the stock,
//! retries with one idempotency key make one order and one charge, declined
//! payments hold nothing, expired holds are released once, and an order is
//! seen only by its owner and by staff who may read orders.
//!
//! The helpers at the top are shared with `payments.rs`.

mod sale;
mod unpaid;
mod visibility;

use std::time::Duration;

use async_graphql::ID;
use chrono::Utc;
use emporium::{
    domain::{
        checkout::{expiry, stock},
        identity::permission::Role,
    },
    graphql::id::{self, Kind},
};
use entity::{order_transition, payment, reservation, shop_order, stock_level, variant};
use futures_util::{StreamExt, future::join_all, stream};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, sea_query::Expr};
use serde_json::{Value, json};

use crate::{
    accounts,
    harness::{Options, TestApp},
};

/// The variant every test buys: the first variant of an active product.
pub const SKU: &str = "EMP-00000-01";

/// The product [`SKU`] belongs to.
pub const HANDLE: &str = "pocket-journal-0";

/// Places the order; the payload carries everything the tests look at.
pub const CHECKOUT: &str = "mutation($cart: ID!, $payment: CheckoutPaymentInput!, $key: String) { checkoutComplete(cartId: $cart, payment: $payment, idempotencyKey: $key) { order { id status paymentStatus payments { gateway reference status } transitions { event from to actor } } nextAction { clientSecret url } userErrors { field code message quantityAvailable } } }";

/// A variant made tracked, without backorder, with exactly `units` on hand
/// (split over the seeded stock locations) and nothing reserved.
pub struct Item {
    /// Row id.
    pub id: i64,
    /// Global ID, as carts take it.
    pub gid: String,
}

/// Sets [`SKU`] up as an [`Item`] with `units` on hand.
pub async fn stocked_item(app: &TestApp, units: i32) -> Item {
    let row = variant::Entity::find()
        .filter(variant::Column::Sku.eq(SKU))
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("variant: {e}"))
        .unwrap_or_else(|| panic!("no variant {SKU}"));
    variant::Entity::update_many()
        .col_expr(variant::Column::TrackInventory, Expr::value(true))
        .col_expr(variant::Column::AllowBackorder, Expr::value(false))
        .filter(variant::Column::Id.eq(row.id))
        .exec(&app.db)
        .await
        .unwrap_or_else(|e| panic!("variant update: {e}"));
    let levels = stock_level::Entity::find()
        .filter(stock_level::Column::VariantId.eq(row.id))
        .order_by_asc(stock_level::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("levels: {e}"));
    assert!(!levels.is_empty(), "{SKU} has no stock levels");
    // Uneven over the locations, so that buyers drain one before the other.
    let mut left = units;
    for (i, level) in levels.iter().enumerate() {
        let here = if i + 1 == levels.len() {
            left
        } else {
            left - left / 3
        };
        left -= here;
        stock_level::Entity::update_many()
            .col_expr(stock_level::Column::OnHand, Expr::value(here))
            .col_expr(stock_level::Column::Reserved, Expr::value(0))
            .filter(stock_level::Column::Id.eq(level.id))
            .exec(&app.db)
            .await
            .unwrap_or_else(|e| panic!("level update: {e}"));
    }
    let gid = id::encode(Kind::ProductVariant, row.id).to_string();
    Item { id: row.id, gid }
}

/// POSTs an operation, signed in when `auth` is a token.
pub async fn gql(app: &TestApp, auth: Option<&str>, query: &str, vars: Value) -> (u16, Value) {
    match auth {
        Some(token) => app.post_as(token, query, vars).await,
        None => app.post(query, vars).await,
    }
}

/// Like [`gql`] for an operation that must succeed; returns its `data`.
pub async fn data(app: &TestApp, auth: Option<&str>, query: &str, vars: Value) -> Value {
    let (status, body) = gql(app, auth, query, vars).await;
    assert_eq!(status, 200, "unexpected status; body: {body}");
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    body["data"].clone()
}

/// A cart with `quantity` of `item`, an email, a New York shipping address
/// and the `standard` shipping method: ready to check out.
pub async fn ready_cart(app: &TestApp, auth: Option<&str>, item: &Item, quantity: i32) -> String {
    let created = data(
        app,
        auth,
        "mutation($i: CartInput!) { cartCreate(input: $i) { cart { id } userErrors { field code message } } }",
        json!({ "i": {
            "lines": [{ "merchandiseId": item.gid, "quantity": quantity }],
            "buyerIdentity": {
                "email": "buyer@example.com",
                "shippingAddress": {
                    "firstName": "Ada", "lastName": "Buyer", "address1": "1 Main St",
                    "city": "New York", "provinceCode": "NY", "countryCode": "US", "zip": "10001"
                }
            }
        } }),
    )
    .await;
    let payload = &created["cartCreate"];
    assert_eq!(payload["userErrors"], json!([]), "cartCreate: {payload}");
    let cart = payload["cart"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no cart id: {payload}"))
        .to_owned();
    let selected = data(
        app,
        auth,
        "mutation($c: ID!) { cartShippingMethodSelect(cartId: $c, shippingMethodCode: \"standard\") { cart { selectedShippingMethod { code } } userErrors { field code message } } }",
        json!({ "c": cart }),
    )
    .await;
    let payload = &selected["cartShippingMethodSelect"];
    assert_eq!(payload["userErrors"], json!([]), "shipping: {payload}");
    assert_eq!(
        payload["cart"]["selectedShippingMethod"]["code"],
        "standard"
    );
    cart
}

/// Runs `checkoutComplete`; returns the HTTP status and the whole body.
pub async fn checkout(
    app: &TestApp,
    auth: Option<&str>,
    cart: &str,
    gateway: &str,
    token: &str,
    key: Option<&str>,
) -> (u16, Value) {
    gql(
        app,
        auth,
        CHECKOUT,
        json!({ "cart": cart, "payment": { "gateway": gateway, "token": token }, "key": key }),
    )
    .await
}

/// The `checkoutComplete` payload of a request that must not fail at the
/// HTTP or GraphQL level.
pub fn payload(status: u16, body: &Value) -> Value {
    assert_eq!(status, 200, "unexpected status; body: {body}");
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    body["data"]["checkoutComplete"].clone()
}

/// The codes of a payload's user errors.
pub fn codes(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The order row a global order ID stands for.
pub async fn order_row(app: &TestApp, gid: &str) -> shop_order::Model {
    let row = id::decode_as(Kind::Order, &ID(gid.to_owned()))
        .unwrap_or_else(|e| panic!("not an order ID {gid}: {e:?}"));
    shop_order::Entity::find_by_id(row)
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("order: {e}"))
        .unwrap_or_else(|| panic!("no order {gid}"))
}

/// `(on hand, reserved)` of a variant, summed over its locations.
pub async fn stock_of(app: &TestApp, variant_id: i64) -> (i64, i64) {
    let levels = stock_level::Entity::find()
        .filter(stock_level::Column::VariantId.eq(variant_id))
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("levels: {e}"));
    levels.iter().fold((0, 0), |(on_hand, reserved), l| {
        (
            on_hand + i64::from(l.on_hand),
            reserved + i64::from(l.reserved),
        )
    })
}

/// Every reservation of a variant.
pub async fn reservations(app: &TestApp, variant_id: i64) -> Vec<reservation::Model> {
    reservation::Entity::find()
        .filter(reservation::Column::VariantId.eq(variant_id))
        .order_by_asc(reservation::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("reservations: {e}"))
}

/// How many orders exist.
pub async fn order_count(app: &TestApp) -> u64 {
    shop_order::Entity::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("count: {e}"))
}

/// How many payment rows exist.
pub async fn payment_count(app: &TestApp) -> u64 {
    payment::Entity::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("count: {e}"))
}

/// Authorizations the test gateway has made so far.
pub fn authorizations(app: &TestApp) -> u64 {
    app.state
        .gateways
        .test_gateway()
        .map(|g| g.authorizations())
        .unwrap_or_else(|| panic!("the test gateway is not enabled"))
}

/// Calls of the test gateway's `authorize` so far, replays included.
pub fn authorize_calls(app: &TestApp) -> u64 {
    app.state
        .gateways
        .test_gateway()
        .map(|g| g.authorize_calls())
        .unwrap_or_else(|| panic!("the test gateway is not enabled"))
}

/// The variant's `quantityAvailable` as the storefront reads it.
pub async fn quantity_available(app: &TestApp) -> i64 {
    let data = app
        .query(
            &format!(
                "{{ product(handle: \"{HANDLE}\") {{ variants {{ sku quantityAvailable }} }} }}"
            ),
            json!({}),
        )
        .await;
    data["product"]["variants"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["sku"] == SKU))
        .and_then(|v| v["quantityAvailable"].as_i64())
        .unwrap_or_else(|| panic!("no quantityAvailable for {SKU}: {data}"))
}

/// Recorded transitions of an order row, oldest first.
pub async fn transitions_of(app: &TestApp, order_id: i64) -> Vec<order_transition::Model> {
    order_transition::Entity::find()
        .filter(order_transition::Column::OrderId.eq(order_id))
        .order_by_asc(order_transition::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("transitions: {e}"))
}

/// Global ID of the order in a checkout payload.
pub fn order_id(p: &Value) -> String {
    p["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no order in {p}"))
        .to_owned()
}

/// The payment deadline of an order awaiting payment.
pub fn due(order: &shop_order::Model) -> chrono::DateTime<Utc> {
    order
        .payment_due_at
        .unwrap_or_else(|| panic!("order {} has no payment deadline", order.id))
}

/// Runs one reservation sweep at the app's time; how many holds it released.
pub async fn sweep(app: &TestApp) -> usize {
    expiry::sweep(&app.db, app.clock.now(), 500)
        .await
        .unwrap_or_else(|e| panic!("sweep: {e}"))
}

/// Polls `check` every 100 ms until it holds, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Places an order paid with `tok_3ds`: it awaits the customer's 3-D
/// Secure step. Returns the payload.
pub async fn pending_order(app: &TestApp, item: &Item, quantity: i32, key: &str) -> Value {
    let cart = ready_cart(app, None, item, quantity).await;
    let (status, body) = checkout(app, None, &cart, "test", "tok_3ds", Some(key)).await;
    let p = payload(status, &body);
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(
        (
            p["order"]["status"].as_str(),
            p["order"]["paymentStatus"].as_str()
        ),
        (Some("PENDING"), Some("PENDING")),
        "{p}"
    );
    p
}

/// An app for checkout tests: a small catalog, default settings.
pub async fn shop() -> TestApp {
    TestApp::spawn_with(Options {
        products: Some(20),
        ..Default::default()
    })
    .await
}

/// [`shop`], served on a runtime of its own: for races.
pub async fn shop_apart() -> TestApp {
    TestApp::spawn_with(Options {
        products: Some(20),
        own_runtime: true,
        ..Default::default()
    })
    .await
}

/// Sends `retries` checkouts of `cart` with one idempotency `key` at once,
/// paying with `(gateway, token)`, and checks every answer is the same
/// order: a retry that gave up waiting for the first answer says so, and
/// gets it when asked again. Returns the order's global ID.
pub async fn retry_at_once(
    app: &TestApp,
    cart: &str,
    (gateway, token): (&str, &str),
    key: &str,
    retries: usize,
) -> String {
    let answers = join_all((0..retries).map(|_| async {
        let (status, body) = tokio::time::timeout(
            Duration::from_secs(60),
            checkout(app, None, cart, gateway, token, Some(key)),
        )
        .await
        .unwrap_or_else(|_| panic!("a retry got no answer in 60 s"));
        payload(status, &body)
    }))
    .await;
    let mut orders = Vec::new();
    let mut waited = 0;
    for p in answers {
        if codes(&p) == ["REQUEST_IN_PROGRESS"] {
            waited += 1;
            let (status, body) = checkout(app, None, cart, gateway, token, Some(key)).await;
            orders.push(order_id(&payload(status, &body)));
        } else {
            assert_eq!(p["userErrors"], json!([]), "{p}");
            orders.push(order_id(&p));
        }
    }
    assert!(
        orders.iter().all(|o| *o == orders[0]),
        "different answers: {orders:?}"
    );
    eprintln!("{retries} retries: {waited} answered REQUEST_IN_PROGRESS first");
    orders.swap_remove(0)
}
