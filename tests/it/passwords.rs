//! Passwords under pressure: hashing is bounded and a saturated server says
//! RATE_LIMITED (never an error); a taken email costs the same hashing as a
//! new account; a password change voids mailed reset tokens; a staff
//! lockout holds per address, not for everyone.

use emporium::{config::PasswordHashing, domain::identity::permission::Role};
use serde_json::{Value, json};

use crate::{
    accounts::{self, PASSWORD},
    harness::{Options, TestApp, first_code},
};

const REGISTER: &str = "mutation($i: CustomerRegisterInput!) { customerRegister(input: $i) { customer { id } userErrors { field code } } }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { customerLogin(email: $e, password: $p) { customer { id } userErrors { code } } }";
const STAFF_LOGIN: &str = "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { staffUser { id } userErrors { code } } }";

/// What a burst request came to.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    Refused,
}

fn outcome(status: u16, body: &Value, field: &str) -> Outcome {
    assert_eq!(status, 200, "{body}");
    if body.get("errors").is_some() {
        assert_eq!(first_code(body), "RATE_LIMITED", "{body}");
        assert!(
            body["errors"][0]["extensions"]["retryAfterMs"]
                .as_u64()
                .is_some_and(|ms| ms > 0),
            "{body}"
        );
        return Outcome::Refused;
    }
    assert_eq!(body["data"][field]["userErrors"], json!([]), "{body}");
    Outcome::Done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_registrations_and_logins_is_bounded_and_refusals_are_retryable() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        configure: Some(|c| {
            c.password_hashing = PasswordHashing {
                concurrency: 1,
                wait_ms: 0,
            };
            c.rate.login_ip = None;
            c.rate.login_email = None;
        }),
        ..Default::default()
    })
    .await;
    accounts::customer(&app, "ada@example.com").await;
    let burst: Vec<_> = (0..24)
        .map(|i| {
            let app = &app;
            async move {
                if i % 2 == 0 {
                    let email = format!("user{i}@example.com");
                    let (status, body) = app
                        .post(
                            REGISTER,
                            json!({ "i": { "email": email, "password": PASSWORD } }),
                        )
                        .await;
                    (i, outcome(status, &body, "customerRegister"))
                } else {
                    let (status, body) = app
                        .post(LOGIN, json!({ "e": "ada@example.com", "p": PASSWORD }))
                        .await;
                    (i, outcome(status, &body, "customerLogin"))
                }
            }
        })
        .collect();
    let results = futures_util::future::join_all(burst).await;
    let refused: Vec<i32> = results
        .iter()
        .filter(|(_, o)| *o == Outcome::Refused)
        .map(|(i, _)| *i)
        .collect();
    assert!(
        !refused.is_empty() && refused.len() < results.len(),
        "{results:?}"
    );
    // A refused request changed nothing and goes through when retried.
    for i in refused.into_iter().filter(|i| i % 2 == 0) {
        let email = format!("user{i}@example.com");
        let (status, body) = app
            .post(
                REGISTER,
                json!({ "i": { "email": email, "password": PASSWORD } }),
            )
            .await;
        assert_eq!(
            outcome(status, &body, "customerRegister"),
            Outcome::Done,
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_taken_email_costs_the_same_hashing_as_a_new_account() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let runs = || app.state.hashing.runs();
    let before = runs();
    let new = accounts::register(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(new["userErrors"], json!([]));
    assert_eq!(runs() - before, 1);
    let before = runs();
    let taken = accounts::register(&app, "ADA@example.com", PASSWORD).await;
    assert_eq!(taken["userErrors"][0]["code"], "TAKEN", "{taken}");
    assert_eq!(runs() - before, 1, "a taken email answered without hashing");
}

async fn reset_token(app: &TestApp, email: &str) -> String {
    let (_, body) = app
        .post(
            "mutation($e: String!) { customerPasswordResetRequest(email: $e) { userErrors { code } } }",
            json!({ "e": email }),
        )
        .await;
    assert_eq!(
        body["data"]["customerPasswordResetRequest"]["userErrors"],
        json!([]),
        "{body}"
    );
    // The mail is sent in the background.
    crate::checkout::eventually(
        std::time::Duration::from_secs(30),
        "the reset mail",
        || async { app.mails().iter().any(|m| m.to == email) },
    )
    .await;
    let mail = app
        .mails()
        .into_iter()
        .find(|m| m.to == email)
        .unwrap_or_else(|| panic!("no mail"));
    mail.body
        .lines()
        .find_map(|l| l.strip_prefix("Your reset token: "))
        .unwrap_or_else(|| panic!("no token in {}", mail.body))
        .trim()
        .to_owned()
}

#[tokio::test]
async fn a_password_change_voids_reset_tokens_mailed_before_it() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let token = reset_token(&app, "ada@example.com").await;
    let changed = app
        .query_as(
            &ada.access,
            "mutation($c: String!, $n: String!) { customerPasswordChange(currentPassword: $c, newPassword: $n) { userErrors { code } } }",
            json!({ "c": PASSWORD, "n": "a brand new passphrase" }),
        )
        .await;
    assert_eq!(
        changed["customerPasswordChange"]["userErrors"],
        json!([]),
        "{changed}"
    );
    let (_, body) = app
        .post(
            "mutation($t: String!, $n: String!) { customerPasswordReset(token: $t, newPassword: $n) { customer { id } userErrors { code } } }",
            json!({ "t": token, "n": "what the thief would set" }),
        )
        .await;
    assert_eq!(
        body["data"]["customerPasswordReset"]["userErrors"][0]["code"], "TOKEN_INVALID",
        "{body}"
    );
    let (_, body) =
        accounts::customer_login(&app, "ada@example.com", "a brand new passphrase").await;
    assert_eq!(body["data"]["customerLogin"]["userErrors"], json!([]));
}

#[tokio::test]
async fn failed_staff_logins_lock_the_account_only_from_the_address_they_came_from() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        configure: Some(|c| c.edge.trusted_proxy_hops = 1),
        ..Default::default()
    })
    .await;
    accounts::staff_user(&app, "root@example.com", Role::Admin).await;
    let login = |from: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.post_with(
                STAFF_LOGIN,
                json!({ "e": "root@example.com", "p": password }),
                &[("x-forwarded-for", from)],
            )
            .await
            .1
        }
    };
    for i in 0..5 {
        let body = login("203.0.113.7", "not the password at all").await;
        assert_eq!(
            body["data"]["staffLogin"]["userErrors"][0]["code"], "INVALID_CREDENTIALS",
            "attempt {i}: {body}"
        );
    }
    // The guesser's address is locked out, even with the right password ...
    assert_eq!(
        first_code(&login("203.0.113.7", PASSWORD).await),
        "RATE_LIMITED"
    );
    // ... the staff user's own is not.
    let body = login("198.51.100.20", PASSWORD).await;
    assert_eq!(
        body["data"]["staffLogin"]["userErrors"],
        json!([]),
        "{body}"
    );
}
