//! What stops a buyer from holding stock without paying, or from using a
//! limited promotion more often than allowed, over real HTTP:
//!
//! - an order placed without its payment (`manual` gateway, 3-D Secure)
//!   gives its stock back when its payment deadline passes: the sweeper
//!   cancels it as `system:expiry` and `order.updated` says so;
//! - one buyer email, customer and client address may have only so many
//!   such orders open at once, concurrent checkouts included;
//! - a once-per-customer code is used once however many checkouts race
//!   for it, and the losers are refused before they pay;
//! - two guests' equal idempotency keys are two keys.

use std::time::Duration;

use emporium::domain::identity::permission::Role;
use entity::{outbox_event, promotion, promotion_usage, variant};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use crate::{
    accounts,
    checkout::{
        Item, authorizations, checkout, codes, data, due, eventually, order_count, order_row,
        payload, quantity_available, ready_cart, reservations, shop, stock_of, stocked_item,
        transitions_of,
    },
    harness::{Options, TestApp},
};

/// An order as staff with `orders:read` see it.
const ORDER: &str =
    "query($id: ID!) { order(id: $id) { status paymentStatus transitions { event actor } } }";

/// A shop swept every second, so that an unpaid order is cancelled soon
/// after the test moves the clock past its deadline.
async fn impatient_shop() -> TestApp {
    TestApp::spawn_with(Options {
        products: Some(20),
        configure: Some(|c| c.commerce.sweep_interval_secs = 1),
        ..Default::default()
    })
    .await
}

/// Moves the clock past the payment deadline of order `gid`.
async fn miss_the_deadline(app: &TestApp, gid: &str) {
    let order = order_row(app, gid).await;
    assert_eq!(order.status, "pending", "cancelled before its deadline");
    app.advance_past(due(&order));
}

/// Places `cart` paid with the `manual` gateway (a bank transfer); returns
/// the payload.
async fn pay_by_transfer(app: &TestApp, auth: Option<&str>, cart: &str, key: &str) -> Value {
    let (status, body) = checkout(app, auth, cart, "manual", "", Some(key)).await;
    payload(status, &body)
}

/// Sets the buyer email of `cart`.
async fn set_email(app: &TestApp, auth: Option<&str>, cart: &str, email: &str) {
    let done = data(
        app,
        auth,
        "mutation($c: ID!, $b: CartBuyerIdentityInput!) { cartBuyerIdentityUpdate(cartId: $c, buyerIdentity: $b) { userErrors { field code message } } }",
        json!({ "c": cart, "b": { "email": email } }),
    )
    .await;
    assert_eq!(
        done["cartBuyerIdentityUpdate"]["userErrors"],
        json!([]),
        "{done}"
    );
}

/// Asserts `p` placed an order awaiting payment; returns its global ID.
fn placed_unpaid(p: &Value) -> String {
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(
        (
            p["order"]["status"].as_str(),
            p["order"]["paymentStatus"].as_str()
        ),
        (Some("PENDING"), Some("PENDING")),
        "{p}"
    );
    crate::checkout::order_id(p)
}

/// Asserts `p` was refused for too many unpaid orders, placing nothing.
fn refused_unpaid(p: &Value) {
    assert_eq!(codes(p), ["TOO_MANY_UNPAID_ORDERS"], "{p}");
    assert_eq!(p["userErrors"][0]["field"], json!(["payment"]), "{p}");
    assert!(p["order"].is_null(), "{p}");
}

/// Whether the outbox holds an `order.updated` event saying order `id` is
/// cancelled.
async fn cancellation_recorded(app: &TestApp, id: i64) -> bool {
    outbox_event::Entity::find()
        .filter(outbox_event::Column::Topic.eq("order.updated"))
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("outbox: {e}"))
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(&e.payload).ok())
        .any(|e| e["orderId"] == id && e["status"]["order"] == "cancelled")
}

