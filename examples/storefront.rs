//! `storefront`: a storefront's journey through the API, as a client would
//! make it. It lists the channels, opens a collection, pages through its
//! products with cursors, searches, and shows one product in every channel;
//! then it signs a new customer up, fills a cart, applies a discount code,
//! chooses shipping, pays with the `test` gateway and finds the order in the
//! customer's account, printing what a shopper would see. Any GraphQL error
//! or `userErrors` entry ends it with a non-zero exit code, so it doubles as a
//! smoke test of a running server.
//!
//! ```text
//! cargo run --release &                      # serves the demo shop
//! cargo run --example storefront             # walks through it
//! cargo run --example storefront -- --url http://127.0.0.1:8000/graphql --channel eu
//! ```

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use serde_json::{Value, json};

/// Walks a storefront through the emporium catalog API.
#[derive(Parser)]
struct Args {
    /// The GraphQL endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8000/graphql")]
    url: String,
    /// Channel to shop in (default: the server's default channel).
    #[arg(long)]
    channel: Option<String>,
    /// Products per page.
    #[arg(long, default_value_t = 4)]
    page_size: u32,
}

struct Client {
    http: reqwest::Client,
    url: String,
    channel: Option<String>,
    token: Option<String>,
}

impl Client {
    /// Runs one operation and returns its `data`, or fails with the errors.
    async fn run(&self, query: &str, variables: Value) -> Result<Value> {
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header(
                "accept",
                "application/graphql-response+json, application/json;q=0.9",
            )
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(c) = &self.channel {
            req = req.header("emporium-channel", c);
        }
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.url))?;
        let status = res.status();
        let body: Value = res.json().await.context("the response is not JSON")?;
        if let Some(errors) = body.get("errors") {
            bail!("HTTP {status}: {errors}");
        }
        let data = body
            .get("data")
            .cloned()
            .ok_or_else(|| anyhow!("HTTP {status}: no data"))?;
        // A mutation's userErrors are failures of the journey too.
        if let Some(payload) = data.as_object().and_then(|o| o.values().next())
            && let Some(errors) = payload["userErrors"].as_array()
            && !errors.is_empty()
        {
            bail!("{errors:?}");
        }
        Ok(data)
    }
}

fn money(v: &Value) -> String {
    match (v["amount"].as_str(), v["currencyCode"].as_str()) {
        (Some(a), Some(c)) => format!("{a} {c}"),
        _ => "not sold here".into(),
    }
}

const PRODUCT_CARD: &str = "fragment Card on Product {
  handle title vendor availableForSale
  priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } }
}";

