//! The HTTP edge under abuse: uploads refused before their body is read,
//! a bounded number of requests in flight, failed operations charged,
//! WebSocket connections bounded and closed when idle, feeds throttled and
//! cached.

use std::time::Duration;

use emporium::domain::{gid, identity::permission::Role};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{
    accounts,
    harness::{Options, TestApp, first_code, header},
};

/// How long any wait lasts at most.
const WAIT: Duration = Duration::from_secs(30);

const BOUNDARY: &str = "emporium-test-boundary";
const UPLOAD: &str = "mutation($file: Upload) { productImport(file: $file, dryRun: true) { report { rows } userErrors { code } } }";

/// The opening of a GraphQL multipart upload, up to the file's content.
fn upload_head() -> Vec<u8> {
    let operations = json!({ "query": UPLOAD, "variables": { "file": null } });
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.file\"]}}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"catalog.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes()
}

/// The end of the upload after the file's content.
fn upload_tail() -> Vec<u8> {
    format!("\r\n--{BOUNDARY}--\r\n").into_bytes()
}

/// A request body that carries what the test sends through the returned
/// sender, and ends when the sender is dropped.
fn held_body() -> (mpsc::Sender<Vec<u8>>, reqwest::Body) {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(8);
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    (tx, reqwest::Body::wrap_stream(chunks))
}

/// Starts an upload as `token` whose body is the head and then whatever
/// is sent through the returned sender.
async fn start_upload(
    app: &TestApp,
    token: &str,
) -> (
    mpsc::Sender<Vec<u8>>,
    tokio::task::JoinHandle<reqwest::Response>,
) {
    let (tx, body) = held_body();
    tx.send(upload_head())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let request = app
        .client
        .post(app.graphql_url())
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    let sent = tokio::spawn(async move {
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("upload: {e}"))
    });
    (tx, sent)
}

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
}

#[tokio::test]
async fn an_upload_without_the_permission_is_refused_before_its_body_is_read() {
    let app = TestApp::spawn_with(Options {
        products: Some(2),
        ..Default::default()
    })
    .await;
    let customer = accounts::customer(&app, "ada@example.com").await;
    let (reader, _) = accounts::partner_token(&app, &["catalog:read"], None).await;
    for (token, status, code) in [
        (customer.access.as_str(), 403, "FORBIDDEN"),
        (reader.as_str(), 403, "FORBIDDEN"),
        ("not-a-token", 401, "UNAUTHENTICATED"),
    ] {
        // The client has sent the start of a large upload and is still
        // sending: the answer comes all the same.
        let (body, sent) = start_upload(&app, token).await;
        let res = within("a refused upload", sent)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), status, "{token}");
        let answer: Value = res.json().await.unwrap_or_default();
        assert_eq!(first_code(&answer), code, "{answer}");
        drop(body);
    }
}

#[tokio::test]
async fn an_oversized_upload_is_refused_while_it_streams() {
    let app = TestApp::spawn_with(Options {
        products: Some(2),
        configure: Some(|c| c.limits.max_upload_bytes = 4096),
        ..Default::default()
    })
    .await;
    let merch = accounts::staff_user(&app, "merch@example.com", Role::Merchandiser).await;
    let (body, sent) = start_upload(&app, &merch.access).await;
    let mut csv = b"handle,title\n".to_vec();
    for i in 0..500 {
        csv.extend_from_slice(format!("product-{i},A title\n").as_bytes());
    }
    body.send(csv).await.unwrap_or_else(|e| panic!("{e}"));
    // The body has not ended (no Content-Length, the sender is open).
    let res = within("an oversized upload", sent)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 413);
    let answer: Value = res.json().await.unwrap_or_default();
    assert_eq!(first_code(&answer), "PAYLOAD_TOO_LARGE");
    drop(body);
}

