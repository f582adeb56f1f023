//! What staff see of orders: the timeline (status changes, events and
//! notes, notes hidden from customers) and the order search, each
//! search served by an index.

use chrono::{SubsecRound, Utc};
use emporium::domain::{
    identity::permission::Role,
    order_state::{FulfillmentStatus, OrderStatus, PaymentStatus},
    orders_search::{self, Search, SortKey},
};
use entity::{audit_entry, customer, order_event, shop_order};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait,
    QueryFilter, Statement, TransactionTrait, sea_query::Expr,
};
use serde_json::{Value, json};

use crate::{
    accounts,
    checkout::{self, checkout as pay, data, order_row, ready_cart, stocked_item},
    harness::{Options, TestApp},
    notifications::{order, shipped, timeline_rows},
};

const EVENTS: &str = "query($id: ID!) { order(id: $id) { events { id kind message actor createdAt statusFrom statusTo } } }";
const NOTE: &str = "mutation($id: ID!, $n: String!) { orderNoteAdd(id: $id, note: $n) { order { id events { kind message actor } } userErrors { field code } } }";

#[tokio::test]
async fn the_timeline_merges_status_changes_and_events_and_hides_notes_from_customers() {
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        configure: Some(|c| c.notifications.enabled = false),
        ..Default::default()
    })
    .await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let support = accounts::staff_user(&app, "support@example.com", Role::Support).await;
    let item = stocked_item(&app, 5).await;
    let o = order(&app, Some(&ada.access), &item).await;
    let gid = crate::authz::gid("Order", o.id);

    let blank = data(
        &app,
        Some(&support.access),
        NOTE,
        json!({ "id": gid, "n": "  " }),
    )
    .await;
    assert_eq!(
        blank["orderNoteAdd"],
        json!({ "order": null, "userErrors": [{ "field": ["note"], "code": "BLANK" }] })
    );
    let missing = data(
        &app,
        Some(&support.access),
        NOTE,
        json!({ "id": crate::authz::gid("Order", 999_999), "n": "hello" }),
    )
    .await;
    assert_eq!(
        missing["orderNoteAdd"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    assert_eq!(timeline_rows(&app, o.id, "note").await, 0);

    let noted = data(
        &app,
        Some(&support.access),
        NOTE,
        json!({ "id": gid, "n": "Customer asked for gift wrap" }),
    )
    .await;
    let p = &noted["orderNoteAdd"];
    assert_eq!(p["userErrors"], json!([]));
    let staff_view = p["order"]["events"].as_array().cloned().unwrap_or_default();
    let kinds: Vec<&str> = staff_view
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"status_changed"), "{staff_view:?}");
    assert_eq!(kinds.last(), Some(&"note"), "{staff_view:?}");
    let note = staff_view.last().cloned().unwrap_or_default();
    assert_eq!(note["message"], "Customer asked for gift wrap");
    let support_row = accounts_id(&support.id);
    assert_eq!(note["actor"], format!("staff:{support_row}"));
    let audits = audit_entry::Entity::find()
        .filter(audit_entry::Column::Action.eq("order.note_add"))
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("audit: {e}"));
    assert_eq!(audits, 1);

    // A later shipment shows to both, in time order; the note only to staff.
    let f = shipped(&app, &o).await;
    order_event::Entity::insert(order_event::ActiveModel {
        order_id: Set(o.id),
        kind: Set("fulfilled".into()),
        message: Set(format!("Fulfilment {} shipped", f.id)),
        detail: Set("{}".into()),
        actor: Set(format!("staff:{support_row}")),
        created_at: Set(Utc::now().trunc_subsecs(6)),
        ..Default::default()
    })
    .exec_without_returning(&app.db)
    .await
    .unwrap_or_else(|e| panic!("event: {e}"));
    let staff = data(&app, Some(&support.access), EVENTS, json!({ "id": gid })).await;
    let list = staff["order"]["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let times: Vec<&str> = list
        .iter()
        .filter_map(|e| e["createdAt"].as_str())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted, "oldest first");
    assert_eq!(
        list.last().map(|e| e["kind"].clone()),
        Some(json!("fulfilled"))
    );
    let transition = &list[0];
    assert!(transition["statusTo"].is_string(), "{transition}");
    assert_eq!(transition["id"], Value::Null);

    let mine = data(&app, Some(&ada.access), EVENTS, json!({ "id": gid })).await;
    let theirs = mine["order"]["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(theirs.iter().all(|e| e["kind"] != "note"), "{theirs:?}");
    assert!(theirs.iter().all(|e| e["actor"].is_null()), "{theirs:?}");
    assert!(theirs.iter().any(|e| e["kind"] == "fulfilled"));
    assert_eq!(theirs.len() + 1, list.len());
}

