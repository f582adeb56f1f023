//! Redis outages, on a private instance the test
//! starts and stops by its PID (never the machine's own): reads keep
//! answering while Redis is down, and events wait in the outbox and all
//! arrive once it is back.
//!
//! They need `redis-server` on the PATH, so they are `#[ignore]`d with that
//! reason; `.ci/run` runs them on SQLite and on PostgreSQL.

use std::time::Duration;

use emporium::domain::identity::permission::Role;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::{
    accounts,
    cache::{handle_with, price_on, set_price},
    checkout::eventually,
    harness::{Options, TestApp},
};

/// A Redis server of the test's own, on a port of its own.
pub(crate) struct Throwaway {
    port: u16,
    child: Option<std::process::Child>,
}

impl Throwaway {
    /// Starts one, or `None` where `redis-server` is not installed.
    pub(crate) async fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let mut r = Self { port, child: None };
        r.up().await.then_some(r)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub(crate) async fn up(&mut self) -> bool {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else { return false };
        self.child = Some(child);
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server on port {} did not come up", self.port);
    }

    pub(crate) fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        self.down();
    }
}

#[tokio::test]
#[ignore = "needs redis-server on the PATH (CI runs the outage tests on both backends)"]
async fn reads_keep_answering_while_redis_is_down_and_the_cache_comes_back() {
    let Some(mut redis) = Throwaway::start().await else {
        panic!("this test needs redis-server on the PATH");
    };
    let app = TestApp::spawn_with(Options {
        redis_url: Some(redis.url()),
        ..Default::default()
    })
    .await;
    let admin = accounts::staff_user(&app, "redis-down@example.com", Role::Admin).await;
    let handle = &handle_with(&app, "EMP-00003-01").await;
    assert_eq!(price_on(&app, handle).await.0, "miss");
    assert_eq!(price_on(&app, handle).await.0, "hit");

    redis.down();
    // Every read answers, from the database once the node notices.
    eventually(
        Duration::from_secs(30),
        "reads bypass the cache",
        || async { price_on(&app, handle).await.0 == "none" },
    )
    .await;
    // A change made meanwhile is seen at once.
    set_price(&app, &admin.access, "55.50").await;
    for _ in 0..5 {
        assert_eq!(
            price_on(&app, handle).await,
            ("none".into(), json!("55.50"))
        );
    }

    redis.up().await;
    eventually(Duration::from_secs(30), "the cache is back", || async {
        price_on(&app, handle).await.0 == "hit"
    })
    .await;
    assert_eq!(price_on(&app, handle).await, ("hit".into(), json!("55.50")));
    set_price(&app, &admin.access, "66.60").await;
    assert_eq!(
        price_on(&app, handle).await,
        ("miss".into(), json!("66.60"))
    );
}

const SET: &str = "mutation($i: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $i) { appliedCount userErrors { code } } }";

async fn unpublished(app: &TestApp) -> i64 {
    app.db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM outbox_event WHERE published_at IS NULL",
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or_else(|| panic!("no count"))
}

/// Changes made while Redis is down commit and answer; their events wait
/// in the outbox, and every one of them reaches the node's subscribers once
/// Redis is back, in order and each once.
#[tokio::test]
#[ignore = "needs redis-server on the PATH (CI runs the outage tests on both backends)"]
async fn events_raised_while_redis_is_down_all_arrive_once_it_is_back() {
    let Some(mut redis) = Throwaway::start().await else {
        panic!("this test needs redis-server on the PATH");
    };
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        redis_url: Some(redis.url()),
        ..Default::default()
    })
    .await;
    let (token, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    let mut bus = app.state.events.subscribe();

    redis.down();
    let quantities = [21, 22, 23];
    for q in quantities {
        let res = app
            .query_as(
                &token,
                SET,
                json!({ "i": { "quantities": [{ "sku": "EMP-00001-01", "location": "warehouse", "onHand": q }] } }),
            )
            .await;
        assert_eq!(res["inventorySetQuantities"]["appliedCount"], 1, "{res}");
    }
    assert_eq!(unpublished(&app).await, 3, "the events wait in the outbox");

    redis.up().await;
    let mut got = Vec::new();
    let mut ids = Vec::new();
    while got.len() < quantities.len() {
        let e = tokio::time::timeout(Duration::from_secs(60), bus.recv())
            .await
            .unwrap_or_else(|_| panic!("only {got:?} arrived after Redis came back"))
            .unwrap_or_else(|e| panic!("{e}"));
        match &e.event {
            emporium::domain::events::DomainEvent::StockChanged { on_hand, .. } => {
                assert!(!ids.contains(&e.id), "{} arrived twice", e.id);
                ids.push(e.id.clone());
                got.push(*on_hand);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, quantities);
    eventually(Duration::from_secs(30), "the outbox is drained", || async {
        unpublished(&app).await == 0
    })
    .await;
}
