//! Retention: carts, idempotency keys, ended sessions and expired reset
//! tokens are purged after their periods, by one node per round, in the
//! background; what is still in use stays.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use emporium::domain::{
    gid::{self, Kind},
    retention::{self, Policy, Purged},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};
use serde_json::json;

use crate::{
    accounts::{self, PASSWORD},
    harness::{Options, TestApp},
};

const CART: &str =
    "mutation($i: CartInput) { cartCreate(input: $i) { cart { id } userErrors { code message } } }";

fn policy() -> Policy {
    Policy {
        carts: TimeDelta::days(60),
        idempotency_keys: TimeDelta::hours(168),
        sessions: TimeDelta::days(30),
        reset_tokens: TimeDelta::days(7),
    }
}

/// A new cart (with `lines`); its token.
async fn cart(app: &TestApp, lines: serde_json::Value) -> String {
    let data = app.query(CART, json!({ "i": { "lines": lines } })).await;
    assert_eq!(data["cartCreate"]["userErrors"], json!([]), "{data}");
    data["cartCreate"]["cart"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no cart in {data}"))
        .to_owned()
}

/// Moves a cart's last change `days` into the past.
async fn age_cart(app: &TestApp, token: &str, days: i64) {
    entity::cart::Entity::update_many()
        .col_expr(
            entity::cart::Column::UpdatedAt,
            Expr::value(Utc::now() - TimeDelta::days(days)),
        )
        .filter(entity::cart::Column::Token.eq(token))
        .exec(&app.db)
        .await
        .unwrap_or_else(|e| panic!("age cart: {e}"));
}

async fn carts_left(app: &TestApp) -> Vec<String> {
    entity::cart::Entity::find()
        .order_by_asc(entity::cart::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("carts: {e}"))
        .into_iter()
        .map(|c| c.token)
        .collect()
}

async fn count<E>(app: &TestApp) -> u64
where
    E: EntityTrait,
    E::Model: Sync,
{
    E::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("count: {e}"))
}

