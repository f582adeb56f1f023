//! `loadgen`: the project's HTTP load generator / benchmark for the GraphQL endpoint.
//!
//! It runs `--clients` concurrent tasks, each with its own keep-alive HTTP client,
//! that POST the same GraphQL request as fast as possible: first for `--warmup`
//! seconds (results discarded), then for `--duration` seconds (measured). It
//! reports throughput, latency percentiles, errors and, with `--pid`, the
//! server's resident memory sampled from `/proc/PID/status` every 250 ms.
//!
//! Start the server in one terminal (release build), then for example:
//!
//! ```text
//! cargo run --release --example loadgen -- --scenario products50 --clients 32 --duration 10
//! cargo run --release --example loadgen -- --scenario products50 --uncached   # past the cache
//! cargo run --release --example loadgen -- --scenario product-by-handle --handle pocket-journal-0 \
//!     --pid "$(pgrep -n emporium)" --json
//! cargo run --release --example loadgen -- --query '{ __typename }' --clients 8 --duration 5
//! cargo run --release --example loadgen -- --scenario fanout --subscribers 1000 \
//!     --token "$STAFF" --pid "$(pgrep -n emporium)"
//! cargo run --release --example loadgen -- --scenario fulfil --orders 300 --token "$STAFF"
//! cargo run --release --example loadgen -- --query-file q.graphql --variables '{"n": 3}' \
//!     --operation-name Q --header 'Authorization: Bearer dev'
//! ```
//!
//! Before the run one request is sent; if the server is unreachable or the
//! response carries GraphQL errors, the benchmark is aborted so that a typo
//! does not produce meaningless numbers.
//!
//! A request counts as an error on a transport failure (including the
//! per-request `--timeout`), a non-2xx status, a body that is not JSON, or a
//! JSON body with a non-empty `errors` array (a 2xx JSON object without any
//! `"errors"` key is accepted without being parsed in full, so the load
//! generator stays cheaper than the server). Latencies of both successful and
//! failed requests go into the histogram (microseconds).
//!
//! The run always ends by itself: it stops issuing requests at the deadline
//! (or after `--max-requests` measured requests) and every request is bounded
//! by `--timeout`. Only loopback targets (`127.0.0.1`, `localhost`, `[::1]`)
//! are accepted: benchmarks here must only target this machine.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

#[path = "loadgen/fanout.rs"]
mod fanout;
#[path = "loadgen/fulfil.rs"]
mod fulfil;
#[path = "loadgen/journeys.rs"]
mod journeys;
#[path = "loadgen/mem.rs"]
mod mem;
#[path = "loadgen/run_journeys.rs"]
mod run_journeys;

use mem::{read_mem, sample_mem};
use run_journeys::run_journeys;

/// Product fields selected by the named scenarios (the storefront product card).
const PRODUCT_FIELDS: &str = "id handle title vendor \
priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } } \
variants { id sku title price { amount currencyCode } compareAtPrice { amount currencyCode } \
quantityAvailable availableForSale selectedOptions { name value } }";

