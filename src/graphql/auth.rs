//! Authorization, in one place: what each protected field needs is stated on
//! the field with [`Need`] (or, for "the signed-in customer", with
//! [`ContextExt::customer`]), and checked here against the request's
//! principal. Anonymous callers get UNAUTHENTICATED, signed-in ones without
//! the permission FORBIDDEN.
//!
//! Also here: the request's rate budget and login throttling.

use std::{net::IpAddr, time::Duration};

use async_graphql::{Context, ErrorExtensions, Guard};

use super::{
    ContextExt,
    error::{ApiError, ApiResult, ErrorCode},
};
use crate::infra::ratelimit::address_key;
use crate::{
    config::RateLimits,
    domain::identity::{access::Principal, permission::Permission},
    infra::ratelimit::{Budget, Decision},
    state::AppState,
};

/// The error for a caller without credentials.
pub fn unauthenticated() -> ApiError {
    ErrorCode::Unauthenticated.error("sign in first: send `Authorization: Bearer <token>`")
}

/// The error for a signed-in caller lacking `p`.
pub fn forbidden(p: Permission) -> ApiError {
    ErrorCode::Forbidden.error(format!("this needs the `{p}` permission"))
}

/// Checks that the principal holds `p`.
pub fn check(principal: &Principal, p: Permission) -> ApiResult<()> {
    match principal {
        _ if principal.can(p) => Ok(()),
        Principal::Anonymous => Err(unauthenticated()),
        _ => Err(forbidden(p)),
    }
}

/// Field guard: the caller must hold the permission.
pub struct Need(pub Permission);

impl Guard for Need {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        check(ctx.principal()?, self.0).map_err(Into::into)
    }
}

/// Field guard of a customer's own data: the customer `owner` themself, or a
/// caller holding the permission. Put it on every field of an object that
/// belongs to a customer and leads to more protected data (their orders,
/// addresses, balances), so the rule holds whichever root reached the object.
pub struct OwnerOr {
    /// The customer the data belongs to.
    pub owner: i64,
    /// What anyone else needs.
    pub permission: Permission,
}

impl OwnerOr {
    /// The customer `owner`, or holders of `permission`.
    pub fn new(owner: i64, permission: Permission) -> Self {
        Self { owner, permission }
    }
}

impl Guard for OwnerOr {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let principal = ctx.principal()?;
        if principal.customer_id() == Some(self.owner) {
            return Ok(());
        }
        check(principal, self.permission).map_err(Into::into)
    }
}

/// Field guard: the caller must be a signed-in customer.
pub struct SignedInCustomer;

impl Guard for SignedInCustomer {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        ctx.customer().map(|_| ()).map_err(Into::into)
    }
}

/// Field guard: the caller must be a signed-in staff user.
pub struct SignedInStaff;

impl Guard for SignedInStaff {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        match ctx.principal()? {
            Principal::Staff { .. } => Ok(()),
            Principal::Anonymous => Err(unauthenticated().into()),
            _ => Err(ErrorCode::Forbidden.error("for staff users only").into()),
        }
    }
}

/// The signed-in customer's id and session.
pub fn customer_of(principal: &Principal) -> ApiResult<(i64, &str)> {
    match principal {
        Principal::Customer { id, session } => Ok((*id, session.as_str())),
        Principal::Anonymous => Err(unauthenticated()),
        _ => Err(ErrorCode::Forbidden.error("for signed-in customers only")),
    }
}

/// The bucket a principal's requests are charged to, and its budget.
pub fn rate_subject(
    principal: &Principal,
    ip: Option<IpAddr>,
    limits: &RateLimits,
) -> Option<(String, Budget)> {
    match principal {
        Principal::Anonymous => Some((format!("ip:{}", address_key(ip)), limits.anonymous?)),
        Principal::Customer { id, .. } => Some((format!("customer:{id}"), limits.customer?)),
        Principal::Staff { id, .. } => Some((format!("staff:{id}"), limits.staff?)),
        Principal::Partner { token_id, rate, .. } => {
            let budget = match rate {
                Some((capacity, restore)) => Budget {
                    capacity: *capacity,
                    restore_per_second: f64::from(*restore),
                },
                None => limits.partner?,
            };
            Some((format!("token:{token_id}"), budget))
        }
    }
}

/// The RATE_LIMITED error, with the retry hint in `extensions.retryAfterMs`.
pub fn rate_limited(message: &str, retry_after: Option<Duration>) -> async_graphql::Error {
    let ms = retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    ErrorCode::RateLimited
        .graphql_error(match ms {
            Some(ms) => format!("{message}; retry in {ms} ms"),
            None => format!("{message}; it exceeds the whole budget"),
        })
        .extend_with(|_, e| {
            if let Some(ms) = ms {
                e.set("retryAfterMs", ms);
            }
        })
}

/// RATE_LIMITED as a request error: the whole operation was refused.
pub fn rate_limited_request(retry_after: Option<Duration>) -> async_graphql::ServerError {
    let e = rate_limited("over the rate budget", retry_after);
    let mut server = async_graphql::ServerError::new(e.message, None);
    server.extensions = e.extensions;
    server
}

/// Login throttling against credential stuffing: every attempt spends from
/// the client IP's bucket, every failure from the bucket of the email at
/// that address (so failures from one address cannot lock the account for
/// everyone else). Either bucket empty refuses the attempt before the
/// password is even checked.
pub struct LoginThrottle {
    state: AppState,
    email_key: String,
}

impl LoginThrottle {
    /// Admits one attempt at something that hashes or checks a password
    /// (registration too: hashing is deliberately expensive) from the
    /// client's address, or refuses it with RATE_LIMITED.
    pub async fn admit_address(ctx: &Context<'_>) -> ApiResult<()> {
        let state = ctx.state()?;
        let Some(budget) = state.config.rate.login_ip else {
            return Ok(());
        };
        let ip = address_key(ctx.request()?.client_ip);
        let d = state
            .limiter
            .charge(&format!("login-ip:{ip}"), budget, 1)
            .await;
        if d.allowed {
            Ok(())
        } else {
            Err(ApiError::Graphql(rate_limited(
                "too many login attempts from this address",
                d.retry_after,
            )))
        }
    }

    /// Admits one login attempt for `email` (kind separates customer and
    /// staff logins), or refuses it with RATE_LIMITED.
    pub async fn admit(ctx: &Context<'_>, kind: &str, email: &str) -> ApiResult<Self> {
        Self::admit_address(ctx).await?;
        let state = ctx.state()?;
        let limits = &state.config.rate;
        let email = email.trim().to_lowercase();
        // Reset mails are counted per email alone: a flood of them from
        // many addresses is what that bucket stops.
        let email_key = if kind == "reset" {
            format!("login-email:{kind}:{email}")
        } else {
            let ip = ctx.request()?.client_ip.map(|i| i.to_string());
            format!("login-email:{kind}:{email}:{}", ip.unwrap_or_default())
        };
        if let Some(budget) = limits.login_email {
            let d = state.limiter.charge(&email_key, budget, 0).await;
            if !d.allowed {
                return Err(ApiError::Graphql(rate_limited(
                    "too many failed logins for this account from this address",
                    d.retry_after,
                )));
            }
        }
        Ok(Self {
            state: state.clone(),
            email_key,
        })
    }

    /// Records a failed attempt against the email.
    pub async fn failed(self) {
        if let Some(budget) = self.state.config.rate.login_email {
            let _: Decision = self.state.limiter.charge(&self.email_key, budget, 1).await;
        }
    }
}
