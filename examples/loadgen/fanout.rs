//! `fanout`: how fast one stock change reaches many open subscriptions.
//!
//! Opens `--subscribers` WebSocket connections to `/graphql/ws`
//! (`graphql-transport-ws`, anonymous), each subscribed to `stockUpdated`
//! for the first variant of `--handle`. A first change (not measured) shows
//! that every subscription listens. Then, `--changes` times, it sets that
//! variant's on-hand quantity at the `warehouse` location through
//! `inventorySetQuantities` with `--token` (staff or partner with
//! `inventory:write`), and measures for each subscriber the time from
//! sending the change to receiving it; a round ends when every subscriber
//! has it (or after `--timeout`). With `--pid` it reads the server's
//! resident memory before the connections open and once they are all idle.
//!
//! The time includes the mutation itself and the outbox relay's poll
//! (`EMPORIUM_OUTBOX_POLL_MS`, 100 ms by default when idle), so the report
//! also gives the spread: from the first subscriber receiving a change to
//! each of the others.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt, stream};
use hdrhistogram::Histogram;
use reqwest::Url;
use serde_json::{Value, json};
use tokio::{sync::mpsc, time::Instant};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

/// What the scenario needs from the command line.
pub struct Settings {
    /// The GraphQL endpoint (`http://.../graphql`).
    pub url: Url,
    /// Subscriptions to open (one connection each).
    pub subscribers: usize,
    /// Measured changes.
    pub changes: usize,
    /// The product whose first variant is watched.
    pub handle: String,
    /// Bearer token with `inventory:write`.
    pub token: String,
    /// Server process id, for its resident memory.
    pub pid: Option<u32>,
    /// Longest wait for a round (and for connecting).
    pub timeout: Duration,
    /// Print one JSON object instead of text.
    pub json: bool,
}

const SUBSCRIBE: &str =
    "subscription($ids: [ID!]!) { stockUpdated(variantIds: $ids) { variantId quantityAvailable } }";
const SET: &str = "mutation($i: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $i) { appliedCount userErrors { code message } } }";