/// Highest latency the histograms track (60 s, in microseconds); larger values saturate.
const HIST_MAX_US: u64 = 60_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Storefront page: `products(first: 50)` (a connection: `edges { node }`) with full product fields.
    Products50,
    /// Product page: `product(handle: $handle)` with full product fields.
    ProductByHandle,
    /// Cart building: `cartCreate`, then nine `cartLinesAdd` (mutations/s).
    AddToCart,
    /// Checkout: create a cart with a line, set email and address, choose
    /// shipping, `checkoutComplete` with the test gateway (orders/s).
    Checkout,
    /// Subscriptions: `--subscribers` WebSocket subscriptions to
    /// `stockUpdated` of one variant, `--changes` stock changes through the
    /// inventory mutation (`--token`); time from change to each subscriber.
    Fanout,
    /// After payment: `--orders` orders placed, then each fulfilled
    /// (capturing with `on_fulfillment`), then each partly refunded, as
    /// `--token` (fulfilments/s, refunds/s).
    Fulfil,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Products50 => "products50",
            Scenario::ProductByHandle => "product-by-handle",
            Scenario::AddToCart => "add-to-cart",
            Scenario::Checkout => "checkout",
            Scenario::Fanout => "fanout",
            Scenario::Fulfil => "fulfil",
        }
    }

    fn journey(self) -> Option<journeys::Journey> {
        match self {
            Scenario::AddToCart => Some(journeys::Journey::AddToCart),
            Scenario::Checkout => Some(journeys::Journey::Checkout),
            Scenario::Products50
            | Scenario::ProductByHandle
            | Scenario::Fanout
            | Scenario::Fulfil => None,
        }
    }

    fn query(self) -> String {
        match self {
            Scenario::Products50 => {
                format!(
                    "query Products50 {{ products(first: 50) {{ edges {{ node {{ {PRODUCT_FIELDS} }} }} }} }}"
                )
            }
            Scenario::ProductByHandle => format!(
                "query ProductByHandle($handle: String!) {{ product(handle: $handle) {{ {PRODUCT_FIELDS} }} }}"
            ),
            // Journeys send their own requests (see `journeys`).
            Scenario::AddToCart | Scenario::Checkout | Scenario::Fanout | Scenario::Fulfil => {
                "query Journey { __typename }".to_owned()
            }
        }
    }

    fn operation_name(self) -> &'static str {
        match self {
            Scenario::Products50 => "Products50",
            Scenario::ProductByHandle => "ProductByHandle",
            Scenario::AddToCart | Scenario::Checkout | Scenario::Fanout | Scenario::Fulfil => {
                "Journey"
            }
        }
    }
}

/// HTTP load generator for the emporium GraphQL endpoint (loopback targets only).
#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    version,
    about = "HTTP load generator for the emporium GraphQL endpoint (loopback targets only)"
)]
struct Args {
    /// GraphQL endpoint; host must be 127.0.0.1, localhost or [::1].
    #[arg(long, default_value = "http://127.0.0.1:8000/graphql")]
    url: String,

    /// Number of concurrent clients (tasks), each with its own keep-alive connection.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    clients: u32,

    /// Measured duration in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,

    /// Warm-up duration in seconds before measuring (results discarded).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,

    /// Named scenario supplying the query (overridden by --query / --query-file).
    #[arg(long, value_enum)]
    scenario: Option<Scenario>,

    /// Product handle used by the `product-by-handle` scenario.
    #[arg(long, default_value = "pocket-journal-0")]
    handle: String,

    /// GraphQL document to send.
    #[arg(long, conflicts_with = "query_file")]
    query: Option<String>,

    /// File containing the GraphQL document to send.
    #[arg(long)]
    query_file: Option<PathBuf>,

    /// Variables as a JSON object (default `{}`, or the scenario's variables).
    #[arg(long)]
    variables: Option<String>,

    /// GraphQL operationName.
    #[arg(long)]
    operation_name: Option<String>,

    /// Extra request header, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,

    /// Ask for answers from the database, past the response cache
    /// (`Cache-Control: no-cache`): the uncached side of a comparison.
    #[arg(long)]
    uncached: bool,

    /// Server process id: sample /proc/PID/status (VmRSS, VmHWM) during the measured window.
    #[arg(long)]
    pid: Option<u32>,

    /// Stop after this many measured requests (safety bound).
    #[arg(long)]
    max_requests: Option<u64>,

    /// Per-request timeout in seconds (a timed-out request counts as an error).
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,

    /// Print the summary as one JSON object instead of text.
    #[arg(long)]
    json: bool,

    /// `fanout`: subscriptions to open (one WebSocket connection each).
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,

    /// `fanout`: measured stock changes.
    #[arg(long, default_value_t = 20)]
    changes: usize,

