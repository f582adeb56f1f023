//! Secrets at rest: what a read of the database finds is digests and sealed
//! values, never a session id, a webhook signing secret or the key that
//! signs access tokens; nothing in it mints a token. Sessions stored before
//! ids were hashed are migrated.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use emporium::domain::identity::{
    jwt::{Claims, JwtKeys},
    permission::Role,
    secret,
    session::{self, Refresh, SubjectKind},
};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, Statement};
use serde_json::json;

use crate::{
    accounts,
    harness::{Options, TestApp, first_code},
};

const STAFF_ME: &str = "{ staffMe { email role } }";
const SUBSCRIBE: &str = "mutation($i: WebhookSubscriptionCreateInput!) { webhookSubscriptionCreate(input: $i) { secret userErrors { code } } }";

/// Every value of one column, as text.
async fn column(db: &DatabaseConnection, table: &str, col: &str) -> Vec<String> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_string(
        backend,
        format!("SELECT {col} AS v FROM {table}"),
    ))
    .await
    .unwrap_or_else(|e| panic!("read {table}.{col}: {e}"))
    .into_iter()
    .filter_map(|r| {
        r.try_get::<Option<String>>("", "v")
            .unwrap_or_else(|e| panic!("{table}.{col} as text: {e}"))
    })
    .collect()
}

/// The claims of a JWT, read without checking it.
fn claims_of(token: &str) -> Claims {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap_or_else(|e| panic!("payload: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("claims: {e}"))
}

#[tokio::test]
async fn a_database_read_finds_no_session_id_signing_secret_or_token_key() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        configure: Some(|c| c.webhooks.allow_private = true),
        ..Default::default()
    })
    .await;
    let admin = accounts::staff_user(&app, "root@example.com", Role::Admin).await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let created = app
        .query_as(
            &admin.access,
            SUBSCRIBE,
            json!({ "i": { "url": "http://127.0.0.1:9/hooks", "topics": ["order.created"] } }),
        )
        .await;
    let signing_secret = created["webhookSubscriptionCreate"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("no secret: {created}"))
        .to_owned();

    // Session ids: the ones access tokens carry are nowhere in the tables.
    let admin_claims = claims_of(&admin.access);
    let stored_sessions = column(&app.db, "auth_session", "id").await;
    assert_eq!(stored_sessions.len(), 2, "{stored_sessions:?}");
    for sid in [&admin_claims.sid, &claims_of(&ada.access).sid] {
        assert!(!stored_sessions.contains(sid), "session id {sid} stored");
        for (table, col) in [
            ("refresh_token", "session_id"),
            ("refresh_token", "token_hash"),
        ] {
            assert!(
                !column(&app.db, table, col).await.contains(sid),
                "{table}.{col} holds a session id"
            );
        }
    }
    // Signing secrets: sealed.
    let stored_secrets = column(&app.db, "webhook_subscription", "secret").await;
    assert_eq!(stored_secrets.len(), 1);
    assert!(
        stored_secrets
            .iter()
            .all(|s| !s.contains(&signing_secret) && !s.contains("whsec_")),
        "{stored_secrets:?}"
    );
    // The token key: whatever app_secret holds does not check the tokens
    // the server signs ...
    let stored_keys = column(&app.db, "app_secret", "value").await;
    assert!(!stored_keys.is_empty());
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    for v in &stored_keys {
        candidates.push(v.as_bytes().to_vec());
        if let Ok(bytes) = URL_SAFE_NO_PAD.decode(v) {
            candidates.push(bytes);
        }
    }
    let ttl = chrono::Duration::minutes(15);
    for key in &candidates {
        assert!(
            JwtKeys::new(key, ttl).verify(&admin.access).is_err(),
            "app_secret holds the signing key"
        );
    }
    // ... and no token made of what the tables hold is accepted: not with
    // a stored session row's key, nor even with the real session id.
    let mut sids: Vec<String> = stored_sessions.clone();
    sids.push(admin_claims.sid.clone());
    for key in &candidates {
        for sid in &sids {
            let mut forged = admin_claims.clone();
            forged.sid = sid.clone();
            forged.iat = chrono::Utc::now().timestamp();
            forged.exp = forged.iat + 600;
            let token = JwtKeys::new(key, ttl)
                .sign(&forged)
                .unwrap_or_else(|e| panic!("sign: {e}"));
            let (_, body) = app.post_as(&token, STAFF_ME, json!({})).await;
            assert_eq!(first_code(&body), "UNAUTHENTICATED", "{body}");
        }
    }
    // The real tokens work.
    let me = app.query_as(&admin.access, STAFF_ME, json!({})).await;
    assert_eq!(me["staffMe"]["role"], "ADMIN");
}