/// Runs the scenario and prints its report.
pub async fn run(s: Settings, read_rss_kb: fn(u32) -> Option<u64>) -> Result<()> {
    if s.subscribers == 0 || s.changes == 0 {
        bail!("--subscribers and --changes must be at least 1");
    }
    let http = reqwest::Client::builder()
        .timeout(s.timeout)
        .no_proxy()
        .build()?;
    let data = super::journeys::call(
        &http,
        &s.url,
        &json!({ "query": "query($h: String!) { product(handle: $h) { variants { id sku } } }", "variables": { "h": s.handle } }),
    )
    .await
    .context("reading the variant (is the server running?)")?;
    let variant = &data["product"]["variants"][0];
    let (Some(variant_id), Some(sku)) = (variant["id"].as_str(), variant["sku"].as_str()) else {
        bail!("product {:?} has no variant", s.handle);
    };
    let rss_before = s.pid.and_then(read_rss_kb);

    // Connect and subscribe, 64 connections at a time.
    let mut ws_url = s.url.clone();
    ws_url
        .set_scheme("ws")
        .map_err(|()| anyhow!("cannot make a ws:// URL"))?;
    ws_url.set_path("/graphql/ws");
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Instant)>();
    let opened = Instant::now();
    let sockets: Vec<_> = stream::iter(0..s.subscribers)
        .map(|_| subscriber(ws_url.clone(), variant_id.to_owned(), s.timeout))
        .buffer_unordered(64)
        .collect::<Vec<Result<_>>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let connect_s = opened.elapsed().as_secs_f64();
    let mut readers = Vec::with_capacity(sockets.len());
    for (n, socket) in sockets.into_iter().enumerate() {
        let tx = tx.clone();
        readers.push(tokio::spawn(read_events(n, socket, tx)));
    }

    // Not measured: changes until every subscription has heard one (a
    // subscription starts listening shortly after its `subscribe`).
    let mut level = 10_000;
    let set = |level: i64| {
        json!({ "query": SET, "variables": { "i": { "quantities": [
            { "sku": sku, "location": "warehouse", "onHand": level }
        ] } } })
    };
    let mut heard = vec![false; s.subscribers];
    let mut missing = s.subscribers;
    let deadline = Instant::now() + s.timeout;
    while missing > 0 {
        if Instant::now() >= deadline {
            bail!(
                "{missing} of {} subscriptions heard no change within {:?}",
                s.subscribers,
                s.timeout
            );
        }
        level += 1;
        call_as(&http, &s.url, &s.token, &set(level)).await?;
        let round = Instant::now() + Duration::from_secs(1);
        while let Ok(Some((n, _))) = tokio::time::timeout_at(round, rx.recv()).await {
            if !heard[n] {
                heard[n] = true;
                missing -= 1;
            }
        }
    }
    // Idle with every subscription open.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = s.pid.and_then(read_rss_kb);

    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut spread = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut mutation = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut received = 0u64;
    let mut missed = 0u64;
    for _ in 0..s.changes {
        level += 1;
        let sent = Instant::now();
        call_as(&http, &s.url, &s.token, &set(level)).await?;
        mutation.saturating_record(micros(sent.elapsed()));
        let deadline = sent + s.timeout;
        let mut first: Option<Instant> = None;
        let mut got = 0;
        while got < s.subscribers {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((_, at))) => {
                    got += 1;
                    let first = *first.get_or_insert(at);
                    latency.saturating_record(micros(at.saturating_duration_since(sent)));
                    spread.saturating_record(micros(at.saturating_duration_since(first)));
                }
                _ => break,
            }
        }
        received += got as u64;
        missed += (s.subscribers - got) as u64;
    }
    for r in readers {
        r.abort();
    }

    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let mb = |kb: Option<u64>| kb.map(|k| (k as f64 / 1024.0 * 10.0).round() / 10.0);
    if s.json {
        println!(
            "{}",
            json!({
                "scenario": "fanout",
                "subscribers": s.subscribers,
                "changes": s.changes,
                "connect_s": connect_s,
                "received": received,
                "missed": missed,
                "latency_ms": { "p50": ms(&latency, 0.5), "p99": ms(&latency, 0.99), "max": latency.max() as f64 / 1000.0 },
                "spread_ms": { "p50": ms(&spread, 0.5), "p99": ms(&spread, 0.99), "max": spread.max() as f64 / 1000.0 },
                "mutation_ms": { "p50": ms(&mutation, 0.5), "max": mutation.max() as f64 / 1000.0 },
                "server_rss_mb": { "before": mb(rss_before), "idle_with_subscriptions": mb(rss_idle) },
            })
        );
    } else {
        println!("scenario:        fanout (stockUpdated of {sku})");
        println!(
            "subscriptions:   {} (connected and subscribed in {connect_s:.2} s)",
            s.subscribers
        );
        println!(
            "changes:         {} measured; events received {received}, missed {missed}",
            s.changes
        );
        println!(
            "change to subscriber: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(&latency, 0.5),
            ms(&latency, 0.99),
            latency.max() as f64 / 1000.0
        );
        println!(
            "first to each subscriber (spread): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(&spread, 0.5),
            ms(&spread, 0.99),
            spread.max() as f64 / 1000.0
        );
        println!(
            "the mutation itself: p50 {:.2} ms, max {:.2} ms",
            ms(&mutation, 0.5),
            mutation.max() as f64 / 1000.0
        );
        if let Some(pid) = s.pid {
            let show = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v} MB"));
            println!(
                "server rss:      pid {pid}: {} before, {} with the subscriptions idle",
                show(mb(rss_before)),
                show(mb(rss_idle))
            );
        }
    }
    Ok(())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One connection, acknowledged and subscribed.
async fn subscriber(url: Url, variant_id: String, timeout: Duration) -> Result<Socket> {
    let mut request = url.as_str().into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = tokio::time::timeout(timeout, tokio_tungstenite::connect_async(request))
        .await
        .context("connecting timed out")?
        .context("connecting")?;
    socket
        .send(Message::text(
            json!({ "type": "connection_init" }).to_string(),
        ))
        .await?;
    loop {
        let m = tokio::time::timeout(timeout, socket.next())
            .await
            .context("no connection_ack")?
            .ok_or_else(|| anyhow!("closed before connection_ack"))??;
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t)?;
            if v["type"] == "connection_ack" {
                break;
            }
        }
    }
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIBE, "variables": { "ids": [variant_id] } } });
    socket.send(Message::text(subscribe.to_string())).await?;
    Ok(socket)
}

/// Reports the arrival time of every result; answers pings.
async fn read_events(n: usize, mut socket: Socket, tx: mpsc::UnboundedSender<(usize, Instant)>) {
    while let Some(Ok(m)) = socket.next().await {
        let at = Instant::now();
        let Message::Text(t) = m else { continue };
        if t.contains("\"next\"") {
            if tx.send((n, at)).is_err() {
                return;
            }
        } else if t.contains("\"ping\"") {
            let _ = socket
                .send(Message::text(json!({ "type": "pong" }).to_string()))
                .await;
        }
    }
}

async fn call_as(http: &reqwest::Client, url: &Url, token: &str, body: &Value) -> Result<()> {
    let value: Value = http
        .post(url.clone())
        .bearer_auth(token)
        .json(body)
        .send()
        .await?
        .json()
        .await?;
    if value.get("errors").is_some() {
        bail!("the inventory change failed: {value}");
    }
    let payload = &value["data"]["inventorySetQuantities"];
    if payload["userErrors"]
        .as_array()
        .is_some_and(|e| !e.is_empty())
    {
        bail!("the inventory change failed: {payload}");
    }
    Ok(())
}
