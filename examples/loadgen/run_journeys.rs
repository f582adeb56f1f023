//! Multi-request scenarios: every client repeats a journey; each request's
//! latency and each whole journey's are reported.

use super::*;

/// Results of one client running journeys.
struct JourneyStats {
    steps: Histogram<u64>,
    journeys: Histogram<u64>,
    requests: u64,
    errors: u64,
    completed: u64,
    first_error: Option<String>,
}

/// Runs a multi-request scenario: every client repeats the journey; each
/// request's latency and each whole journey's are reported.
pub(super) async fn run_journeys(args: Args, journey: journeys::Journey) -> Result<()> {
    let url = check_url(&args.url)?;
    let duration = seconds("--duration", args.duration, false)?;
    let warmup = seconds("--warmup", args.warmup, true)?;
    let timeout = seconds("--timeout", args.timeout, false)?;
    let headers = parse_headers(&args.headers)?;
    let setup_client = make_client(&headers, timeout)?;
    let catalog = journeys::catalog(&setup_client, &url)
        .await
        .context("reading variants to buy (is the server running?)")?;
    // Preflight: one whole journey must succeed.
    let preflight = journeys::run(journey, &setup_client, &url, &catalog, u64::MAX / 2, 0).await;
    if let Some(e) = preflight.iter().find_map(|s| s.error.clone()) {
        bail!("preflight journey failed, not benchmarking: {e}");
    }
    let scenario = args.scenario.map_or("journey", Scenario::name);
    if !args.json {
        println!(
            "preflight ok: {} requests; warming up {:.1} s, measuring {:.1} s with {} clients",
            preflight.len(),
            warmup.as_secs_f64(),
            duration.as_secs_f64(),
            args.clients
        );
    }
    let start = Instant::now();
    let measure_start = start + warmup;
    let deadline = measure_start + duration;
    let url = Arc::new(url);
    let mut tasks = Vec::new();
    for client_no in 0..u64::from(args.clients) {
        let client = make_client(&headers, timeout)?;
        let url = Arc::clone(&url);
        let catalog = Arc::clone(&catalog);
        tasks.push(tokio::spawn(async move {
            let mut stats = JourneyStats {
                steps: new_histogram()?,
                journeys: new_histogram()?,
                requests: 0,
                errors: 0,
                completed: 0,
                first_error: None,
            };
            let mut n = 1;
            loop {
                let started = Instant::now();
                if started >= deadline {
                    break;
                }
                let steps = journeys::run(journey, &client, &url, &catalog, client_no, n).await;
                n += 1;
                if started < measure_start {
                    continue;
                }
                let mut failed = false;
                for s in &steps {
                    stats.steps.saturating_record(s.micros.max(1));
                    stats.requests += 1;
                    if let Some(e) = &s.error {
                        failed = true;
                        stats.errors += 1;
                        if stats.first_error.is_none() {
                            stats.first_error = Some(e.clone());
                        }
                    }
                }
                if !failed {
                    stats.completed += 1;
                    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    stats.journeys.saturating_record(micros.max(1));
                }
            }
            Ok::<_, anyhow::Error>(stats)
        }));
    }
    let sampler = args.pid.map(|pid| {
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_start).await;
            sample_mem(pid, deadline).await
        })
    });
    let mut steps = new_histogram()?;
    let mut whole = new_histogram()?;
    let (mut requests, mut errors, mut completed) = (0u64, 0u64, 0u64);
    let mut first_error = None;
    for task in tasks {
        let s = task.await.context("a client task panicked")??;
        steps
            .add(&s.steps)
            .map_err(|e| anyhow!("merging histograms: {e}"))?;
        whole
            .add(&s.journeys)
            .map_err(|e| anyhow!("merging histograms: {e}"))?;
        requests += s.requests;
        errors += s.errors;
        completed += s.completed;
        if first_error.is_none() {
            first_error = s.first_error;
        }
    }
    let elapsed = Instant::now()
        .saturating_duration_since(measure_start)
        .max(Duration::from_millis(1))
        .as_secs_f64();
    let mem = match sampler {
        Some(handle) => Some(handle.await.context("the memory sampler panicked")?),
        None => None,
    };
    let q = |h: &Histogram<u64>, q: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1000.0
        }
    };
    let unit = journey.unit();
    if args.json {
        let out = json!({
            "scenario": scenario,
            "url": url.as_str(),
            "clients": args.clients,
            "duration_s": duration.as_secs_f64(),
            "elapsed_s": elapsed,
            "requests": requests,
            "errors": errors,
            "first_error": first_error,
            "rps": round2(requests as f64 / elapsed),
            unit: completed,
            format!("{unit}_per_s"): round2(completed as f64 / elapsed),
            "request_latency_ms": { "p50": round2(q(&steps, 0.5)), "p99": round2(q(&steps, 0.99)) },
            "journey_latency_ms": { "p50": round2(q(&whole, 0.5)), "p99": round2(q(&whole, 0.99)) },
            "peak_rss_mb": mem.as_ref().and_then(|m| m.peak_rss_kb).map(|k| round2(k as f64 / 1024.0)),
        });
        println!("{out}");
    } else {
        println!("scenario:        {scenario}");
        println!("url:             {}", url.as_str());
        println!("clients:         {}", args.clients);
        println!("duration:        {elapsed:.2} s measured");
        println!(
            "requests:        {requests} ({:.2} req/s)",
            requests as f64 / elapsed
        );
        println!(
            "{unit}:{:pad$}{completed} ({:.2} {unit}/s)",
            "",
            completed as f64 / elapsed,
            pad = 16 - unit.len()
        );
        println!(
            "request p50/p99: {:.2} / {:.2} ms",
            q(&steps, 0.5),
            q(&steps, 0.99)
        );
        println!(
            "journey p50/p99: {:.2} / {:.2} ms",
            q(&whole, 0.5),
            q(&whole, 0.99)
        );
        println!("errors:          {errors}");
        if let Some(msg) = &first_error {
            println!("first error:     {msg}");
        }
        if let (Some(mem), Some(pid)) = (&mem, args.pid) {
            println!(
                "server rss:      pid {pid}: peak {:.1} MB",
                mem.peak_rss_kb.unwrap_or(0) as f64 / 1024.0
            );
        }
    }
    Ok(())
}