#[tokio::test]
async fn signing_secrets_stored_in_clear_are_sealed_at_start() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        configure: Some(|c| c.webhooks.allow_private = true),
        ..Default::default()
    })
    .await;
    let backend = app.db.get_database_backend();
    // A subscription as a version before sealing stored it.
    app.db
        .execute_raw(Statement::from_string(
            backend,
            "INSERT INTO webhook_subscription (url, topics, secret, created_by_staff_id, active, created_at) \
             VALUES ('http://127.0.0.1:9/x', 'order.created', 'whsec_legacy-clear-secret', 1, true, CURRENT_TIMESTAMP)",
        ))
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    let restarted = app.spawn_sibling().await;
    let stored = column(&app.db, "webhook_subscription", "secret").await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with("v1:"), "{stored:?}");
    let rows =
        emporium::domain::webhooks_out::list(&app.db, emporium::domain::webhooks_out::Viewer::All)
            .await
            .unwrap_or_else(|e| panic!("list: {e}"));
    let opened =
        emporium::domain::webhooks_out::signing_secret(&rows[0], &restarted.state.secrets).ok();
    assert_eq!(opened.as_deref(), Some("whsec_legacy-clear-secret"));
}

#[tokio::test]
async fn sessions_stored_before_ids_were_hashed_keep_working() {
    let (url, _handle) = crate::harness::fresh_database().await;
    let db = emporium::infra::db::connect(&url, 2)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let before = Migrator::migrations()
        .iter()
        .position(|m| m.name().contains("secrets_at_rest"))
        .unwrap_or_else(|| panic!("no secrets_at_rest migration"));
    Migrator::up(&db, Some(u32::try_from(before).unwrap_or(0)))
        .await
        .unwrap_or_else(|e| panic!("migrate: {e}"));
    // A login as the version before stored it: the session id in clear,
    // a refresh token without it.
    let sid = "0b9d7d29-55c7-4c4e-9a33-3d0f6f3b9a11";
    let now = chrono::Utc::now();
    entity::auth_session::Entity::insert(entity::auth_session::ActiveModel {
        id: Set(sid.to_owned()),
        subject_kind: Set("customer".into()),
        subject_id: Set(7),
        created_at: Set(now),
        expires_at: Set(now + chrono::Duration::days(30)),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    })
    .exec_without_returning(&db)
    .await
    .unwrap_or_else(|e| panic!("insert session: {e}"));
    entity::refresh_token::Entity::insert(entity::refresh_token::ActiveModel {
        session_id: Set(sid.to_owned()),
        token_hash: Set(secret::digest("emp_rt_legacy-token")),
        created_at: Set(now),
        used_at: Set(None),
        ..Default::default()
    })
    .exec_without_returning(&db)
    .await
    .unwrap_or_else(|e| panic!("insert refresh token: {e}"));
    Migrator::up(&db, None)
        .await
        .unwrap_or_else(|e| panic!("migrate: {e}"));
    assert_eq!(
        column(&db, "auth_session", "id").await,
        vec![secret::digest(sid)]
    );
    assert_eq!(
        column(&db, "refresh_token", "session_id").await,
        vec![secret::digest(sid)]
    );
    // Access tokens naming the session still find it.
    let live = session::live(&db, sid, chrono::Utc::now())
        .await
        .unwrap_or_else(|e| panic!("live: {e}"));
    assert_eq!(live.map(|s| s.subject_id), Some(7));
    // Its refresh token is exchanged once for a login in a new session,
    // which ends the old one.
    let rotated = session::rotate(
        &db,
        SubjectKind::Customer,
        "emp_rt_legacy-token",
        chrono::Utc::now(),
    )
    .await
    .unwrap_or_else(|e| panic!("rotate: {e}"));
    let Refresh::Rotated(issued) = rotated else {
        panic!("not rotated: {rotated:?}");
    };
    assert_eq!(issued.session.subject_id, 7);
    assert_ne!(issued.session_id, sid);
    let live = |sid: String| {
        let db = db.clone();
        async move {
            session::live(&db, &sid, chrono::Utc::now())
                .await
                .unwrap_or_else(|e| panic!("live: {e}"))
        }
    };
    assert!(
        live(sid.to_owned()).await.is_none(),
        "the old session ended"
    );
    assert!(live(issued.session_id.clone()).await.is_some());
    let again = session::rotate(
        &db,
        SubjectKind::Customer,
        "emp_rt_legacy-token",
        chrono::Utc::now(),
    )
    .await;
    assert!(matches!(again, Ok(Refresh::Reused)), "{again:?}");
    // And the new refresh token rotates within its session.
    let next = session::rotate(
        &db,
        SubjectKind::Customer,
        &issued.refresh_token,
        chrono::Utc::now(),
    )
    .await;
    let Ok(Refresh::Rotated(next)) = next else {
        panic!("not rotated: {next:?}");
    };
    assert_eq!(next.session_id, issued.session_id);
}

#[tokio::test]
async fn production_refuses_to_start_without_its_keys() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    for (env, needed) in [
        (
            vec![(
                "EMPORIUM_SECRET_KEY",
                "a production master key of 32+ bytes",
            )],
            "EMPORIUM_JWT_SECRET",
        ),
        (
            vec![
                (
                    "EMPORIUM_JWT_SECRET",
                    "a production signing key of 32+ bytes",
                ),
                ("EMPORIUM_SECRET_KEY", ""),
            ],
            "EMPORIUM_SECRET_KEY",
        ),
    ] {
        let mut env = env;
        env.push(("EMPORIUM_MODE", "production"));
        env.push(("EMPORIUM_LISTEN", "127.0.0.1:0"));
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            app.cli(&["serve"], &env),
        )
        .await
        .unwrap_or_else(|_| panic!("serve kept running without {needed}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(needed), "{stderr}");
    }
}
