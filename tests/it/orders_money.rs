//! The money of orders after payment over real HTTP: captures in full and
//! in part, orders marked as paid, refunds to the card and to store credit
//! with exact ledgers and stock, concurrent refunds and cancellations, a
//! refund the gateway fails and its retry, and gateway keys of the longest
//! client keys.

use std::sync::{Mutex, PoisonError};

use emporium::{
    config::{CommerceConfig, Config},
    domain::{identity::permission::Role, orders::CapturePolicy},
};
use entity::{
    audit_entry, fulfillment, inventory_movement, order_event, order_line, payment_transaction,
    refund, reservation, store_credit_account, store_credit_entry,
};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

use crate::{
    accounts,
    authz::gid,
    checkout::{
        Item, checkout, codes, gql, order_row, payload, ready_cart, stock_of, stocked_item,
    },
    harness::{Options, TestApp},
};

const ORDER_FIELDS: &str = "id status paymentStatus fulfillmentStatus capturedAmount { amount } refundableAmount { amount } cancelledAt cancelReason lines { id quantity } refunds { id status amount { amount currencyCode } lines { orderLineId quantity restock amount { amount } } tenders { kind amount { amount } status reference attempts lastError } note lastError createdAt }";

pub(crate) fn capture_doc() -> String {
    format!(
        "mutation($id: ID!, $amount: Decimal, $key: String) {{ orderCapture(id: $id, amount: $amount, idempotencyKey: $key) {{ order {{ {ORDER_FIELDS} }} userErrors {{ field code message }} }} }}"
    )
}

fn paid_doc() -> String {
    format!(
        "mutation($id: ID!, $key: String) {{ orderMarkAsPaid(id: $id, idempotencyKey: $key) {{ order {{ {ORDER_FIELDS} }} userErrors {{ field code message }} }} }}"
    )
}

pub(crate) fn refund_doc() -> String {
    format!(
        "mutation($input: RefundCreateInput!, $key: String!) {{ refundCreate(input: $input, idempotencyKey: $key) {{ refund {{ id status amount {{ amount }} lastError tenders {{ kind amount {{ amount }} status }} }} order {{ {ORDER_FIELDS} }} userErrors {{ field code message }} }} }}"
    )
}

pub(crate) fn retry_doc() -> String {
    format!(
        "mutation($id: ID!) {{ refundRetry(id: $id) {{ refund {{ id status amount {{ amount }} }} order {{ {ORDER_FIELDS} }} userErrors {{ field code message }} }} }}"
    )
}

pub(crate) fn cancel_doc() -> String {
    format!(
        "mutation($id: ID!, $reason: String!, $restock: Boolean! = true) {{ orderCancel(id: $id, reason: $reason, restock: $restock) {{ order {{ {ORDER_FIELDS} }} refund {{ id status amount {{ amount }} }} userErrors {{ field code message }} }} }}"
    )
}

static CAPTURE: Mutex<Option<CommerceConfig>> = Mutex::new(None);
static SPAWNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A shop with these checkout settings (a runtime of its own when `apart`).
pub(crate) async fn shop_with(commerce: CommerceConfig, apart: bool) -> TestApp {
    let _one_at_a_time = SPAWNING.lock().await;
    *CAPTURE.lock().unwrap_or_else(PoisonError::into_inner) = Some(commerce);
    TestApp::spawn_with(Options {
        products: Some(20),
        configure: Some(|c: &mut Config| {
            if let Some(commerce) = CAPTURE
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                c.commerce = commerce;
            }
        }),
        own_runtime: apart,
        ..Default::default()
    })
    .await
}

pub(crate) fn commerce(policy: CapturePolicy) -> CommerceConfig {
    CommerceConfig {
        payment_capture: policy,
        ..CommerceConfig::default()
    }
}

/// A support agent (`orders:write`).
pub(crate) async fn support(app: &TestApp) -> String {
    accounts::staff_user(app, "support@example.com", Role::Support)
        .await
        .access
}

/// Places an order of `quantity` × `item` paid with `gateway`/`token`;
/// returns its global ID.
pub(crate) async fn place(
    app: &TestApp,
    auth: Option<&str>,
    item: &Item,
    quantity: i32,
    gateway: &str,
    token: &str,
) -> String {
    let cart = ready_cart(app, auth, item, quantity).await;
    let (status, body) = checkout(app, auth, &cart, gateway, token, None).await;
    let p = payload(status, &body);
    assert_eq!(p["userErrors"], json!([]), "{p}");
    p["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no order in {p}"))
        .to_owned()
}

