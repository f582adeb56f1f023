//! Safe defaults: development mode (the default, with GraphiQL, open
//! introspection and the `test` gateway) serves on loopback only, and the
//! demo's discount codes and gift card are seeded in development mode only.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::harness::{Options, TestApp, fresh_database};

const PRODUCTION: &[(&str, &str)] = &[
    ("EMPORIUM_MODE", "production"),
    (
        "EMPORIUM_JWT_SECRET",
        "a production signing key of 32+ bytes",
    ),
    (
        "EMPORIUM_SECRET_KEY",
        "a production master key of 32+ bytes",
    ),
];

/// Gift cards, and promotions with a code, in `db`.
async fn money_codes(db: &sea_orm::DatabaseConnection) -> (u64, u64) {
    let cards = entity::gift_card::Entity::find()
        .count(db)
        .await
        .unwrap_or_else(|e| panic!("gift cards: {e}"));
    let codes = entity::promotion::Entity::find()
        .filter(entity::promotion::Column::Code.is_not_null())
        .count(db)
        .await
        .unwrap_or_else(|e| panic!("promotions: {e}"));
    (cards, codes)
}

#[tokio::test]
async fn development_mode_refuses_a_public_listen_address() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        app.cli(&["serve"], &[("EMPORIUM_LISTEN", "0.0.0.0:0")]),
    )
    .await
    .unwrap_or_else(|_| panic!("development mode kept serving on 0.0.0.0"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("EMPORIUM_LISTEN") && stderr.contains("EMPORIUM_MODE=production"),
        "{stderr}"
    );
    // It refused before touching the database.
    assert_eq!(money_codes(&app.db).await, (0, 0));
}

#[tokio::test]
async fn production_mode_seeds_no_gift_card_or_discount_codes() {
    // The app and the CLI are one installation: one master key.
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        configure: Some(|c| c.secret_key = Some("a production master key of 32+ bytes".into())),
        ..Default::default()
    })
    .await;
    let out = app.cli(&["seed", "--products", "3"], PRODUCTION).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let products = entity::product::Entity::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("count products: {e}"));
    assert_eq!(products, 3);
    assert_eq!(money_codes(&app.db).await, (0, 0));
    // Development seeds them (the demo's README walks through them).
    let dev = TestApp::spawn_with(Options {
        products: Some(3),
        ..Default::default()
    })
    .await;
    let (cards, codes) = money_codes(&dev.db).await;
    assert!(cards == 1 && codes > 0, "{cards} {codes}");
}

#[tokio::test]
async fn serve_in_production_seeds_an_empty_embedded_database_without_codes() {
    let (url, _handle) = fresh_database().await;
    if !url.starts_with("sqlite:") {
        // `serve` seeds embedded databases only.
        return;
    }
    let port = {
        let (listener, addr) = crate::harness::loopback().await;
        drop(listener);
        addr.port()
    };
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_emporium"))
        .arg("serve")
        .env("EMPORIUM_DATABASE_URL", &url)
        .env("EMPORIUM_LISTEN", format!("127.0.0.1:{port}"))
        .env("EMPORIUM_LOG", "warn")
        .envs(PRODUCTION.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start serve: {e}"));
    let client = reqwest::Client::new();
    let ready = async {
        loop {
            let up = client
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), ready)
        .await
        .unwrap_or_else(|_| panic!("serve did not come up"));
    let _ = server.start_kill();
    let _ = server.wait().await;
    let db = emporium::infra::db::connect(&url, 1)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let products = entity::product::Entity::find()
        .count(&db)
        .await
        .unwrap_or_else(|e| panic!("count products: {e}"));
    assert!(products > 0, "the catalog was not seeded");
    assert_eq!(money_codes(&db).await, (0, 0));
}
