//! Rate limiting in query-cost points, shared across nodes through Redis
//! when it is configured; production mode's introspection and GraphiQL switch.

use emporium::{config::Mode, domain::identity::permission::Role, infra::ratelimit::Budget};
use serde_json::{Value, json};

use crate::{
    accounts,
    harness::{Options, TestApp, first_code, header},
};

const LIGHT: &str = "{ channels { code } }";
const HEAVY: &str = "{ products(first: 20) { nodes { title variants { sku price { amount } } } } }";

fn cost(body: &Value) -> (u64, u64) {
    let c = &body["extensions"]["cost"];
    (
        c["requestedQueryCost"]
            .as_u64()
            .unwrap_or_else(|| panic!("no cost in {body}")),
        c["throttleStatus"]["currentlyAvailable"]
            .as_u64()
            .unwrap_or_else(|| panic!("no budget in {body}")),
    )
}

#[tokio::test]
async fn every_response_reports_its_cost_and_heavy_queries_cost_more() {
    // The default budget refills 10,000 points a second: between two
    // requests on a busy machine it is full again. A slow refill keeps what
    // each request spent visible.
    let app = TestApp::spawn_with(Options {
        configure: Some(|c| c.rate.anonymous = Budget::parse("100000,0.01").ok()),
        ..Default::default()
    })
    .await;
    let (s1, light) = app.post(LIGHT, json!({})).await;
    let (s2, heavy) = app.post(HEAVY, json!({})).await;
    assert_eq!((s1, s2), (200, 200));
    let (light_cost, after_light) = cost(&light);
    let (heavy_cost, after_heavy) = cost(&heavy);
    assert!(
        light_cost >= 1 && heavy_cost > 20 * light_cost,
        "{light_cost} vs {heavy_cost}"
    );
    assert!(
        after_heavy < after_light,
        "the heavy query spent more of the budget"
    );
    assert_eq!(
        heavy["extensions"]["cost"]["throttleStatus"]["maximumAvailable"],
        100_000
    );
    // A cached answer (the same request again) still costs what it did, and says so.
    let res = app
        .post_json(&json!({ "query": HEAVY, "variables": {} }), &[])
        .await;
    assert_eq!(header(&res, "x-emporium-cache").as_deref(), Some("hit"));
    let cached: Value = res.json().await.unwrap_or_default();
    let (cached_cost, after_cached) = cost(&cached);
    assert_eq!(cached_cost, heavy_cost);
    assert!(after_cached < after_heavy);
}

fn small_budget(c: &mut emporium::config::Config) {
    // Restores slowly enough that the test never sees a refill matter.
    c.rate.anonymous = Budget::parse("1000,0.01").ok();
}

#[tokio::test]
async fn over_budget_operations_are_refused_with_a_retry_hint_on_every_node() {
    let app = TestApp::spawn_with(Options {
        products: Some(30),
        configure: Some(small_budget),
        ..Default::default()
    })
    .await;
    let node_b = app.spawn_sibling().await;
    let shared = app.state.redis.is_some();
    let mut spent = 0;
    let refused = loop {
        let (status, body) = app.post(HEAVY, json!({})).await;
        if status == 429 {
            break body;
        }
        assert_eq!(status, 200, "{body}");
        spent += cost(&body).0;
        assert!(spent <= 1000, "spent more than the budget: {spent}");
    };
    assert_eq!(first_code(&refused), "RATE_LIMITED");
    assert!(
        refused.get("data").is_none(),
        "a refused operation never ran: {refused}"
    );
    assert!(
        refused["errors"][0]["extensions"]["retryAfterMs"]
            .as_u64()
            .is_some_and(|ms| ms > 1000)
    );
    assert!(
        refused["extensions"]["cost"]["requestedQueryCost"]
            .as_u64()
            .is_some()
    );
    // A light query still fits what is left.
    let (status, _) = app.post(LIGHT, json!({})).await;
    assert_eq!(status, 200);

    let res = node_b
        .post_json(
            &json!({ "query": HEAVY }),
            &[("accept", "application/json")],
        )
        .await;
    if shared {
        // The other node charges the same bucket through Redis.
        assert_eq!(res.status().as_u16(), 429);
        assert!(
            header(&res, "retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1))
        );
    } else {
        // Without Redis each node keeps its own buckets.
        assert_eq!(res.status().as_u16(), 200);
    }
    // Mutations are charged too.
    let (status, body) = app
        .post("mutation { customerLogin(email: \"a@example.com\", password: \"wrong wrong\") { userErrors { code } } }", json!({}))
        .await;
    assert!(status == 200 || status == 429, "{body}");
    assert!(
        body["extensions"]["cost"]["requestedQueryCost"]
            .as_u64()
            .is_some()
    );
}

#[tokio::test]
async fn budgets_are_per_principal_and_partner_tokens_carry_their_own() {
    let app = TestApp::spawn_with(Options {
        products: Some(30),
        configure: Some(small_budget),
        ..Default::default()
    })
    .await;
    let (tight, _) = accounts::partner_token(&app, &["catalog:read"], Some((500, 1))).await;
    let (roomy, _) = accounts::partner_token(&app, &["catalog:read"], None).await;
    let (_, first) = app.post_as(&tight, HEAVY, json!({})).await;
    assert_eq!(
        first["extensions"]["cost"]["throttleStatus"]["maximumAvailable"],
        500
    );
    let mut refused = false;
    for _ in 0..20 {
        let (status, _) = app.post_as(&tight, HEAVY, json!({})).await;
        if status == 429 {
            refused = true;
            break;
        }
    }
    assert!(refused, "the token's own budget ran out");
    let (status, body) = app.post_as(&roomy, HEAVY, json!({})).await;
    assert_eq!(status, 200, "another token has its own bucket: {body}");
    assert_eq!(
        body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"],
        100_000
    );
    // Anonymous callers have theirs, untouched by the partners.
    let (status, _) = app.post(HEAVY, json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn production_mode_hides_graphiql_and_introspection_from_the_public() {
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        configure: Some(|c| {
            c.mode = Mode::Production;
            c.auth.jwt_secret = Some("a production signing key of 32+ bytes".into());
            c.secret_key = Some("a production master key of 32+ bytes".into());
        }),
        ..Default::default()
    })
    .await;
    let page = app
        .client
        .get(app.graphql_url())
        .header("accept", "text/html")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.status().as_u16(), 404);

    let introspect = "{ __schema { queryType { name } } }";
    let (_, anon) = app.post(introspect, json!({})).await;
    assert_eq!(
        first_code(&anon),
        "FORBIDDEN",
        "anonymous introspection is refused: {anon}"
    );
    assert!(anon["data"].is_null());
    let customer = accounts::customer(&app, "ada@example.com").await;
    let (_, body) = app.post_as(&customer.access, introspect, json!({})).await;
    assert_eq!(first_code(&body), "FORBIDDEN");
    let staff = accounts::staff_user(&app, "admin@example.com", Role::Admin).await;
    let data = app.query_as(&staff.access, introspect, json!({})).await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    // The storefront API itself works as ever.
    app.query("{ products(first: 1) { nodes { id } } }", json!({}))
        .await;
}