/// Runs a mutation as `token`; returns the payload of `field`.
pub(crate) async fn run(app: &TestApp, token: &str, doc: &str, field: &str, vars: Value) -> Value {
    let (status, body) = gql(app, Some(token), doc, vars).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    body["data"][field].clone()
}

/// USD minor units as a Decimal string.
pub(crate) fn usd(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

pub(crate) async fn ledger(app: &TestApp, order_id: i64, kind: &str) -> Vec<i64> {
    let payments: Vec<i64> = entity::payment::Entity::find()
        .filter(entity::payment::Column::OrderId.eq(order_id))
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("payments: {e}"))
        .into_iter()
        .map(|p| p.id)
        .collect();
    payment_transaction::Entity::find()
        .filter(payment_transaction::Column::PaymentId.is_in(payments))
        .filter(payment_transaction::Column::Kind.eq(kind))
        .order_by_asc(payment_transaction::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("ledger: {e}"))
        .into_iter()
        .map(|t| t.amount_minor)
        .collect()
}

async fn timeline(app: &TestApp, order_id: i64) -> Vec<String> {
    order_event::Entity::find()
        .filter(order_event::Column::OrderId.eq(order_id))
        .order_by_asc(order_event::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("timeline: {e}"))
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

async fn audited(app: &TestApp, action: &str) -> u64 {
    audit_entry::Entity::find()
        .filter(audit_entry::Column::Action.eq(action))
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("audit: {e}"))
}

pub(crate) fn amount(v: &Value) -> String {
    v["amount"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_manual_capture_order_is_captured_in_part_then_in_full() {
    let app = shop_with(commerce(CapturePolicy::Manual), false).await;
    let staff = support(&app).await;
    let item = stocked_item(&app, 5).await;
    let order = place(&app, None, &item, 2, "test", "tok_visa").await;
    let row = order_row(&app, &order).await;
    assert_eq!(row.capture_mode, "manual");
    assert_eq!(
        (row.payment_status.as_str(), row.captured_minor),
        ("authorized", 0)
    );
    let total = row.total_minor;
    let half = total / 2;

    let p = run(
        &app,
        &staff,
        &capture_doc(),
        "orderCapture",
        json!({"id": order, "amount": usd(half), "key": "cap-1"}),
    )
    .await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["order"]["paymentStatus"], "PARTIALLY_PAID");
    assert_eq!(amount(&p["order"]["capturedAmount"]), usd(half));
    // The same key again: the first answer, no second capture.
    let again = run(
        &app,
        &staff,
        &capture_doc(),
        "orderCapture",
        json!({"id": order, "amount": usd(half), "key": "cap-1"}),
    )
    .await;
    assert_eq!(again["userErrors"], json!([]), "{again}");
    assert_eq!(ledger(&app, row.id, "capture").await, [half]);
    // Never more than is open.
    let over = run(
        &app,
        &staff,
        &capture_doc(),
        "orderCapture",
        json!({"id": order, "amount": usd(total - half + 1)}),
    )
    .await;
    assert_eq!(codes(&over), ["AMOUNT_TOO_LARGE"], "{over}");
    // The rest.
    let rest = run(
        &app,
        &staff,
        &capture_doc(),
        "orderCapture",
        json!({"id": order}),
    )
    .await;
    assert_eq!(rest["userErrors"], json!([]), "{rest}");
    assert_eq!(rest["order"]["paymentStatus"], "PAID");
    assert_eq!(rest["order"]["status"], "OPEN");
    assert_eq!(amount(&rest["order"]["capturedAmount"]), usd(total));
    let none = run(
        &app,
        &staff,
        &capture_doc(),
        "orderCapture",
        json!({"id": order}),
    )
    .await;
    assert_eq!(codes(&none), ["NOTHING_TO_CAPTURE"], "{none}");

    assert_eq!(ledger(&app, row.id, "capture").await, [half, total - half]);
    let row = order_row(&app, &order).await;
    assert_eq!((row.captured_minor, row.authorized_minor), (total, total));
    assert_eq!(timeline(&app, row.id).await, ["captured", "captured"]);
    assert_eq!(audited(&app, "order.capture").await, 2);
}

#[tokio::test]
async fn an_order_paid_by_bank_transfer_is_marked_as_paid_once() {
    let app = shop_with(commerce(CapturePolicy::Automatic), false).await;
    let staff = support(&app).await;
    let item = stocked_item(&app, 5).await;
    let order = place(&app, None, &item, 1, "manual", "").await;
    let row = order_row(&app, &order).await;
    assert_eq!(row.payment_status, "pending");
    assert!(row.payment_due_at.is_some());

    let p = run(
        &app,
        &staff,
        &paid_doc(),
        "orderMarkAsPaid",
        json!({"id": order, "key": "paid"}),
    )
    .await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["order"]["paymentStatus"], "PAID");
    assert_eq!(p["order"]["status"], "OPEN");
    let row = order_row(&app, &order).await;
    assert_eq!(row.captured_minor, row.total_minor);
    assert!(row.payment_due_at.is_none(), "the deadline stays");
    let holds = reservation::Entity::find()
        .filter(reservation::Column::OrderId.eq(row.id))
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("holds: {e}"));
    assert!(
        !holds.is_empty() && holds.iter().all(|h| h.expires_at.is_none()),
        "{holds:?}"
    );
    assert_eq!(ledger(&app, row.id, "capture").await, [row.total_minor]);

    let twice = run(
        &app,
        &staff,
        &paid_doc(),
        "orderMarkAsPaid",
        json!({"id": order}),
    )
    .await;
    assert_eq!(codes(&twice), ["NOTHING_TO_CAPTURE"], "{twice}");
    let card = place(&app, None, &item, 1, "test", "tok_visa").await;
    let not_manual = run(
        &app,
        &staff,
        &paid_doc(),
        "orderMarkAsPaid",
        json!({"id": card}),
    )
    .await;
    assert_eq!(codes(&not_manual), ["PAYMENT_NOT_MANUAL"], "{not_manual}");
    assert_eq!(timeline(&app, row.id).await, ["marked_paid"]);
}

