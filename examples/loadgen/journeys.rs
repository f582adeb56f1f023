//! Journeys: scenarios that are a sequence of dependent requests per
//! iteration (a cart to fill, a checkout to complete), each client with
//! state of its own.
//!
//! - `add-to-cart`: `cartCreate` (empty), then nine `cartLinesAdd` of one
//!   unit of different variants; every mutation is one request.
//! - `checkout`: `cartCreate` with a line, `cartBuyerIdentityUpdate` (email
//!   and address), `cartShippingMethodSelect`, then `checkoutComplete` with
//!   the `test` gateway (`tok_visa`) and a fresh idempotency key; one order
//!   per journey.
//!
//! Variants are taken from the storefront's first pages: those for sale with
//! at least 20 units available (or untracked), spread over the clients so
//! that stock lasts. A `userErrors` entry counts as an error, like a
//! GraphQL error.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use reqwest::Url;
use serde_json::{Value, json};

/// A multi-request scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Journey {
    /// An empty cart, then nine lines added one by one.
    AddToCart,
    /// A cart taken through checkout.
    Checkout,
}

impl Journey {
    /// What one journey is called in the report.
    pub fn unit(self) -> &'static str {
        match self {
            Self::AddToCart => "carts",
            Self::Checkout => "orders",
        }
    }
}

const CART_FIELDS: &str = "cart { id totalQuantity cost { subtotal { amount } total { amount } } }";

/// Variant IDs to buy, shared by the clients.
pub struct Catalog {
    variants: Vec<String>,
}