#[tokio::test]
async fn an_anonymous_bank_transfer_order_gives_its_stock_back_when_its_deadline_passes() {
    let app = impatient_shop().await;
    let support = accounts::staff_user(&app, "support@example.com", Role::Support).await;
    let item = stocked_item(&app, 5).await;
    // The attack: an anonymous caller buys the whole stock, "paying" by
    // bank transfer, and never pays.
    let cart = ready_cart(&app, None, &item, 5).await;
    let p = pay_by_transfer(&app, None, &cart, "sell-out").await;
    let gid = placed_unpaid(&p);
    assert_eq!(quantity_available(&app).await, 0, "the stock is held");
    let held = reservations(&app, item.id).await;
    assert!(
        !held.is_empty() && held.iter().all(|r| r.expires_at.is_some()),
        "held until a deadline: {held:?}"
    );

    // When the deadline passes the order is cancelled and the stock is
    // for sale again.
    miss_the_deadline(&app, &gid).await;
    eventually(
        Duration::from_secs(30),
        "the unpaid order is cancelled",
        || async { order_row(&app, &gid).await.status == "cancelled" },
    )
    .await;
    assert_eq!(stock_of(&app, item.id).await, (5, 0));
    // The storefront's cached answer follows once the sweep's stock event
    // is relayed (a sweep answers no request to wait for it).
    eventually(
        Duration::from_secs(30),
        "the storefront shows the stock again",
        || async { quantity_available(&app).await == 5 },
    )
    .await;
    assert!(reservations(&app, item.id).await.is_empty());
    let seen = app
        .query_as(&support.access, ORDER, json!({ "id": gid }))
        .await;
    assert_eq!(seen["order"]["status"], "CANCELLED", "{seen}");
    // Through the state machine, as the system, heard by subscribers.
    let row = order_row(&app, &gid).await;
    let moves: Vec<(String, String)> = transitions_of(&app, row.id)
        .await
        .into_iter()
        .skip(1)
        .map(|t| (t.event, t.actor))
        .collect();
    assert_eq!(
        moves,
        [
            ("payment_failed".to_owned(), "system:expiry".to_owned()),
            ("cancelled".to_owned(), "system:expiry".to_owned())
        ]
    );
    assert!(cancellation_recorded(&app, row.id).await);

    // And someone who pays gets it.
    let buyer = ready_cart(&app, None, &item, 5).await;
    let (status, body) = checkout(&app, None, &buyer, "test", "tok_visa", Some("pays")).await;
    assert_eq!(payload(status, &body)["order"]["status"], "OPEN");
}