fn card(p: &Value) -> String {
    let range = &p["priceRange"];
    let (lo, hi) = (
        money(&range["minVariantPrice"]),
        money(&range["maxVariantPrice"]),
    );
    let price = if lo == hi {
        lo
    } else {
        format!("{lo} to {hi}")
    };
    let stock = if p["availableForSale"] == json!(true) {
        ""
    } else {
        "  (sold out)"
    };
    format!(
        "{} by {}: {price}{stock}  [{}]",
        p["title"].as_str().unwrap_or("?"),
        p["vendor"].as_str().unwrap_or("?"),
        p["handle"].as_str().unwrap_or("?")
    )
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("storefront: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let mut client = Client {
        http: reqwest::Client::new(),
        url: args.url,
        channel: args.channel,
        token: None,
    };

    let data = client
        .run(
            "{ channel { code name currencyCode } channels { code currencyCode } }",
            json!({}),
        )
        .await?;
    println!(
        "Shopping in {} ({}); channels: {}",
        data["channel"]["name"].as_str().unwrap_or("?"),
        data["channel"]["currencyCode"].as_str().unwrap_or("?"),
        data["channels"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!(
                "{} ({})",
                c["code"].as_str().unwrap_or("?"),
                c["currencyCode"].as_str().unwrap_or("?")
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let channels: Vec<String> = data["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["code"].as_str().map(str::to_owned))
        .collect();

    // A collection, two pages of it with cursors.
    let data = client
        .run(
            "{ collections(first: 20) { edges { node { handle title } } } }",
            json!({}),
        )
        .await?;
    let collection = data["collections"]["edges"][0]["node"].clone();
    let handle = collection["handle"]
        .as_str()
        .ok_or_else(|| anyhow!("the shop has no collection"))?;
    println!(
        "\nCollection \"{}\":",
        collection["title"].as_str().unwrap_or("?")
    );
    let page_query = format!(
        "query Page($handle: String!, $first: Int!, $after: String) {{
           collection(handle: $handle) {{ products(first: $first, after: $after) {{
             totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ ...Card }} }} }} }} }}
         {PRODUCT_CARD}"
    );
    let mut after: Option<String> = None;
    for page in 1..=2 {
        let data = client
            .run(
                &page_query,
                json!({ "handle": handle, "first": args.page_size, "after": after }),
            )
            .await?;
        let products = &data["collection"]["products"];
        println!("  page {page} of {} products:", products["totalCount"]);
        for edge in products["edges"].as_array().into_iter().flatten() {
            println!("    {}", card(&edge["node"]));
        }
        if products["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = products["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }

    // A search, cheapest first, in stock only.
    let search = format!(
        "query Search($q: String!, $first: Int!) {{
           products(query: $q, first: $first, sortKey: PRICE, filter: {{ available: true }}) {{
             totalCount edges {{ node {{ ...Card }} }} }} }}
         {PRODUCT_CARD}"
    );
    let data = client
        .run(&search, json!({ "q": "cotton", "first": args.page_size }))
        .await?;
    println!(
        "\nSearch \"cotton\", in stock, cheapest first ({} found):",
        data["products"]["totalCount"]
    );
    for edge in data["products"]["edges"].as_array().into_iter().flatten() {
        println!("  {}", card(&edge["node"]));
    }

    // One product page, in every channel.
    let first = data["products"]["edges"][0]["node"]["handle"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| "pocket-journal-0".into());
    let product = "query Product($handle: String!, $channel: String) {
      product(handle: $handle, channel: $channel) {
        title description options { name values }
        variants { sku title price { amount currencyCode } compareAtPrice { amount currencyCode }
                   quantityAvailable availableForSale }
      } }";
    for channel in &channels {
        let data = client
            .run(product, json!({ "handle": first, "channel": channel }))
            .await?;
        let p = &data["product"];
        if p.is_null() {
            bail!("product {first} disappeared");
        }
        println!(
            "\n{} in channel {channel}:",
            p["title"].as_str().unwrap_or("?")
        );
        for v in p["variants"].as_array().into_iter().flatten() {
            let was = if v["compareAtPrice"].is_null() {
                String::new()
            } else {
                format!(" (was {})", money(&v["compareAtPrice"]))
            };
            let stock = match (
                v["availableForSale"].as_bool(),
                v["quantityAvailable"].as_i64(),
            ) {
                (Some(true), Some(n)) => format!("{n} available"),
                (Some(true), None) => "available".into(),
                _ => "sold out".into(),
            };
            println!(
                "  {:<16} {:<20} {}{was}, {stock}",
                v["sku"].as_str().unwrap_or("?"),
                v["title"].as_str().unwrap_or("?"),
                money(&v["price"])
            );
        }
    }
    checkout(&mut client, &first).await
}

const CART: &str = "cart {
  id
  lines { quantity merchandise { sku } cost { unitPrice { amount } discount { amount } tax { amount } total { amount } } }
  discountCodes { code applicable reason }
  availableShippingMethods { code name price { amount currencyCode } }
  cost { subtotal { amount currencyCode } discounts { amount } shipping { amount } tax { amount }
         total { amount currencyCode } amountDue { amount } taxIncluded }
}";

