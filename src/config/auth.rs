//! Tokens, sessions and mail, and the bound on password hashing.

use std::path::PathBuf;

use super::{
    ConfigError,
    env::Env,
    secret::{Secret, SecretUrl},
};

/// Tokens, sessions and mail.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `EMPORIUM_JWT_SECRET`: key signing access tokens (at least 32 bytes).
    /// Unset: a random key generated once and kept in the database.
    pub jwt_secret: Option<Secret>,
    /// `EMPORIUM_ACCESS_TOKEN_TTL_SECS`: lifetime of access tokens (default 900).
    pub access_token_ttl_secs: u64,
    /// `EMPORIUM_SESSION_TTL_DAYS`: how long a login can be refreshed (default 30).
    pub session_ttl_days: u64,
    /// `EMPORIUM_PASSWORD_RESET_TTL_MINS`: lifetime of reset tokens (default 60).
    pub password_reset_ttl_mins: u64,
    /// `EMPORIUM_PASSWORD_RESET_URL`: link put in reset mails, with `{token}`
    /// where the token goes (unset: the mail gives the bare token).
    pub password_reset_url: Option<String>,
    /// `EMPORIUM_SMTP_URL`: `smtp://user:pass@host:587?tls=required` or
    /// `smtps://...`; unset: mail stays in the in-process outbox.
    pub smtp_url: Option<SecretUrl>,
    /// `EMPORIUM_MAIL_FROM`: sender of outgoing mail.
    pub mail_from: String,
    /// `EMPORIUM_MAIL_DIR`: without SMTP, also write each mail here as `.eml`.
    pub mail_dir: Option<PathBuf>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            access_token_ttl_secs: 900,
            session_ttl_days: 30,
            password_reset_ttl_mins: 60,
            password_reset_url: None,
            smtp_url: None,
            mail_from: "emporium <no-reply@localhost>".into(),
            mail_dir: None,
        }
    }
}

/// Reads the token, session and mail settings.
pub(super) fn auth(env: &Env<'_>) -> Result<AuthConfig, ConfigError> {
    let d = AuthConfig::default();
    let jwt_secret = env.string("EMPORIUM_JWT_SECRET");
    if let Some(s) = &jwt_secret
        && s.len() < 32
    {
        return Err(ConfigError::Invalid {
            var: "EMPORIUM_JWT_SECRET",
            value: "(hidden)".into(),
            reason: "must be at least 32 bytes".into(),
        });
    }
    let password_reset_url = env.string("EMPORIUM_PASSWORD_RESET_URL");
    if let Some(u) = &password_reset_url
        && !u.contains("{token}")
    {
        return Err(ConfigError::Invalid {
            var: "EMPORIUM_PASSWORD_RESET_URL",
            value: u.clone(),
            reason: "must contain `{token}`".into(),
        });
    }
    let smtp_url = env.string("EMPORIUM_SMTP_URL");
    if let Some(u) = &smtp_url
        && !(u.starts_with("smtp://") || u.starts_with("smtps://"))
    {
        return Err(ConfigError::Invalid {
            var: "EMPORIUM_SMTP_URL",
            value: "(hidden)".into(),
            reason: "expected an smtp:// or smtps:// URL".into(),
        });
    }
    Ok(AuthConfig {
        jwt_secret: jwt_secret.map(Secret::from),
        access_token_ttl_secs: env
            .parse("EMPORIUM_ACCESS_TOKEN_TTL_SECS", d.access_token_ttl_secs)?,
        session_ttl_days: env.parse("EMPORIUM_SESSION_TTL_DAYS", d.session_ttl_days)?,
        password_reset_ttl_mins: env.parse(
            "EMPORIUM_PASSWORD_RESET_TTL_MINS",
            d.password_reset_ttl_mins,
        )?,
        password_reset_url,
        smtp_url: smtp_url.map(SecretUrl::from),
        mail_from: env.string("EMPORIUM_MAIL_FROM").unwrap_or(d.mail_from),
        mail_dir: env.string("EMPORIUM_MAIL_DIR").map(PathBuf::from),
    })
}

/// The bound on password hashing (each argon2id run holds about 19 MiB and
/// a blocking thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashing {
    /// `EMPORIUM_PASSWORD_HASH_CONCURRENCY`: hashes and checks at once
    /// (default: the number of CPUs, at most 8).
    pub concurrency: usize,
    /// `EMPORIUM_PASSWORD_HASH_WAIT_MS`: how long a login or registration
    /// waits for a turn before it is refused with RATE_LIMITED (default 2000).
    pub wait_ms: u64,
}

impl Default for PasswordHashing {
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism()
                .map_or(2, std::num::NonZeroUsize::get)
                .clamp(1, 8),
            wait_ms: 2_000,
        }
    }
}

/// Reads the bound on password hashing.
pub(super) fn password_hashing(env: &Env<'_>) -> Result<PasswordHashing, ConfigError> {
    let d = PasswordHashing::default();
    Ok(PasswordHashing {
        concurrency: env
            .parse("EMPORIUM_PASSWORD_HASH_CONCURRENCY", d.concurrency)?
            .max(1),
        wait_ms: env.parse("EMPORIUM_PASSWORD_HASH_WAIT_MS", d.wait_ms)?,
    })
}