    /// `fanout`: a staff or partner token with `inventory:write`;
    /// `fulfil`: one with `orders:fulfill` and `orders:write`.
    #[arg(long)]
    token: Option<String>,

    /// `fulfil`: orders to place, then fulfil, then refund.
    #[arg(long, default_value_t = 300)]
    orders: usize,
}

/// What is sent, resolved from the CLI.
struct Plan {
    label: String,
    body: &'static [u8],
}

/// Result of one request.
enum Outcome {
    Ok { bytes: usize },
    Err(String),
}

/// Per-task results.
struct TaskStats {
    hist: Histogram<u64>,
    requests: u64,
    errors: u64,
    bytes: u64,
    first_error: Option<String>,
}

#[derive(Deserialize)]
struct GraphqlResponse {
    #[serde(default)]
    errors: Option<Vec<GraphqlError>>,
}

#[derive(Deserialize)]
struct GraphqlError {
    #[serde(default)]
    message: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
        .and_then(|runtime| runtime.block_on(run(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    if args.scenario == Some(Scenario::Fulfil) {
        return fulfil::run(args).await;
    }
    if args.scenario == Some(Scenario::Fanout) {
        let Some(token) = args.token.clone() else {
            bail!("--scenario fanout needs --token (staff or partner with inventory:write)");
        };
        return fanout::run(
            fanout::Settings {
                url: check_url(&args.url)?,
                subscribers: args.subscribers,
                changes: args.changes,
                handle: args.handle.clone(),
                token,
                pid: args.pid,
                timeout: seconds("--timeout", args.timeout, false)?,
                json: args.json,
            },
            |pid| read_mem(pid).ok().and_then(|m| m.rss_kb),
        )
        .await;
    }
    if let Some(journey) = args.scenario.and_then(Scenario::journey)
        && args.query.is_none()
        && args.query_file.is_none()
    {
        return run_journeys(args, journey).await;
    }
    let url = check_url(&args.url)?;
    let duration = seconds("--duration", args.duration, false)?;
    let warmup = seconds("--warmup", args.warmup, true)?;
    let timeout = seconds("--timeout", args.timeout, false)?;
    let mut headers = parse_headers(&args.headers)?;
    if args.uncached {
        headers.insert(
            reqwest::header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        );
    }
    let plan = build_plan(&args)?;
    if args.max_requests == Some(0) {
        bail!("--max-requests must be at least 1");
    }
    if let Some(pid) = args.pid {
        read_mem(pid).with_context(|| {
            format!("--pid {pid}: cannot read /proc/{pid}/status (is the server running?)")
        })?;
    }

    // Preflight: one request, abort on transport failure or GraphQL errors.
    let client = make_client(&headers, timeout)?;
    let preflight_start = Instant::now();
    let response_bytes = match send(&client, &url, plan.body).await {
        Outcome::Ok { bytes } => bytes,
        Outcome::Err(msg) => bail!(
            "preflight request to {url} failed, not benchmarking: {msg}\n\
             (is the server running, and is the query valid?)"
        ),
    };
    let preflight_ms = preflight_start.elapsed().as_secs_f64() * 1000.0;
    if !args.json {
        println!(
            "preflight ok: {response_bytes} response bytes in {preflight_ms:.2} ms; \
             warming up {:.1} s, measuring {:.1} s with {} clients",
            warmup.as_secs_f64(),
            duration.as_secs_f64(),
            args.clients
        );
    }
    drop(client);

    let clients = (0..args.clients)
        .map(|_| make_client(&headers, timeout))
        .collect::<Result<Vec<_>>>()?;

    let start = Instant::now();
    let measure_start = start + warmup;
    let deadline = measure_start + duration;
    let issued = Arc::new(AtomicU64::new(0));
    let url = Arc::new(url);

    let mut tasks = Vec::with_capacity(clients.len());
    for client in clients {
        let url = Arc::clone(&url);
        let issued = Arc::clone(&issued);
        let body = plan.body;
        let max_requests = args.max_requests;
        tasks.push(tokio::spawn(async move {
            worker(
                client,
                url,
                body,
                measure_start,
                deadline,
                issued,
                max_requests,
            )
            .await
        }));
    }

    let sampler = args.pid.map(|pid| {
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_start).await;
            sample_mem(pid, deadline).await
        })
    });

