//! An order's whole life over HTTP with capture on fulfilment: three lines
//! bought with a card, two shipped from one location with tracking (each
//! fulfilment captures what it ships), the last shipped, one line refunded
//! to the card with restock and the shipping refunded to store credit; the
//! statuses, the stock and every ledger add up exactly.

use emporium::domain::{gid as ids, identity::permission::Role, orders::CapturePolicy};
use entity::{inventory_movement, order_line, store_credit_entry};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::{
    accounts,
    authz::gid,
    checkout::{codes, data, order_row, stock_of},
    orders_money::{commerce, ledger, run, shop_with, usd},
};

const FULFIL: &str = "mutation($i: FulfillmentCreateInput!) { fulfillmentCreate(input: $i) { fulfillment { id status trackingInfo { carrier number } } order { fulfillmentStatus paymentStatus capturedAmount { amount } } userErrors { field code message } } }";
const REFUND: &str = "mutation($i: RefundCreateInput!, $k: String!) { refundCreate(input: $i, idempotencyKey: $k) { refund { id status amount { amount } tenders { kind amount { amount } status } } order { paymentStatus refundableAmount { amount } } userErrors { field code message } } }";

/// Three variants of the seed catalog with stock, as (row id, global ID).
async fn three_variants(app: &crate::harness::TestApp) -> Vec<(i64, String)> {
    let d = data(
        app,
        None,
        "{ products(first: 20) { nodes { variants { id quantityAvailable } } } }",
        json!({}),
    )
    .await;
    let mut picked = Vec::new();
    for p in d["products"]["nodes"].as_array().into_iter().flatten() {
        let v = &p["variants"][0];
        if v["quantityAvailable"].as_i64().unwrap_or(0) >= 5
            && let Some(id) = v["id"].as_str()
        {
            let row = ids::decode(id).map_or(0, |(_, r)| r);
            picked.push((row, id.to_owned()));
        }
        if picked.len() == 3 {
            break;
        }
    }
    assert_eq!(picked.len(), 3, "three stocked variants: {d}");
    picked
}

