//! Subscriptions over a real WebSocket speaking `graphql-transport-ws`:
//! a checkout reaches stock and order subscribers (on another node too,
//! through Redis), authorization holds at subscribe time and per event, and
//! bad credentials refuse the connection.

use std::time::Duration;

use chrono::Utc;
use emporium::domain::identity::{api_token, permission::Role};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::{
    accounts,
    checkout::{Item, checkout, payload, ready_cart, shop, stocked_item},
    harness::TestApp,
};

/// How long any wait lasts at most.
const WAIT: Duration = Duration::from_secs(30);

pub const STOCK: &str = "subscription($ids: [ID!]!) { stockUpdated(variantIds: $ids) { variantId quantityAvailable availableForSale } }";
pub const ORDER: &str = "subscription($id: ID!) { orderUpdated(orderId: $id) { id status paymentStatus lines { quantity } } }";
pub const ORDERS: &str = "subscription { ordersUpdated { id status paymentStatus } }";

/// A `graphql-transport-ws` client.
pub struct Ws {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u32,
}

/// A message for one operation.
#[derive(Debug)]
pub enum Event {
    /// `next`: a result.
    Next(Value),
    /// `error`: the operation failed.
    Error(Value),
    /// `complete`: it ended.
    Complete,
}

impl Ws {
    /// Opens a graphql-transport-ws socket to `app`, sending nothing yet.
    async fn open(app: &TestApp) -> Self {
        let url = format!("{}/graphql/ws", app.base.replacen("http", "ws", 1));
        let mut request = url
            .into_client_request()
            .unwrap_or_else(|e| panic!("request: {e}"));
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        Self { socket, next_id: 0 }
    }

    /// Connects to `app`'s `/graphql/ws` and sends `connection_init` with
    /// `payload`; `Err` carries the close reason if the server refuses.
    pub async fn connect_with(app: &TestApp, payload: Option<Value>) -> Result<Self, String> {
        let mut ws = Self::open(app).await;
        let mut init = json!({ "type": "connection_init" });
        if let Some(p) = payload {
            init["payload"] = p;
        }
        ws.send(init).await;
        loop {
            match ws.read().await {
                Ok(m) if m["type"] == "connection_ack" => return Ok(ws),
                Ok(m) if m["type"] == "ping" => ws.send(json!({ "type": "pong" })).await,
                Ok(m) => panic!("unexpected before the ack: {m}"),
                Err(reason) => return Err(reason),
            }
        }
    }

    /// Connects with `Authorization: Bearer <token>`, or anonymously.
    pub async fn connect(app: &TestApp, token: Option<&str>) -> Self {
        let payload = token.map(|t| json!({ "Authorization": format!("Bearer {t}") }));
        Self::connect_with(app, payload)
            .await
            .unwrap_or_else(|reason| panic!("connection refused: {reason}"))
    }

    async fn send(&mut self, m: Value) {
        self.socket
            .send(Message::text(m.to_string()))
            .await
            .unwrap_or_else(|e| panic!("send: {e}"));
    }

    /// The next protocol message, or the close reason.
    async fn read(&mut self) -> Result<Value, String> {
        loop {
            let m = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no message within {WAIT:?}"));
            match m {
                Some(Ok(Message::Text(t))) => {
                    return Ok(
                        serde_json::from_str(&t).unwrap_or_else(|e| panic!("not JSON: {e}: {t}"))
                    );
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame
                        .map(|f| format!("{} {}", u16::from(f.code), f.reason))
                        .unwrap_or_default());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("socket error: {e}")),
                None => return Err("closed".into()),
            }
        }
    }

    /// Starts an operation; returns its id.
    pub async fn subscribe(&mut self, query: &str, variables: Value) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
        id
    }

    /// The next message for any operation: its id and what it says.
    pub async fn event(&mut self) -> (String, Event) {
        loop {
            let m = self
                .read()
                .await
                .unwrap_or_else(|reason| panic!("connection closed: {reason}"));
            let id = m["id"].as_str().unwrap_or_default().to_owned();
            match m["type"].as_str() {
                Some("next") => return (id, Event::Next(m["payload"].clone())),
                Some("error") => return (id, Event::Error(m["payload"].clone())),
                Some("complete") => return (id, Event::Complete),
                Some("ping") => self.send(json!({ "type": "pong" })).await,
                _ => {}
            }
        }
    }

    /// The next result of operation `id` (skipping other operations').
    pub async fn next_of(&mut self, id: &str) -> Value {
        loop {
            match self.event().await {
                (i, Event::Next(p)) if i == id => return p,
                (i, e) if i == id => panic!("operation {id} ended: {e:?}"),
                _ => {}
            }
        }
    }

    /// Reads results of `id` until one satisfies `done`; returns it.
    pub async fn until(&mut self, id: &str, mut done: impl FnMut(&Value) -> bool) -> Value {
        loop {
            let p = self.next_of(id).await;
            if done(&p) {
                return p;
            }
        }
    }

    /// The first error code of operation `id`, which must fail (with an
    /// error result or message), and then complete.
    pub async fn error_code(&mut self, id: &str) -> String {
        let code = loop {
            match self.event().await {
                (i, Event::Next(p)) if i == id => break first_code(&p, id),
                (i, Event::Error(p)) if i == id => break first_code(&json!({ "errors": p }), id),
                (i, Event::Complete) if i == id => panic!("operation {id} completed without error"),
                _ => {}
            }
        };
        // Nothing follows an error but the end of the operation.
        loop {
            match self.event().await {
                (i, Event::Complete) if i == id => return code,
                (i, e) if i == id => panic!("operation {id} went on after its error: {e:?}"),
                _ => {}
            }
        }
    }
}

