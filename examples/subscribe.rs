//! `subscribe`: a subscription listener. Connects to `/graphql/ws`
//! (`graphql-transport-ws`), subscribes, and prints every event as one line
//! of JSON until interrupted (or until the server ends the subscription,
//! e.g. when the token expires).
//!
//! ```text
//! # Stock of every variant of a product, or of variants by global ID, as anyone:
//! cargo run --example subscribe -- --product pocket-journal-0
//! cargo run --example subscribe -- --variant Z2lkOi8vZW1wb3JpdW0vUHJvZHVjdFZhcmlhbnQvMQ
//! # One order, as its owner (a customer access token) or staff with orders:read:
//! cargo run --example subscribe -- --order "$ORDER_ID" --token "$ACCESS"
//! # Every order, as staff or a partner with orders:read:
//! cargo run --example subscribe -- --all-orders --token "$STAFF"
//! ```

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

/// Listens to a subscription and prints each event.
#[derive(Parser)]
struct Args {
    /// The GraphQL endpoint; the WebSocket is `/graphql/ws` on the same host.
    #[arg(long, default_value = "http://127.0.0.1:8000/graphql")]
    url: String,
    /// Bearer token sent in `connection_init` (customer, staff or partner).
    #[arg(long)]
    token: Option<String>,
    /// `stockUpdated` for this variant (global ID); repeatable.
    #[arg(long = "variant")]
    variants: Vec<String>,
    /// `stockUpdated` for every variant of the product with this handle
    /// (looked up in the storefront first); repeatable.
    #[arg(long = "product")]
    products: Vec<String>,
    /// `orderUpdated` for this order (global ID).
    #[arg(long, conflicts_with_all = ["variants", "products", "all_orders"])]
    order: Option<String>,
    /// `ordersUpdated`: every order (staff or partner with orders:read).
    #[arg(long, conflicts_with_all = ["variants", "products"])]
    all_orders: bool,
}

const STOCK: &str = "subscription($ids: [ID!]!) { stockUpdated(variantIds: $ids) { variantId quantityAvailable availableForSale } }";
const ORDER: &str = "subscription($id: ID!) { orderUpdated(orderId: $id) { id name status paymentStatus fulfillmentStatus total { amount currencyCode } } }";
const ORDERS: &str = "subscription { ordersUpdated { id name status paymentStatus fulfillmentStatus total { amount currencyCode } } }";

/// The global IDs of the variants of the products with these handles.
async fn variants_of(url: &str, handles: &[String]) -> Result<Vec<String>> {
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for handle in handles {
        let body: Value = http
            .post(url)
            .json(&json!({
                "query": "query($h: String!) { product(handle: $h) { variants { id } } }",
                "variables": { "h": handle },
            }))
            .send()
            .await?
            .json()
            .await?;
        let variants = body["data"]["product"]["variants"]
            .as_array()
            .ok_or_else(|| anyhow!("no product with handle {handle}: {body}"))?;
        ids.extend(
            variants
                .iter()
                .filter_map(|v| v["id"].as_str().map(str::to_owned)),
        );
    }
    Ok(ids)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (query, variables) = if let Some(order) = &args.order {
        (ORDER, json!({ "id": order }))
    } else if args.all_orders {
        (ORDERS, json!({}))
    } else {
        let mut ids = args.variants.clone();
        ids.extend(variants_of(&args.url, &args.products).await?);
        if ids.is_empty() {
            bail!("give --variant/--product, --order or --all-orders (see --help)");
        }
        (STOCK, json!({ "ids": ids }))
    };

    let mut ws_url = reqwest::Url::parse(&args.url).context("--url")?;
    let scheme = if ws_url.scheme() == "https" {
        "wss"
    } else {
        "ws"
    };
    ws_url
        .set_scheme(scheme)
        .map_err(|()| anyhow!("cannot make a WebSocket URL of {}", args.url))?;
    ws_url.set_path("/graphql/ws");
    let mut request = ws_url.as_str().into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .with_context(|| format!("cannot connect to {ws_url}"))?;

    let mut init = json!({ "type": "connection_init" });
    if let Some(token) = &args.token {
        init["payload"] = json!({ "Authorization": format!("Bearer {token}") });
    }
    socket.send(Message::text(init.to_string())).await?;
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } });
    let mut subscribed = false;
    while let Some(message) = socket.next().await {
        match message? {
            Message::Text(text) => {
                let m: Value = serde_json::from_str(&text)?;
                match m["type"].as_str() {
                    Some("connection_ack") if !subscribed => {
                        socket.send(Message::text(subscribe.to_string())).await?;
                        subscribed = true;
                        eprintln!("subscribed; waiting for events (Ctrl-C to stop)");
                    }
                    Some("ping") => {
                        socket
                            .send(Message::text(json!({ "type": "pong" }).to_string()))
                            .await?;
                    }
                    Some("next") => {
                        let payload = &m["payload"];
                        println!("{}", payload);
                        if payload.get("errors").is_some() {
                            eprintln!("the server ended the subscription with an error");
                        }
                    }
                    Some("error") => bail!("subscription refused: {}", m["payload"]),
                    Some("complete") => {
                        eprintln!("the subscription ended");
                        return Ok(());
                    }
                    _ => {}
                }
            }
            Message::Close(frame) => {
                bail!(
                    "the server closed the connection: {}",
                    frame.map(|f| f.reason.to_string()).unwrap_or_default()
                );
            }
            _ => {}
        }
    }
    Ok(())
}