#[tokio::test]
async fn an_unpaid_order_holding_no_stock_is_cancelled_at_its_deadline_too() {
    let app = impatient_shop().await;
    let item = stocked_item(&app, 5).await;
    // Not tracked: checkout holds no stock for it.
    variant::Entity::update_many()
        .col_expr(variant::Column::TrackInventory, Expr::value(false))
        .filter(variant::Column::Id.eq(item.id))
        .exec(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cart = ready_cart(&app, None, &item, 2).await;
    let gid = placed_unpaid(&pay_by_transfer(&app, None, &cart, "untracked").await);
    assert!(reservations(&app, item.id).await.is_empty());
    miss_the_deadline(&app, &gid).await;
    eventually(
        Duration::from_secs(30),
        "the unpaid order is cancelled",
        || async { order_row(&app, &gid).await.status == "cancelled" },
    )
    .await;
    let row = order_row(&app, &gid).await;
    assert!(
        transitions_of(&app, row.id)
            .await
            .iter()
            .any(|t| t.event == "cancelled" && t.actor == "system:expiry")
    );
    assert!(cancellation_recorded(&app, row.id).await);
}

#[tokio::test]
async fn unpaid_orders_are_capped_per_email_and_per_client_address() {
    let app = shop().await;
    let item = stocked_item(&app, 100).await;
    // Three orders awaiting payment for one email (the default cap) ...
    for i in 0..3 {
        let cart = ready_cart(&app, None, &item, 1).await;
        placed_unpaid(&pay_by_transfer(&app, None, &cart, &format!("email-{i}")).await);
    }
    // ... and the fourth is refused, holding nothing.
    let cart = ready_cart(&app, None, &item, 1).await;
    refused_unpaid(&pay_by_transfer(&app, None, &cart, "email-3").await);
    assert_eq!(order_count(&app).await, 3);
    assert_eq!(stock_of(&app, item.id).await, (100, 3));
    // A payment secured at checkout is not capped.
    let (status, body) = checkout(&app, None, &cart, "test", "tok_visa", Some("card")).await;
    assert_eq!(payload(status, &body)["order"]["status"], "OPEN");

    // Other emails from the same client: two more (five from one address) ...
    for email in ["second@example.com", "third@example.com"] {
        let cart = ready_cart(&app, None, &item, 1).await;
        set_email(&app, None, &cart, email).await;
        placed_unpaid(&pay_by_transfer(&app, None, &cart, email).await);
    }
    // ... and the sixth is refused.
    let cart = ready_cart(&app, None, &item, 1).await;
    set_email(&app, None, &cart, "fourth@example.com").await;
    let p = pay_by_transfer(&app, None, &cart, "fourth").await;
    refused_unpaid(&p);
    assert!(
        p["userErrors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("network")),
        "{p}"
    );
    assert_eq!(order_count(&app).await, 6);
    assert_eq!(stock_of(&app, item.id).await, (100, 6));
}

#[tokio::test]
async fn unpaid_orders_are_capped_per_customer() {
    let app = shop().await;
    let item = stocked_item(&app, 100).await;
    let me = accounts::customer(&app, "many@example.com").await;
    let who = Some(me.access.as_str());
    for i in 0..3 {
        let cart = ready_cart(&app, who, &item, 1).await;
        // Another email each time: the customer's cap still counts them.
        set_email(&app, who, &cart, &format!("alias{i}@example.com")).await;
        placed_unpaid(&pay_by_transfer(&app, who, &cart, &format!("mine-{i}")).await);
    }
    let cart = ready_cart(&app, who, &item, 1).await;
    set_email(&app, who, &cart, "alias3@example.com").await;
    let p = pay_by_transfer(&app, who, &cart, "mine-3").await;
    refused_unpaid(&p);
    assert!(
        p["userErrors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("account")),
        "{p}"
    );
    assert_eq!(order_count(&app).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_unpaid_checkouts_never_exceed_the_cap() {
    const BUYERS: usize = 12;
    let app = shop().await;
    let item = stocked_item(&app, 100).await;
    let carts: Vec<String> = join_all((0..BUYERS).map(|_| ready_cart(&app, None, &item, 1))).await;
    let answers = join_all(carts.iter().enumerate().map(|(i, cart)| {
        let app = &app;
        async move {
            tokio::time::timeout(
                Duration::from_secs(120),
                pay_by_transfer(app, None, cart, &format!("rush-{i}")),
            )
            .await
            .unwrap_or_else(|_| panic!("checkout {i} got no answer in 120 s"))
        }
    }))
    .await;
    let mut placed = 0;
    for p in &answers {
        if p["order"].is_null() {
            refused_unpaid(p);
        } else {
            placed_unpaid(p);
            placed += 1;
        }
    }
    assert_eq!(placed, 3, "the per-email cap");
    assert_eq!(order_count(&app).await, 3);
    assert_eq!(
        stock_of(&app, item.id).await,
        (100, 3),
        "nothing held for the refused"
    );
}

/// Puts `codes` on `cart`; returns the cart's code statuses.
async fn enter_codes(app: &TestApp, auth: Option<&str>, cart: &str, codes: &[&str]) -> Value {
    let done = data(
        app,
        auth,
        "mutation($c: ID!, $d: [String!]!) { cartDiscountCodesUpdate(cartId: $c, discountCodes: $d) { cart { discountCodes { code applicable reason } } userErrors { field code message } } }",
        json!({ "c": cart, "d": codes }),
    )
    .await;
    assert_eq!(
        done["cartDiscountCodesUpdate"]["userErrors"],
        json!([]),
        "{done}"
    );
    done["cartDiscountCodesUpdate"]["cart"]["discountCodes"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_once_per_customer_code_is_used_once_by_concurrent_checkouts() {
    const CHECKOUTS: usize = 20;
    let app = shop().await;
    let item: Item = stocked_item(&app, 100).await;
    let me = accounts::customer(&app, "welcome@example.com").await;
    let who = Some(me.access.as_str());
    let mut carts = Vec::new();
    for _ in 0..CHECKOUTS {
        let cart = ready_cart(&app, who, &item, 1).await;
        let entered = enter_codes(&app, who, &cart, &["WELCOME15"]).await;
        assert_eq!(entered[0]["applicable"], true, "{entered}");
        carts.push(cart);
    }
    let charged_before = authorizations(&app);

    let answers = join_all(carts.iter().enumerate().map(|(i, cart)| {
        let app = &app;
        async move {
            let (status, body) = tokio::time::timeout(
                Duration::from_secs(120),
                checkout(
                    app,
                    who,
                    cart,
                    "test",
                    "tok_visa",
                    Some(&format!("welcome-{i}")),
                ),
            )
            .await
            .unwrap_or_else(|_| panic!("checkout {i} got no answer in 120 s"));
            payload(status, &body)
        }
    }))
    .await;

    let mut placed = 0;
    for p in &answers {
        if p["order"].is_null() {
            assert_eq!(codes(p), ["INVALID_CODE"], "{p}");
            assert_eq!(p["userErrors"][0]["field"], json!(["discountCodes"]), "{p}");
        } else {
            assert_eq!(p["userErrors"], json!([]), "{p}");
            placed += 1;
        }
    }
    assert_eq!(placed, 1, "one order with the code");
    let welcome = promotion::Entity::find()
        .filter(promotion::Column::Code.eq("WELCOME15"))
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no WELCOME15"));
    assert_eq!(welcome.times_used, 1);
    let uses = promotion_usage::Entity::find()
        .filter(promotion_usage::Column::PromotionId.eq(welcome.id))
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(uses, 1);
    // Nothing charged or held for the others.
    assert_eq!(authorizations(&app) - charged_before, 1);
    assert_eq!(order_count(&app).await, 1);
    assert_eq!(stock_of(&app, item.id).await, (100, 1));

    // A later checkout with the used-up code is refused as well, rather
    // than charged without the discount the buyer chose.
    let cart = carts
        .iter()
        .zip(&answers)
        .find(|(_, a)| a["order"].is_null())
        .map(|(c, _)| c.as_str())
        .unwrap_or_else(|| panic!("no refused checkout"));
    let (status, body) = checkout(&app, who, cart, "test", "tok_visa", Some("late")).await;
    let p = payload(status, &body);
    assert_eq!(codes(&p), ["INVALID_CODE"], "{p}");
    assert_eq!(authorizations(&app) - charged_before, 1);
    // Without the code, it goes through at full price.
    let entered = enter_codes(&app, who, cart, &[]).await;
    assert_eq!(entered, json!([]));
    let (status, body) = checkout(&app, who, cart, "test", "tok_visa", Some("full-price")).await;
    assert_eq!(payload(status, &body)["order"]["status"], "OPEN");
}

#[tokio::test]
async fn two_guests_with_one_idempotency_key_each_get_their_own_order() {
    let app = shop().await;
    let item = stocked_item(&app, 5).await;
    let first = ready_cart(&app, None, &item, 1).await;
    let second = ready_cart(&app, None, &item, 1).await;
    let (status, body) = checkout(&app, None, &first, "test", "tok_visa", Some("order-1")).await;
    let one = payload(status, &body);
    assert_eq!(one["order"]["status"], "OPEN", "{one}");
    let (status, body) = checkout(&app, None, &second, "test", "tok_visa", Some("order-1")).await;
    let two = payload(status, &body);
    assert_eq!(two["userErrors"], json!([]), "{two}");
    assert_eq!(two["order"]["status"], "OPEN", "{two}");
    assert_ne!(one["order"]["id"], two["order"]["id"]);
    // Each cart's key still answers its own retries with its first answer.
    let (status, body) = checkout(&app, None, &first, "test", "tok_visa", Some("order-1")).await;
    assert_eq!(payload(status, &body)["order"]["id"], one["order"]["id"]);
    let (status, body) = checkout(&app, None, &second, "test", "tok_visa", Some("order-1")).await;
    assert_eq!(payload(status, &body)["order"]["id"], two["order"]["id"]);
    assert_eq!(order_count(&app).await, 2);
    assert_eq!(authorizations(&app), 2);
}

#[tokio::test]
async fn an_idempotency_key_over_255_characters_is_refused_before_anything_happens() {
    let app = shop().await;
    let item = stocked_item(&app, 5).await;
    let cart = ready_cart(&app, None, &item, 1).await;
    let long = "k".repeat(256);
    let (status, body) = checkout(&app, None, &cart, "test", "tok_visa", Some(&long)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(order_count(&app).await, 0);
    assert_eq!(authorizations(&app), 0);
    // Surrounding blanks are not part of a key: 255 characters between
    // them are accepted, and a retry without the blanks is the same key.
    let key = format!("  {}  ", "k".repeat(255));
    let (status, body) = checkout(&app, None, &cart, "test", "tok_visa", Some(&key)).await;
    let first = payload(status, &body);
    assert_eq!(first["order"]["status"], "OPEN", "{first}");
    let (status, body) = checkout(&app, None, &cart, "test", "tok_visa", Some(key.trim())).await;
    assert_eq!(payload(status, &body)["order"]["id"], first["order"]["id"]);
    assert_eq!(order_count(&app).await, 1);
}