/// Waits until `app` has `n` subscriptions listening (so an event raised
/// now reaches them).
pub async fn listening(app: &TestApp, n: i64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.state.live.open_subscriptions() != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} subscriptions open, expected {n}",
            app.state.live.open_subscriptions()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn first_code(p: &Value, id: &str) -> String {
    p["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("operation {id}: expected an error, got {p}"))
        .to_owned()
}

/// Pays `order`'s pending 3-D Secure payment through the test gateway's
/// signed webhook.
async fn pass_3ds(app: &TestApp, payment_reference: &str) {
    let gateway = app
        .state
        .gateways
        .test_gateway()
        .unwrap_or_else(|| panic!("no test gateway"));
    let hook = gateway
        .complete_action(payment_reference, true, Utc::now())
        .unwrap_or_else(|e| panic!("complete_action: {e}"));
    let res = app
        .client
        .post(format!("{}/webhooks/payments/test", app.base))
        .headers(hook.headers())
        .body(hook.body.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("webhook: {e}"));
    assert_eq!(res.status().as_u16(), 200);
}

/// `customer` buys `quantity` of `item` with a card that needs 3-D Secure:
/// returns the order's global ID and its payment reference.
async fn buy_pending(
    app: &TestApp,
    customer: &str,
    item: &Item,
    quantity: i32,
) -> (String, String) {
    let cart = ready_cart(app, Some(customer), item, quantity).await;
    let (status, body) = checkout(app, Some(customer), &cart, "test", "tok_3ds", None).await;
    let p = payload(status, &body);
    assert_eq!(p["userErrors"], json!([]), "{p}");
    (
        p["order"]["id"].as_str().unwrap_or_default().to_owned(),
        p["order"]["payments"][0]["reference"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn a_checkout_reaches_stock_order_and_staff_subscribers() {
    let app = shop().await;
    let item = stocked_item(&app, 5).await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let bob = accounts::customer(&app, "bob@example.com").await;
    let support = accounts::staff_user(&app, "support@example.com", Role::Support).await;

    let mut shopper = Ws::connect(&app, None).await;
    let stock = shopper.subscribe(STOCK, json!({ "ids": [item.gid] })).await;
    let mut desk = Ws::connect(&app, Some(&support.access)).await;
    let all = desk.subscribe(ORDERS, json!({})).await;
    listening(&app, 2).await;

    let (order, reference) = buy_pending(&app, &ada.access, &item, 2).await;

    // Two of five are held for the order: the shopper sees three left.
    let seen = shopper
        .until(&stock, |p| {
            p["data"]["stockUpdated"]["quantityAvailable"] == json!(3)
        })
        .await;
    assert_eq!(seen["data"]["stockUpdated"]["variantId"], json!(item.gid));
    assert_eq!(
        seen["data"]["stockUpdated"]["availableForSale"],
        json!(true)
    );
    // Staff see the new order.
    let placed = desk
        .until(&all, |p| p["data"]["ordersUpdated"]["id"] == json!(order))
        .await;
    assert_eq!(
        placed["data"]["ordersUpdated"]["paymentStatus"],
        json!("PENDING"),
        "{placed}"
    );

    // The owner follows the order; another customer cannot.
    let mut owner = Ws::connect(&app, Some(&ada.access)).await;
    let mine = owner.subscribe(ORDER, json!({ "id": order })).await;
    let mut other = Ws::connect(&app, Some(&bob.access)).await;
    let theirs = other.subscribe(ORDER, json!({ "id": order })).await;
    assert_eq!(other.error_code(&theirs).await, "NOT_FOUND");
    listening(&app, 3).await;

    pass_3ds(&app, &reference).await;
    let paid = owner
        .until(&mine, |p| {
            p["data"]["orderUpdated"]["paymentStatus"] == json!("PAID")
        })
        .await;
    assert_eq!(paid["data"]["orderUpdated"]["id"], json!(order));
    assert_eq!(
        paid["data"]["orderUpdated"]["lines"],
        json!([{ "quantity": 2 }])
    );
    let paid_for_staff = desk
        .until(&all, |p| {
            p["data"]["ordersUpdated"]["paymentStatus"] == json!("PAID")
        })
        .await;
    assert_eq!(paid_for_staff["data"]["ordersUpdated"]["id"], json!(order));
    // Closing a connection ends its subscriptions.
    drop(owner);
    listening(&app, 2).await;
}

#[tokio::test]
async fn who_may_subscribe_to_what() {
    let app = shop().await;
    let item = stocked_item(&app, 5).await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let merch = accounts::staff_user(&app, "merch@example.com", Role::Merchandiser).await;
    let (partner, _) = accounts::partner_token(&app, &["catalog:read"], None).await;

    let mut anon = Ws::connect(&app, None).await;
    let id = anon.subscribe(ORDERS, json!({})).await;
    assert_eq!(anon.error_code(&id).await, "UNAUTHENTICATED");
    let (order, _) = buy_pending(&app, &ada.access, &item, 1).await;
    let id = anon.subscribe(ORDER, json!({ "id": order })).await;
    assert_eq!(anon.error_code(&id).await, "UNAUTHENTICATED");

    let mut customer = Ws::connect(&app, Some(&ada.access)).await;
    let id = customer.subscribe(ORDERS, json!({})).await;
    assert_eq!(customer.error_code(&id).await, "FORBIDDEN");
    for token in [&merch.access, &partner] {
        let mut ws = Ws::connect(&app, Some(token)).await;
        let id = ws.subscribe(ORDERS, json!({})).await;
        assert_eq!(ws.error_code(&id).await, "FORBIDDEN");
        let id = ws.subscribe(ORDER, json!({ "id": order })).await;
        assert_eq!(ws.error_code(&id).await, "FORBIDDEN");
    }

    // Bad arguments.
    let too_many: Vec<String> = (0..251).map(|_| item.gid.clone()).collect();
    let id = anon.subscribe(STOCK, json!({ "ids": too_many })).await;
    assert_eq!(anon.error_code(&id).await, "BAD_USER_INPUT");
    let id = anon.subscribe(STOCK, json!({ "ids": [order] })).await;
    assert_eq!(anon.error_code(&id).await, "BAD_USER_INPUT");
    let id = anon.subscribe("subscription { nope }", json!({})).await;
    assert_eq!(anon.error_code(&id).await, "GRAPHQL_VALIDATION_FAILED");
}

#[tokio::test]
async fn bad_credentials_refuse_the_connection() {
    let app = shop().await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    for payload in [
        json!({ "Authorization": "Bearer not-a-token" }),
        json!({ "authorization": "Bearer emp_pat_unknown" }),
        json!({ "Authorization": "Basic abc" }),
        json!({ "Authorization": 7 }),
    ] {
        let refused = Ws::connect_with(&app, Some(payload.clone())).await.err();
        let reason = refused.unwrap_or_else(|| panic!("{payload} was accepted"));
        assert!(reason.contains("UNAUTHENTICATED"), "{payload}: {reason}");
    }
    // The header name in any case, and no payload at all (anonymous).
    let lower = json!({ "authorization": format!("Bearer {}", ada.access) });
    assert!(Ws::connect_with(&app, Some(lower)).await.is_ok());
    assert!(Ws::connect_with(&app, None).await.is_ok());
}

#[tokio::test]
async fn a_connection_that_never_initialises_is_closed() {
    let app = shop().await;
    let mut ws = Ws::open(&app).await;
    // No connection_init: the server hangs up (bounded by the read's wait).
    assert!(ws.read().await.is_err());
}

#[tokio::test]
async fn a_revoked_token_ends_its_subscription_at_the_next_event() {
    let app = shop().await;
    let item = stocked_item(&app, 5).await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let (partner, token_id) = accounts::partner_token(&app, &["orders:read"], None).await;
    let mut ws = Ws::connect(&app, Some(&partner)).await;
    let id = ws.subscribe(ORDERS, json!({})).await;
    listening(&app, 1).await;
    let (first, _) = buy_pending(&app, &ada.access, &item, 1).await;
    ws.until(&id, |p| p["data"]["ordersUpdated"]["id"] == json!(first))
        .await;

    api_token::revoke(&app.db, token_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e:?}"));
    // The token is checked again at most every few seconds: wait that out.
    tokio::time::sleep(
        emporium::domain::identity::access::RECHECK_EVERY + Duration::from_millis(200),
    )
    .await;
    buy_pending(&app, &ada.access, &item, 1).await;
    assert_eq!(ws.error_code(&id).await, "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_connection_runs_a_bounded_number_of_subscriptions() {
    let app = shop().await;
    let item = stocked_item(&app, 5).await;
    let mut ws = Ws::connect(&app, None).await;
    for _ in 0..emporium::http::ws::MAX_SUBSCRIPTIONS {
        ws.subscribe(STOCK, json!({ "ids": [item.gid] })).await;
    }
    listening(&app, 100).await;
    let over = ws.subscribe(STOCK, json!({ "ids": [item.gid] })).await;
    assert_eq!(ws.error_code(&over).await, "BAD_REQUEST");
    // Completing one frees its place.
    ws.send(json!({ "id": "1", "type": "complete" })).await;
    while !matches!(ws.event().await, (i, Event::Complete) if i == "1") {}
    listening(&app, 99).await;
    let again = ws.subscribe(STOCK, json!({ "ids": [item.gid] })).await;
    listening(&app, 100).await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    buy_pending(&app, &ada.access, &item, 1).await;
    let p = ws
        .until(&again, |p| {
            p["data"]["stockUpdated"]["quantityAvailable"] == json!(4)
        })
        .await;
    assert_eq!(p["data"]["stockUpdated"]["variantId"], json!(item.gid));
}

#[tokio::test]
#[ignore = "needs TEST_REDIS_URL: nodes share nothing without Redis, by design"]
async fn a_checkout_on_one_node_reaches_subscribers_on_another() {
    crate::harness::require_redis();
    let a = shop().await;
    let b = a.spawn_sibling().await;
    let item = stocked_item(&a, 5).await;
    let ada = accounts::customer(&a, "ada@example.com").await;
    let support = accounts::staff_user(&a, "support@example.com", Role::Support).await;

    let mut on_b = Ws::connect(&b, None).await;
    let stock = on_b.subscribe(STOCK, json!({ "ids": [item.gid] })).await;
    let mut desk_b = Ws::connect(&b, Some(&support.access)).await;
    let all = desk_b.subscribe(ORDERS, json!({})).await;
    listening(&b, 2).await;

    let (order, reference) = buy_pending(&a, &ada.access, &item, 2).await;
    on_b.until(&stock, |p| {
        p["data"]["stockUpdated"]["quantityAvailable"] == json!(3)
    })
    .await;
    desk_b
        .until(&all, |p| p["data"]["ordersUpdated"]["id"] == json!(order))
        .await;

    let mut owner_b = Ws::connect(&b, Some(&ada.access)).await;
    let mine = owner_b.subscribe(ORDER, json!({ "id": order })).await;
    listening(&b, 3).await;
    pass_3ds(&a, &reference).await;
    let paid = owner_b
        .until(&mine, |p| {
            p["data"]["orderUpdated"]["paymentStatus"] == json!("PAID")
        })
        .await;
    assert_eq!(paid["data"]["orderUpdated"]["id"], json!(order));
}

/// The same across processes: the checkout happens on a node that is a
/// process of its own (the built binary, with its own runtime, pools and
/// caches), sharing only PostgreSQL and Redis with the subscribers' node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_REDIS_URL: nodes share nothing without Redis, by design"]
async fn a_checkout_on_a_node_process_reaches_subscribers_on_another_node() {
    crate::harness::require_redis();
    let b = shop().await;
    let (a, _process) = b.spawn_process().await;
    let item = stocked_item(&b, 5).await;
    let support = accounts::staff_user(&b, "support@example.com", Role::Support).await;
    let mut on_b = Ws::connect(&b, None).await;
    let stock = on_b.subscribe(STOCK, json!({ "ids": [item.gid] })).await;
    let mut desk_b = Ws::connect(&b, Some(&support.access)).await;
    let all = desk_b.subscribe(ORDERS, json!({})).await;
    listening(&b, 2).await;

    let cart = ready_cart(&a, None, &item, 2).await;
    let (status, body) = checkout(&a, None, &cart, "test", "tok_visa", None).await;
    let placed = payload(status, &body);
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    let order = placed["order"]["id"].clone();
    on_b.until(&stock, |p| {
        p["data"]["stockUpdated"]["quantityAvailable"] == json!(3)
    })
    .await;
    let seen = desk_b
        .until(&all, |p| {
            p["data"]["ordersUpdated"]["id"] == order
                && p["data"]["ordersUpdated"]["paymentStatus"] == json!("PAID")
        })
        .await;
    assert_eq!(
        seen["data"]["ordersUpdated"]["status"],
        json!("OPEN"),
        "{seen}"
    );
}
