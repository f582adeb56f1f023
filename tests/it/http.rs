//! GraphQL over HTTP: media types, status codes, CSRF rules, limits, and a
//! stable error code for every kind of bad input.

use serde_json::{Value, json};

use crate::harness::{Options, TestApp, first_code, header};

const GQL: &str = "application/graphql-response+json";

async fn small_app() -> TestApp {
    TestApp::spawn_with(Options {
        products: Some(10),
        ..Default::default()
    })
    .await
}

async fn raw_post(
    app: &TestApp,
    content_type: &str,
    accept: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, String, Value) {
    let mut req = app
        .client
        .post(app.graphql_url())
        .header("content-type", content_type)
        .body(body);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = res.text().await.unwrap_or_default();
    (
        status,
        ct,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn get(
    app: &TestApp,
    query: &[(&str, &str)],
    accept: Option<&str>,
) -> (u16, String, String, reqwest::header::HeaderMap) {
    let mut req = app.client.get(app.graphql_url()).query(query);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ct, res.text().await.unwrap_or_default(), headers)
}

#[tokio::test]
async fn responses_use_the_media_type_the_client_accepts() {
    let app = small_app().await;
    let body = json!({ "query": "{ __typename }" }).to_string();
    let (s, ct, v) = raw_post(&app, "application/json", Some(GQL), body.clone()).await;
    assert_eq!((s, ct.starts_with(GQL)), (200, true));
    assert_eq!(v["data"]["__typename"], json!("Query"));
    let (s, ct, _) = raw_post(
        &app,
        "application/json",
        Some("application/json"),
        body.clone(),
    )
    .await;
    assert_eq!((s, ct.starts_with("application/json")), (200, true));
    // Any media type: the GraphQL one (a missing Accept means application/json; see the unit test).
    let (s, ct, _) = raw_post(&app, "application/json", Some("*/*"), body.clone()).await;
    assert_eq!((s, ct.starts_with(GQL)), (200, true));
    let (s, _, v) = raw_post(&app, "application/json", Some("text/csv"), body).await;
    assert_eq!((s, first_code(&v).as_str()), (406, "NOT_ACCEPTABLE"));
}

#[tokio::test]
async fn parse_and_validation_failures_are_4xx_for_the_graphql_media_type() {
    let app = small_app().await;
    for (query, code) in [
        ("{ products(first: 1) { edges ", "GRAPHQL_PARSE_FAILED"),
        (
            "{ products(first: 1) { nope } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ product(handle: 42) { id } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ] {
        let body = json!({ "query": query }).to_string();
        let (s, _, v) = raw_post(&app, "application/json", Some(GQL), body.clone()).await;
        assert_eq!(s, 400, "{query}");
        assert_eq!(first_code(&v), code);
        assert!(
            v.get("data").is_none(),
            "a request error carries no data: {v}"
        );
        // With application/json the specification asks for 200.
        let (s, _, v) = raw_post(&app, "application/json", Some("application/json"), body).await;
        assert_eq!((s, first_code(&v)), (200, code.to_owned()));
    }
}

#[tokio::test]
async fn malformed_requests_are_400_with_a_code() {
    let app = small_app().await;
    for body in [
        "{not json",
        "[]",
        r#"{"variables": {}}"#,
        r#"{"query": 42}"#,
        r#"{"query": "{ __typename }", "variables": [1]}"#,
        r#""just a string""#,
    ] {
        let (s, _, v) = raw_post(&app, "application/json", Some(GQL), body.to_owned()).await;
        assert_eq!(
            (s, first_code(&v)),
            (400, "BAD_REQUEST".to_owned()),
            "{body}"
        );
    }
}

#[tokio::test]
async fn bad_variables_and_arguments_get_stable_codes() {
    let app = small_app().await;
    let q = "query($n: Int!) { products(first: $n) { edges { node { id } } } }";
    for (vars, code) in [
        (json!({ "n": "ten" }), "BAD_USER_INPUT"),
        (json!({ "n": -1 }), "BAD_USER_INPUT"),
        (json!({ "n": 100_000 }), "BAD_USER_INPUT"),
        (json!({}), "BAD_USER_INPUT"),
    ] {
        let (s, body) = app.post(q, vars.clone()).await;
        let got = first_code(&body);
        assert!(s == 200 || s == 400, "{vars}: {s}");
        assert!(
            got == code || got == "GRAPHQL_VALIDATION_FAILED",
            "{vars}: {got}"
        );
    }
    let code = app
        .error_code(
            "{ products(first: 5, after: \"garbage\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let code = app
        .error_code(
            "{ products(first: 5, filter: { price: { min: 10 } }) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        code, "GRAPHQL_VALIDATION_FAILED",
        "a Decimal must be a string, never a float"
    );
    let code = app
        .error_code(
            "{ products(first: 5, filter: { price: { min: \"-1\" } }) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

#[tokio::test]
async fn deep_complex_and_aliased_queries_are_too_complex() {
    let app = small_app().await;
    let deep = format!(
        "{{ products(first: 1) {{ edges {{ node {{ {} id {} }} }} }} }}",
        "variants { product { ".repeat(8),
        "} } ".repeat(8)
    );
    let complex = "{ a: products(first: 250) { edges { node { variants { product { variants { product { variants { id sku title } } } } } } } } }";
    let aliases: String = (0..40).map(|i| format!("a{i}: __typename ")).collect();
    for q in [deep, complex.to_owned(), format!("{{ {aliases} }}")] {
        let (status, body) = app.post(&q, json!({})).await;
        assert_eq!(
            (status, first_code(&body)),
            (400, "TOO_COMPLEX".to_owned()),
            "{q}"
        );
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_or_without_content_length() {
    let app = small_app().await;
    let padding = " ".repeat(1100 * 1024);
    let body = format!(r#"{{"query": "{{ __typename }}"{padding}}}"#);
    let (s, _, v) = raw_post(&app, "application/json", Some(GQL), body.clone()).await;
    assert_eq!((s, first_code(&v)), (413, "PAYLOAD_TOO_LARGE".to_owned()));
    // Chunked (no Content-Length): the limit still holds while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body
        .into_bytes()
        .chunks(8192)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let (s, _, v) = raw_post(&app, "application/json", Some(GQL), stream).await;
    assert_eq!((s, first_code(&v)), (413, "PAYLOAD_TOO_LARGE".to_owned()));
}

#[tokio::test]
async fn batches_run_each_operation_and_are_bounded() {
    let app = small_app().await;
    let op = json!({ "query": "{ __typename }" });
    let body = Value::Array(vec![op.clone(); 3]).to_string();
    let (s, _, v) = raw_post(&app, "application/json", Some(GQL), body).await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().map(Vec::len), Some(3));
    // Each operation is answered on its own, a failed one included.
    let mixed = json!([{ "query": "{ __typename }" }, { "query": "{ nope" }, { "query": "{ products(first: -1) { totalCount } }" }]);
    let (s, _, v) = raw_post(&app, "application/json", Some(GQL), mixed.to_string()).await;
    assert_eq!(s, 200);
    assert_eq!(v[0]["data"]["__typename"], json!("Query"));
    assert_eq!(first_code(&v[1]), "GRAPHQL_PARSE_FAILED");
    assert_eq!(first_code(&v[2]), "BAD_USER_INPUT");
    let body = Value::Array(vec![op; 11]).to_string();
    let (s, _, v) = raw_post(&app, "application/json", Some(GQL), body).await;
    assert_eq!((s, first_code(&v)), (400, "BAD_REQUEST".to_owned()));
}

#[tokio::test]
async fn csrf_forms_and_plain_text_never_execute() {
    let app = small_app().await;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let (s, _, v) = raw_post(
            &app,
            ct,
            Some(GQL),
            r#"{"query":"{ __typename }"}"#.to_owned(),
        )
        .await;
        assert_eq!(
            (s, first_code(&v)),
            (415, "UNSUPPORTED_MEDIA_TYPE".to_owned()),
            "{ct}"
        );
    }
    let (s, _, _) = raw_post(
        &app,
        "application/json; charset=utf-8",
        Some(GQL),
        r#"{"query":"{ __typename }"}"#.to_owned(),
    )
    .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_subscription_over_http_is_pointed_at_the_websocket() {
    let app = small_app().await;
    let sub = "subscription { ordersUpdated { id } }";
    let (s, _, body) = raw_post(
        &app,
        "application/json",
        Some(GQL),
        json!({ "query": sub }).to_string(),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("/graphql/ws"), "{body}");
    let (s, _, text, _) = get(&app, &[("query", sub)], Some(GQL)).await;
    assert_eq!(s, 400, "{text}");
    assert!(text.contains("/graphql/ws"), "{text}");
    // A document whose selected operation is a query still runs.
    let (s, _, body) = raw_post(
        &app,
        "application/json",
        Some(GQL),
        json!({ "query": "subscription S { ordersUpdated { id } } query Q { __typename }", "operationName": "Q" })
            .to_string(),
    )
    .await;
    assert_eq!(
        (s, &body["data"]["__typename"]),
        (200, &json!("Query")),
        "{body}"
    );
}

#[tokio::test]
async fn get_runs_queries_but_never_mutations() {
    let app = small_app().await;
    let (s, ct, body, _) = get(
        &app,
        &[("query", "{ products(first: 2) { totalCount } }")],
        Some(GQL),
    )
    .await;
    assert_eq!((s, ct.starts_with(GQL)), (200, true), "{body}");
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    assert!(v["data"]["products"]["totalCount"].as_i64().is_some());
    let (s, _, body, headers) = get(&app, &[("query", "mutation { __typename }")], Some(GQL)).await;
    assert_eq!(s, 405, "{body}");
    assert_eq!(
        headers.get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    let (s, _, body, _) = get(
        &app,
        &[
            ("query", "query A { __typename } mutation B { __typename }"),
            ("operationName", "B"),
        ],
        Some(GQL),
    )
    .await;
    assert_eq!(s, 405, "{body}");
    let (s, _, body, _) = get(
        &app,
        &[("query", "{ __typename }"), ("variables", "[not json")],
        Some(GQL),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    let (s, _, body, _) = get(&app, &[], Some(GQL)).await;
    assert_eq!(s, 400, "{body}");
}

#[tokio::test]
async fn browsers_get_graphiql_served_from_the_binary() {
    let app = small_app().await;
    let (s, ct, body, _) = get(&app, &[], Some("text/html,application/xhtml+xml")).await;
    assert_eq!(s, 200);
    assert!(ct.starts_with("text/html"));
    assert!(body.contains("/graphiql/graphiql.min.js"));
    assert!(
        !body.contains("https://"),
        "no asset comes from the internet"
    );
    let res = app
        .client
        .get(format!("{}/graphiql/graphiql.min.js", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.bytes().await.map(|b| b.len()).unwrap_or(0) > 100_000);
}

#[tokio::test]
async fn health_readiness_and_request_ids() {
    let app = small_app().await;
    let res = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    let id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(!id.is_empty(), "every response carries a request id");
    let res = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    let v: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(v["database"], json!("ok"));
    if crate::harness::redis_url().is_some() {
        assert_eq!(v["redis"], json!("ok"));
    }
    let res = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(header(&res, "x-request-id").as_deref(), Some("abc-123"));
}

#[tokio::test]
async fn readiness_reports_an_unreachable_redis_but_the_node_still_serves() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        configure: Some(|c| c.redis_url = Some("redis://127.0.0.1:1".into())),
        ..Default::default()
    })
    .await;
    let res = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Without Redis a node serves from the database: taking every node out
    // of the load balancer for it would turn a slowdown into an outage.
    assert_eq!(res.status().as_u16(), 200);
    let v: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(v["status"], json!("degraded"));
    assert_eq!(v["database"], json!("ok"));
    assert_ne!(v["redis"], json!("ok"));
    let (status, body) = app.post("{ channels { code } }", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_then_refuses_new_ones() {
    let mut app = small_app().await;
    let before = app.statement_count();
    let url = app.graphql_url();
    let client = app.client.clone();
    let in_flight = tokio::spawn(async move {
        client
            .post(url)
            .header("content-type", "application/json")
            .body(
                json!({ "query": "{ products(first: 250) { edges { node { variants { sku price { amount } quantityAvailable } } } } }" })
                    .to_string(),
            )
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    // Signal only once the server is working on the request (it has run SQL
    // for it): a fixed sleep loses the race on a busy machine.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.statement_count() == before && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert!(
        app.statement_count() > before,
        "the request never reached the server"
    );
    app.stop_server().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(in_flight.await.ok().and_then(Result::ok), Some(200));
    let after = reqwest::Client::new()
        .get(format!("{}/healthz", app.base))
        .send()
        .await;
    assert!(
        after.is_err(),
        "the server still accepts connections after shutdown"
    );
}

/// The sum of the samples of `name` carrying every one of `labels` in a
/// Prometheus text exposition (0 when there is none yet).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, set) = series
                .split_once('{')
                .map_or((series, ""), |(m, rest)| (m, rest.trim_end_matches('}')));
            let has = |(k, v): &(&str, &str)| set.split(',').any(|p| p == format!("{k}=\"{v}\""));
            (metric == name && labels.iter().all(has)).then(|| {
                value
                    .parse::<f64>()
                    .unwrap_or_else(|e| panic!("{line}: not a number: {e}"))
            })
        })
        .sum()
}

/// The app's `/metrics` in the Prometheus text format.
async fn scrape(app: &TestApp) -> String {
    let res = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        header(&res, "content-type").is_some_and(|c| c.starts_with("text/plain")),
        "Prometheus text format"
    );
    res.text().await.unwrap_or_else(|e| panic!("/metrics: {e}"))
}

#[tokio::test]
async fn metrics_report_operations_errors_cache_and_the_outbox() {
    // The recorder is the process's: other tests move the same counters,
    // so each is read before and after, and must have grown by at least
    // what this test did.
    const N: u32 = 5;
    let app = small_app().await;
    let before = scrape(&app).await;
    let grew = |after: &str, name: &str, labels: &[(&str, &str)]| {
        sample(after, name, labels) - sample(&before, name, labels)
    };

    let q = json!({ "query": "query Shelf { products(first: 2) { nodes { title } } }", "operationName": "Shelf" });
    for _ in 0..N {
        let res = app.post_json(&q, &[]).await;
        assert_eq!(res.status().as_u16(), 200);
    }
    let mut code = String::new();
    for _ in 0..N {
        let (_, body) = app
            .post("{ product(id: \"nope\") { id } }", json!({}))
            .await;
        code = first_code(&body);
    }
    let after = scrape(&app).await;
    let n = f64::from(N);
    let shelf = [("operation", "Shelf")];
    assert!(
        grew(&after, "emporium_graphql_requests_total", &shelf) >= n,
        "requests not counted:\n{after}"
    );
    assert!(
        grew(
            &after,
            "emporium_graphql_requests_total",
            &[("operation", "Shelf"), ("cache", "hit")]
        ) >= n - 1.0,
        "answers from the cache not counted:\n{after}"
    );
    assert!(
        grew(
            &after,
            "emporium_graphql_request_duration_seconds_count",
            &shelf
        ) >= n,
        "durations not recorded:\n{after}"
    );
    assert!(
        grew(
            &after,
            "emporium_response_cache_total",
            &[("outcome", "hit")]
        ) >= n - 1.0
    );
    assert!(
        grew(
            &after,
            "emporium_response_cache_total",
            &[("outcome", "miss")]
        ) >= 1.0
    );
    assert!(
        grew(&after, "emporium_graphql_errors_total", &[("code", &code)]) >= n,
        "{code} errors not counted:\n{after}"
    );

    // A change goes through the outbox: the relay counts what it published.
    let admin = crate::accounts::staff_user(
        &app,
        "metrics-admin@example.com",
        emporium::domain::identity::permission::Role::Admin,
    )
    .await;
    let data = app
        .query_as(
            &admin.access,
            r#"mutation { inventorySetQuantities(input: { quantities: [{ sku: "EMP-00000-01", location: "warehouse", onHand: 3 }] }) { userErrors { code } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["inventorySetQuantities"]["userErrors"], json!([]));
    crate::checkout::eventually(
        std::time::Duration::from_secs(30),
        "the relay counts what it published",
        || async { grew(&scrape(&app).await, "emporium_outbox_published_total", &[]) >= 1.0 },
    )
    .await;

    // Gauges and totals read at scrape time are there.
    let text = scrape(&app).await;
    for needle in [
        "emporium_outbox_lag_seconds",
        "emporium_webhook_attempts_failed_total",
        "emporium_subscriptions_open",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}
