//! A database that cannot be reached answers a retryable
//! SERVICE_UNAVAILABLE (503 with `Retry-After`), never INTERNAL; a write
//! transaction that lost its connection before its commit runs once more,
//! and nothing is written twice or half.

use std::sync::atomic::{AtomicUsize, Ordering};

use emporium::domain::{
    error::DomainError,
    identity::permission::Role,
    tx::{self, retrying},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnAcquireErr, ConnectionTrait, Database, DbErr,
    EntityTrait, PaginatorTrait, Statement,
};
use serde_json::{Value, json};

use crate::{
    accounts,
    harness::{Options, TestApp, first_code, header},
};

async fn small_app() -> TestApp {
    TestApp::spawn_with(Options {
        products: Some(3),
        ..Default::default()
    })
    .await
}

fn lost() -> DomainError {
    DomainError::from(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))
}

/// A row written through `tx` (a stock location named `code`).
async fn write_location(tx: &impl ConnectionTrait, code: &str) -> Result<(), DomainError> {
    entity::stock_location::ActiveModel {
        code: Set(code.to_owned()),
        name: Set(code.to_owned()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(tx)
    .await?;
    Ok(())
}

async fn locations_named(app: &TestApp, code: &str) -> u64 {
    use sea_orm::{ColumnTrait, QueryFilter};
    entity::stock_location::Entity::find()
        .filter(entity::stock_location::Column::Code.eq(code))
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_transaction_that_lost_its_connection_before_the_commit_runs_once_more() {
    let app = small_app().await;
    let runs = AtomicUsize::new(0);
    let done = retrying(|attempt| {
        let (db, runs) = (&app.db, &runs);
        async move {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            let tx = attempt.begin(db).await?;
            write_location(&tx, "retried").await?;
            if run == 0 {
                // The connection breaks after a write, before the commit.
                return Err(lost());
            }
            tx.commit().await?;
            Ok(run)
        }
    })
    .await;
    assert_eq!(done.ok(), Some(1), "the second run answered");
    assert_eq!(locations_named(&app, "retried").await, 1, "written once");

    // A failure at or after a commit is never repeated, nor is any other.
    let runs = AtomicUsize::new(0);
    let failed = retrying(|attempt| {
        let (db, runs) = (&app.db, &runs);
        async move {
            runs.fetch_add(1, Ordering::SeqCst);
            let tx = attempt.begin(db).await?;
            write_location(&tx, "committed").await?;
            tx.commit().await?;
            Err::<(), _>(lost())
        }
    })
    .await;
    assert!(failed.is_err_and(|e| e.is_unavailable()));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(locations_named(&app, "committed").await, 1);
    let runs = AtomicUsize::new(0);
    let failed = retrying(|_| {
        runs.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>(DomainError::Inconsistent("no".into())) }
    })
    .await;
    assert!(failed.is_err());
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // It gives up after the second run.
    let runs = AtomicUsize::new(0);
    let failed = retrying(|_| {
        runs.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>(lost()) }
    })
    .await;
    assert!(failed.is_err_and(|e| e.is_unavailable()));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unreachable_database_answers_503_service_unavailable() {
    let app = small_app().await;
    let staff = accounts::staff_user(&app, "ops@example.com", Role::Admin).await;
    // The node's request pool goes away (as when the database is down and
    // no connection can be had).
    app.db
        .clone()
        .close()
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let query = json!({ "query": "{ products(first: 2) { nodes { title } } }" });
    for accept in ["application/json", "application/graphql-response+json"] {
        let res = app
            .post_json(&query, &[("accept", accept), ("cache-control", "no-cache")])
            .await;
        assert_eq!(res.status().as_u16(), 503, "{accept}");
        assert!(
            header(&res, "retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1))
        );
        let body: Value = res.json().await.unwrap_or_default();
        assert_eq!(first_code(&body), "SERVICE_UNAVAILABLE", "{body}");
    }
    // Credentials cannot be checked either: the same, before anything runs.
    let res = app
        .post_json(
            &query,
            &[("authorization", &format!("Bearer {}", staff.access))],
        )
        .await;
    assert_eq!(res.status().as_u16(), 503);
    assert!(header(&res, "retry-after").is_some());
    let body: Value = res.json().await.unwrap_or_default();
    assert_eq!(first_code(&body), "SERVICE_UNAVAILABLE", "{body}");
    // A mutation too.
    let res = app
        .post_json(
            &json!({ "query": "mutation { cartCreate(input: {}) { cart { id } } }" }),
            &[],
        )
        .await;
    assert_eq!(res.status().as_u16(), 503);
    let body: Value = res.json().await.unwrap_or_default();
    assert_eq!(first_code(&body), "SERVICE_UNAVAILABLE", "{body}");
}

/// The server process id of the session waiting for a lock in `app`'s
/// database, once there is one.
async fn waiting_session(admin: &sea_orm::DatabaseConnection) -> i32 {
    loop {
        let row = admin
            .query_one_raw(Statement::from_string(
                admin.get_database_backend(),
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            ))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(pid) = row.and_then(|r| r.try_get_by_index::<i32>(0).ok()) {
            return pid;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs TEST_DATABASE_URL: SQLite is in process, with no connection to lose"]
async fn a_request_whose_connection_is_killed_mid_transaction_is_answered_and_applied_once() {
    assert!(
        std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.trim().is_empty()),
        "this test needs TEST_DATABASE_URL"
    );
    let app = small_app().await;
    let (token, _) = accounts::partner_token(&app, &["inventory:write"], None).await;
    let level = entity::stock_level::Entity::find()
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no stock level"));
    let variant = entity::variant::Entity::find_by_id(level.variant_id)
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no variant"));
    let location = entity::stock_location::Entity::find_by_id(level.location_id)
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no location"));
    let movements = entity::inventory_movement::Entity::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Another session holds the stock level, so the request's transaction
    // waits on it after its first writes.
    let admin = Database::connect(app.state.config.database_url.expose())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let holder = tx::begin_write(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    holder
        .execute_unprepared(&format!(
            "SELECT 1 FROM stock_level WHERE id = {} FOR UPDATE",
            level.id
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let adjust = "mutation($i: InventoryAdjustQuantitiesInput!) { inventoryAdjustQuantities(input: $i) { appliedCount userErrors { code } } }";
    let vars = json!({ "i": { "changes": [{ "sku": variant.sku, "location": location.code, "delta": 5 }], "reason": "RECEIVED" } });
    let request = {
        let (client, url, token) = (app.client.clone(), app.graphql_url(), token.clone());
        tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(json!({ "query": adjust, "variables": vars }).to_string())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap_or_default(),
            )
        })
    };
    // Its connection dies mid-transaction (as when PostgreSQL restarts).
    let pid = waiting_session(&admin).await;
    admin
        .execute_unprepared(&format!("SELECT pg_terminate_backend({pid})"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    holder.rollback().await.unwrap_or_else(|e| panic!("{e}"));

    let (status, body) = request.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["inventoryAdjustQuantities"]["appliedCount"], 1);
    let after = entity::stock_level::Entity::find_by_id(level.id)
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the stock level is gone"));
    assert_eq!(after.on_hand, level.on_hand + 5, "applied exactly once");
    let now = entity::inventory_movement::Entity::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(now, movements + 1, "one movement recorded");
}