fn behind_one_proxy(c: &mut emporium::config::Config) {
    c.edge.trusted_proxy_hops = 1;
    // Restores slowly enough that the test never sees a refill matter.
    c.rate.anonymous = Budget::parse("20,0.01").ok();
}

/// Sends LIGHT with these `X-Forwarded-For` lines until it is refused;
/// how many were let through (`None`: never refused within 100).
async fn admitted_until_refused(
    app: &TestApp,
    lines: impl Fn(usize) -> Vec<String>,
) -> Option<usize> {
    for n in 0..100 {
        let mut req = app
            .client
            .post(app.graphql_url())
            .header("content-type", "application/json");
        for line in lines(n) {
            req = req.header("x-forwarded-for", line);
        }
        let res = req
            .body(json!({ "query": LIGHT }).to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        match res.status().as_u16() {
            200 => {}
            429 => return Some(n),
            s => panic!("status {s}"),
        }
    }
    None
}

#[tokio::test]
async fn the_client_behind_a_proxy_is_the_hop_it_saw_whatever_the_header_lines() {
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        configure: Some(behind_one_proxy),
        ..Default::default()
    })
    .await;
    // The client forges a new address each time; the proxy adds what it
    // saw on a line of its own.
    let refused = admitted_until_refused(&app, |n| {
        vec![format!("198.51.100.{n}"), "203.0.113.7".into()]
    })
    .await;
    assert!(
        refused.is_some(),
        "one client's budget ran out whatever it forged"
    );
    // The same on one line, the proxy's entry last.
    let (status, _) = app
        .post_with(
            LIGHT,
            json!({}),
            &[("x-forwarded-for", "192.0.2.1, 203.0.113.7")],
        )
        .await;
    assert_eq!(status, 429);
    // Another client has its own budget.
    let (status, body) = app
        .post_with(
            LIGHT,
            json!({}),
            &[("x-forwarded-for", "203.0.113.7, 203.0.113.8")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn ipv6_clients_share_a_budget_per_64() {
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        configure: Some(behind_one_proxy),
        ..Default::default()
    })
    .await;
    // Each request from another address of the same /64.
    let refused = admitted_until_refused(&app, |n| vec![format!("2001:db8:1:2::{n:x}")]).await;
    assert!(refused.is_some(), "the /64 shares one budget");
    let (status, _) = app
        .post_with(
            LIGHT,
            json!({}),
            &[("x-forwarded-for", "2001:db8:1:2:ffff::1")],
        )
        .await;
    assert_eq!(status, 429);
    let (status, body) = app
        .post_with(LIGHT, json!({}), &[("x-forwarded-for", "2001:db8:1:3::1")])
        .await;
    assert_eq!(status, 200, "another /64 has its own: {body}");
}