    let mut hist = new_histogram()?;
    let mut requests = 0u64;
    let mut errors = 0u64;
    let mut bytes = 0u64;
    let mut first_error: Option<String> = None;
    for task in tasks {
        let stats = task.await.context("a client task panicked")??;
        hist.add(&stats.hist)
            .map_err(|e| anyhow!("merging histograms: {e}"))?;
        requests += stats.requests;
        errors += stats.errors;
        bytes += stats.bytes;
        if first_error.is_none() {
            first_error = stats.first_error;
        }
    }
    let finished = Instant::now();
    let elapsed = finished
        .saturating_duration_since(measure_start)
        .max(Duration::from_millis(1));

    let mem = match sampler {
        Some(handle) => Some(handle.await.context("the memory sampler panicked")?),
        None => None,
    };

    let ok = requests - errors;
    let rps = requests as f64 / elapsed.as_secs_f64();
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let (p50, p90, p99) = if hist.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (ms(0.50), ms(0.90), ms(0.99))
    };
    let max_ms = if hist.is_empty() {
        0.0
    } else {
        hist.max() as f64 / 1000.0
    };
    let mean_ms = if hist.is_empty() {
        0.0
    } else {
        hist.mean() / 1000.0
    };
    let avg_bytes = bytes.checked_div(ok).unwrap_or(0);
    let mb = |kb: Option<u64>| kb.map(|k| k as f64 / 1024.0);

    if args.json {
        let mut out = json!({
            "scenario": plan.label,
            "url": url.as_str(),
            "clients": args.clients,
            "warmup_s": warmup.as_secs_f64(),
            "duration_s": duration.as_secs_f64(),
            "elapsed_s": elapsed.as_secs_f64(),
            "requests": requests,
            "ok": ok,
            "errors": errors,
            "first_error": first_error,
            "rps": round2(rps),
            "latency_ms": {
                "p50": round2(p50),
                "p90": round2(p90),
                "p99": round2(p99),
                "max": round2(max_ms),
                "mean": round2(mean_ms),
            },
            "response_bytes": response_bytes,
            "avg_response_bytes": avg_bytes,
            "max_requests": args.max_requests,
        });
        if let (Some(mem), Some(pid), Some(obj)) = (&mem, args.pid, out.as_object_mut()) {
            obj.insert(
                "memory".to_owned(),
                json!({
                    "pid": pid,
                    "samples": mem.samples,
                    "start_rss_mb": mb(mem.start.rss_kb).map(round2),
                    "peak_rss_mb": mb(mem.peak_rss_kb).map(round2),
                    "final_rss_mb": mb(mem.last.rss_kb).map(round2),
                    "vm_hwm_mb": mb(mem.last.hwm_kb.or(mem.start.hwm_kb)).map(round2),
                }),
            );
        }
        println!("{out}");
    } else {
        println!("scenario:        {}", plan.label);
        println!("url:             {}", url.as_str());
        println!("clients:         {}", args.clients);
        println!(
            "duration:        {:.2} s measured ({:.1} s requested, {:.1} s warm-up discarded)",
            elapsed.as_secs_f64(),
            duration.as_secs_f64(),
            warmup.as_secs_f64()
        );
        println!("requests:        {requests}");
        println!("req/s:           {rps:.2}");
        println!("latency p50:     {p50:.2} ms");
        println!("latency p90:     {p90:.2} ms");
        println!("latency p99:     {p99:.2} ms");
        println!("latency max:     {max_ms:.2} ms");
        println!("errors:          {errors}");
        if let Some(msg) = &first_error {
            println!("first error:     {msg}");
        }
        println!("response bytes:  {response_bytes} (preflight), {avg_bytes} avg");
        if let Some(max) = args.max_requests {
            println!("max requests:    {max}");
        }
        if let (Some(mem), Some(pid)) = (&mem, args.pid) {
            let show =
                |kb: Option<u64>| mb(kb).map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1} MB"));
            println!(
                "server rss:      pid {pid}: start {}, peak {}, final {}, VmHWM {} ({} samples)",
                show(mem.start.rss_kb),
                show(mem.peak_rss_kb),
                show(mem.last.rss_kb),
                show(mem.last.hwm_kb.or(mem.start.hwm_kb)),
                mem.samples
            );
        }
    }
    Ok(())
}