/// Ships `units` of the order's first line with `fulfillmentCreate`, as a
/// fulfilment agent (`orders:fulfill`) does, from where they are held.
/// Returns the location.
pub(crate) async fn ship_units(app: &TestApp, order_id: i64, units: i32) -> i64 {
    let line = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("line: {e}"))
        .unwrap_or_else(|| panic!("no line"));
    let agent = accounts::staff_user(
        app,
        &format!("ship{order_id}@example.com"),
        Role::Fulfillment,
    )
    .await
    .access;
    let p = run(
        app,
        &agent,
        "mutation($i: FulfillmentCreateInput!) { fulfillmentCreate(input: $i) { fulfillment { id } userErrors { field code message } } }",
        "fulfillmentCreate",
        json!({ "i": {
            "orderId": gid("Order", order_id),
            "lines": [{ "orderLineId": gid("OrderLine", line.id), "quantity": units }],
            "notifyCustomer": false,
        } }),
    )
    .await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    fulfillment::Entity::find()
        .filter(fulfillment::Column::OrderId.eq(order_id))
        .order_by_desc(fulfillment::Column::Id)
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("fulfillment: {e}"))
        .unwrap_or_else(|| panic!("no fulfillment"))
        .location_id
}

#[tokio::test]
async fn a_line_refunded_to_the_card_with_restock_and_shipping_to_store_credit() {
    let app = shop_with(commerce(CapturePolicy::Automatic), false).await;
    let staff = support(&app).await;
    let buyer = accounts::customer(&app, "buyer@example.com").await;
    let item = stocked_item(&app, 10).await;
    let order = place(&app, Some(&buyer.access), &item, 2, "test", "tok_visa").await;
    let row = order_row(&app, &order).await;
    assert_eq!(stock_of(&app, item.id).await, (10, 2));
    let location = ship_units(&app, row.id, 1).await;
    assert_eq!(stock_of(&app, item.id).await, (9, 1));
    let line = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(row.id))
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("line: {e}"))
        .unwrap_or_else(|| panic!("no line"));
    let line_gid =
        emporium::graphql::id::encode(emporium::graphql::id::Kind::OrderLine, line.id).to_string();

    // Both units, back in stock: the shipped one on hand where it shipped
    // from, the unshipped one cancelled and its hold released.
    let p = run(&app, &staff, &refund_doc(), "refundCreate", json!({
        "input": { "orderId": order, "lines": [{ "orderLineId": line_gid, "quantity": 2, "restock": true }] },
        "key": "line",
    })).await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["refund"]["status"], "SUCCEEDED", "{p}");
    assert_eq!(amount(&p["refund"]["amount"]), usd(line.total_minor));
    assert_eq!(p["refund"]["tenders"][0]["kind"], "CARD");
    assert_eq!(p["order"]["fulfillmentStatus"], "FULFILLED", "{p}");
    assert_eq!(p["order"]["paymentStatus"], "PARTIALLY_REFUNDED");
    assert_eq!(stock_of(&app, item.id).await, (10, 0));
    let restocked = inventory_movement::Entity::find()
        .filter(inventory_movement::Column::VariantId.eq(item.id))
        .filter(inventory_movement::Column::Reason.eq("restock"))
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("movements: {e}"));
    assert_eq!(restocked.len(), 1);
    assert_eq!(
        (restocked[0].delta, restocked[0].location_id),
        (1, location)
    );
    let line = order_line::Entity::find_by_id(line.id)
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("line: {e}"))
        .unwrap_or_else(|| panic!("no line"));
    assert_eq!(
        (
            line.quantity_fulfilled,
            line.quantity_cancelled,
            line.quantity_refunded
        ),
        (1, 1, 2)
    );
    assert_eq!(ledger(&app, row.id, "refund").await, [line.total_minor]);

    // Shipping, to the customer's store credit.
    let shipping = row.total_minor - line.total_minor;
    assert!(shipping > 0, "the order has shipping");
    let p = run(
        &app,
        &staff,
        &refund_doc(),
        "refundCreate",
        json!({
            "input": { "orderId": order, "shipping": true, "to": "STORE_CREDIT", "note": "late" },
            "key": "shipping",
        }),
    )
    .await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["refund"]["status"], "SUCCEEDED");
    assert_eq!(amount(&p["refund"]["amount"]), usd(shipping));
    assert_eq!(p["refund"]["tenders"][0]["kind"], "STORE_CREDIT");
    assert_eq!(p["order"]["paymentStatus"], "REFUNDED");
    assert_eq!(amount(&p["order"]["refundableAmount"]), "0.00");
    let account = store_credit_account::Entity::find()
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("account: {e}"))
        .unwrap_or_else(|| panic!("no store credit account"));
    assert_eq!(account.balance_minor, shipping);
    let entries = store_credit_entry::Entity::find()
        .filter(store_credit_entry::Column::AccountId.eq(account.id))
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("entries: {e}"));
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.amount_minor, e.reason.as_str()))
            .collect::<Vec<_>>(),
        [(shipping, "refund")]
    );
    // The ledgers add up: the card captured the total, got the line back.
    assert_eq!(ledger(&app, row.id, "capture").await, [row.total_minor]);
    assert_eq!(ledger(&app, row.id, "refund").await, [line.total_minor]);
    let row = order_row(&app, &order).await;
    assert_eq!(row.refunded_minor, row.captured_minor);

    // Nothing is left.
    let more = run(
        &app,
        &staff,
        &refund_doc(),
        "refundCreate",
        json!({
            "input": { "orderId": order, "amount": "0.01" }, "key": "more",
        }),
    )
    .await;
    assert_eq!(codes(&more), ["AMOUNT_TOO_LARGE"], "{more}");
    assert_eq!(
        timeline(&app, row.id).await,
        ["fulfilled", "refunded", "refunded"]
    );
    assert_eq!(audited(&app, "refund.create").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_refunds_of_a_whole_order_refund_it_once() {
    let app = shop_with(commerce(CapturePolicy::Automatic), true).await;
    let staff = support(&app).await;
    let item = stocked_item(&app, 5).await;
    let order = place(&app, None, &item, 2, "test", "tok_visa").await;
    let row = order_row(&app, &order).await;
    let doc = refund_doc();
    let calls = (0..20).map(|i| {
        let (app, staff, doc, order) = (&app, &staff, &doc, &order);
        async move {
            run(
                app,
                staff,
                doc,
                "refundCreate",
                json!({
                    "input": { "orderId": order, "amount": usd(row.total_minor) },
                    "key": format!("whole-{i}"),
                }),
            )
            .await
        }
    });
    let answers = join_all(calls).await;
    let won = answers
        .iter()
        .filter(|p| p["refund"]["status"] == "SUCCEEDED")
        .count();
    assert_eq!(won, 1, "{answers:?}");
    for p in answers.iter().filter(|p| p["refund"].is_null()) {
        assert_eq!(codes(p), ["AMOUNT_TOO_LARGE"], "{p}");
    }
    let row = order_row(&app, &order).await;
    assert_eq!(row.refunded_minor, row.captured_minor);
    assert_eq!(ledger(&app, row.id, "refund").await, [row.total_minor]);
    let refunds = refund::Entity::find()
        .filter(refund::Column::OrderId.eq(row.id))
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("refunds: {e}"));
    assert_eq!(refunds, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_cancellations_cancel_once() {
    let app = shop_with(commerce(CapturePolicy::Automatic), true).await;
    let staff = support(&app).await;
    let item = stocked_item(&app, 5).await;
    let order = place(&app, None, &item, 2, "test", "tok_visa").await;
    assert_eq!(stock_of(&app, item.id).await, (5, 2));
    let doc = cancel_doc();
    let calls = (0..20).map(|_| {
        let (app, staff, doc, order) = (&app, &staff, &doc, &order);
        async move {
            run(
                app,
                staff,
                doc,
                "orderCancel",
                json!({"id": order, "reason": "customer asked"}),
            )
            .await
        }
    });
    let answers = join_all(calls).await;
    let won: Vec<&Value> = answers.iter().filter(|p| codes(p).is_empty()).collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    for p in answers.iter().filter(|p| !codes(p).is_empty()) {
        assert_eq!(codes(p), ["ORDER_CANCELLED"], "{p}");
    }
    let p = won[0];
    assert_eq!(p["order"]["status"], "CANCELLED", "{p}");
    assert_eq!(p["order"]["paymentStatus"], "REFUNDED");
    assert_eq!(p["order"]["cancelReason"], "customer asked");
    assert_eq!(p["refund"]["status"], "SUCCEEDED");
    let row = order_row(&app, &order).await;
    assert_eq!(ledger(&app, row.id, "refund").await, [row.total_minor]);
    assert_eq!(stock_of(&app, item.id).await, (5, 0));
    assert_eq!(timeline(&app, row.id).await, ["refunded", "cancelled"]);
    // Everything shipped, or nothing left: refused with a clear code.
    let again = run(
        &app,
        &staff,
        &cancel_doc(),
        "orderCancel",
        json!({"id": order, "reason": "again"}),
    )
    .await;
    assert_eq!(codes(&again), ["ORDER_CANCELLED"]);
}

#[tokio::test]
async fn a_partly_shipped_order_cancels_only_what_did_not_ship() {
    let app = shop_with(commerce(CapturePolicy::Automatic), false).await;
    let staff = support(&app).await;
    let item = stocked_item(&app, 10).await;
    let order = place(&app, None, &item, 3, "test", "tok_visa").await;
    let row = order_row(&app, &order).await;
    ship_units(&app, row.id, 1).await;
    let line = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(row.id))
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("line: {e}"))
        .unwrap_or_else(|| panic!("no line"));
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
    assert_eq!(p["order"]["fulfillmentStatus"], "FULFILLED");
    // Two of three units' share: 2/3 of the line total, rounded half up.
    let share = emporium::domain::orders::refund::units_worth(line.total_minor, 3, 0, 2);
    assert_eq!(amount(&p["refund"]["amount"]), usd(share));
    assert_eq!(stock_of(&app, item.id).await, (9, 0));
    let line = order_line::Entity::find_by_id(line.id)
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("line: {e}"))
        .unwrap_or_else(|| panic!("no line"));
    assert_eq!((line.quantity_fulfilled, line.quantity_cancelled), (1, 2));
    let again = run(
        &app,
        &staff,
        &cancel_doc(),
        "orderCancel",
        json!({"id": order, "reason": "again"}),
    )
    .await;
    assert_eq!(codes(&again), ["ORDER_CANCELLED"]);
}

