//! Subscriptions (served over the WebSocket at `/graphql/ws`): thin
//! resolvers over the node's live feeds ([`crate::infra::live`]).
//!
//! Authorization is checked when a client subscribes and again for every
//! event it would be sent, against the connection's credentials as they are
//! now ([`Credential::current`] checks a token again at most every few
//! seconds): a token that expired or was revoked since ends the stream with
//! UNAUTHENTICATED, a lost permission with FORBIDDEN.

use std::{collections::HashSet, sync::Arc};

use async_graphql::{Context, ID, SimpleObject, Subscription};
use entity::shop_order;
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};

use super::{
    ContextExt, auth,
    commerce::{order_for, types::Order},
    error::{ApiError, ApiResult, ErrorCode},
    id::{Kind, decode_as, encode},
};
use crate::{
    domain::{
        checkout::orders,
        identity::{
            access::{Credential, Principal},
            permission::Permission,
        },
    },
    infra::live::{OpenSubscription, StockUpdate},
    state::AppState,
};

/// Most variants one `stockUpdated` subscription may watch.
pub const MAX_VARIANT_IDS: usize = 250;

/// A variant's availability after its stock changed.
#[derive(SimpleObject)]
#[graphql(name = "VariantStockUpdate")]
pub struct VariantStockUpdate {
    /// The product variant.
    pub variant_id: ID,
    /// Units that can still be sold (null when its stock is not tracked), as
    /// `ProductVariant.quantityAvailable` tells it.
    pub quantity_available: Option<i64>,
    /// Whether it can be bought now, as `ProductVariant.availableForSale`
    /// tells it in the default channel.
    pub available_for_sale: bool,
}

impl From<&StockUpdate> for VariantStockUpdate {
    fn from(u: &StockUpdate) -> Self {
        Self {
            variant_id: encode(Kind::ProductVariant, u.variant_id),
            quantity_available: u.quantity_available,
            available_for_sale: u.available_for_sale,
        }
    }
}

/// Every subscription of the API.
#[derive(Default)]
pub struct SubscriptionRoot;

/// Live updates, served over the WebSocket at `/graphql/ws` (graphql-transport-ws).
#[Subscription]
impl SubscriptionRoot {
    /// The order each time it changes (placed, paid, shipped, refunded, cancelled ...): for
    /// its owner, and for staff and partners with `orders:read`. Another
    /// customer's order answers NOT_FOUND, like a missing one.
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> Result<BoxStream<'static, ApiResult<Order>>, ApiError> {
        let id = decode_as(Kind::Order, &order_id)?;
        may_read_orders(ctx.principal()?, true)?;
        if order_for(ctx, id).await?.is_none() {
            return Err(ErrorCode::NotFound.error("no such order"));
        }
        watch(
            ctx,
            ctx.state()?.live.orders(),
            move |o: &shop_order::Model| o.id == id,
            |p: &Principal, o: &shop_order::Model| {
                if orders::visible_to(o, p) {
                    return Ok(());
                }
                may_read_orders(p, true)?;
                Err(ErrorCode::NotFound.error("no such order"))
            },
            |o: &shop_order::Model| Order { row: o.clone() },
        )
    }

    /// Every order each time it changes (placed, paid, shipped, refunded, cancelled ...):
    /// staff and partners with `orders:read`.
    async fn orders_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<BoxStream<'static, ApiResult<Order>>, ApiError> {
        may_read_orders(ctx.principal()?, false)?;
        watch(
            ctx,
            ctx.state()?.live.orders(),
            |_: &shop_order::Model| true,
            |p: &Principal, _: &shop_order::Model| may_read_orders(p, false),
            |o: &shop_order::Model| Order { row: o.clone() },
        )
    }

    /// The availability of these variants each time their stock changes
    /// (a sale, a restock, an inventory sync, a hold released): for anyone.
    /// At most 250 variants per subscription.
    async fn stock_updated(
        &self,
        ctx: &Context<'_>,
        variant_ids: Vec<ID>,
    ) -> Result<BoxStream<'static, ApiResult<VariantStockUpdate>>, ApiError> {
        if variant_ids.is_empty() || variant_ids.len() > MAX_VARIANT_IDS {
            return Err(ErrorCode::BadUserInput.error(format!(
                "`variantIds` takes 1 to {MAX_VARIANT_IDS} IDs, got {}",
                variant_ids.len()
            )));
        }
        let wanted = variant_ids
            .iter()
            .map(|id| decode_as(Kind::ProductVariant, id))
            .collect::<ApiResult<HashSet<i64>>>()?;
        watch(
            ctx,
            ctx.state()?.live.stock(),
            move |u: &StockUpdate| wanted.contains(&u.variant_id),
            |_: &Principal, _: &StockUpdate| Ok(()),
            |u: &StockUpdate| VariantStockUpdate::from(u),
        )
    }
}

