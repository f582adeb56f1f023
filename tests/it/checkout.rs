//! `checkoutComplete` over real HTTP: a flash sale sells exactly the stock,
//! retries with one idempotency key make one order and one charge, declined
//! payments hold nothing, expired holds are released once, and an order is
//! seen only by its owner and by staff who may read orders.
//!
//! The helpers at the top are shared with `payments.rs`.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flash_sale_sells_exactly_the_stock_and_no_more() {
    const UNITS: i32 = 20;
    const BUYERS: usize = 200;
    let app = shop_apart().await;
    let item = stocked_item(&app, UNITS).await;
    let (on_hand, reserved) = stock_of(&app, item.id).await;
    assert_eq!((on_hand, reserved), (i64::from(UNITS), 0));

    // Every buyer gets a cart ready first (adding to a cart holds nothing).
    let carts: Vec<String> = stream::iter(0..BUYERS)
        .map(|_| ready_cart(&app, None, &item, 1))
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(stock_of(&app, item.id).await, (i64::from(UNITS), 0));
    let charged_before = authorizations(&app);
    let asked_before = authorize_calls(&app);

    // Then all of them press "buy" at once.
    let started = std::time::Instant::now();
    let answers = join_all(carts.iter().enumerate().map(|(i, cart)| {
        let app = &app;
        async move {
            let key = format!("flash-{i}");
            tokio::time::timeout(
                Duration::from_secs(180),
                checkout(app, None, cart, "test", "tok_visa", Some(&key)),
            )
            .await
            .unwrap_or_else(|_| panic!("checkout {i} got no answer in 180 s"))
        }
    }))
    .await;
    eprintln!(
        "{BUYERS} concurrent checkouts answered in {:?}",
        started.elapsed()
    );

    let mut placed = Vec::new();
    let mut out_of_stock = 0;
    for (status, body) in &answers {
        let p = payload(*status, body);
        if p["order"].is_null() {
            assert_eq!(codes(&p), ["OUT_OF_STOCK"], "a buyer without an order: {p}");
            assert_eq!(p["userErrors"][0]["quantityAvailable"], 0, "{p}");
            out_of_stock += 1;
        } else {
            assert_eq!(p["userErrors"], json!([]), "{p}");
            assert_eq!(
                (
                    p["order"]["status"].as_str(),
                    p["order"]["paymentStatus"].as_str()
                ),
                (Some("OPEN"), Some("PAID")),
                "{p}"
            );
            placed.push(order_id(&p));
        }
    }
    placed.sort();
    placed.dedup();
    assert_eq!(placed.len(), UNITS as usize, "orders answered");
    assert_eq!(out_of_stock, BUYERS - UNITS as usize);
    assert_eq!(order_count(&app).await, UNITS as u64, "orders stored");
    assert_eq!(payment_count(&app).await, UNITS as u64, "payments stored");
    assert_eq!(
        authorizations(&app) - charged_before,
        UNITS as u64,
        "only the winners were charged"
    );
    assert_eq!(
        authorize_calls(&app) - asked_before,
        UNITS as u64,
        "the gateway was asked once per winner, never for a loser"
    );

    // The stock: all sold, held for the orders, none for the losers.
    assert_eq!(quantity_available(&app).await, 0);
    assert_eq!(
        stock_of(&app, item.id).await,
        (i64::from(UNITS), i64::from(UNITS))
    );
    let held = reservations(&app, item.id).await;
    assert_eq!(
        held.iter().map(|r| i64::from(r.quantity)).sum::<i64>(),
        i64::from(UNITS)
    );
    assert!(
        held.iter()
            .all(|r| r.order_id.is_some() && r.cart_id.is_none() && r.expires_at.is_none()),
        "only order holds, without expiry: {held:?}"
    );
    let levels = stock_level::Entity::find()
        .filter(stock_level::Column::VariantId.eq(item.id))
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("query: {e}"));
    assert!(
        levels
            .iter()
            .all(|l| l.reserved <= l.on_hand && l.reserved >= 0),
        "{levels:?}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_with_one_idempotency_key_make_one_order_and_one_charge() {
    const RETRIES: usize = 50;
    const KEY: &str = "6a1f0c1e-retry-once";
    let app = shop_apart().await;
    let item = stocked_item(&app, 5).await;
    let cart = ready_cart(&app, None, &item, 1).await;
    let charged_before = authorizations(&app);
    let asked_before = authorize_calls(&app);

    retry_at_once(&app, &cart, ("test", "tok_visa"), KEY, RETRIES).await;
    assert_eq!(order_count(&app).await, 1);
    assert_eq!(payment_count(&app).await, 1);
    assert_eq!(
        authorizations(&app) - charged_before,
        1,
        "one authorization"
    );
    // The gateway replays a key it has seen, so the count above would stay
    // at one even if every retry reached it: count the calls themselves.
    assert_eq!(
        authorize_calls(&app) - asked_before,
        1,
        "the gateway was asked once"
    );
    assert_eq!(stock_of(&app, item.id).await, (5, 1));

    // The key belongs to that request: another card with it is refused.
    let (status, body) = checkout(&app, None, &cart, "test", "tok_decline", Some(KEY)).await;
    let p = payload(status, &body);
    assert_eq!(codes(&p), ["IDEMPOTENCY_KEY_REUSED"], "{p}");
    assert!(p["order"].is_null());
    assert_eq!(authorizations(&app) - charged_before, 1);
    // And a new key on the completed cart places nothing more.
    let (status, body) = checkout(&app, None, &cart, "test", "tok_visa", Some("another-key")).await;
    assert_eq!(codes(&payload(status, &body)), ["CART_COMPLETED"]);
    assert_eq!(order_count(&app).await, 1);
    assert_eq!(authorizations(&app) - charged_before, 1);
    assert_eq!(authorize_calls(&app) - asked_before, 1);
}