/// Waits until every in-flight permit of `app` is taken.
async fn saturated(app: &TestApp) {
    let permits = app
        .state
        .in_flight
        .clone()
        .unwrap_or_else(|| panic!("no in-flight limit"));
    within("saturation", async {
        while permits.available_permits() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn requests_beyond_the_in_flight_limit_are_shed_with_503_and_retry_after() {
    let app = TestApp::spawn_with(Options {
        products: Some(2),
        configure: Some(|c| c.edge.max_in_flight = 1),
        ..Default::default()
    })
    .await;
    let merch = accounts::staff_user(&app, "merch@example.com", Role::Merchandiser).await;
    // A slow upload occupies the only place.
    let (body, sent) = start_upload(&app, &merch.access).await;
    saturated(&app).await;

    let query = json!({ "query": "{ channels { code } }" });
    let res = app.post_json(&query, &[]).await;
    assert_eq!(res.status().as_u16(), 503);
    assert_eq!(header(&res, "retry-after").as_deref(), Some("1"));
    let answer: Value = res.json().await.unwrap_or_default();
    assert_eq!(first_code(&answer), "SERVICE_UNAVAILABLE");
    // Probes are not shed: a busy node is not a dead one.
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(health.status().as_u16(), 200);

    // The upload finishes; its place is free again.
    body.send(b"handle,sku,title,price\nedge-1,EDGE-1,Edge,9.50\n".to_vec())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    body.send(upload_tail())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    drop(body);
    let res = within("the upload", sent)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    let answer: Value = res.json().await.unwrap_or_default();
    assert_eq!(
        answer["data"]["productImport"]["report"]["rows"], 1,
        "the whole file arrived: {answer}"
    );
    let res = app.post_json(&query, &[]).await;
    assert_eq!(res.status().as_u16(), 200);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(
        metrics.contains("emporium_requests_shed_total"),
        "{metrics}"
    );
}

/// `extensions.cost.requestedQueryCost` of an anonymous operation.
async fn cost_of(app: &TestApp, query: &str) -> u64 {
    let (_, body) = app.post(query, json!({})).await;
    body["extensions"]["cost"]["requestedQueryCost"]
        .as_u64()
        .unwrap_or_else(|| panic!("no cost for {query}: {body}"))
}

#[tokio::test]
async fn lists_cost_by_their_size_and_node_lookups_by_their_ids() {
    let app = TestApp::spawn_with(Options {
        products: Some(2),
        ..Default::default()
    })
    .await;
    let factor = emporium::graphql::catalog::LIST_FACTOR as u64;
    let ids = |n: usize| {
        let ids: Vec<String> = (1..=n)
            .map(|i| format!("\"{}\"", gid::encode(gid::Kind::Product, i as i64)))
            .collect();
        format!("{{ nodes(ids: [{}]) {{ id }} }}", ids.join(", "))
    };
    let one = cost_of(&app, &ids(1)).await;
    let forty = cost_of(&app, &ids(40)).await;
    assert!(forty >= 40 * one, "1 id: {one}, 40 ids: {forty}");
    // Paged lists cost their page size.
    let orders = cost_of(&app, "{ orders(first: 50) { nodes { id } } }").await;
    assert!(orders >= 50, "{orders}");
    let mine = cost_of(&app, "{ me { orders(first: 50) { nodes { id } } } }").await;
    assert!(mine >= 50, "{mine}");
    // Unpaged lists cost a typical length, like variants.
    let lines = cost_of(&app, "{ cart(id: \"x\") { lines { id quantity } } }").await;
    let bare = cost_of(&app, "{ cart(id: \"x\") { id } }").await;
    assert!(
        lines - bare >= 2 * factor - 1,
        "cart lines: {lines} vs {bare}"
    );
    let lines = cost_of(
        &app,
        "{ orders(first: 1) { nodes { lines { quantity } } } }",
    )
    .await;
    let bare = cost_of(&app, "{ orders(first: 1) { nodes { id } } }").await;
    assert!(lines - bare >= factor - 1, "order lines: {lines} vs {bare}");
    let media = cost_of(&app, "{ product(handle: \"x\") { media { url alt } } }").await;
    let bare = cost_of(&app, "{ product(handle: \"x\") { id } }").await;
    assert!(media - bare >= 2 * factor - 1, "media: {media} vs {bare}");
}

#[tokio::test]
async fn operations_that_fail_to_parse_or_validate_are_charged() {
    let app = TestApp::spawn_with(Options {
        products: Some(2),
        configure: Some(|c| {
            c.rate.anonymous = emporium::infra::ratelimit::Budget::parse("250,0.01").ok();
            c.rate.failed_operation_cost = 100;
        }),
        ..Default::default()
    })
    .await;
    // A validation error and a parse error each cost 100, shown as usual.
    let (status, invalid) = app.post("{ noSuchField }", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(first_code(&invalid), "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(
        invalid["extensions"]["cost"]["requestedQueryCost"], 100,
        "{invalid}"
    );
    assert_eq!(
        invalid["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 150,
        "{invalid}"
    );
    let (status, broken) = app.post("{ products(", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(first_code(&broken), "GRAPHQL_PARSE_FAILED");
    assert_eq!(
        broken["extensions"]["cost"]["requestedQueryCost"], 100,
        "{broken}"
    );
    // Then the budget is spent: the next one is refused.
    let res = app
        .post_json(
            &json!({ "query": "{ stillNoSuchField }" }),
            &[("accept", "application/json")],
        )
        .await;
    assert_eq!(res.status().as_u16(), 429);
    assert!(header(&res, "retry-after").is_some());
    let refused: Value = res.json().await.unwrap_or_default();
    assert_eq!(first_code(&refused), "RATE_LIMITED", "{refused}");
    // Over GET too.
    let res = app
        .client
        .get(format!("{}?query=%7B", app.graphql_url()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 429);
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/graphql/ws` (graphql-transport-ws), with `X-Forwarded-For` if
/// given; `Err` is the HTTP status of a refused upgrade.
async fn ws_open(app: &TestApp, forwarded: Option<&str>) -> Result<Socket, u16> {
    use tokio_tungstenite::tungstenite::{Error, client::IntoClientRequest, http::HeaderValue};
    let url = format!("{}/graphql/ws", app.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap_or_else(|e| panic!("{e}"));
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    if let Some(f) = forwarded {
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_str(f).unwrap_or_else(|e| panic!("{e}")),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("connect: {e}"),
    }
}

/// The next message, or the close frame's code and reason.
async fn ws_read(socket: &mut Socket) -> Result<Value, (u16, String)> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match within("a WebSocket message", socket.next()).await {
            Some(Ok(Message::Text(t))) => {
                return Ok(serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}: {t}")));
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((1005, String::new())));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err((1006, e.to_string())),
            None => return Err((1006, "closed".into())),
        }
    }
}

async fn ws_send(socket: &mut Socket, m: Value) {
    use futures_util::SinkExt;
    socket
        .send(tokio_tungstenite::tungstenite::Message::text(m.to_string()))
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
}

/// Sends `connection_init` (with a bearer token if given); `Err` is the
/// close reason of a refusal.
async fn ws_init(socket: &mut Socket, token: Option<&str>) -> Result<(), String> {
    let mut init = json!({ "type": "connection_init" });
    if let Some(t) = token {
        init["payload"] = json!({ "Authorization": format!("Bearer {t}") });
    }
    ws_send(socket, init).await;
    match ws_read(socket).await {
        Ok(m) if m["type"] == "connection_ack" => Ok(()),
        Ok(m) => panic!("unexpected before the ack: {m}"),
        Err((_, reason)) => Err(reason),
    }
}

fn few_sockets(c: &mut emporium::config::Config) {
    c.edge.ws_max_per_client = 2;
    c.edge.trusted_proxy_hops = 1;
}

#[tokio::test]
async fn websocket_connections_are_bounded_per_address_and_per_account() {
    let app = TestApp::spawn_with(Options {
        products: Some(2),
        configure: Some(few_sockets),
        ..Default::default()
    })
    .await;
    let mut a = ws_open(&app, Some("203.0.113.1"))
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    let mut b = ws_open(&app, Some("203.0.113.1"))
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    ws_init(&mut a, None)
        .await
        .unwrap_or_else(|r| panic!("{r}"));
    ws_init(&mut b, None)
        .await
        .unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(ws_open(&app, Some("203.0.113.1")).await.err(), Some(429));
    // An IPv6 client's /64 is one address.
    let _c = ws_open(&app, Some("2001:db8:1:2::1"))
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    let _d = ws_open(&app, Some("2001:db8:1:2::2"))
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    assert_eq!(
        ws_open(&app, Some("2001:db8:1:2::3")).await.err(),
        Some(429)
    );
    // One account from many addresses.
    let ada = accounts::customer(&app, "ada@example.com").await;
    let mut open = Vec::new();
    for n in 0..2 {
        let mut s = ws_open(&app, Some(&format!("198.51.100.{n}")))
            .await
            .unwrap_or_else(|s| panic!("{s}"));
        ws_init(&mut s, Some(&ada.access))
            .await
            .unwrap_or_else(|r| panic!("{r}"));
        open.push(s);
    }
    let mut third = ws_open(&app, Some("198.51.100.9"))
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    let refused = ws_init(&mut third, Some(&ada.access)).await.err();
    assert!(
        refused
            .as_deref()
            .is_some_and(|r| r.starts_with("RATE_LIMITED")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn websockets_that_never_initialise_or_sit_idle_are_closed() {
    let app = TestApp::spawn_with(Options {
        products: Some(20),
        configure: Some(|c| {
            c.edge.ws_init_timeout_secs = 1;
            c.edge.ws_idle_timeout_secs = 1;
        }),
        ..Default::default()
    })
    .await;
    let item = crate::checkout::stocked_item(&app, 5).await;
    // No connection_init: closed with the protocol's code.
    let mut silent = ws_open(&app, None).await.unwrap_or_else(|s| panic!("{s}"));
    let (code, _) = ws_read(&mut silent)
        .await
        .err()
        .unwrap_or_else(|| panic!("a message"));
    assert_eq!(code, 4408);

    // A subscribed connection, then one that subscribes to nothing.
    let mut busy = ws_open(&app, None).await.unwrap_or_else(|s| panic!("{s}"));
    ws_init(&mut busy, None)
        .await
        .unwrap_or_else(|r| panic!("{r}"));
    ws_send(
        &mut busy,
        json!({ "id": "1", "type": "subscribe", "payload": {
            "query": crate::subscriptions::STOCK, "variables": { "ids": [item.gid] } } }),
    )
    .await;
    crate::subscriptions::listening(&app, 1).await;
    let mut idle = ws_open(&app, None).await.unwrap_or_else(|s| panic!("{s}"));
    ws_init(&mut idle, None)
        .await
        .unwrap_or_else(|r| panic!("{r}"));
    let (code, reason) = ws_read(&mut idle)
        .await
        .err()
        .unwrap_or_else(|| panic!("a message"));
    assert_eq!(code, 1000);
    assert!(reason.starts_with("idle"), "{reason}");

    // The subscribed one, idle longer, is still open and hears a change.
    let (token, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    app.query_as(
        &token,
        "mutation { inventoryAdjustQuantities(input: { changes: [{ sku: \"EMP-00000-01\", location: \"warehouse\", delta: 1 }], reason: RECEIVED }) { appliedCount } }",
        json!({}),
    )
    .await;
    let next = ws_read(&mut busy)
        .await
        .unwrap_or_else(|c| panic!("closed: {c:?}"));
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(
        next["payload"]["data"]["stockUpdated"]["variantId"],
        json!(item.gid)
    );
}

/// A feed download: status, `x-emporium-cache` and body.
async fn feed(app: &TestApp) -> (u16, Option<String>, String) {
    let res = app
        .client
        .get(format!("{}/feeds/default.json", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = res.status().as_u16();
    let cache = header(&res, "x-emporium-cache");
    (status, cache, res.text().await.unwrap_or_default())
}

#[tokio::test]
async fn feeds_are_throttled_per_client() {
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        configure: Some(|c| {
            c.rate.anonymous = emporium::infra::ratelimit::Budget::parse("3000,0.01").ok();
            c.rate.feed_cost = 1000;
        }),
        ..Default::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(feed(&app).await.0, 200);
    }
    let res = app
        .client
        .get(format!("{}/feeds/default.csv", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 429);
    assert!(header(&res, "retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1)));
}

#[tokio::test]
async fn feeds_are_served_from_a_cache_that_catalog_and_stock_changes_clear() {
    let app = TestApp::spawn_with(Options {
        products: Some(10),
        ..Default::default()
    })
    .await;
    crate::checkout::stocked_item(&app, 0).await;
    let availability = |text: &str| {
        let items: Vec<Value> = serde_json::from_str(text).unwrap_or_default();
        items
            .iter()
            .find(|i| i["id"] == crate::checkout::SKU)
            .map(|i| i["availability"].clone())
    };
    let (status, cache, first) = feed(&app).await;
    assert_eq!((status, cache.as_deref()), (200, Some("miss")));
    assert_eq!(availability(&first), Some(json!("out_of_stock")));
    let before = app.statement_count();
    let (status, cache, again) = feed(&app).await;
    assert_eq!((status, cache.as_deref()), (200, Some("hit")));
    assert_eq!(again, first);
    assert_eq!(
        app.statements_since(before),
        Vec::<String>::new(),
        "a cached feed reads nothing"
    );
    // A stock change shows at once.
    let (token, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    app.query_as(
        &token,
        "mutation { inventoryAdjustQuantities(input: { changes: [{ sku: \"EMP-00000-01\", location: \"warehouse\", delta: 3 }], reason: RECEIVED }) { appliedCount } }",
        json!({}),
    )
    .await;
    let (status, cache, after) = feed(&app).await;
    assert_eq!((status, cache.as_deref()), (200, Some("miss")));
    assert_eq!(availability(&after), Some(json!("in_stock")), "{after}");
}
