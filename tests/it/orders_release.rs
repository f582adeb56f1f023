//! Units cancelled before they were captured (capture `on_fulfillment`):
//! their worth is released from the open authorization, never paid back
//! from money captured for the units that shipped, and no longer
//! capturable. Order subscribers hear each step after payment, and a
//! refund cut short while pending is finished by `refundRetry`.

use emporium::domain::orders::{CapturePolicy, refund::units_worth};
use entity::{order_line, refund};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use crate::{
    accounts,
    authz::gid,
    checkout::{codes, order_row, stock_of, stocked_item},
    harness::TestApp,
    orders_money::{
        amount, cancel_doc, capture_doc, commerce, ledger, place, refund_doc, retry_doc, run,
        ship_units, shop_with, support, usd,
    },
    subscriptions::{ORDERS, Ws, listening},
};

async fn only_line(app: &TestApp, order_id: i64) -> order_line::Model {
    order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("line: {e}"))
        .unwrap_or_else(|| panic!("no line"))
}

fn tenders(refund: &Value) -> Vec<(String, String)> {
    refund["tenders"]
        .as_array()
        .unwrap_or_else(|| panic!("no tenders in {refund}"))
        .iter()
        .map(|t| {
            (
                t["kind"].as_str().unwrap_or_default().to_owned(),
                amount(&t["amount"]),
            )
        })
        .collect()
}

#[tokio::test]
async fn refunding_unshipped_units_releases_them_instead_of_paying_back() {
    let app = shop_with(commerce(CapturePolicy::OnFulfillment), false).await;
    let staff = support(&app).await;
    let item = stocked_item(&app, 10).await;
    let order = place(&app, None, &item, 3, "test", "tok_visa").await;
    let row = order_row(&app, &order).await;
    ship_units(&app, row.id, 1).await;
    let shipped = order_row(&app, &order).await;
    let captured = shipped.captured_minor;
    assert!(captured > 0, "the fulfilment captured what it shipped");
    let line = only_line(&app, row.id).await;
    let two = units_worth(line.total_minor, 3, 0, 2);

    // Two unshipped units refunded with restock: released, nothing paid.
    let p = run(
        &app,
        &staff,
        &refund_doc(),
        "refundCreate",
        json!({"key": "two-unshipped", "input": {
            "orderId": order,
            "lines": [{"orderLineId": gid("OrderLine", line.id), "quantity": 2, "restock": true}],
            "to": "ORIGINAL", "notifyCustomer": false,
        }}),
    )
    .await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["refund"]["status"], "SUCCEEDED", "{p}");
    assert_eq!(amount(&p["refund"]["amount"]), usd(0));
    assert_eq!(
        tenders(&p["refund"]),
        [("AUTHORIZATION".to_owned(), usd(two))]
    );
    assert!(ledger(&app, row.id, "refund").await.is_empty());
    assert_eq!(amount(&p["order"]["capturedAmount"]), usd(captured));
    let after = order_row(&app, &order).await;
    assert_eq!(after.refunded_minor, 0);
    let line = only_line(&app, row.id).await;
    assert_eq!((line.quantity_fulfilled, line.quantity_cancelled), (1, 2));
    assert_eq!(stock_of(&app, item.id).await, (9, 0));

    // The released units are no longer capturable: what is open is the
    // authorization less what was captured and released.
    let open = after.authorized_minor - captured - two;
    let over = run(
        &app,
        &staff,
        &capture_doc(),
        "orderCapture",
        json!({"id": order, "amount": usd(open + 1)}),
    )
    .await;
    let expected: &[&str] = if open > 0 {
        &["AMOUNT_TOO_LARGE"]
    } else {
        &["NOTHING_TO_CAPTURE"]
    };
    assert_eq!(codes(&over), expected, "{over}");

    // The shipped unit refunded: paid back from what was captured for it.
    let p = run(
        &app,
        &staff,
        &refund_doc(),
        "refundCreate",
        json!({"key": "shipped-one", "input": {
            "orderId": order,
            "lines": [{"orderLineId": gid("OrderLine", line.id), "quantity": 1, "restock": true}],
            "to": "ORIGINAL", "notifyCustomer": false,
        }}),
    )
    .await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let one = units_worth(line.total_minor, 3, 2, 1);
    assert_eq!(amount(&p["refund"]["amount"]), usd(one));
    assert_eq!(tenders(&p["refund"]), [("CARD".to_owned(), usd(one))]);
    assert_eq!(ledger(&app, row.id, "refund").await, [one]);
    assert_eq!(stock_of(&app, item.id).await, (10, 0));
}

#[tokio::test]
async fn cancelling_what_did_not_ship_releases_it_when_capture_waits_for_shipping() {
    let app = shop_with(commerce(CapturePolicy::OnFulfillment), false).await;
    let staff = support(&app).await;
    let item = stocked_item(&app, 10).await;
    let order = place(&app, None, &item, 3, "test", "tok_visa").await;
    let row = order_row(&app, &order).await;
    ship_units(&app, row.id, 1).await;
    let captured = order_row(&app, &order).await.captured_minor;
    let p = run(
        &app,
        &staff,
        &cancel_doc(),
        "orderCancel",
        json!({"id": order, "reason": "out of stock"}),
    )
    .await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["order"]["status"], "OPEN");
    assert_eq!(amount(&p["refund"]["amount"]), usd(0), "{p}");
    assert!(ledger(&app, row.id, "refund").await.is_empty());
    let after = order_row(&app, &order).await;
    assert_eq!((after.captured_minor, after.refunded_minor), (captured, 0));
    let line = only_line(&app, row.id).await;
    assert_eq!((line.quantity_fulfilled, line.quantity_cancelled), (1, 2));
    assert_eq!(stock_of(&app, item.id).await, (9, 0));
}

