//! Throttling of discount and gift card code guesses: every code a cart
//! refuses spends from the cart's bucket and from the client address's;
//! with either empty, further codes are refused (RATE_LIMITED) before they
//! are looked up. Codes that apply cost nothing.

use async_graphql::Context;

use crate::{
    domain::error::{UserError, UserErrorCode},
    graphql::{
        ContextExt,
        auth::rate_limited,
        error::{ApiError, ApiResult},
    },
    infra::ratelimit::Budget,
    state::AppState,
};

/// An admitted attempt at entering codes, to charge for the codes refused.
pub struct CodeThrottle {
    state: AppState,
    buckets: Vec<(String, Budget)>,
}

impl CodeThrottle {
    /// Admits an attempt at entering codes on `cart` (none yet for a cart
    /// being created) from the client's address, or refuses it with
    /// RATE_LIMITED.
    pub async fn admit(ctx: &Context<'_>, cart: Option<&str>) -> ApiResult<Self> {
        let state = ctx.state()?;
        let limits = &state.config.rate;
        let ip = ctx
            .request()?
            .client_ip
            .map(|i| i.to_string())
            .unwrap_or_default();
        let mut buckets = Vec::new();
        if let (Some(cart), Some(budget)) = (cart, limits.code_cart) {
            buckets.push((format!("codes-cart:{cart}"), budget));
        }
        if let Some(budget) = limits.code_ip {
            buckets.push((format!("codes-ip:{ip}"), budget));
        }
        for (key, budget) in &buckets {
            let d = state.limiter.charge(key, *budget, 0).await;
            if !d.allowed {
                return Err(ApiError::Graphql(rate_limited(
                    "too many wrong discount or gift card codes",
                    d.retry_after,
                )));
            }
        }
        Ok(Self {
            state: state.clone(),
            buckets,
        })
    }

    /// Charges one point per code `errors` refuse.
    pub async fn charge(self, errors: &[UserError]) {
        let wrong = errors
            .iter()
            .filter(|e| e.code == UserErrorCode::InvalidCode)
            .count();
        for (key, budget) in &self.buckets {
            for _ in 0..wrong {
                let _ = self.state.limiter.charge(key, *budget, 1).await;
            }
        }
    }
}
