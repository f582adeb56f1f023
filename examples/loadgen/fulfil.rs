//! `fulfil`: what follows payment, under load. Three phases, each timed
//! on its own:
//!
//! 1. `--orders` orders are placed through checkout (the `checkout`
//!    journey, one unit each, the `test` gateway), by `--clients` clients.
//!    Not part of the figures.
//! 2. The clients take the orders from a shared pool and ship each whole
//!    with one `fulfillmentCreate` (tracking number, no mail). With the
//!    server's capture mode `on_fulfillment` each fulfilment also captures
//!    what it ships: fulfilments/s.
//! 3. The same orders, each refunded `1.00` to the card with `refundCreate`
//!    (a fresh idempotency key each): refunds/s.
//!
//! `--token` is a staff or partner token with `orders:fulfill` and
//! `orders:write`. A request counts as an error on a transport failure,
//! a non-2xx status, GraphQL errors or `userErrors`.

use std::sync::Mutex;

use super::*;

/// An operation done once per order, from a shared pool.
#[derive(Clone, Copy)]
enum Step {
    Fulfil,
    Refund,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Self::Fulfil => "fulfilments",
            Self::Refund => "refunds",
        }
    }

    fn body(self, order: &str, n: usize) -> Value {
        match self {
            Self::Fulfil => json!({
                "query": "mutation($i: FulfillmentCreateInput!) { fulfillmentCreate(input: $i) { fulfillment { id status } userErrors { code message } } }",
                "variables": { "i": {
                    "orderId": order,
                    "tracking": { "carrier": "UPS", "number": format!("1ZLOAD{n:08}") },
                    "notifyCustomer": false,
                } },
            }),
            Self::Refund => json!({
                "query": "mutation($i: RefundCreateInput!, $k: String!) { refundCreate(input: $i, idempotencyKey: $k) { refund { id status } userErrors { code message } } }",
                "variables": {
                    "i": { "orderId": order, "amount": "1.00", "to": "ORIGINAL", "notifyCustomer": false },
                    "k": format!("loadgen-refund-{order}-{}", std::process::id()),
                },
            }),
        }
    }
}

/// One phase's figures.
struct Phase {
    done: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed_s: f64,
    hist: Histogram<u64>,
}

impl Phase {
    fn json(&self, name: &str) -> Value {
        json!({
            name: self.done,
            format!("{name}_per_s"): round2(self.done as f64 / self.elapsed_s),
            "elapsed_s": round2(self.elapsed_s),
            "errors": self.errors,
            "first_error": self.first_error,
            "latency_ms": { "p50": round2(ms(&self.hist, 0.5)), "p99": round2(ms(&self.hist, 0.99)) },
        })
    }

    fn print(&self, name: &str) {
        println!(
            "{name}:{:pad$}{} in {:.2} s ({:.2} {name}/s), p50/p99 {:.2} / {:.2} ms, {} errors",
            "",
            self.done,
            self.elapsed_s,
            self.done as f64 / self.elapsed_s,
            ms(&self.hist, 0.5),
            ms(&self.hist, 0.99),
            self.errors,
            pad = 13 - name.len(),
        );
        if let Some(e) = &self.first_error {
            println!("  first error: {e}");
        }
    }
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Runs the scenario (see the module docs).
pub(super) async fn run(args: Args) -> Result<()> {
    let Some(token) = args.token.clone() else {
        bail!(
            "--scenario fulfil needs --token (staff or partner with orders:fulfill and orders:write)"
        );
    };
    if args.orders == 0 {
        bail!("--orders must be at least 1");
    }
    let url = Arc::new(check_url(&args.url)?);
    let timeout = seconds("--timeout", args.timeout, false)?;
    let headers = parse_headers(&args.headers)?;
    let mut staff_headers = headers.clone();
    staff_headers.insert(
        reqwest::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}"))
            .context("--token is not a header value")?,
    );
    let setup = make_client(&headers, timeout)?;
    let catalog = journeys::catalog(&setup, &url)
        .await
        .context("reading variants to buy (is the server running?)")?;

    // 1. Orders to work on.
    let placed = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let total = args.orders as u64;
    let mut tasks = Vec::new();
    for client_no in 0..u64::from(args.clients) {
        let client = make_client(&headers, timeout)?;
        let (url, catalog, next) = (Arc::clone(&url), Arc::clone(&catalog), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return Ok::<_, anyhow::Error>(ids);
                }
                ids.push(journeys::place_order(&client, &url, &catalog, client_no, n).await?);
            }
        }));
    }
    let mut orders = Vec::new();
    for t in tasks {
        orders.extend(t.await.context("a client task panicked")??);
    }
    if !args.json {
        println!(
            "placed {} orders in {:.2} s; now fulfilling, then refunding, with {} clients",
            orders.len(),
            placed.elapsed().as_secs_f64(),
            args.clients
        );
    }

    // 2. and 3.
    let fulfil = phase(&args, &staff_headers, timeout, &url, &orders, Step::Fulfil).await?;
    let refund = phase(&args, &staff_headers, timeout, &url, &orders, Step::Refund).await?;
    if args.json {
        println!(
            "{}",
            json!({
                "scenario": "fulfil",
                "url": url.as_str(),
                "clients": args.clients,
                "orders": orders.len(),
                "fulfil": fulfil.json(Step::Fulfil.name()),
                "refund": refund.json(Step::Refund.name()),
            })
        );
    } else {
        println!("scenario:      fulfil");
        println!("url:           {}", url.as_str());
        println!("clients:       {}", args.clients);
        fulfil.print(Step::Fulfil.name());
        refund.print(Step::Refund.name());
    }
    Ok(())
}

/// Does `step` once per order, the clients taking orders from one pool;
/// timed from the first request to the last answer.
async fn phase(
    args: &Args,
    headers: &HeaderMap,
    timeout: Duration,
    url: &Arc<Url>,
    orders: &[String],
    step: Step,
) -> Result<Phase> {
    let pool = Arc::new(Mutex::new(orders.to_vec()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let client = make_client(headers, timeout)?;
        let (url, pool) = (Arc::clone(url), Arc::clone(&pool));
        tasks.push(tokio::spawn(async move {
            let mut hist = new_histogram()?;
            let (mut done, mut errors, mut first_error) = (0_u64, 0_u64, None);
            loop {
                let taken = {
                    let mut left = pool.lock().map_err(|_| anyhow!("pool poisoned"))?;
                    left.pop().map(|o| (o, left.len()))
                };
                let Some((order, n)) = taken else {
                    return Ok::<_, anyhow::Error>((hist, done, errors, first_error));
                };
                let t = Instant::now();
                let result = journeys::call(&client, &url, &step.body(&order, n)).await;
                let micros = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                hist.saturating_record(micros.max(1));
                match result {
                    Ok(_) => done += 1,
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
        }));
    }
    let mut out = Phase {
        done: 0,
        errors: 0,
        first_error: None,
        elapsed_s: 0.0,
        hist: new_histogram()?,
    };
    for t in tasks {
        let (hist, done, errors, first_error) = t.await.context("a client task panicked")??;
        out.hist
            .add(&hist)
            .map_err(|e| anyhow!("merging histograms: {e}"))?;
        out.done += done;
        out.errors += errors;
        if out.first_error.is_none() {
            out.first_error = first_error;
        }
    }
    out.elapsed_s = started.elapsed().as_secs_f64().max(0.001);
    Ok(out)
}