#[tokio::test]
async fn a_round_purges_what_is_past_its_period_and_keeps_the_rest() {
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        configure: Some(|c| {
            c.commerce.cart_reservation_secs = 3_600;
            c.retention.interval_secs = 0;
        }),
        ..Default::default()
    })
    .await;
    let now = Utc::now();

    // Carts: an abandoned one, a recent one, and an old one still holding stock.
    let abandoned = cart(&app, json!([])).await;
    let recent = cart(&app, json!([])).await;
    let tracked = entity::variant::Entity::find()
        .filter(entity::variant::Column::TrackInventory.eq(true))
        .order_by_asc(entity::variant::Column::Id)
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("variant: {e}"))
        .unwrap_or_else(|| panic!("no tracked variant"));
    let holding = cart(
        &app,
        json!([{ "merchandiseId": gid::encode(Kind::ProductVariant, tracked.id), "quantity": 1 }]),
    )
    .await;
    age_cart(&app, &abandoned, 61).await;
    age_cart(&app, &holding, 61).await;

    // Idempotency keys: one past its period, one not.
    for (key, age) in [("old", TimeDelta::hours(169)), ("new", TimeDelta::hours(1))] {
        entity::idempotency_key::Entity::insert(entity::idempotency_key::ActiveModel {
            scope: Set("test".into()),
            key: Set(key.into()),
            request_hash: Set("x".into()),
            response: Set(Some("{}".into())),
            created_at: Set(now - age),
        })
        .exec_without_returning(&app.db)
        .await
        .unwrap_or_else(|e| panic!("insert key: {e}"));
    }

    // Sessions: one logged out long ago, one expired long ago, one live.
    let ada = accounts::customer(&app, "ada@example.com").await;
    for _ in 0..2 {
        let (_, body) = accounts::customer_login(&app, "ada@example.com", PASSWORD).await;
        assert_eq!(body["data"]["customerLogin"]["userErrors"], json!([]));
    }
    let sessions = entity::auth_session::Entity::find()
        .order_by_asc(entity::auth_session::Column::CreatedAt)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("sessions: {e}"));
    assert_eq!(sessions.len(), 3);
    let ended = [
        (entity::auth_session::Column::RevokedAt, &sessions[1].id),
        (entity::auth_session::Column::ExpiresAt, &sessions[2].id),
    ];
    for (column, id) in ended {
        entity::auth_session::Entity::update_many()
            .col_expr(column, Expr::value(now - TimeDelta::days(31)))
            .filter(entity::auth_session::Column::Id.eq(id.as_str()))
            .exec(&app.db)
            .await
            .unwrap_or_else(|e| panic!("age session: {e}"));
    }

    // Reset tokens: one expired long ago, one fresh.
    for _ in 0..2 {
        app.query(
            "mutation { customerPasswordResetRequest(email: \"ada@example.com\") { userErrors { code } } }",
            json!({}),
        )
        .await;
    }
    let resets = entity::password_reset::Entity::find()
        .order_by_asc(entity::password_reset::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("reset tokens: {e}"));
    assert_eq!(resets.len(), 2);
    entity::password_reset::Entity::update_many()
        .col_expr(
            entity::password_reset::Column::ExpiresAt,
            Expr::value(now - TimeDelta::days(8)),
        )
        .filter(entity::password_reset::Column::Id.eq(resets[0].id))
        .exec(&app.db)
        .await
        .unwrap_or_else(|e| panic!("age reset: {e}"));

    let hour = Duration::from_secs(3600);
    let purged = retention::run_once(&app.db, &policy(), "node-a", hour, app.clock.now())
        .await
        .unwrap_or_else(|e| panic!("purge: {e}"));
    assert_eq!(
        purged,
        Some(Purged {
            carts: 1,
            idempotency_keys: 1,
            sessions: 2,
            refresh_tokens: 2,
            reset_tokens: 1,
        })
    );
    assert_eq!(carts_left(&app).await, vec![recent, holding]);
    let keys = entity::idempotency_key::Entity::find()
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("keys: {e}"));
    assert_eq!(
        keys.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
        ["new"]
    );
    assert_eq!(count::<entity::auth_session::Entity>(&app).await, 1);
    assert_eq!(count::<entity::refresh_token::Entity>(&app).await, 1);
    assert_eq!(count::<entity::password_reset::Entity>(&app).await, 1);
    // The live login still works.
    let me = app
        .query_as(&ada.access, "{ me { email } }", json!({}))
        .await;
    assert_eq!(me["me"]["email"], "ada@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_nodes_running_the_job_together_exactly_one_purges_a_round() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        configure: Some(|c| c.retention.interval_secs = 0),
        ..Default::default()
    })
    .await;
    let hour = Duration::from_secs(3600);
    let nodes: Vec<_> = (0..6)
        .map(|i| {
            let (db, now) = (app.db.clone(), app.clock.now());
            tokio::spawn(async move {
                retention::run_once(&db, &policy(), &format!("node-{i}"), hour, now).await
            })
        })
        .collect();
    let mut ran = 0;
    for node in nodes {
        let round = node
            .await
            .unwrap_or_else(|e| panic!("join: {e}"))
            .unwrap_or_else(|e| panic!("round: {e}"));
        ran += usize::from(round.is_some());
    }
    assert_eq!(ran, 1);
    // The lease holds for the interval: nobody runs again before it ends.
    let again = retention::run_once(&app.db, &policy(), "node-0", hour, app.clock.now())
        .await
        .unwrap_or_else(|e| panic!("round: {e}"));
    assert_eq!(again, None);
    // Once it has ended, the next round is someone's.
    app.clock.advance(hour);
    let next = retention::run_once(&app.db, &policy(), "node-1", hour, app.clock.now())
        .await
        .unwrap_or_else(|e| panic!("round: {e}"));
    assert!(next.is_some(), "the lease never ended");
}

#[tokio::test]
async fn the_server_purges_in_the_background() {
    let app = TestApp::spawn_with(Options {
        products: Some(1),
        configure: Some(|c| {
            c.retention.interval_secs = 1;
            c.retention.cart_days = 30;
        }),
        ..Default::default()
    })
    .await;
    let old = cart(&app, json!([])).await;
    let kept = cart(&app, json!([])).await;
    age_cart(&app, &old, 31).await;
    crate::checkout::eventually(Duration::from_secs(60), "the old cart purged", || async {
        carts_left(&app).await == vec![kept.clone()]
    })
    .await;
}
