//! Sessions: refresh rotation and reuse, logout, rejected tokens, password change, restarts.

use super::*;

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_ends_the_login() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let ada = accounts::customer(&app, "ada@example.com").await;

    let r1 = refresh(&app, &ada.refresh).await;
    assert_eq!(r1["userErrors"], json!([]));
    let access2 = text(&r1["tokens"]["accessToken"]);
    let refresh2 = text(&r1["tokens"]["refreshToken"]);
    assert_ne!(refresh2, ada.refresh);
    app.query_as(&access2, ME, json!({})).await;

    // The first token again: a reuse. The whole family is revoked.
    let reused = refresh(&app, &ada.refresh).await;
    assert_eq!(reused["tokens"], Value::Null);
    assert_eq!(reused["userErrors"][0]["code"], "TOKEN_INVALID");
    assert!(
        reused["userErrors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("already used")
    );
    let after = refresh(&app, &refresh2).await;
    assert_eq!(
        after["userErrors"][0]["code"], "TOKEN_INVALID",
        "the newer token died with its family"
    );
    let (status, body) = app.post_as(&access2, ME, json!({})).await;
    assert_eq!((status, first_code(&body)), (401, "UNAUTHENTICATED".into()));
    let (status, _) = app.post_as(&ada.access, ME, json!({})).await;
    assert_eq!(status, 401);

    assert_eq!(
        refresh(&app, "emp_rt_made-up").await["userErrors"][0]["code"],
        "TOKEN_INVALID"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_let_exactly_one_through() {
    const RACERS: usize = 8;
    let app = app_apart().await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let results =
        futures_util::future::join_all((0..RACERS).map(|_| refresh(&app, &ada.refresh))).await;
    // The token is claimed by one conditional update: one exchange wins.
    let (winners, losers): (Vec<&Value>, Vec<&Value>) =
        results.iter().partition(|r| r["tokens"].is_object());
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(winners[0]["userErrors"], json!([]), "{results:?}");
    // Every other one is refused with TOKEN_INVALID. The first to find the
    // token used (or to lose the claim) is told of the reuse and ends the
    // login; one that looks at the login only after that is told the
    // token is no longer valid.
    assert_eq!(losers.len(), RACERS - 1);
    for r in &losers {
        assert_eq!(r["tokens"], Value::Null, "{r}");
        assert_eq!(
            (
                r["userErrors"][0]["code"].as_str(),
                r["userErrors"][0]["field"].clone()
            ),
            (Some("TOKEN_INVALID"), json!(["refreshToken"])),
            "{r}"
        );
    }
    let told = |r: &&Value| {
        r["userErrors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("already used"))
    };
    assert!(
        losers.iter().any(told),
        "no loser was told of the reuse: {losers:?}"
    );
    // A reuse ends the family, so the winner's new token is dead too.
    let next = text(&winners[0]["tokens"]["refreshToken"]);
    assert_eq!(
        refresh(&app, &next).await["userErrors"][0]["code"],
        "TOKEN_INVALID"
    );
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let other = {
        let (_, body) = accounts::customer_login(&app, "ada@example.com", PASSWORD).await;
        text(&body["data"]["customerLogin"]["tokens"]["accessToken"])
    };
    app.query_as(
        &ada.access,
        "mutation { customerLogout { userErrors { code } } }",
        json!({}),
    )
    .await;
    let (status, body) = app.post_as(&ada.access, ME, json!({})).await;
    assert_eq!(status, 401);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("revoked")
    );
    assert_eq!(
        refresh(&app, &ada.refresh).await["userErrors"][0]["code"],
        "TOKEN_INVALID"
    );
    // The other login of the same customer is untouched.
    app.query_as(&other, ME, json!({})).await;
}

#[tokio::test]
async fn forged_expired_and_malformed_tokens_are_unauthenticated() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let claims: Claims = app
        .state
        .jwt
        .verify(&ada.access)
        .unwrap_or_else(|e| panic!("{e:?}"));

    let mut expired = claims.clone();
    expired.exp = chrono::Utc::now().timestamp() - 120;
    let expired = app
        .state
        .jwt
        .sign(&expired)
        .unwrap_or_else(|e| panic!("sign: {e}"));

    let stranger = JwtKeys::new(
        b"not-this-servers-key-not-this-servers",
        chrono::Duration::minutes(5),
    );
    let wrong_key = stranger
        .sign(&claims)
        .unwrap_or_else(|e| panic!("sign: {e}"));

    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let parts: Vec<&str> = ada.access.split('.').collect();
    let mut other = claims.clone();
    other.sub = "customer:999".into();
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap_or_default());
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    let none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
    );

    for (name, token, message) in [
        ("expired", expired.as_str(), "expired"),
        ("wrong key", wrong_key.as_str(), "invalid"),
        ("tampered", tampered.as_str(), "invalid"),
        ("alg none", none.as_str(), "invalid"),
        ("garbage", "abc.def", "invalid"),
        ("unknown partner token", "emp_pat_nope", "invalid"),
    ] {
        let (status, body) = app.post_as(token, ME, json!({})).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(first_code(&body), "UNAUTHENTICATED", "{name}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or("")
                .contains(message),
            "{name}: {body}"
        );
        assert!(body.get("data").is_none());
    }
    let res = app
        .post_json(
            &json!({ "query": ME }),
            &[("authorization", "Basic YWRhOnB3")],
        )
        .await;
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(
        header(&res, "www-authenticate").as_deref(),
        Some("Bearer error=\"invalid_token\"")
    );
    // No credentials at all is not an error for public fields, but is for `me`.
    let (status, body) = app.post(ME, json!({})).await;
    assert_eq!((status, first_code(&body)), (200, "UNAUTHENTICATED".into()));
}

#[tokio::test]
async fn password_change_keeps_this_login_and_ends_the_others() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let (_, body) = accounts::customer_login(&app, "ada@example.com", PASSWORD).await;
    let elsewhere = text(&body["data"]["customerLogin"]["tokens"]["accessToken"]);
    let change = "mutation($c: String!, $n: String!) { customerPasswordChange(currentPassword: $c, newPassword: $n) { userErrors { field code } } }";
    let wrong = app
        .query_as(
            &ada.access,
            change,
            json!({ "c": "nope nope nope", "n": "a brand new secret" }),
        )
        .await;
    assert_eq!(
        wrong["customerPasswordChange"]["userErrors"],
        json!([{ "field": ["currentPassword"], "code": "WRONG_PASSWORD" }])
    );
    let ok = app
        .query_as(
            &ada.access,
            change,
            json!({ "c": PASSWORD, "n": "a brand new secret" }),
        )
        .await;
    assert_eq!(ok["customerPasswordChange"]["userErrors"], json!([]));
    app.query_as(&ada.access, ME, json!({})).await;
    assert_eq!(app.post_as(&elsewhere, ME, json!({})).await.0, 401);
    let (_, old) = accounts::customer_login(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(
        old["data"]["customerLogin"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
    let (_, new) = accounts::customer_login(&app, "ada@example.com", "a brand new secret").await;
    assert_eq!(new["data"]["customerLogin"]["userErrors"], json!([]));
}
