//! Customer notifications: each sent once per event, also while SMTP is
//! down and with two nodes, from templates merchants change.
//!
//! The operations that raise `order.fulfilled`, `fulfillment.updated`,
//! `order.cancelled` and `order.refunded` live elsewhere; here those events
//! are recorded through the real outbox (`domain::events::record` in a
//! transaction, as the operations do), and the fulfilment and refund rows
//! they name are written directly.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::{SubsecRound, Utc};
use emporium::{
    domain::{
        events::{self, DomainEvent},
        identity::permission::Role,
        notifications::{self, queue::Retry},
        order_state::{FulfillmentStatus, OrderStatus, PaymentStatus, Status},
        tx::begin_write,
    },
    infra::notify,
};
use entity::{
    audit_entry, fulfillment, notification, order_event, outbox_event, refund, shop_order,
    stock_location,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::{Value, json};

use crate::{
    accounts,
    checkout::{self, Item, checkout as pay, eventually, order_row, ready_cart, stocked_item},
    harness::{Options, TestApp},
};

/// An SMTP server on a loopback port that records each message, and that
/// can be taken down: while down it answers every connection `421` and
/// hangs up, as a server out of service does.
struct Sink {
    url: String,
    up: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
    received: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Sink {
    async fn start(up: bool) -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let (listener, addr) = crate::harness::loopback().await;
        let sink = Self {
            url: format!("smtp://127.0.0.1:{}", addr.port()),
            up: Arc::new(AtomicBool::new(up)),
            refused: Arc::default(),
            received: Arc::default(),
        };
        let (is_up, refused, received) =
            (sink.up.clone(), sink.refused.clone(), sink.received.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (is_up, refused, received) = (is_up.clone(), refused.clone(), received.clone());
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    if !is_up.load(Ordering::SeqCst) {
                        refused.fetch_add(1, Ordering::SeqCst);
                        let _ = write.write_all(b"421 sink out of service\r\n").await;
                        return;
                    }
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(body) = data.as_mut() {
                            if line == "." {
                                if let Ok(mut r) = received.lock() {
                                    r.push(std::mem::take(body));
                                }
                                data = None;
                                let _ = write.write_all(b"250 queued\r\n").await;
                            } else {
                                body.push_str(&line);
                                body.push('\n');
                            }
                            continue;
                        }
                        let verb = line
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" | "HELO" => b"250 sink\r\n",
                            "DATA" => {
                                data = Some(String::new());
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 ok\r\n",
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        sink
    }

    fn messages(&self) -> Vec<String> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// Places an order for one unit of `item` as `auth` (a guest without);
/// returns its row.
pub(crate) async fn order(app: &TestApp, auth: Option<&str>, item: &Item) -> shop_order::Model {
    let cart = ready_cart(app, auth, item, 1).await;
    let (status, body) = pay(app, auth, &cart, "test", "tok_visa", None).await;
    let p = checkout::payload(status, &body);
    assert_eq!(p["userErrors"], json!([]), "{p}");
    order_row(app, &checkout::order_id(&p)).await
}

fn status() -> Status {
    Status {
        order: OrderStatus::Open,
        payment: PaymentStatus::Paid,
        fulfillment: FulfillmentStatus::Fulfilled,
    }
}

/// Writes a shipped fulfilment of `order` with tracking.
pub(crate) async fn shipped(app: &TestApp, order: &shop_order::Model) -> fulfillment::Model {
    let location = stock_location::Entity::find()
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("location: {e}"))
        .unwrap_or_else(|| panic!("no stock location"));
    let now = Utc::now().trunc_subsecs(6);
    fulfillment::Entity::insert(fulfillment::ActiveModel {
        order_id: Set(order.id),
        location_id: Set(location.id),
        status: Set("shipped".into()),
        carrier: Set(Some("manual".into())),
        tracking_number: Set(Some("TRACK-4711".into())),
        tracking_url: Set(Some("https://track.example/TRACK-4711".into())),
        label_url: Set(None),
        carrier_reference: Set(None),
        captured_minor: Set(0),
        actor: Set("staff:1".into()),
        created_at: Set(now),
        updated_at: Set(now),
        delivered_at: Set(None),
        cancelled_at: Set(None),
        ..Default::default()
    })
    .exec_with_returning(&app.db)
    .await
    .unwrap_or_else(|e| panic!("fulfillment: {e}"))
}

/// Writes a succeeded refund of `minor` on `order`.
async fn refunded(app: &TestApp, order: &shop_order::Model, minor: i64) -> refund::Model {
    let now = Utc::now().trunc_subsecs(6);
    refund::Entity::insert(refund::ActiveModel {
        order_id: Set(order.id),
        status: Set("succeeded".into()),
        amount_minor: Set(minor),
        shipping_minor: Set(0),
        currency_code: Set(order.currency_code.clone()),
        destination: Set("original".into()),
        note: Set(Some("Sorry about the wait".into())),
        idempotency_key: Set(format!("staff:1:{}", uuid::Uuid::new_v4())),
        actor: Set("staff:1".into()),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(&app.db)
    .await
    .unwrap_or_else(|e| panic!("refund: {e}"))
}

/// Records `events` through the outbox in one transaction, as an
/// operation does.
async fn record(app: &TestApp, list: Vec<DomainEvent>) {
    let tx = begin_write(&app.db)
        .await
        .unwrap_or_else(|e| panic!("begin: {e}"));
    events::record(&tx, list)
        .await
        .unwrap_or_else(|e| panic!("record: {e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("commit: {e}"));
}

async fn notifications_of(app: &TestApp, order_id: i64) -> Vec<notification::Model> {
    notifications::queue::of_order(&app.db, order_id)
        .await
        .unwrap_or_else(|e| panic!("notifications: {e}"))
}

pub(crate) async fn timeline_rows(app: &TestApp, order_id: i64, kind: &str) -> u64 {
    order_event::Entity::find()
        .filter(order_event::Column::OrderId.eq(order_id))
        .filter(order_event::Column::Kind.eq(kind))
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("order events: {e}"))
}

#[tokio::test]
async fn each_notification_is_sent_once_also_while_smtp_is_down() {
    let sink = Sink::start(false).await;
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        smtp_url: Some(sink.url.clone()),
        configure: Some(|c| c.notifications.poll_ms = 20),
        ..Default::default()
    })
    .await;
    let item = stocked_item(&app, 10).await;
    let o = order(&app, None, &item).await;
    let f = shipped(&app, &o).await;
    let r = refunded(&app, &o, 500).await;
    let ev = |fulfillment_id, shipment_status: &str, notify| DomainEvent::FulfillmentUpdated {
        order_id: o.id,
        customer_id: None,
        fulfillment_id,
        shipment_status: shipment_status.into(),
        notify_customer: notify,
    };
    record(
        &app,
        vec![
            DomainEvent::OrderFulfilled {
                order_id: o.id,
                customer_id: None,
                fulfillment_id: f.id,
                status: status(),
                notify_customer: true,
            },
            // Neither of these asks for a mail.
            ev(f.id, "in_transit", true),
            DomainEvent::OrderFulfilled {
                order_id: o.id,
                customer_id: None,
                fulfillment_id: f.id,
                status: status(),
                notify_customer: false,
            },
            ev(f.id, "delivered", true),
            DomainEvent::OrderRefunded {
                order_id: o.id,
                customer_id: None,
                refund_id: r.id,
                amount_minor: 500,
                currency: o.currency_code.clone(),
                status: status(),
                notify_customer: true,
            },
            DomainEvent::OrderCancelled {
                order_id: o.id,
                customer_id: None,
                reason: "customer changed their mind".into(),
                status: status(),
                notify_customer: true,
            },
        ],
    )
    .await;
    // Confirmation, shipped, delivered, refunded, cancelled: each tried
    // once against the server that is down, and waiting.
    eventually(Duration::from_secs(20), "five failed attempts", || async {
        let list = notifications_of(&app, o.id).await;
        list.len() == 5 && list.iter().all(|n| n.attempts >= 1)
    })
    .await;
    let waiting = notifications_of(&app, o.id).await;
    assert!(
        waiting
            .iter()
            .all(|n| n.status == "pending" && n.last_error.is_some()),
        "{waiting:?}"
    );
    assert!(sink.refused.load(Ordering::SeqCst) >= 5);
    assert!(sink.messages().is_empty());
    assert_eq!(timeline_rows(&app, o.id, "notified").await, 0);
    // The clock has not moved: nothing is due, nothing is tried again.
    let tried = sink.refused.load(Ordering::SeqCst);
    let idle = idle_worker(&app);
    assert_eq!(idle.run_once().await.unwrap_or_else(|e| panic!("{e}")), 0);
    assert_eq!(sink.refused.load(Ordering::SeqCst), tried);

    // The server comes back; the retries fall due.
    sink.up.store(true, Ordering::SeqCst);
    app.clock.advance(Duration::from_secs(2 * 3600));
    eventually(Duration::from_secs(20), "five mails sent", || async {
        notifications_of(&app, o.id)
            .await
            .iter()
            .all(|n| n.status == "sent")
    })
    .await;
    let mails = sink.messages();
    assert_eq!(mails.len(), 5, "{mails:#?}");
    let subject = |s: &str| mails.iter().filter(|m| m.contains(s)).count();
    let name = format!("#{}", o.id + 1000);
    assert_eq!(subject(&format!("Subject: Order {name} confirmed")), 1);
    assert_eq!(
        subject(&format!("Subject: Your order {name} has shipped")),
        1
    );
    assert_eq!(
        subject(&format!("Subject: Your order {name} was delivered")),
        1
    );
    assert_eq!(
        subject(&format!("Subject: Your order {name} was cancelled")),
        1
    );
    assert_eq!(
        subject(&format!("Subject: A refund on your order {name}")),
        1
    );
    for m in &mails {
        assert!(m.contains("To: buyer@example.com"), "{m}");
        assert!(m.contains("multipart/alternative"), "{m}");
        assert!(m.contains("text/html"), "{m}");
    }
    let shipped_mail = mails
        .iter()
        .find(|m| m.contains("has shipped"))
        .unwrap_or_else(|| panic!("no shipped mail"));
    assert!(shipped_mail.contains("TRACK-4711"), "{shipped_mail}");
    assert_eq!(timeline_rows(&app, o.id, "notified").await, 5);

    // The relay offering the events again (as after a crash between
    // publish and commit) enqueues nothing, and nothing more is sent.
    let rows = outbox_event::Entity::find()
        .order_by_asc(outbox_event::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("outbox: {e}"));
    let envelopes: Vec<_> = rows.iter().filter_map(events::envelope).collect();
    let again = notifications::enqueue(&app.db, &envelopes)
        .await
        .unwrap_or_else(|e| panic!("enqueue: {e}"));
    assert_eq!(again, 0);
    app.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(idle.run_once().await.unwrap_or_else(|e| panic!("{e}")), 0);
    assert_eq!(sink.messages().len(), 5);
    assert_eq!(notifications_of(&app, o.id).await.len(), 5);
}

/// A worker of the test's own on the app's database, mailer and clock.
fn idle_worker(app: &TestApp) -> notify::Worker {
    notify::Worker::new(
        app.db.clone(),
        app.state.mailer.clone(),
        (
            Retry {
                base: Duration::from_secs(30),
                cap: Duration::from_secs(3600),
            },
            Duration::from_millis(20),
        ),
        app.clock.clock(),
        "Test shop".into(),
    )
}

#[tokio::test]
async fn two_nodes_send_each_notification_once() {
    let sink = Sink::start(true).await;
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        smtp_url: Some(sink.url.clone()),
        configure: Some(|c| c.notifications.poll_ms = 10),
        ..Default::default()
    })
    .await;
    let sibling = app.spawn_sibling().await;
    let item = stocked_item(&app, 20).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(order(&app, None, &item).await.id);
    }
    eventually(Duration::from_secs(30), "six confirmations", || async {
        sink.messages().len() >= 6
    })
    .await;
    // A few more rounds of both workers change nothing.
    for w in [idle_worker(&app), idle_worker(&sibling)] {
        assert_eq!(w.run_once().await.unwrap_or_else(|e| panic!("{e}")), 0);
    }
    assert_eq!(sink.messages().len(), 6);
    for id in ids {
        assert_eq!(timeline_rows(&app, id, "notified").await, 1);
    }
}

const TEMPLATES: &str = "{ notificationTemplates { kind subject customized updatedAt } }";
const UPDATE: &str = "mutation($k: NotificationKind!, $s: String!, $t: String!, $h: String!) { notificationTemplateUpdate(kind: $k, subject: $s, text: $t, html: $h) { notificationTemplate { kind subject text html customized } userErrors { field code message } } }";
const RESET: &str = "mutation($k: NotificationKind!) { notificationTemplateReset(kind: $k) { notificationTemplate { subject customized } userErrors { code } } }";

#[tokio::test]
async fn merchants_change_templates_that_render_and_reset_them() {
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        ..Default::default()
    })
    .await;
    let admin = accounts::staff_user(&app, "admin@example.com", Role::Admin).await;
    let list = app.query_as(&admin.access, TEMPLATES, json!({})).await;
    let kinds: Vec<&str> = list["notificationTemplates"]
        .as_array()
        .map(|l| l.iter().filter_map(|t| t["kind"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        kinds,
        [
            "ORDER_CONFIRMATION",
            "ORDER_SHIPPED",
            "ORDER_DELIVERED",
            "ORDER_CANCELLED",
            "ORDER_REFUNDED"
        ]
    );
    // An unknown variable is refused, on the part that names it.
    let refused = app
        .query_as(
            &admin.access,
            UPDATE,
            json!({ "k": "ORDER_CONFIRMATION", "s": "Thanks {{ order.name }}", "t": "{{ order.total }}", "h": "<p>{{ order.nope }}</p>" }),
        )
        .await;
    let p = &refused["notificationTemplateUpdate"];
    assert_eq!(p["notificationTemplate"], Value::Null);
    assert_eq!(p["userErrors"][0]["code"], "INVALID", "{p}");
    assert_eq!(p["userErrors"][0]["field"], json!(["html"]));
    let blank = app
        .query_as(
            &admin.access,
            UPDATE,
            json!({ "k": "ORDER_CONFIRMATION", "s": " ", "t": "x", "h": "x" }),
        )
        .await;
    assert_eq!(
        blank["notificationTemplateUpdate"]["userErrors"][0]["code"],
        "BLANK"
    );
    let audited = |action: &'static str| {
        let db = app.db.clone();
        async move {
            audit_entry::Entity::find()
                .filter(audit_entry::Column::Action.eq(action))
                .count(&db)
                .await
                .unwrap_or_else(|e| panic!("audit: {e}"))
        }
    };
    assert_eq!(audited("notification_template.update").await, 0);

    let changed = app
        .query_as(
            &admin.access,
            UPDATE,
            json!({
                "k": "ORDER_CONFIRMATION",
                "s": "Thanks for {{ order.name }} from {{ shop.name }}",
                "t": "Total {{ order.total }}",
                "h": "<p>Total {{ order.total }} for {{ order.email }}</p>"
            }),
        )
        .await;
    let p = &changed["notificationTemplateUpdate"];
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["notificationTemplate"]["customized"], true);
    assert_eq!(audited("notification_template.update").await, 1);

    // The next confirmation says it.
    let item = stocked_item(&app, 5).await;
    let o = order(&app, None, &item).await;
    eventually(Duration::from_secs(20), "a confirmation", || async {
        !app.mails().is_empty()
    })
    .await;
    let mail = app.mails().remove(0);
    assert_eq!(
        mail.subject,
        format!("Thanks for #{} from emporium", o.id + 1000)
    );
    assert!(mail.body.starts_with("Total "), "{}", mail.body);
    let html = mail.html.unwrap_or_default();
    assert!(html.contains("buyer@example.com"), "{html}");

    let reset = app
        .query_as(&admin.access, RESET, json!({ "k": "ORDER_CONFIRMATION" }))
        .await;
    assert_eq!(
        reset["notificationTemplateReset"]["notificationTemplate"],
        json!({ "subject": "Order {{ order.name }} confirmed", "customized": false })
    );
    assert_eq!(audited("notification_template.reset").await, 1);
    // A merchant without `settings:write` cannot.
    let support = accounts::staff_user(&app, "support@example.com", Role::Support).await;
    let (_, body) = app
        .post_as(&support.access, RESET, json!({ "k": "ORDER_SHIPPED" }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
}
