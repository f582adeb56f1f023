//! The HTTP edge under abuse: uploads refused before their body is read,
//! a bounded number of requests in flight, failed operations charged,
//! WebSocket connections bounded and closed when idle, feeds throttled and
//! cached.

use std::time::Duration;

use emporium::domain::identity::permission::Role;
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