#[tokio::test]
async fn a_refund_the_gateway_fails_is_failed_then_retried_once() {
    let app = shop_with(commerce(CapturePolicy::Automatic), false).await;
    let staff = support(&app).await;
    let item = stocked_item(&app, 5).await;
    let order = place(&app, None, &item, 1, "test", "tok_refund_error").await;
    let row = order_row(&app, &order).await;
    let vars = json!({"input": { "orderId": order, "amount": usd(row.total_minor) }, "key": "r1"});
    let p = run(&app, &staff, &refund_doc(), "refundCreate", vars.clone()).await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["refund"]["status"], "FAILED", "{p}");
    assert!(
        p["refund"]["lastError"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    // The order is as it was: nothing counted as refunded.
    assert_eq!(p["order"]["paymentStatus"], "PAID");
    let before = order_row(&app, &order).await;
    assert_eq!(before.refunded_minor, 0);
    assert!(ledger(&app, row.id, "refund").await.is_empty());
    // The same call again answers the same refund.
    let same = run(&app, &staff, &refund_doc(), "refundCreate", vars).await;
    assert_eq!(same["refund"]["id"], p["refund"]["id"]);

    let id = p["refund"]["id"].clone();
    let retried = run(&app, &staff, &retry_doc(), "refundRetry", json!({"id": id})).await;
    assert_eq!(retried["userErrors"], json!([]), "{retried}");
    assert_eq!(retried["refund"]["status"], "SUCCEEDED");
    assert_eq!(retried["order"]["paymentStatus"], "REFUNDED");
    let twice = run(&app, &staff, &retry_doc(), "refundRetry", json!({"id": id})).await;
    assert_eq!(codes(&twice), ["REFUND_NOT_RETRYABLE"], "{twice}");
    assert_eq!(ledger(&app, row.id, "refund").await, [row.total_minor]);
    assert_eq!(
        order_row(&app, &order).await.refunded_minor,
        row.total_minor
    );
    assert_eq!(timeline(&app, row.id).await, ["refund_failed", "refunded"]);
}

/// Stripe answering PaymentIntents (authorized for capture later), captures
/// and refunds, for the amount asked.
struct Stripe;

impl Respond for Stripe {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&request.body).unwrap_or_default();
        let field = |k: &str| {
            form.iter()
                .find(|(key, _)| key == k)
                .and_then(|(_, v)| v.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let path = request.url.path();
        if path == "/v1/refunds" {
            return ResponseTemplate::new(200).set_body_json(json!({
                "id": "re_1", "object": "refund", "status": "succeeded",
                "amount": field("amount"), "payment_intent": "pi_789",
            }));
        }
        let (status, amount) = if path.ends_with("/capture") {
            ("succeeded", field("amount_to_capture"))
        } else {
            ("requires_capture", field("amount"))
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "pi_789", "object": "payment_intent", "status": status,
            "amount": amount, "amount_received": amount, "amount_capturable": amount,
            "client_secret": "pi_789_secret",
        }))
    }
}

