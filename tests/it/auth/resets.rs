//! Password reset by mail, through the in-memory outbox and through SMTP.

use super::*;

#[tokio::test]
async fn password_reset_is_mailed_single_use_and_ends_every_login() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let request =
        "mutation($e: String!) { customerPasswordResetRequest(email: $e) { userErrors { code } } }";
    let unknown = app
        .query(request, json!({ "e": "nobody@example.com" }))
        .await;
    let known = app.query(request, json!({ "e": "ADA@example.com" })).await;
    assert_eq!(
        unknown, known,
        "the answer does not tell whether the email has an account"
    );

    let mails = wait_for_mails(&app, 1).await;
    assert_eq!(mails.len(), 1, "one mail, to the known address only");
    assert_eq!(mails[0].to, "ada@example.com");
    let token = reset_token(&mails[0]);

    let reset = "mutation($t: String!, $p: String!) { customerPasswordReset(token: $t, newPassword: $p) { customer { email } tokens { accessToken } userErrors { field code } } }";
    let weak = app.query(reset, json!({ "t": token, "p": "short" })).await;
    assert_eq!(
        weak["customerPasswordReset"]["userErrors"][0]["code"],
        "TOO_SHORT"
    );
    let ok = app
        .query(reset, json!({ "t": token, "p": "another fine secret" }))
        .await;
    assert_eq!(ok["customerPasswordReset"]["userErrors"], json!([]));
    let fresh = text(&ok["customerPasswordReset"]["tokens"]["accessToken"]);
    app.query_as(&fresh, ME, json!({})).await;
    assert_eq!(
        app.post_as(&ada.access, ME, json!({})).await.0,
        401,
        "old logins end"
    );

    let again = app
        .query(reset, json!({ "t": token, "p": "yet another secret" }))
        .await;
    assert_eq!(
        again["customerPasswordReset"]["userErrors"],
        json!([{ "field": ["token"], "code": "TOKEN_INVALID" }])
    );
    let (_, login) = accounts::customer_login(&app, "ada@example.com", "another fine secret").await;
    assert_eq!(login["data"]["customerLogin"]["userErrors"], json!([]));
}

#[tokio::test]
async fn expired_reset_tokens_do_not_work() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        configure: Some(|c| c.auth.password_reset_ttl_mins = 60),
        ..Default::default()
    })
    .await;
    accounts::customer(&app, "ada@example.com").await;
    app.query("mutation { customerPasswordResetRequest(email: \"ada@example.com\") { userErrors { code } } }", json!({}))
        .await;
    let mails = wait_for_mails(&app, 1).await;
    assert_eq!(mails.len(), 1, "no reset mail");
    let token = reset_token(&mails[0]);
    let reset = |password: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            app.query(
                "mutation($t: String!, $p: String!) { customerPasswordReset(token: $t, newPassword: $p) { userErrors { code } } }",
                json!({ "t": token, "p": password }),
            )
            .await["customerPasswordReset"]["userErrors"]
                .clone()
        }
    };
    // Within the hour the token is good (a weak password is the only
    // thing wrong, and nothing is used up) ...
    assert_eq!(reset("short").await, json!([{ "code": "TOO_SHORT" }]));
    // ... an hour later it is not.
    app.clock.advance(Duration::from_secs(3601));
    assert_eq!(
        reset("another fine secret").await,
        json!([{ "code": "TOKEN_INVALID" }])
    );
}

#[tokio::test]
async fn failed_logins_are_throttled_per_email_across_nodes() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    accounts::customer(&app, "ada@example.com").await;
    accounts::customer(&app, "bob@example.com").await;
    // Two nodes share the throttle through Redis when it is configured.
    let node_b = app.spawn_sibling().await;
    let shared = app.state.redis.is_some();
    for i in 0..5 {
        let node = if i % 2 == 0 { &app } else { &node_b };
        let node = if shared { node } else { &app };
        let (_, body) =
            accounts::customer_login(node, "ada@example.com", "wrong wrong wrong").await;
        assert_eq!(
            body["data"]["customerLogin"]["userErrors"][0]["code"], "INVALID_CREDENTIALS",
            "attempt {i}"
        );
    }
    let locked_node = if shared { &node_b } else { &app };
    // Even the right password is refused now, before it is checked.
    let (_, body) = accounts::customer_login(locked_node, "ada@example.com", PASSWORD).await;
    assert_eq!(first_code(&body), "RATE_LIMITED", "{body}");
    assert!(
        body["errors"][0]["extensions"]["retryAfterMs"]
            .as_u64()
            .is_some_and(|ms| ms > 0)
    );
    // Another account from the same address still logs in.
    let (_, body) = accounts::customer_login(locked_node, "bob@example.com", PASSWORD).await;
    assert_eq!(body["data"]["customerLogin"]["userErrors"], json!([]));
}

#[tokio::test]
async fn reset_mail_goes_through_smtp_when_configured() {
    let (port, mut received) = smtp_sink().await;
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    accounts::customer(&app, "ada@example.com").await;
    // A node configured with SMTP, on the same database.
    let mut config = (*app.state.config).clone();
    config.auth.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
    config.auth.password_reset_url = Some("https://shop.example/reset?token={token}".into());
    let state = emporium::app::AppState::with_db(app.db.clone(), config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        state.mailer.outbox().is_none(),
        "an SMTP mailer, not the outbox"
    );
    let (listener, addr) = crate::harness::loopback().await;
    tokio::spawn(emporium::app::serve(
        state,
        listener,
        std::future::pending(),
    ));
    let res = app
        .client
        .post(format!("http://{addr}/graphql"))
        .json(&json!({ "query": "mutation { customerPasswordResetRequest(email: \"ada@example.com\") { userErrors { code } } }" }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    let message = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .unwrap_or_else(|_| panic!("no mail reached the SMTP server"))
        .unwrap_or_else(|| panic!("the SMTP sink stopped"));
    assert!(message.contains("To: ada@example.com"), "{message}");
    assert!(
        message.contains("Subject: Reset your password"),
        "{message}"
    );
    assert!(
        message.contains("https://shop.example/reset?token="),
        "{message}"
    );
}

#[tokio::test]
async fn expired_partner_tokens_are_refused() {
    use emporium::domain::identity::api_token::{self, NewToken};
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        ..Default::default()
    })
    .await;
    let expires_at = app.clock.now() + chrono::Duration::days(1);
    let secret = api_token::create(
        &app.db,
        NewToken {
            name: "for a day".into(),
            scopes: vec!["catalog:read".into()],
            expires_at: Some(expires_at),
            rate_capacity: None,
            rate_restore_per_second: None,
            created_by: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("create token: {e}"))
    .unwrap_or_else(|e| panic!("create token: {e:?}"))
    .secret;
    let catalog = "{ catalogProducts(first: 1) { nodes { id } } }";
    app.query_as(&secret, catalog, json!({})).await;
    app.advance_past(expires_at);
    let (status, body) = app.post_as(&secret, catalog, json!({})).await;
    assert_eq!(status, 401);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("expired"),
        "{body}"
    );
}