#[tokio::test]
async fn a_declined_payment_places_nothing_and_holds_nothing() {
    let app = shop().await;
    let item = stocked_item(&app, 3).await;
    let cart = ready_cart(&app, None, &item, 2).await;
    let before = stock_of(&app, item.id).await;
    assert_eq!(before, (3, 0));

    for (token, code) in [
        ("tok_decline", "PAYMENT_DECLINED"),
        ("tok_insufficient_funds", "PAYMENT_DECLINED"),
        ("tok_gateway_error", "PAYMENT_FAILED"),
    ] {
        let key = format!("attempt-{token}");
        let (status, body) = checkout(&app, None, &cart, "test", token, Some(&key)).await;
        let p = payload(status, &body);
        assert_eq!(codes(&p), [code], "{token}: {p}");
        assert_eq!(p["userErrors"][0]["field"], json!(["payment"]), "{p}");
        assert!(p["order"].is_null() && p["nextAction"].is_null(), "{p}");
        assert_eq!(order_count(&app).await, 0, "{token}");
        assert_eq!(payment_count(&app).await, 0, "{token}");
        assert_eq!(
            stock_of(&app, item.id).await,
            before,
            "{token} left stock held"
        );
        assert!(reservations(&app, item.id).await.is_empty(), "{token}");
        assert_eq!(quantity_available(&app).await, 3, "{token}");
        // The decline is the answer to that key, kept.
        let (status, body) = checkout(&app, None, &cart, "test", token, Some(&key)).await;
        assert_eq!(codes(&payload(status, &body)), [code], "{token} replayed");
    }

    // The cart is still open, and a good card buys it.
    let open = data(
        &app,
        None,
        "query($c: ID!) { cart(id: $c) { completed totalQuantity } }",
        json!({ "c": cart }),
    )
    .await;
    assert_eq!(
        open["cart"],
        json!({ "completed": false, "totalQuantity": 2 })
    );
    let (status, body) =
        checkout(&app, None, &cart, "test", "tok_visa", Some("attempt-visa")).await;
    let p = payload(status, &body);
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["order"]["status"], "OPEN", "{p}");
    assert_eq!(order_count(&app).await, 1);
    assert_eq!(stock_of(&app, item.id).await, (3, 2));
    assert_eq!(quantity_available(&app).await, 1);
}