#[tokio::test]
async fn the_longest_idempotency_keys_give_stripe_keys_it_takes() {
    let stripe = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .respond_with(Stripe)
        .mount(&stripe)
        .await;
    let mut c = commerce(CapturePolicy::Manual);
    c.gateways.push("stripe".into());
    c.stripe_secret_key = Some("sk_test_emporium".into());
    c.stripe_webhook_secret = Some("whsec_emporium_tests".into());
    c.stripe_api_base = Some(stripe.uri());
    let app = shop_with(c, false).await;
    let staff = support(&app).await;
    let item = stocked_item(&app, 5).await;
    let cart = ready_cart(&app, None, &item, 1).await;
    let key = "k".repeat(255);
    let (status, body) = checkout(&app, None, &cart, "stripe", "pm_card_visa", Some(&key)).await;
    let p = payload(status, &body);
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let order = p["order"]["id"].as_str().unwrap_or_default().to_owned();

    let c = run(
        &app,
        &staff,
        &capture_doc(),
        "orderCapture",
        json!({"id": order, "key": key}),
    )
    .await;
    assert_eq!(c["userErrors"], json!([]), "{c}");
    assert_eq!(c["order"]["paymentStatus"], "PAID");
    // A key of its own (the same key for another operation is refused).
    let refund_key = "r".repeat(255);
    let r = run(
        &app,
        &staff,
        &refund_doc(),
        "refundCreate",
        json!({
            "input": { "orderId": order, "amount": "1.00" }, "key": refund_key,
        }),
    )
    .await;
    assert_eq!(r["refund"]["status"], "SUCCEEDED", "{r}");
    // One character more is refused as too long.
    let long = run(
        &app,
        &staff,
        &capture_doc(),
        "orderCapture",
        json!({"id": order, "key": "k".repeat(256)}),
    )
    .await;
    assert_eq!(codes(&long), ["TOO_LONG"], "{long}");

    let sent = stripe
        .received_requests()
        .await
        .unwrap_or_else(|| panic!("the mock records no requests"));
    let keys: Vec<String> = sent
        .iter()
        .filter_map(|r| {
            r.headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(keys.len(), 3, "authorize, capture, refund: {keys:?}");
    for k in &keys {
        assert!((1..=255).contains(&k.len()), "{} characters", k.len());
        assert!(!k.contains(&key[..32]), "the client's key: {k}");
        assert!(!k.contains(&refund_key[..32]), "the client's key: {k}");
    }
}