#[tokio::test]
async fn an_order_is_bought_shipped_in_two_captured_as_it_ships_and_refunded_exactly() {
    let app = shop_with(commerce(CapturePolicy::OnFulfillment), false).await;
    let customer = accounts::customer(&app, "life@example.com").await;
    let variants = three_variants(&app).await;
    let before: Vec<(i64, i64)> = {
        let mut v = Vec::new();
        for (id, _) in &variants {
            v.push(stock_of(&app, *id).await);
        }
        v
    };
    // Buy 1, 2 and 3 units, signed in (store credit needs a customer).
    let lines: Vec<Value> = variants
        .iter()
        .zip([1, 2, 3])
        .map(|((_, g), q)| json!({ "merchandiseId": g, "quantity": q }))
        .collect();
    let auth = Some(customer.access.as_str());
    let cart = data(&app, auth, "mutation($i: CartInput!) { cartCreate(input: $i) { cart { id } userErrors { code } } }",
        json!({ "i": { "lines": lines, "buyerIdentity": { "email": "life@example.com", "shippingAddress": {
            "firstName": "Lia", "address1": "1 Main St", "city": "New York", "provinceCode": "NY", "countryCode": "US", "zip": "10001" } } } })).await;
    let cart = cart["cartCreate"]["cart"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{cart}"))
        .to_owned();
    data(&app, auth, "mutation($c: ID!) { cartShippingMethodSelect(cartId: $c, shippingMethodCode: \"express\") { userErrors { code } } }", json!({ "c": cart })).await;
    let placed = data(&app, auth, "mutation($c: ID!) { checkoutComplete(cartId: $c, payment: { gateway: \"test\", token: \"tok_visa\" }, idempotencyKey: \"life-1\") { order { id status paymentStatus } userErrors { code message } } }", json!({ "c": cart })).await;
    let order = &placed["checkoutComplete"]["order"];
    assert_eq!(
        (order["status"].as_str(), order["paymentStatus"].as_str()),
        (Some("OPEN"), Some("AUTHORIZED")),
        "{placed}"
    );
    let order_gid = order["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{placed}"))
        .to_owned();
    let row = order_row(&app, &order_gid).await;
    assert_eq!(
        (row.authorized_minor, row.captured_minor),
        (row.total_minor, 0)
    );
    let order_lines = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(row.id))
        .order_by_asc(order_line::Column::Position)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("lines: {e}"));
    let line_gid = |i: usize| gid("OrderLine", order_lines[i].id);
    let lines_total: i64 = order_lines.iter().map(|l| l.total_minor).sum();
    let shipping = row.total_minor - lines_total;
    assert!(shipping > 0, "express shipping costs something");

    // Fulfil the first two lines with tracking: they capture their worth and the shipping.
    let agent = accounts::staff_user(&app, "ship@example.com", Role::Fulfillment)
        .await
        .access;
    let first = run(&app, &agent, FULFIL, "fulfillmentCreate", json!({ "i": {
        "orderId": order_gid,
        "lines": [{ "orderLineId": line_gid(0), "quantity": 1 }, { "orderLineId": line_gid(1), "quantity": 2 }],
        "tracking": { "carrier": "UPS", "number": "1Z001", "url": "https://example.com/1Z001" },
        "notifyCustomer": true,
    } })).await;
    assert_eq!(first["userErrors"], json!([]), "{first}");
    let first_worth = order_lines[0].total_minor + order_lines[1].total_minor + shipping;
    assert_eq!(
        first["order"]["fulfillmentStatus"], "PARTIALLY_FULFILLED",
        "{first}"
    );
    assert_eq!(
        first["order"]["capturedAmount"]["amount"],
        usd(first_worth),
        "{first}"
    );
    // Fulfil the rest: everything is captured.
    let rest = run(
        &app,
        &agent,
        FULFIL,
        "fulfillmentCreate",
        json!({ "i": { "orderId": order_gid, "notifyCustomer": true } }),
    )
    .await;
    assert_eq!(rest["userErrors"], json!([]), "{rest}");
    assert_eq!(rest["order"]["fulfillmentStatus"], "FULFILLED", "{rest}");
    assert_eq!(rest["order"]["paymentStatus"], "PAID", "{rest}");
    assert_eq!(
        ledger(&app, row.id, "capture").await,
        [first_worth, order_lines[2].total_minor]
    );
    // Nothing is left to ship, and the stock left: on hand down by what shipped, nothing reserved.
    let again = run(
        &app,
        &agent,
        FULFIL,
        "fulfillmentCreate",
        json!({ "i": { "orderId": order_gid } }),
    )
    .await;
    assert_eq!(codes(&again), ["NOTHING_TO_FULFILL"], "{again}");
    for (i, (id, _)) in variants.iter().enumerate() {
        let (on_hand, reserved) = stock_of(&app, *id).await;
        assert_eq!(
            (on_hand, reserved),
            (before[i].0 - (i as i64 + 1), before[i].1),
            "variant {i}"
        );
    }

    // Refund the second line (2 units) to the card with restock ...
    let support = accounts::staff_user(&app, "support@example.com", Role::Support)
        .await
        .access;
    let to_card = run(
        &app,
        &support,
        REFUND,
        "refundCreate",
        json!({ "k": "life-r1", "i": {
        "orderId": order_gid,
        "lines": [{ "orderLineId": line_gid(1), "quantity": 2, "restock": true }],
        "to": "ORIGINAL", "notifyCustomer": true,
    } }),
    )
    .await;
    assert_eq!(to_card["userErrors"], json!([]), "{to_card}");
    assert_eq!(to_card["refund"]["status"], "SUCCEEDED", "{to_card}");
    assert_eq!(
        to_card["refund"]["amount"]["amount"],
        usd(order_lines[1].total_minor),
        "{to_card}"
    );
    assert_eq!(to_card["refund"]["tenders"][0]["kind"], "CARD", "{to_card}");
    // ... and the shipping to store credit.
    let to_credit = run(&app, &support, REFUND, "refundCreate", json!({ "k": "life-r2", "i": {
        "orderId": order_gid, "lines": [], "shipping": true, "to": "STORE_CREDIT", "notifyCustomer": false,
    } })).await;
    assert_eq!(to_credit["userErrors"], json!([]), "{to_credit}");
    assert_eq!(
        to_credit["refund"]["amount"]["amount"],
        usd(shipping),
        "{to_credit}"
    );
    assert_eq!(
        to_credit["order"]["refundableAmount"]["amount"],
        usd(row.total_minor - order_lines[1].total_minor - shipping),
        "{to_credit}"
    );
    assert_eq!(
        to_credit["order"]["paymentStatus"], "PARTIALLY_REFUNDED",
        "{to_credit}"
    );

    // Ledgers: one card refund of the line, store credit of the shipping.
    assert_eq!(
        ledger(&app, row.id, "refund").await,
        [order_lines[1].total_minor]
    );
    let credits: Vec<i64> = store_credit_entry::Entity::find()
        .order_by_asc(store_credit_entry::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("credit: {e}"))
        .into_iter()
        .map(|e| e.amount_minor)
        .collect();
    assert_eq!(credits, [shipping]);
    let row = order_row(&app, &order_gid).await;
    assert_eq!(
        (row.captured_minor, row.refunded_minor),
        (row.total_minor, order_lines[1].total_minor + shipping)
    );
    // Stock: the restocked units are back on hand, with a movement each way.
    let (on_hand, reserved) = stock_of(&app, variants[1].0).await;
    assert_eq!((on_hand, reserved), before[1]);
    let reasons: Vec<(String, i32)> = inventory_movement::Entity::find()
        .filter(inventory_movement::Column::VariantId.eq(variants[1].0))
        .order_by_asc(inventory_movement::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("movements: {e}"))
        .into_iter()
        .filter(|m| {
            m.reference
                .as_deref()
                .is_some_and(|r| r.contains(&row.id.to_string()))
                || m.reason != "sync"
        })
        .map(|m| (m.reason, m.delta))
        .collect();
    assert!(
        reasons.iter().any(|(_, d)| *d == -2) && reasons.iter().any(|(_, d)| *d == 2),
        "{reasons:?}"
    );
}
