//! Background work: outbound webhook delivery, customer notifications
//! and the retention purge.

use super::{ConfigError, env::Env};

/// Outbound webhook delivery settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `EMPORIUM_WEBHOOK_MAX_ATTEMPTS`: attempts before a delivery is
    /// marked failed (default 8, at least 1).
    pub max_attempts: u32,
    /// `EMPORIUM_WEBHOOK_RETRY_BASE_MS`: delay after the first failed
    /// attempt; it doubles after each further one (default 5000).
    pub retry_base_ms: u64,
    /// `EMPORIUM_WEBHOOK_RETRY_CAP_SECS`: the longest delay between two
    /// attempts (default 3600).
    pub retry_cap_secs: u64,
    /// `EMPORIUM_WEBHOOK_TIMEOUT_SECS`: how long one attempt may take,
    /// connecting included (default 10).
    pub timeout_secs: u64,
    /// `EMPORIUM_WEBHOOK_POLL_MS`: how often the delivery worker looks for
    /// due deliveries when it has none left (default 1000).
    pub poll_ms: u64,
    /// `EMPORIUM_WEBHOOK_ALLOW_PRIVATE`: let webhook URLs reach loopback,
    /// private, link-local and other non-public addresses (default false;
    /// for development and tests, whose receivers run on this machine).
    pub allow_private: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            retry_base_ms: 5_000,
            retry_cap_secs: 3_600,
            timeout_secs: 10,
            poll_ms: 1_000,
            allow_private: false,
        }
    }
}

/// Reads the webhook delivery settings.
pub(super) fn webhooks(env: &Env<'_>) -> Result<WebhookConfig, ConfigError> {
    let d = WebhookConfig::default();
    Ok(WebhookConfig {
        max_attempts: env
            .parse("EMPORIUM_WEBHOOK_MAX_ATTEMPTS", d.max_attempts)?
            .max(1),
        retry_base_ms: env
            .parse("EMPORIUM_WEBHOOK_RETRY_BASE_MS", d.retry_base_ms)?
            .max(1),
        retry_cap_secs: env
            .parse("EMPORIUM_WEBHOOK_RETRY_CAP_SECS", d.retry_cap_secs)?
            .max(1),
        timeout_secs: env
            .parse("EMPORIUM_WEBHOOK_TIMEOUT_SECS", d.timeout_secs)?
            .max(1),
        poll_ms: env.parse("EMPORIUM_WEBHOOK_POLL_MS", d.poll_ms)?.max(10),
        allow_private: env.parse("EMPORIUM_WEBHOOK_ALLOW_PRIVATE", d.allow_private)?,
    })
}

/// Retention periods of the background purge (see `domain::retention`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// `EMPORIUM_RETENTION_INTERVAL_SECS`: how often a purge round runs
    /// (one node of all sharing the database runs each; default 3600, 0
    /// turns purging off).
    pub interval_secs: u64,
    /// `EMPORIUM_RETENTION_CART_DAYS`: carts unchanged this long are purged
    /// (default 60).
    pub cart_days: u64,
    /// `EMPORIUM_RETENTION_IDEMPOTENCY_HOURS`: idempotency keys are kept this
    /// long after their first use (default 168).
    pub idempotency_hours: u64,
    /// `EMPORIUM_RETENTION_SESSION_DAYS`: ended (expired or revoked) login
    /// sessions and their refresh tokens are kept this long (default 30).
    pub session_days: u64,
    /// `EMPORIUM_RETENTION_RESET_DAYS`: expired password reset tokens are
    /// kept this long (default 7).
    pub reset_days: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            interval_secs: 3_600,
            cart_days: 60,
            idempotency_hours: 168,
            session_days: 30,
            reset_days: 7,
        }
    }
}

/// Reads the retention periods.
pub(super) fn retention(env: &Env<'_>) -> Result<RetentionConfig, ConfigError> {
    let d = RetentionConfig::default();
    Ok(RetentionConfig {
        interval_secs: env.parse("EMPORIUM_RETENTION_INTERVAL_SECS", d.interval_secs)?,
        cart_days: env.parse("EMPORIUM_RETENTION_CART_DAYS", d.cart_days)?,
        idempotency_hours: env
            .parse("EMPORIUM_RETENTION_IDEMPOTENCY_HOURS", d.idempotency_hours)?,
        session_days: env.parse("EMPORIUM_RETENTION_SESSION_DAYS", d.session_days)?,
        reset_days: env.parse("EMPORIUM_RETENTION_RESET_DAYS", d.reset_days)?,
    })
}

/// Customer notification settings (order mails; sent through the mailer
/// of `EMPORIUM_SMTP_URL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationConfig {
    /// `EMPORIUM_NOTIFICATIONS`: send customers order mails (default
    /// true; false enqueues none, e.g. for a shop that mails from its own
    /// webhook receiver).
    pub enabled: bool,
    /// `EMPORIUM_NOTIFICATION_RETRY_BASE_MS`: delay after the first failed
    /// send; it doubles after each further one (default 30000).
    pub retry_base_ms: u64,
    /// `EMPORIUM_NOTIFICATION_RETRY_CAP_SECS`: the longest delay between
    /// two attempts (default 3600). There is no last attempt.
    pub retry_cap_secs: u64,
    /// `EMPORIUM_NOTIFICATION_POLL_MS`: how often the worker looks for due
    /// notifications when it has none left (default 1000).
    pub poll_ms: u64,
}

impl Default for NotificationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            retry_base_ms: 30_000,
            retry_cap_secs: 3_600,
            poll_ms: 1_000,
        }
    }
}

/// Reads the customer notification settings.
pub(super) fn notifications(env: &Env<'_>) -> Result<NotificationConfig, ConfigError> {
    let d = NotificationConfig::default();
    Ok(NotificationConfig {
        enabled: env.parse("EMPORIUM_NOTIFICATIONS", d.enabled)?,
        retry_base_ms: env
            .parse("EMPORIUM_NOTIFICATION_RETRY_BASE_MS", d.retry_base_ms)?
            .max(1),
        retry_cap_secs: env
            .parse("EMPORIUM_NOTIFICATION_RETRY_CAP_SECS", d.retry_cap_secs)?
            .max(1),
        poll_ms: env
            .parse("EMPORIUM_NOTIFICATION_POLL_MS", d.poll_ms)?
            .max(10),
    })
}