/// Signs a new customer up, fills a cart with `handle`, checks out with the
/// test gateway and reads the order back.
async fn checkout(client: &mut Client, handle: &str) -> Result<()> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let email = format!("shopper-{stamp}@example.com");
    let password = "correct horse battery staple 42";
    client
        .run(
            "mutation($e: String!, $p: String!) { customerRegister(input: { email: $e, password: $p }) { userErrors { code message } } }",
            json!({ "e": email, "p": password }),
        )
        .await?;
    let data = client
        .run(
            "mutation($e: String!, $p: String!) { customerLogin(email: $e, password: $p) { tokens { accessToken } userErrors { code message } } }",
            json!({ "e": email, "p": password }),
        )
        .await?;
    client.token = data["customerLogin"]["tokens"]["accessToken"]
        .as_str()
        .map(str::to_owned);
    println!("\nSigned up and in as {email}.");

    let data = client
        .run(
            "query($h: String!) { product(handle: $h) { title variants { id sku availableForSale } } }",
            json!({ "h": handle }),
        )
        .await?;
    let variant = data["product"]["variants"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["availableForSale"] == json!(true))
        .ok_or_else(|| anyhow!("{handle} has nothing for sale"))?;
    let data = client
        .run(
            &format!("mutation($v: ID!) {{ cartCreate(input: {{ lines: [{{ merchandiseId: $v, quantity: 2 }}] }}) {{ {CART} userErrors {{ code message }} }} }}"),
            json!({ "v": variant["id"] }),
        )
        .await?;
    let cart = data["cartCreate"]["cart"]["id"].clone();
    println!("Cart with 2 x {}.", variant["sku"].as_str().unwrap_or("?"));

    // An address in the channel's part of the world.
    let data = client
        .run("{ channel { currencyCode } }", json!({}))
        .await?;
    let address = if data["channel"]["currencyCode"] == json!("EUR") {
        json!({ "firstName": "Erika", "lastName": "Muster", "address1": "Hauptstr. 1", "city": "Berlin", "countryCode": "DE", "zip": "10115" })
    } else {
        json!({ "firstName": "Ann", "lastName": "Shopper", "address1": "1 Main St", "city": "Los Angeles", "provinceCode": "CA", "countryCode": "US", "zip": "90001" })
    };
    let data = client
        .run(
            &format!("mutation($c: ID!, $a: MailingAddressInput!) {{ cartBuyerIdentityUpdate(cartId: $c, buyerIdentity: {{ shippingAddress: $a }}) {{ {CART} userErrors {{ code message }} }} }}"),
            json!({ "c": cart, "a": address }),
        )
        .await?;
    let methods = data["cartBuyerIdentityUpdate"]["cart"]["availableShippingMethods"].clone();
    println!("Shipping to {}:", address["city"].as_str().unwrap_or("?"));
    for m in methods.as_array().into_iter().flatten() {
        println!(
            "  {:<10} {:<24} {}",
            m["code"].as_str().unwrap_or("?"),
            m["name"].as_str().unwrap_or("?"),
            money(&m["price"])
        );
    }
    let method = methods[0]["code"].clone();
    client
        .run(
            "mutation($c: ID!, $m: String!) { cartShippingMethodSelect(cartId: $c, shippingMethodCode: $m) { userErrors { code message } } }",
            json!({ "c": cart, "m": method }),
        )
        .await?;
    let data = client
        .run(
            &format!("mutation($c: ID!) {{ cartDiscountCodesUpdate(cartId: $c, discountCodes: [\"SAVE10\"]) {{ {CART} userErrors {{ code message }} }} }}"),
            json!({ "c": cart }),
        )
        .await?;
    let c = &data["cartDiscountCodesUpdate"]["cart"];
    let cost = &c["cost"];
    println!(
        "Code SAVE10 {}; subtotal {}, discounts {}, shipping {}, tax {}{}, total {}",
        if c["discountCodes"][0]["applicable"] == json!(true) {
            "applies"
        } else {
            "does not apply"
        },
        money(&cost["subtotal"]).split(' ').next().unwrap_or("?"),
        cost["discounts"]["amount"].as_str().unwrap_or("?"),
        cost["shipping"]["amount"].as_str().unwrap_or("?"),
        cost["tax"]["amount"].as_str().unwrap_or("?"),
        if cost["taxIncluded"] == json!(true) {
            " (included)"
        } else {
            ""
        },
        money(&cost["total"])
    );

    let key = format!("storefront-{stamp}");
    let data = client
        .run(
            "mutation($c: ID!, $k: String!) { checkoutComplete(cartId: $c, payment: { gateway: \"test\", token: \"tok_visa\" }, idempotencyKey: $k) {
               order { name status paymentStatus total { amount currencyCode } } userErrors { code message } } }",
            json!({ "c": cart, "k": key }),
        )
        .await?;
    let order = &data["checkoutComplete"]["order"];
    println!(
        "Paid with the test gateway: order {} is {} / {}, {}.",
        order["name"].as_str().unwrap_or("?"),
        order["status"].as_str().unwrap_or("?"),
        order["paymentStatus"].as_str().unwrap_or("?"),
        money(&order["total"])
    );
    let data = client
        .run(
            "{ me { orders(first: 5) { totalCount nodes { name status total { amount currencyCode } lines { sku quantity } } } } }",
            json!({}),
        )
        .await?;
    let orders = &data["me"]["orders"];
    if orders["nodes"][0]["name"] != order["name"] {
        bail!("the new order is not in the customer's account");
    }
    println!(
        "My orders ({}): {} {}",
        orders["totalCount"],
        order["name"].as_str().unwrap_or("?"),
        money(&orders["nodes"][0]["total"])
    );
    Ok(())
}