/// Reads up to 1,000 products and keeps the variants with stock to spare.
pub async fn catalog(client: &reqwest::Client, url: &Url) -> Result<Arc<Catalog>> {
    let mut variants = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..4 {
        let body = json!({
            "query": "query($after: String) { products(first: 250, after: $after) { pageInfo { hasNextPage endCursor } nodes { variants { id availableForSale quantityAvailable } } } }",
            "variables": { "after": after },
        });
        let data = call(client, url, &body).await?;
        let page = &data["products"];
        for p in page["nodes"].as_array().into_iter().flatten() {
            for v in p["variants"].as_array().into_iter().flatten() {
                let stock_ok = v["quantityAvailable"].as_i64().is_none_or(|q| q >= 20);
                if v["availableForSale"] == true && stock_ok {
                    variants.push(v["id"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    if variants.len() < 10 {
        bail!("the catalog has too few variants in stock to run a cart journey");
    }
    Ok(Arc::new(Catalog { variants }))
}

/// One request's result within a journey.
pub struct Step {
    /// Microseconds it took.
    pub micros: u64,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// Sends one GraphQL request and returns `data`, or why it failed
/// (transport, HTTP status, GraphQL errors, or userErrors in any payload).
pub async fn call(client: &reqwest::Client, url: &Url, body: &Value) -> Result<Value> {
    let response = client
        .post(url.clone())
        .json(body)
        .send()
        .await
        .context("transport")?;
    let status = response.status();
    let value: Value = response.json().await.context("body is not JSON")?;
    if !status.is_success() {
        bail!("HTTP {status}: {value}");
    }
    if let Some(e) = value["errors"].as_array().and_then(|e| e.first()) {
        bail!("GraphQL error: {}", e["message"]);
    }
    let data = value["data"].clone();
    if let Some(payload) = data.as_object().and_then(|o| o.values().next())
        && let Some(e) = payload["userErrors"].as_array().and_then(|e| e.first())
    {
        bail!("userError {}: {}", e["code"], e["message"]);
    }
    Ok(data)
}

async fn step(
    client: &reqwest::Client,
    url: &Url,
    body: Value,
    steps: &mut Vec<Step>,
) -> Option<Value> {
    let started = std::time::Instant::now();
    let result = call(client, url, &body).await;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    match result {
        Ok(data) => {
            steps.push(Step {
                micros,
                error: None,
            });
            Some(data)
        }
        Err(e) => {
            steps.push(Step {
                micros,
                error: Some(format!("{e:#}")),
            });
            None
        }
    }
}

/// Runs journey number `n` of client `client_no`; returns its steps (it
/// stops at the first failed step).
pub async fn run(
    journey: Journey,
    client: &reqwest::Client,
    url: &Url,
    catalog: &Catalog,
    client_no: u64,
    n: u64,
) -> Vec<Step> {
    run_for_data(journey, client, url, catalog, client_no, n)
        .await
        .0
}

/// Places one order (the `checkout` journey); returns its ID.
pub async fn place_order(
    client: &reqwest::Client,
    url: &Url,
    catalog: &Catalog,
    client_no: u64,
    n: u64,
) -> Result<String> {
    let (steps, data) = run_for_data(Journey::Checkout, client, url, catalog, client_no, n).await;
    if let Some(e) = steps.iter().find_map(|s| s.error.clone()) {
        bail!("placing an order: {e}");
    }
    data.and_then(|d| {
        d["checkoutComplete"]["order"]["id"]
            .as_str()
            .map(str::to_owned)
    })
    .context("checkoutComplete answered no order")
}

/// [`run`], also answering the data of the journey's last request.
async fn run_for_data(
    journey: Journey,
    client: &reqwest::Client,
    url: &Url,
    catalog: &Catalog,
    client_no: u64,
    n: u64,
) -> (Vec<Step>, Option<Value>) {
    let mut steps = Vec::new();
    let mut last = None;
    let pick = |k: u64| {
        // Wrapping: the preflight journey runs as client `u64::MAX / 2`.
        let i = client_no
            .wrapping_mul(7919)
            .wrapping_add(n.wrapping_mul(31))
            .wrapping_add(k) as usize
            % catalog.variants.len();
        catalog.variants[i].clone()
    };
    match journey {
        Journey::AddToCart => {
            let Some(data) = step(
                client,
                url,
                json!({ "query": format!("mutation {{ cartCreate {{ {CART_FIELDS} userErrors {{ code message }} }} }}") }),
                &mut steps,
            )
            .await
            else {
                return (steps, last);
            };
            let cart = data["cartCreate"]["cart"]["id"].clone();
            for k in 0..9 {
                let body = json!({
                    "query": format!("mutation($c: ID!, $v: ID!) {{ cartLinesAdd(cartId: $c, lines: [{{ merchandiseId: $v, quantity: 1 }}]) {{ {CART_FIELDS} userErrors {{ code message }} }} }}"),
                    "variables": { "c": cart, "v": pick(k) },
                });
                if step(client, url, body, &mut steps).await.is_none() {
                    break;
                }
            }
        }
        Journey::Checkout => {
            let create = json!({
                "query": format!("mutation($v: ID!) {{ cartCreate(input: {{ lines: [{{ merchandiseId: $v, quantity: 1 }}] }}) {{ {CART_FIELDS} userErrors {{ code message }} }} }}"),
                "variables": { "v": pick(0) },
            });
            let Some(data) = step(client, url, create, &mut steps).await else {
                return (steps, last);
            };
            let cart = data["cartCreate"]["cart"]["id"].clone();
            let buyer = json!({
                "query": format!("mutation($c: ID!) {{ cartBuyerIdentityUpdate(cartId: $c, buyerIdentity: {{ email: \"load@example.com\", shippingAddress: {{ firstName: \"Load\", lastName: \"Test\", address1: \"1 Bench St\", city: \"Portland\", provinceCode: \"OR\", countryCode: \"US\", zip: \"97201\" }} }}) {{ {CART_FIELDS} userErrors {{ code message }} }} }}"),
                "variables": { "c": cart },
            });
            if step(client, url, buyer, &mut steps).await.is_none() {
                return (steps, last);
            }
            let ship = json!({
                "query": format!("mutation($c: ID!) {{ cartShippingMethodSelect(cartId: $c, shippingMethodCode: \"standard\") {{ {CART_FIELDS} userErrors {{ code message }} }} }}"),
                "variables": { "c": cart },
            });
            if step(client, url, ship, &mut steps).await.is_none() {
                return (steps, last);
            }
            let complete = json!({
                "query": "mutation($c: ID!, $k: String!) { checkoutComplete(cartId: $c, payment: { gateway: \"test\", token: \"tok_visa\" }, idempotencyKey: $k) { order { id name totalPrice: total { amount } } userErrors { code message } } }",
                "variables": { "c": cart, "k": format!("loadgen-{client_no}-{n}-{}", std::process::id()) },
            });
            last = step(client, url, complete, &mut steps).await;
        }
    }
    (steps, last)
}