async fn worker(
    client: reqwest::Client,
    url: Arc<Url>,
    body: &'static [u8],
    measure_start: Instant,
    deadline: Instant,
    issued: Arc<AtomicU64>,
    max_requests: Option<u64>,
) -> Result<TaskStats> {
    let mut stats = TaskStats {
        hist: new_histogram()?,
        requests: 0,
        errors: 0,
        bytes: 0,
        first_error: None,
    };
    loop {
        let started = Instant::now();
        if started >= deadline {
            break;
        }
        let measured = started >= measure_start;
        if measured && let Some(max) = max_requests {
            // Take a ticket; stop once the bound is reached.
            if issued.fetch_add(1, Ordering::Relaxed) >= max {
                break;
            }
        }
        let outcome = send(&client, &url, body).await;
        if !measured {
            continue;
        }
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        stats.hist.saturating_record(micros.max(1));
        stats.requests += 1;
        match outcome {
            Outcome::Ok { bytes } => stats.bytes += bytes as u64,
            Outcome::Err(msg) => {
                stats.errors += 1;
                if stats.first_error.is_none() {
                    stats.first_error = Some(msg);
                }
            }
        }
    }
    Ok(stats)
}

/// Sends one request and classifies the result, reading the whole body.
async fn send(client: &reqwest::Client, url: &Url, body: &'static [u8]) -> Outcome {
    let response = match client.post(url.clone()).body(body).send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Err(format!("transport: {}", error_chain(&e))),
    };
    let status = response.status();
    let payload = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return Outcome::Err(format!("HTTP {status}: reading body: {}", error_chain(&e)));
        }
    };
    // A successful JSON object with no `"errors"` key anywhere cannot carry
    // GraphQL errors: skip tokenizing it (at tens of thousands of 50 KB
    // responses a second, parsing every body would make the load generator
    // the bottleneck). Anything else is parsed and checked in full.
    if status.is_success()
        && payload.first() == Some(&b'{')
        && payload.last() == Some(&b'}')
        && memchr::memmem::find(&payload, b"\"errors\"").is_none()
    {
        return Outcome::Ok {
            bytes: payload.len(),
        };
    }
    let parsed = serde_json::from_slice::<GraphqlResponse>(&payload);
    let graphql_error = match &parsed {
        Ok(GraphqlResponse {
            errors: Some(errs), ..
        }) if !errs.is_empty() => Some(format!(
            "GraphQL errors ({}): {}",
            errs.len(),
            errs.first()
                .and_then(|e| e.message.as_deref())
                .unwrap_or("(no message)")
        )),
        _ => None,
    };
    if !status.is_success() {
        let detail = graphql_error.unwrap_or_else(|| snippet(&payload));
        return Outcome::Err(format!("HTTP {status}: {detail}"));
    }
    if let Some(msg) = graphql_error {
        return Outcome::Err(msg);
    }
    if let Err(e) = parsed {
        return Outcome::Err(format!(
            "HTTP {status}: body is not a GraphQL JSON response ({e}): {}",
            snippet(&payload)
        ));
    }
    Outcome::Ok {
        bytes: payload.len(),
    }
}