/// Whether `p` may follow orders: with `orders:read`, or, if `own` is
/// allowed, as a signed-in customer (their own orders).
fn may_read_orders(p: &Principal, own: bool) -> ApiResult<()> {
    if own && p.customer_id().is_some() {
        return Ok(());
    }
    auth::check(p, Permission::OrdersRead)
}

/// The connection's credentials (put there by the WebSocket endpoint).
fn credential(ctx: &Context<'_>) -> ApiResult<Arc<Credential>> {
    ctx.data_opt::<Arc<Credential>>().cloned().ok_or_else(|| {
        tracing::error!("a subscription without connection credentials");
        ErrorCode::Internal.error("internal error; it has been logged")
    })
}

/// Whether the principal (as it is now) may receive an item.
type Allowed<T> = Box<dyn Fn(&Principal, &T) -> ApiResult<()> + Send + Sync>;

/// What a subscription stream keeps between events.
struct Watch<T, O> {
    rx: broadcast::Receiver<Arc<T>>,
    credential: Arc<Credential>,
    state: AppState,
    wanted: Box<dyn Fn(&T) -> bool + Send + Sync>,
    allowed: Allowed<T>,
    out: Box<dyn Fn(&T) -> O + Send + Sync>,
    ended: bool,
    _open: OpenSubscription,
}

/// The items of `rx` that are `wanted`, as `out`, while the connection's
/// credentials are still valid and `allowed` them; ends after the first
/// error. A receiver that falls behind skips ahead to what is still
/// buffered (the newest updates). The stream counts on the node's gauge of
/// open subscriptions from the moment it listens until it is dropped.
fn watch<T, O>(
    ctx: &Context<'_>,
    rx: broadcast::Receiver<Arc<T>>,
    wanted: impl Fn(&T) -> bool + Send + Sync + 'static,
    allowed: impl Fn(&Principal, &T) -> ApiResult<()> + Send + Sync + 'static,
    out: impl Fn(&T) -> O + Send + Sync + 'static,
) -> ApiResult<BoxStream<'static, ApiResult<O>>>
where
    T: Send + Sync + 'static,
    O: Send + 'static,
{
    let state = ctx.state()?;
    let w = Watch {
        rx,
        credential: credential(ctx)?,
        state: state.clone(),
        wanted: Box::new(wanted),
        allowed: Box::new(allowed),
        out: Box::new(out),
        ended: false,
        _open: state.live.track(),
    };
    Ok(stream::unfold(w, |mut w| async move {
        if w.ended {
            return None;
        }
        loop {
            let item = match w.rx.recv().await {
                Ok(item) => item,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            };
            if !(w.wanted)(&item) {
                continue;
            }
            let verdict = match w
                .credential
                .current(&w.state.db, &w.state.jwt, w.state.clock.now())
                .await
            {
                Ok(Ok(p)) => (w.allowed)(&p, &item),
                Ok(Err(refused)) => Err(ErrorCode::Unauthenticated.error(refused.message())),
                Err(e) => Err(ApiError::from(e)),
            };
            return match verdict {
                Ok(()) => {
                    let o = (w.out)(&item);
                    Some((Ok(o), w))
                }
                Err(e) => {
                    w.ended = true;
                    Some((Err(e), w))
                }
            };
        }
    })
    .boxed())
}