/// What an order subscriber asks for after payment.
const FOLLOW: &str = "subscription($id: ID!) { orderUpdated(orderId: $id) { id fulfillmentStatus cancelledAt fulfillments { status } refunds { status amount { amount } } } }";

#[tokio::test]
async fn subscribers_see_fulfilment_refund_and_cancellation() {
    let app = shop_with(commerce(CapturePolicy::Automatic), false).await;
    let staff = support(&app).await;
    let buyer = accounts::customer(&app, "follower@example.com").await;
    let item = stocked_item(&app, 10).await;
    let order = place(&app, Some(&buyer.access), &item, 2, "test", "tok_visa").await;
    let row = order_row(&app, &order).await;

    let mut owner = Ws::connect(&app, Some(&buyer.access)).await;
    let mine = owner.subscribe(FOLLOW, json!({ "id": order })).await;
    let mut desk = Ws::connect(&app, Some(&staff)).await;
    let all = desk.subscribe(ORDERS, json!({})).await;
    listening(&app, 2).await;

    // One of two units ships.
    ship_units(&app, row.id, 1).await;
    let shipped = owner
        .until(&mine, |p| {
            p["data"]["orderUpdated"]["fulfillmentStatus"] == json!("PARTIALLY_FULFILLED")
        })
        .await;
    assert_eq!(
        shipped["data"]["orderUpdated"]["fulfillments"],
        json!([{ "status": "SHIPPED" }]),
        "{shipped}"
    );

    // The shipped unit is refunded.
    let line = only_line(&app, row.id).await;
    let p = run(
        &app,
        &staff,
        &refund_doc(),
        "refundCreate",
        json!({"key": "follow-refund", "input": {
            "orderId": order,
            "lines": [{"orderLineId": gid("OrderLine", line.id), "quantity": 1, "restock": false}],
            "to": "ORIGINAL", "notifyCustomer": false,
        }}),
    )
    .await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let refunded = owner
        .until(&mine, |p| {
            p["data"]["orderUpdated"]["refunds"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        })
        .await;
    assert_eq!(
        refunded["data"]["orderUpdated"]["refunds"][0]["status"],
        json!("SUCCEEDED")
    );

    // What did not ship is cancelled: owner and staff both hear it.
    let p = run(
        &app,
        &staff,
        &cancel_doc(),
        "orderCancel",
        json!({"id": order, "reason": "out of stock"}),
    )
    .await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let cancelled = owner
        .until(&mine, |p| {
            p["data"]["orderUpdated"]["fulfillmentStatus"] == json!("FULFILLED")
        })
        .await;
    assert_eq!(cancelled["data"]["orderUpdated"]["id"], json!(order));
    // Staff heard the shipment, then the refunds.
    let for_staff = desk
        .until(&all, |p| {
            p["data"]["ordersUpdated"]["id"] == json!(order)
                && p["data"]["ordersUpdated"]["paymentStatus"] == json!("PARTIALLY_REFUNDED")
        })
        .await;
    assert_eq!(
        for_staff["data"]["ordersUpdated"]["status"],
        json!("OPEN"),
        "{for_staff}"
    );
}

#[tokio::test]
async fn a_refund_cut_short_while_pending_is_finished_by_a_retry_once() {
    let app = shop_with(commerce(CapturePolicy::Automatic), false).await;
    let staff = support(&app).await;
    let item = stocked_item(&app, 5).await;
    let order = place(&app, None, &item, 1, "test", "tok_refund_error").await;
    let row = order_row(&app, &order).await;
    let vars = json!({"input": { "orderId": order, "amount": usd(row.total_minor) }, "key": "cut"});
    let p = run(&app, &staff, &refund_doc(), "refundCreate", vars).await;
    assert_eq!(p["refund"]["status"], "FAILED", "{p}");
    let id = p["refund"]["id"].clone();
    // A retry claimed it (`pending`) and the server stopped before the
    // gateway answered.
    let stored = refund::Entity::find()
        .filter(refund::Column::OrderId.eq(row.id))
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("refund: {e}"))
        .unwrap_or_else(|| panic!("no refund"));
    refund::Entity::update_many()
        .col_expr(refund::Column::Status, Expr::value("pending"))
        .col_expr(refund::Column::UpdatedAt, Expr::value(app.clock.now()))
        .filter(refund::Column::Id.eq(stored.id))
        .exec(&app.db)
        .await
        .unwrap_or_else(|e| panic!("cut short: {e}"));

    // Pending for a moment: another call may be paying it; not retried.
    let early = run(&app, &staff, &retry_doc(), "refundRetry", json!({"id": id})).await;
    assert_eq!(codes(&early), ["REFUND_NOT_RETRYABLE"], "{early}");
    // Pending for longer than any gateway call: finished, once.
    app.clock.advance(std::time::Duration::from_secs(11 * 60));
    let late = run(&app, &staff, &retry_doc(), "refundRetry", json!({"id": id})).await;
    assert_eq!(late["userErrors"], json!([]), "{late}");
    assert_eq!(late["refund"]["status"], "SUCCEEDED", "{late}");
    let again = run(&app, &staff, &retry_doc(), "refundRetry", json!({"id": id})).await;
    assert_eq!(codes(&again), ["REFUND_NOT_RETRYABLE"], "{again}");
    assert_eq!(ledger(&app, row.id, "refund").await, [row.total_minor]);
}