/// The row id in a global ID.
fn accounts_id(gid: &str) -> i64 {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(gid).unwrap_or_default()).unwrap_or_default();
    text.rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a global ID: {gid}"))
}

const SEARCH: &str = "query($q: String, $f: OrderFilter, $s: OrderSortKeys, $r: Boolean) { orders(first: 10, query: $q, filter: $f, sortKey: $s, reverse: $r) { totalCount nodes { number email total { amount } } } }";

#[tokio::test]
async fn staff_find_orders_by_number_email_name_status_and_time() {
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        configure: Some(|c| c.notifications.enabled = false),
        ..Default::default()
    })
    .await;
    let staff = accounts::staff_user(&app, "fulfil@example.com", Role::Fulfillment).await;
    let grace = accounts::customer(&app, "grace@example.com").await;
    customer::Entity::update_many()
        .col_expr(customer::Column::FirstName, Expr::value("Grace"))
        .col_expr(customer::Column::LastName, Expr::value("Hopper"))
        .filter(customer::Column::Email.eq("grace@example.com"))
        .exec(&app.db)
        .await
        .unwrap_or_else(|e| panic!("name: {e}"));
    let item = stocked_item(&app, 20).await;
    let first = order(&app, None, &item).await;
    let second = order(&app, Some(&grace.access), &item).await;
    shop_order::Entity::update_many()
        .col_expr(shop_order::Column::Email, Expr::value("grace@example.com"))
        .filter(shop_order::Column::Id.eq(second.id))
        .exec(&app.db)
        .await
        .unwrap_or_else(|e| panic!("email: {e}"));
    let cart = ready_cart(&app, None, &item, 3).await;
    let (status, body) = pay(&app, None, &cart, "test", "tok_visa", None).await;
    let third = order_row(&app, &checkout::order_id(&checkout::payload(status, &body))).await;
    assert!(third.total_minor > first.total_minor);

    let search = |q: Value, f: Value, s: Value, r: Value| {
        let app = &app;
        let token = staff.access.clone();
        async move {
            data(
                app,
                Some(&token),
                SEARCH,
                json!({ "q": q, "f": f, "s": s, "r": r }),
            )
            .await["orders"]
                .clone()
        }
    };
    let numbers = |v: &Value| -> Vec<i64> {
        v["nodes"]
            .as_array()
            .map(|l| l.iter().filter_map(|o| o["number"].as_i64()).collect())
            .unwrap_or_default()
    };
    let n = |o: &shop_order::Model| o.id + 1000;
    let null = Value::Null;

    let all = search(null.clone(), null.clone(), null.clone(), null.clone()).await;
    assert_eq!(all["totalCount"], 3);
    assert_eq!(
        numbers(&all),
        [n(&third), n(&second), n(&first)],
        "newest first"
    );
    let oldest = search(null.clone(), null.clone(), null.clone(), json!(true)).await;
    assert_eq!(numbers(&oldest), [n(&first), n(&second), n(&third)]);
    let by_total = search(null.clone(), null.clone(), json!("TOTAL"), null.clone()).await;
    assert_eq!(numbers(&by_total)[0], n(&third));
    let by_number = search(null.clone(), null.clone(), json!("NUMBER"), json!(true)).await;
    assert_eq!(numbers(&by_number), [n(&first), n(&second), n(&third)]);

    let by_number = search(
        json!(format!("#{}", n(&second))),
        null.clone(),
        null.clone(),
        null.clone(),
    )
    .await;
    assert_eq!(
        (by_number["totalCount"].clone(), numbers(&by_number)),
        (json!(1), vec![n(&second)])
    );
    let by_id = search(
        json!(crate::authz::gid("Order", first.id)),
        null.clone(),
        null.clone(),
        null.clone(),
    )
    .await;
    assert_eq!(numbers(&by_id), [n(&first)]);
    let by_email = search(
        json!("GRACE@example.com"),
        null.clone(),
        null.clone(),
        null.clone(),
    )
    .await;
    assert_eq!(numbers(&by_email), [n(&second)]);
    for name in ["grace", "Hopper", "grace hop"] {
        let found = search(json!(name), null.clone(), null.clone(), null.clone()).await;
        assert_eq!(numbers(&found), [n(&second)], "{name}");
    }
    let nobody = search(json!("nobody"), null.clone(), null.clone(), null.clone()).await;
    assert_eq!(nobody["totalCount"], 0);

    let guests = search(
        null.clone(),
        json!({ "email": "buyer@example.com" }),
        null.clone(),
        null.clone(),
    )
    .await;
    assert_eq!(guests["totalCount"], 2);
    let paid = search(
        null.clone(),
        json!({ "paymentStatus": ["PAID", "AUTHORIZED"], "status": ["OPEN"], "fulfillmentStatus": ["UNFULFILLED"], "channel": "default" }),
        null.clone(),
        null.clone(),
    )
    .await;
    assert_eq!(paid["totalCount"], 3, "{paid}");
    let refunded_only = search(
        null.clone(),
        json!({ "paymentStatus": ["REFUNDED"] }),
        null.clone(),
        null.clone(),
    )
    .await;
    assert_eq!(refunded_only["totalCount"], 0);
    let elsewhere = search(
        null.clone(),
        json!({ "channel": "nowhere" }),
        null.clone(),
        null.clone(),
    )
    .await;
    assert_eq!(elsewhere["totalCount"], 0);
    let since = second.created_at.to_rfc3339();
    let recent = search(
        null.clone(),
        json!({ "createdAt": { "from": since } }),
        null.clone(),
        null.clone(),
    )
    .await;
    assert_eq!(numbers(&recent), [n(&third), n(&second)]);
    let before = search(
        null.clone(),
        json!({ "createdAt": { "to": since } }),
        null.clone(),
        null,
    )
    .await;
    assert_eq!(numbers(&before), [n(&first)]);
}

