//! Helpers that make principals: customers, staff users and partner tokens.

use emporium::domain::identity::{
    api_token::{self, NewToken},
    permission::Role,
    staff::{self, NewStaff},
};
use serde_json::{Value, json};

use crate::harness::TestApp;

/// A password that meets the policy.
pub const PASSWORD: &str = "correct horse battery staple";

/// Tokens of a login.
#[derive(Debug, Clone)]
pub struct Login {
    /// Global ID of the customer or staff user.
    pub id: String,
    /// Access JWT.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
}

const LOGIN_FIELDS: &str = "tokens { accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt } userErrors { field code message }";

fn login_of(payload: &Value, who: &str) -> Login {
    assert_eq!(payload["userErrors"], json!([]), "login failed: {payload}");
    Login {
        id: payload[who]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no {who} id in {payload}"))
            .to_owned(),
        access: payload["tokens"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token in {payload}"))
            .to_owned(),
        refresh: payload["tokens"]["refreshToken"]
            .as_str()
            .unwrap_or_else(|| panic!("no refresh token in {payload}"))
            .to_owned(),
    }
}

/// Registers a customer and returns the `customerRegister` payload.
pub async fn register(app: &TestApp, email: &str, password: &str) -> Value {
    let data = app
        .query(
            "mutation($i: CustomerRegisterInput!) { customerRegister(input: $i) { customer { id email } userErrors { field code message } } }",
            json!({ "i": { "email": email, "password": password, "firstName": "Test" } }),
        )
        .await;
    data["customerRegister"].clone()
}

/// Runs `customerLogin` and returns its payload.
pub async fn customer_login(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    app.post(
        &format!("mutation($e: String!, $p: String!) {{ customerLogin(email: $e, password: $p) {{ customer {{ id }} {LOGIN_FIELDS} }} }}"),
        json!({ "e": email, "p": password }),
    )
    .await
}

/// Registers and logs in a customer.
pub async fn customer(app: &TestApp, email: &str) -> Login {
    let reg = register(app, email, PASSWORD).await;
    assert_eq!(reg["userErrors"], json!([]), "register failed: {reg}");
    let (_, body) = customer_login(app, email, PASSWORD).await;
    login_of(&body["data"]["customerLogin"], "customer")
}

/// Creates a staff user (as the CLI does) and logs them in.
pub async fn staff_user(app: &TestApp, email: &str, role: Role) -> Login {
    staff::create(
        &app.db,
        &app.state.hashing,
        NewStaff {
            email: email.into(),
            name: None,
            password: PASSWORD.into(),
            role,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("create staff: {e}"))
    .unwrap_or_else(|e| panic!("create staff: {e:?}"));
    staff_login(app, email).await
}

/// Logs an existing staff user in.
pub async fn staff_login(app: &TestApp, email: &str) -> Login {
    let data = app
        .query(
            &format!("mutation($e: String!, $p: String!) {{ staffLogin(email: $e, password: $p) {{ staffUser {{ id }} {LOGIN_FIELDS} }} }}"),
            json!({ "e": email, "p": PASSWORD }),
        )
        .await;
    login_of(&data["staffLogin"], "staffUser")
}

/// Creates a partner token with `scopes` (and an optional rate budget);
/// returns its secret and global ID.
pub async fn partner_token(
    app: &TestApp,
    scopes: &[&str],
    rate: Option<(i32, i32)>,
) -> (String, i64) {
    let created = api_token::create(
        &app.db,
        NewToken {
            name: format!("partner {}", scopes.join(" ")),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at: None,
            rate_capacity: rate.map(|r| r.0),
            rate_restore_per_second: rate.map(|r| r.1),
            created_by: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("create token: {e}"))
    .unwrap_or_else(|e| panic!("create token: {e:?}"));
    (created.secret, created.token.id)
}