fn build_plan(args: &Args) -> Result<Plan> {
    let (label, query, default_vars, default_op) = if let Some(q) = &args.query {
        ("custom query".to_owned(), q.clone(), json!({}), None)
    } else if let Some(path) = &args.query_file {
        let q = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --query-file {}", path.display()))?;
        (format!("query file {}", path.display()), q, json!({}), None)
    } else if let Some(s) = args.scenario {
        let vars = match s {
            Scenario::Products50 => json!({}),
            Scenario::ProductByHandle => json!({ "handle": args.handle }),
            Scenario::AddToCart | Scenario::Checkout | Scenario::Fanout | Scenario::Fulfil => {
                json!({})
            }
        };
        (
            s.name().to_owned(),
            s.query(),
            vars,
            Some(s.operation_name().to_owned()),
        )
    } else {
        bail!("nothing to send: give --scenario, --query or --query-file (see --help)");
    };
    if query.trim().is_empty() {
        bail!("the GraphQL document is empty");
    }
    let variables: Value = match &args.variables {
        Some(text) => serde_json::from_str(text).context("--variables is not valid JSON")?,
        None => default_vars,
    };
    if !variables.is_object() {
        bail!("--variables must be a JSON object");
    }
    let operation_name = args.operation_name.clone().or(default_op);
    let body = serde_json::to_vec(&json!({
        "query": query,
        "variables": variables,
        "operationName": operation_name,
    }))
    .context("serializing the request body")?;
    // The body is shared by every request for the whole run.
    let body: &'static [u8] = Box::leak(body.into_boxed_slice());
    let label = match (
        &args.scenario,
        args.query.is_some() || args.query_file.is_some(),
    ) {
        (Some(s), true) => format!("{label} (overriding scenario {})", s.name()),
        _ => label,
    };
    let label = if args.uncached {
        format!("{label}, uncached")
    } else {
        label
    };
    Ok(Plan { label, body })
}

fn check_url(raw: &str) -> Result<Url> {
    let url = Url::parse(raw).with_context(|| format!("--url {raw:?} is not a valid URL"))?;
    if url.scheme() != "http" {
        bail!("--url {raw:?}: only plain http:// is supported");
    }
    match url.host_str() {
        Some("127.0.0.1" | "localhost" | "[::1]") => Ok(url),
        Some(host) => bail!(
            "refusing to target host {host:?}: benchmarks must only target this machine \
             (127.0.0.1, localhost or [::1])"
        ),
        None => bail!("--url {raw:?} has no host"),
    }
}

fn parse_headers(raw: &[String]) -> Result<HeaderMap> {
    let mut map = HeaderMap::new();
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    map.insert(
        ACCEPT,
        HeaderValue::from_static("application/graphql-response+json, application/json"),
    );
    for h in raw {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| anyhow!("--header {h:?}: expected 'Name: value'"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .with_context(|| format!("--header {h:?}: invalid header name"))?;
        let value = HeaderValue::from_str(value.trim())
            .with_context(|| format!("--header {h:?}: invalid header value"))?;
        map.append(name, value);
    }
    Ok(map)
}

fn make_client(headers: &HeaderMap, timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .default_headers(headers.clone())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .no_proxy()
        .build()
        .context("cannot build the HTTP client")
}

fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::<u64>::new_with_bounds(1, HIST_MAX_US, 3)
        .map_err(|e| anyhow!("cannot create histogram: {e}"))
}

fn seconds(flag: &str, value: f64, zero_ok: bool) -> Result<Duration> {
    if !value.is_finite() || value < 0.0 || (!zero_ok && value == 0.0) || value > 86_400.0 {
        bail!("{flag} {value}: expected a number of seconds in (0, 86400]");
    }
    Ok(Duration::from_secs_f64(value))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn snippet(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut s: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        s.push('…');
    }
    s
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
