//! Identity: registration, login, token refresh and reuse detection,
//! logout, password change and reset, rejected tokens, login throttling,
//! partner tokens and the CLI.

use std::time::Duration;

use emporium::domain::identity::{
    jwt::{Claims, JwtKeys},
    permission::Role,
};
use serde_json::{Value, json};

use crate::{
    accounts::{self, PASSWORD},
    harness::{Options, TestApp, first_code, header},
};

const ME: &str = "{ me { id email firstName addresses { id } } }";

#[tokio::test]
async fn registration_validates_and_emails_are_unique_regardless_of_case() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let ok = accounts::register(&app, "Ada@Example.com", PASSWORD).await;
    assert_eq!(ok["userErrors"], json!([]));
    assert_eq!(ok["customer"]["email"], "ada@example.com");

    let again = accounts::register(&app, "ADA@example.COM ", PASSWORD).await;
    assert_eq!(again["customer"], Value::Null);
    assert_eq!(again["userErrors"][0]["code"], "TAKEN");
    assert_eq!(again["userErrors"][0]["field"], json!(["input", "email"]));

    let codes = |v: &Value| -> Vec<String> {
        v["userErrors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["code"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        codes(&accounts::register(&app, "not-an-email", PASSWORD).await),
        ["INVALID"]
    );
    assert_eq!(
        codes(&accounts::register(&app, "", PASSWORD).await),
        ["BLANK"]
    );
    assert_eq!(
        codes(&accounts::register(&app, "bob@example.com", "short").await),
        ["TOO_SHORT"]
    );
    assert_eq!(
        codes(&accounts::register(&app, "bob@example.com", "password123").await),
        ["PASSWORD_TOO_WEAK"]
    );
    // Both mistakes at once are both reported, and nothing was created.
    assert_eq!(
        codes(&accounts::register(&app, "nope", "x").await),
        ["INVALID", "TOO_SHORT"]
    );
    let (_, login) = accounts::customer_login(&app, "bob@example.com", "password123").await;
    assert_eq!(
        login["data"]["customerLogin"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
}

/// An app without a catalog, served on a runtime of its own: for races.
async fn app_apart() -> TestApp {
    TestApp::spawn_with(Options {
        products: Some(0),
        own_runtime: true,
        ..Default::default()
    })
    .await
}

/// The string at `value`, which must be there.
fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_email_create_one_account() {
    let app = app_apart().await;
    let attempts = (0..6).map(|i| {
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com"
        };
        accounts::register(&app, email, PASSWORD)
    });
    let results = futures_util::future::join_all(attempts).await;
    let created = results.iter().filter(|r| r["customer"].is_object()).count();
    assert_eq!(created, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r["customer"].is_null())
            .all(|r| r["userErrors"][0]["code"] == "TAKEN")
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_are_indistinguishable() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    accounts::customer(&app, "ada@example.com").await;
    let (s1, wrong) = accounts::customer_login(&app, "ada@example.com", "not the password").await;
    let (s2, unknown) =
        accounts::customer_login(&app, "nobody@example.com", "not the password").await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["data"]["customerLogin"]["tokens"], Value::Null);
    assert_eq!(
        wrong["data"]["customerLogin"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
}

#[tokio::test]
async fn a_customer_reads_and_edits_their_own_profile_and_addresses() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let me = app.query_as(&ada.access, ME, json!({})).await;
    assert_eq!(me["me"]["email"], "ada@example.com");
    assert_eq!(me["me"]["id"], json!(ada.id));

    let create = "mutation($a: MailingAddressInput!, $d: Boolean) { customerAddressCreate(address: $a, setDefault: $d) { address { id city countryCode zip formatted } userErrors { field code } } }";
    let first = app
        .query_as(&ada.access, create, json!({ "a": { "address1": "1 Main St", "city": "Springfield", "countryCode": "us", "zip": "12345" } }))
        .await;
    let first = &first["customerAddressCreate"];
    assert_eq!(first["userErrors"], json!([]));
    assert_eq!(first["address"]["countryCode"], "US");
    let first_id = text(&first["address"]["id"]);

    let bad = app
        .query_as(
            &ada.access,
            create,
            json!({ "a": { "city": "Nowhere", "countryCode": "USA" } }),
        )
        .await;
    let codes: Vec<&str> = bad["customerAddressCreate"]["userErrors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["code"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(codes, ["BLANK", "INVALID"]);

    let second = app
        .query_as(&ada.access, create, json!({ "a": { "address1": "2 Side St", "city": "Shelbyville", "countryCode": "US" }, "d": true }))
        .await;
    let second_id = text(&second["customerAddressCreate"]["address"]["id"]);
    let me = app
        .query_as(
            &ada.access,
            "{ me { defaultAddress { id } addresses { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["defaultAddress"]["id"], json!(second_id));
    assert_eq!(me["me"]["addresses"].as_array().map(Vec::len), Some(2));

    let update = app
        .query_as(
            &ada.access,
            "mutation($id: ID!, $a: MailingAddressInput!) { customerAddressUpdate(id: $id, address: $a) { address { city address1 } userErrors { code } } }",
            json!({ "id": first_id, "a": { "city": "Capital City" } }),
        )
        .await;
    assert_eq!(
        update["customerAddressUpdate"]["address"],
        json!({ "city": "Capital City", "address1": "1 Main St" })
    );

    let default = app
        .query_as(
            &ada.access,
            "mutation($id: ID!) { customerDefaultAddressUpdate(addressId: $id) { customer { defaultAddress { id } } userErrors { code } } }",
            json!({ "id": first_id }),
        )
        .await;
    assert_eq!(
        default["customerDefaultAddressUpdate"]["customer"]["defaultAddress"]["id"],
        json!(first_id)
    );

    let delete = app
        .query_as(
            &ada.access,
            "mutation($id: ID!) { customerAddressDelete(id: $id) { deletedAddressId userErrors { code } } }",
            json!({ "id": first_id }),
        )
        .await;
    assert_eq!(
        delete["customerAddressDelete"]["deletedAddressId"],
        json!(first_id)
    );
    let me = app
        .query_as(
            &ada.access,
            "{ me { defaultAddress { id } addresses { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["me"]["defaultAddress"],
        Value::Null,
        "deleting the default clears it"
    );
    assert_eq!(me["me"]["addresses"], json!([{ "id": second_id }]));

    let profile = app
        .query_as(
            &ada.access,
            "mutation { customerUpdate(input: { firstName: \"Ada\", lastName: \"Lovelace\", phone: \"+44 20 7946 0000\" }) { customer { displayName phone } userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        profile["customerUpdate"]["customer"],
        json!({ "displayName": "Ada Lovelace", "phone": "+44 20 7946 0000" })
    );
    let bad_phone = app
        .query_as(&ada.access, "mutation { customerUpdate(input: { phone: \"call me\" }) { customer { id } userErrors { field code } } }", json!({}))
        .await;
    assert_eq!(
        bad_phone["customerUpdate"]["userErrors"],
        json!([{ "field": ["input", "phone"], "code": "INVALID" }])
    );
}

async fn refresh(app: &TestApp, token: &str) -> Value {
    app.query(
        "mutation($t: String!) { customerTokenRefresh(refreshToken: $t) { tokens { accessToken refreshToken } userErrors { field code message } } }",
        json!({ "t": token }),
    )
    .await["customerTokenRefresh"]
        .clone()
}

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

async fn wait_for_mails(app: &TestApp, n: usize) -> Vec<emporium::infra::mail::Mail> {
    for _ in 0..1500 {
        let mails = app.mails();
        if mails.len() >= n {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.mails()
}

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

/// The reset token in the mail.
fn reset_token(mail: &emporium::infra::mail::Mail) -> String {
    mail.body
        .lines()
        .find_map(|l| l.strip_prefix("Your reset token: "))
        .unwrap_or_else(|| panic!("no token in {}", mail.body))
        .to_owned()
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

/// A minimal SMTP server on a loopback port that records each message.
async fn smtp_sink() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (listener, addr) = crate::harness::loopback().await;
    let port = addr.port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            let _ = tx.send(std::mem::take(body));
                            data = None;
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, rx)
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