#[tokio::test]
async fn the_sweeper_cancels_an_order_whose_payment_never_completes() {
    let app = TestApp::spawn_with(Options {
        products: Some(20),
        configure: Some(|c| c.commerce.sweep_interval_secs = 1),
        ..Default::default()
    })
    .await;
    let item = stocked_item(&app, 4).await;
    let p = pending_order(&app, &item, 3, "3ds-abandoned").await;
    let gid = order_id(&p);
    let order = order_row(&app, &gid).await;
    // Held while the customer is away...
    let held = reservations(&app, item.id).await;
    assert_eq!(held.iter().map(|r| r.quantity).sum::<i32>(), 3, "{held:?}");
    assert!(
        held.iter()
            .all(|r| r.order_id == Some(order.id) && r.expires_at == order.payment_due_at)
    );
    // (a sweep before the deadline gives nothing back) ...
    assert_eq!(sweep(&app).await, 0);
    assert_eq!(order_row(&app, &gid).await.status, "pending");

    // ... and given back when they never return.
    app.advance_past(due(&order));
    eventually(
        Duration::from_secs(30),
        "the order is cancelled",
        || async { order_row(&app, &gid).await.status == "cancelled" },
    )
    .await;
    assert_eq!(stock_of(&app, item.id).await, (4, 0));
    assert!(reservations(&app, item.id).await.is_empty());
    assert_eq!(quantity_available(&app).await, 4);
    let moves = transitions_of(&app, order.id).await;
    let last: Vec<(&str, &str)> = moves
        .iter()
        .skip(1)
        .map(|t| (t.event.as_str(), t.actor.as_str()))
        .collect();
    assert_eq!(
        last,
        [
            ("payment_failed", "system:expiry"),
            ("cancelled", "system:expiry")
        ],
        "{moves:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sweeps_release_each_expired_hold_once() {
    const ORDERS: usize = 4;
    let app = TestApp::spawn_with(Options {
        products: Some(20),
        configure: Some(|c| {
            // Only the sweeps this test runs.
            c.commerce.sweep_interval_secs = 3600;
            // One buyer with more unpaid orders than the default cap.
            c.commerce.unpaid_orders_per_email = 0;
        }),
        own_runtime: true,
        ..Default::default()
    })
    .await;
    let item = stocked_item(&app, 10).await;
    // One order that stays: paid, held without expiry.
    let paid = ready_cart(&app, None, &item, 2).await;
    let (status, body) = checkout(&app, None, &paid, "test", "tok_visa", Some("paid")).await;
    assert_eq!(payload(status, &body)["order"]["status"], "OPEN");
    let mut pending = Vec::new();
    for i in 0..ORDERS {
        let p = pending_order(&app, &item, 1, &format!("pending-{i}")).await;
        pending.push(order_row(&app, &order_id(&p)).await.id);
    }
    assert_eq!(stock_of(&app, item.id).await, (10, 2 + ORDERS as i64));
    let expiring: Vec<reservation::Model> = reservations(&app, item.id)
        .await
        .into_iter()
        .filter(|r| r.expires_at.is_some())
        .collect();
    assert_eq!(expiring.len(), ORDERS, "{expiring:?}");
    let latest = expiring
        .iter()
        .filter_map(|r| r.expires_at)
        .max()
        .unwrap_or_else(|| panic!("no expiry in {expiring:?}"));
    assert_eq!(sweep(&app).await, 0, "nothing has expired yet");
    app.advance_past(latest);

    let now = app.clock.now();
    let sweeps = [app.db.clone(), app.db.clone()]
        .map(|db| tokio::spawn(async move { expiry::sweep(&db, now, 500).await }));
    let mut released = 0;
    for sweep in sweeps {
        released += sweep
            .await
            .unwrap_or_else(|e| panic!("sweep task: {e}"))
            .unwrap_or_else(|e| panic!("sweep: {e}"));
    }
    assert_eq!(
        released, ORDERS,
        "each expired hold released by exactly one sweep"
    );
    assert_eq!(sweep(&app).await, 0, "nothing left");
    assert_eq!(
        stock_of(&app, item.id).await,
        (10, 2),
        "only the paid order holds"
    );
    for id in pending {
        let cancelled = transitions_of(&app, id)
            .await
            .iter()
            .filter(|t| t.event == "cancelled")
            .count();
        assert_eq!(cancelled, 1, "order {id} cancelled once");
    }
}

#[tokio::test]
async fn a_release_racing_the_sweeper_gives_nothing_back_twice() {
    let app = TestApp::spawn_with(Options {
        products: Some(20),
        configure: Some(|c| c.commerce.sweep_interval_secs = 3600),
        ..Default::default()
    })
    .await;
    let item = stocked_item(&app, 5).await;
    let paid = ready_cart(&app, None, &item, 2).await;
    let (status, body) = checkout(&app, None, &paid, "test", "tok_visa", Some("paid")).await;
    assert_eq!(payload(status, &body)["order"]["status"], "OPEN");
    pending_order(&app, &item, 2, "pending").await;
    assert_eq!(stock_of(&app, item.id).await, (5, 4));
    // Another releaser (a failed-payment webhook, a declined checkout) read
    // the hold just before the sweeper released it.
    let stale: Vec<reservation::Model> = reservations(&app, item.id)
        .await
        .into_iter()
        .filter(|r| r.expires_at.is_some())
        .collect();
    assert_eq!(stale.len(), 1, "{stale:?}");
    let until = stale[0]
        .expires_at
        .unwrap_or_else(|| panic!("no expiry: {stale:?}"));
    app.advance_past(until);
    assert_eq!(sweep(&app).await, 1);
    assert_eq!(stock_of(&app, item.id).await, (5, 2));

    let again = stock::release(&app.db, &stale)
        .await
        .unwrap_or_else(|e| panic!("release: {e}"));
    assert_eq!(again, 0, "the stale hold was already released");
    assert_eq!(
        stock_of(&app, item.id).await,
        (5, 2),
        "the paid order still holds its units"
    );
}

#[tokio::test]
async fn an_order_is_seen_by_its_owner_and_by_staff_who_read_orders_only() {
    let app = shop().await;
    let item = stocked_item(&app, 5).await;
    let owner = accounts::customer(&app, "owner@example.com").await;
    let other = accounts::customer(&app, "other@example.com").await;
    let support = accounts::staff_user(&app, "support@example.com", Role::Support).await;
    let merch = accounts::staff_user(&app, "merch@example.com", Role::Merchandiser).await;

    let cart = ready_cart(&app, Some(&owner.access), &item, 1).await;
    let (status, body) = checkout(
        &app,
        Some(&owner.access),
        &cart,
        "test",
        "tok_visa",
        Some("mine"),
    )
    .await;
    let placed = payload(status, &body);
    let order = order_id(&placed);
    let owner_id = order_row(&app, &order)
        .await
        .customer_id
        .unwrap_or_else(|| panic!("the order has no customer"));
    assert_eq!(
        placed["order"]["transitions"][0]["actor"],
        format!("customer:{owner_id}")
    );
    // Another customer's cart is not theirs to check out either.
    let (status, body) = checkout(
        &app,
        Some(&other.access),
        &cart,
        "test",
        "tok_visa",
        Some("theirs"),
    )
    .await;
    assert_eq!(codes(&payload(status, &body)), ["NOT_FOUND"]);

    const BY_ID: &str = "query($id: ID!) { order(id: $id) { id email status } node(id: $id) { ... on Order { id } } }";
    const MINE: &str = "{ me { orders(first: 10) { nodes { id } } } }";
    let vars = json!({ "id": order });

    let seen = data(&app, Some(&owner.access), BY_ID, vars.clone()).await;
    assert_eq!(seen["order"]["id"], order.as_str());
    assert_eq!(seen["order"]["email"], "buyer@example.com");
    assert_eq!(seen["node"]["id"], order.as_str());
    let mine = data(&app, Some(&owner.access), MINE, json!({})).await;
    assert_eq!(mine["me"]["orders"]["nodes"], json!([{ "id": order }]));

    let theirs = data(&app, Some(&other.access), BY_ID, vars.clone()).await;
    assert_eq!(theirs, json!({ "order": null, "node": null }));
    let theirs = data(&app, Some(&other.access), MINE, json!({})).await;
    assert_eq!(theirs["me"]["orders"]["nodes"], json!([]));

    let anonymous = data(&app, None, BY_ID, vars.clone()).await;
    assert_eq!(anonymous, json!({ "order": null, "node": null }));

    let staff = data(&app, Some(&support.access), BY_ID, vars.clone()).await;
    assert_eq!(staff["order"]["id"], order.as_str());
    assert_eq!(staff["node"]["id"], order.as_str());
    let without = data(&app, Some(&merch.access), BY_ID, vars).await;
    assert_eq!(
        without,
        json!({ "order": null, "node": null }),
        "no orders:read"
    );
}

#[tokio::test]
async fn a_claim_left_by_a_crashed_request_is_taken_over_by_its_retry() {
    use emporium::domain::idempotency;
    use entity::idempotency_key;
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        ..Default::default()
    })
    .await;
    let request = json!({ "cart": "cart_x", "gateway": "test" });
    // The first request claims the key and dies before answering (its
    // future is dropped mid-way, as a crashed process would leave it).
    let first = tokio::time::timeout(
        Duration::from_millis(200),
        idempotency::once(
            &app.db,
            &app.state.clock,
            "checkout:test",
            Some("k-crash"),
            &request,
            || async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<_, emporium::domain::error::DomainError>(1_i64)
            },
        ),
    )
    .await;
    assert!(first.is_err(), "the first request was meant to die");
    // While the claim is young, a retry waits for it and then gives up ...
    // (not run here: it takes the full wait). Once the claim is older than
    // the lease, the retry owns the key and runs.
    let claimed = idempotency_key::Entity::find()
        .filter(idempotency_key::Column::Key.eq("k-crash"))
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the first request claimed no key"));
    app.advance_past(claimed.created_at + chrono::Duration::hours(1));
    let retried = idempotency::once(
        &app.db,
        &app.state.clock,
        "checkout:test",
        Some("k-crash"),
        &request,
        || async { Ok::<_, emporium::domain::error::DomainError>(2_i64) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(retried, Ok(2));
    // Later retries get that answer; another request with the key is refused.
    let again = idempotency::once(
        &app.db,
        &app.state.clock,
        "checkout:test",
        Some("k-crash"),
        &request,
        || async { Ok::<_, emporium::domain::error::DomainError>(3_i64) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, Ok(2));
    let other = idempotency::once(
        &app.db,
        &app.state.clock,
        "checkout:test",
        Some("k-crash"),
        &json!({ "cart": "cart_y" }),
        || async { Ok::<_, emporium::domain::error::DomainError>(4_i64) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(other, Err(idempotency::Refusal::DifferentRequest));
}
