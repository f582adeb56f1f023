//! Login throttling, staff and partner tokens, the CLI.

use super::*;

#[tokio::test]
async fn login_attempts_are_throttled_per_client_address() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        configure: Some(|c| {
            c.rate.login_ip = emporium::infra::ratelimit::Budget::parse("4,0.01").ok();
        }),
        ..Default::default()
    })
    .await;
    for i in 0..4 {
        let (_, body) =
            accounts::customer_login(&app, &format!("user{i}@example.com"), "whatever it is").await;
        assert_eq!(
            body["data"]["customerLogin"]["userErrors"][0]["code"],
            "INVALID_CREDENTIALS"
        );
    }
    let (_, body) = accounts::customer_login(&app, "user9@example.com", "whatever it is").await;
    assert_eq!(first_code(&body), "RATE_LIMITED");
    // Registration hashes a password too: the same budget.
    let (_, body) = app
        .post(
            "mutation { customerRegister(input: { email: \"new@example.com\", password: \"correct horse battery\" }) { customer { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(first_code(&body), "RATE_LIMITED");
}

#[tokio::test]
async fn staff_tokens_carry_the_roles_permissions_and_deactivation_ends_them() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let admin = accounts::staff_user(&app, "admin@example.com", Role::Admin).await;
    let support = accounts::staff_user(&app, "support@example.com", Role::Support).await;
    let claims = app
        .state
        .jwt
        .verify(&support.access)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(claims.role.as_deref(), Some("support"));
    assert!(claims.perms.contains(&"customers:read".to_owned()));
    assert!(!claims.perms.contains(&"catalog:write".to_owned()));
    let me = app
        .query_as(
            &support.access,
            "{ staffMe { email role permissions } }",
            json!({}),
        )
        .await;
    assert_eq!(me["staffMe"]["role"], "SUPPORT");

    let deactivate = app
        .query_as(
            &admin.access,
            "mutation($id: ID!) { staffUserUpdate(id: $id, active: false) { staffUser { active } userErrors { code } } }",
            json!({ "id": support.id }),
        )
        .await;
    assert_eq!(deactivate["staffUserUpdate"]["staffUser"]["active"], false);
    assert_eq!(
        app.post_as(&support.access, "{ staffMe { email } }", json!({}))
            .await
            .0,
        401
    );
    let relogin = app
        .query(
            "mutation($p: String!) { staffLogin(email: \"support@example.com\", password: $p) { tokens { accessToken } userErrors { code } } }",
            json!({ "p": PASSWORD }),
        )
        .await;
    assert_eq!(
        relogin["staffLogin"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );

    let demote_self = app
        .query_as(
            &admin.access,
            "mutation($id: ID!) { staffUserUpdate(id: $id, role: SUPPORT) { userErrors { code } } }",
            json!({ "id": admin.id }),
        )
        .await;
    assert_eq!(
        demote_self["staffUserUpdate"]["userErrors"][0]["code"],
        "INVALID"
    );
}

#[tokio::test]
async fn partner_tokens_are_shown_once_stored_hashed_and_revoked_at_once() {
    let app = TestApp::spawn().await;
    let admin = accounts::staff_user(&app, "admin@example.com", Role::Admin).await;
    let created = app
        .query_as(
            &admin.access,
            "mutation { apiTokenCreate(input: { name: \"ERP\", scopes: [\"catalog:read\"] }) { apiToken { id prefix scopes lastUsedAt } secret userErrors { code } } }",
            json!({}),
        )
        .await;
    let created = &created["apiTokenCreate"];
    let secret = text(&created["secret"]);
    assert!(secret.starts_with("emp_pat_") && secret.len() > 40);
    assert!(secret.starts_with(created["apiToken"]["prefix"].as_str().unwrap_or("?")));
    assert_eq!(created["apiToken"]["scopes"], json!(["catalog:read"]));
    let token_id = created["apiToken"]["id"].clone();

    // Only a digest is stored.
    use sea_orm::EntityTrait;
    let rows = entity::api_token::Entity::find()
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("tokens: {e}"));
    assert!(
        !rows.is_empty()
            && rows
                .iter()
                .all(|r| r.token_hash.len() == 64 && !r.token_hash.contains(&secret))
    );

    let drafts = app
        .query_as(
            &secret,
            "{ catalogProducts(first: 100, statuses: [DRAFT, ARCHIVED]) { nodes { status } } }",
            json!({}),
        )
        .await;
    let statuses = drafts["catalogProducts"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!statuses.is_empty() && statuses.iter().all(|s| s["status"] != "ACTIVE"));
    let listed = app
        .query_as(&admin.access, "{ apiTokens { id lastUsedAt } }", json!({}))
        .await;
    assert!(
        listed["apiTokens"][0]["lastUsedAt"].is_string(),
        "use is recorded: {listed}"
    );

    // Scopes bound what the token can do.
    let (_, body) = app
        .post_as(
            &secret,
            "{ customers(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN");
    let invalid = app
        .query_as(&admin.access, "mutation { apiTokenCreate(input: { name: \"x\", scopes: [\"tokens:manage\", \"nope\"] }) { secret userErrors { code } } }", json!({}))
        .await;
    assert_eq!(invalid["apiTokenCreate"]["secret"], Value::Null);
    assert_eq!(
        invalid["apiTokenCreate"]["userErrors"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    app.query_as(
        &admin.access,
        "mutation($id: ID!) { apiTokenRevoke(id: $id) { apiToken { revokedAt } } }",
        json!({ "id": token_id }),
    )
    .await;
    let (status, body) = app
        .post_as(
            &secret,
            "{ catalogProducts(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 401);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("revoked")
    );
}

#[tokio::test]
async fn the_cli_creates_the_first_admin_and_partner_tokens() {
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        ..Default::default()
    })
    .await;
    let out = app
        .cli(
            &[
                "staff",
                "create",
                "--email",
                "root@example.com",
                "--role",
                "admin",
            ],
            &[("EMPORIUM_STAFF_PASSWORD", PASSWORD)],
        )
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin = accounts::staff_login(&app, "root@example.com").await;
    app.query_as(&admin.access, "{ staffUsers { email role } }", json!({}))
        .await;

    let weak = app
        .cli(
            &[
                "staff",
                "create",
                "--email",
                "weak@example.com",
                "--role",
                "support",
            ],
            &[("EMPORIUM_STAFF_PASSWORD", "123")],
        )
        .await;
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("TooShort"));

    let out = app
        .cli(
            &[
                "token",
                "create",
                "--name",
                "PIM",
                "--scopes",
                "catalog:read,inventory:read",
            ],
            &[],
        )
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(secret.starts_with("emp_pat_"));
    app.query_as(
        &secret,
        "{ catalogProducts(first: 1) { nodes { id } } }",
        json!({}),
    )
    .await;
}

#[tokio::test]
async fn logins_survive_a_restart_and_work_on_every_node() {
    // The signing key is generated once and kept in the database, so a
    // restarted node (fresh state on the same database) or a second node
    // accepts tokens the first one issued.
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let restarted = app.spawn_sibling().await;
    let me = restarted.query_as(&ada.access, ME, json!({})).await;
    assert_eq!(me["me"]["email"], "ada@example.com");
    let next = refresh(&restarted, &ada.refresh).await;
    assert_eq!(next["userErrors"], json!([]));
}
