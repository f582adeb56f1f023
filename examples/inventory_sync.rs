//! `inventory_sync`: times what an ERP or WMS does every few minutes, an
//! `inventorySetQuantities` call setting every stock level it knows, and
//! prints rows per second for each round.
//!
//! It reads the SKUs through `catalogProducts`, so the token needs
//! `catalog:read` and `inventory:write` (and a budget large enough for the
//! run):
//!
//! ```text
//! TOKEN=$(emporium token create --name sync --scopes catalog:read,inventory:write \
//!     --rate-capacity 2000000000 --rate-restore-per-second 2000000000)
//! cargo run --release --example inventory_sync -- --token "$TOKEN" --rows 5000 --rounds 3
//! ```

use std::time::Instant;

use anyhow::{Result, bail};
use clap::Parser;
use serde_json::{Value, json};

/// Times inventory syncs against a running server.
#[derive(Parser)]
struct Args {
    /// The GraphQL endpoint (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8000/graphql")]
    url: String,
    /// A partner token with catalog:read and inventory:write.
    #[arg(long)]
    token: String,
    /// Rows per call: SKUs times the locations `warehouse` and `store`.
    #[arg(long, default_value_t = 5000)]
    rows: usize,
    /// Calls to time.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

async fn run(http: &reqwest::Client, args: &Args, query: &str, variables: Value) -> Result<Value> {
    let body: Value = http
        .post(&args.url)
        .bearer_auth(&args.token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await?
        .json()
        .await?;
    if let Some(errors) = body.get("errors") {
        bail!("GraphQL errors: {errors}");
    }
    Ok(body["data"].clone())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let host = reqwest::Url::parse(&args.url)?;
    if !matches!(host.host_str(), Some("127.0.0.1" | "localhost" | "::1")) {
        bail!("inventory_sync only talks to a server on this machine");
    }
    let http = reqwest::Client::new();
    let mut skus = Vec::new();
    let mut after: Option<String> = None;
    while skus.len() * 2 < args.rows {
        let data = run(
            &http,
            &args,
            "query($after: String) { catalogProducts(first: 250, after: $after, statuses: [ACTIVE, DRAFT, ARCHIVED]) { nodes { variants { sku } } pageInfo { hasNextPage endCursor } } }",
            json!({ "after": after }),
        )
        .await?;
        let page = &data["catalogProducts"];
        for p in page["nodes"].as_array().into_iter().flatten() {
            for v in p["variants"].as_array().into_iter().flatten() {
                skus.extend(v["sku"].as_str().map(str::to_owned));
            }
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let pairs: Vec<(&str, &str)> = skus
        .iter()
        .flat_map(|s| [(s.as_str(), "warehouse"), (s.as_str(), "store")])
        .take(args.rows)
        .collect();
    println!("{} rows per call ({} SKUs known)", pairs.len(), skus.len());
    for round in 0..args.rounds {
        let rows: Vec<Value> = pairs
            .iter()
            .enumerate()
            .map(|(i, (sku, location))| {
                json!({ "sku": sku, "location": location, "onHand": (i * 7 + round * 13) % 500 })
            })
            .collect();
        let started = Instant::now();
        let data = run(
            &http,
            &args,
            "mutation($i: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $i) { appliedCount rejectedCount userErrors { message } } }",
            json!({ "i": { "quantities": rows, "referenceDocument": format!("inventory_sync round {round}") } }),
        )
        .await?;
        let elapsed = started.elapsed();
        let result = &data["inventorySetQuantities"];
        println!(
            "round {round}: {} rows in {:.0} ms ({:.0} rows/s); applied {}, rejected {}",
            pairs.len(),
            elapsed.as_secs_f64() * 1000.0,
            pairs.len() as f64 / elapsed.as_secs_f64(),
            result["appliedCount"],
            result["rejectedCount"],
        );
    }
    Ok(())
}