/// The plan of `sql` on the app's backend, one line per row. On
/// PostgreSQL sequential scans are turned off for the statement: a tiny
/// test table would be scanned whatever the indexes, and the point is
/// whether an index can serve it.
async fn plan(app: &TestApp, sql: &str) -> String {
    let backend = app.db.get_database_backend();
    let tx = app
        .db
        .begin()
        .await
        .unwrap_or_else(|e| panic!("begin: {e}"));
    let explain = match backend {
        DatabaseBackend::Postgres => {
            tx.execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .unwrap_or_else(|e| panic!("set: {e}"));
            format!("EXPLAIN {sql}")
        }
        _ => format!("EXPLAIN QUERY PLAN {sql}"),
    };
    let rows = tx
        .query_all_raw(Statement::from_string(backend, explain))
        .await
        .unwrap_or_else(|e| panic!("explain {sql}: {e}"));
    tx.rollback()
        .await
        .unwrap_or_else(|e| panic!("rollback: {e}"));
    rows.iter()
        .map(|r| {
            r.try_get_by_index::<String>(if backend == DatabaseBackend::Postgres {
                0
            } else {
                3
            })
            .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn every_search_is_served_by_an_index() {
    let app = TestApp::spawn_with(Options {
        products: Some(1),
        ..Default::default()
    })
    .await;
    let cases: Vec<(&str, Search, SortKey)> = vec![
        ("newest", Search::default(), SortKey::CreatedAt),
        ("by total", Search::default(), SortKey::Total),
        ("by number", Search::default(), SortKey::Number),
        (
            "by status",
            Search {
                status: vec![OrderStatus::Open],
                ..Default::default()
            },
            SortKey::CreatedAt,
        ),
        (
            "by payment",
            Search {
                payment_status: vec![PaymentStatus::Paid],
                ..Default::default()
            },
            SortKey::CreatedAt,
        ),
        (
            "by fulfilment",
            Search {
                fulfillment_status: vec![FulfillmentStatus::Unfulfilled],
                ..Default::default()
            },
            SortKey::CreatedAt,
        ),
        (
            "by email",
            Search {
                email: Some("ada@example.com".into()),
                ..Default::default()
            },
            SortKey::CreatedAt,
        ),
        (
            "by query email",
            Search {
                query: Some("ada@example.com".into()),
                ..Default::default()
            },
            SortKey::CreatedAt,
        ),
        (
            "by number query",
            Search {
                query: Some("#1002".into()),
                ..Default::default()
            },
            SortKey::CreatedAt,
        ),
        (
            "by name",
            Search {
                query: Some("ada".into()),
                ..Default::default()
            },
            SortKey::CreatedAt,
        ),
        (
            "by channel",
            Search {
                channel: Some("default".into()),
                ..Default::default()
            },
            SortKey::CreatedAt,
        ),
        (
            "by time",
            Search {
                created_from: Some(Utc::now()),
                ..Default::default()
            },
            SortKey::Total,
        ),
    ];
    for (what, search, sort) in cases {
        let Some(sql) = orders_search::page_sql(&app.db, &search, sort)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
        else {
            panic!("{what}: no statement");
        };
        let plan = plan(&app, &sql).await;
        eprintln!("{what}:\n{sql}\n{plan}\n");
        // SQLite: a `SCAN shop_order` without an index walks the table,
        // which is the primary key's order: fine only for NUMBER unfiltered.
        let walks = plan.lines().any(|l| l.trim() == "SCAN shop_order");
        assert!(
            !walks || what == "by number",
            "{what}: a full scan of shop_order:\n{plan}"
        );
        assert!(!plan.contains("Seq Scan on shop_order"), "{what}:\n{plan}");
    }
}
