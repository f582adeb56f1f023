//! The GraphQL API: schema assembly, request context and the shared pieces
//! (errors, scalars, IDs, pagination, loaders). One module per domain holds
//! its types and resolvers; resolvers stay thin: parse, authorize, call the
//! domain, map the result.

pub mod admin;
pub mod auth;
pub mod catalog;
pub mod commerce;
pub mod common;
pub mod cost;
pub mod error;
pub mod fulfillment;
pub mod id;
pub mod identity;
pub mod limits;
pub mod loaders;
pub mod node;
pub mod orders;
pub mod pagination;
pub mod scalars;
pub mod subscriptions;

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
};

use async_graphql::{Context, MergedObject, Schema, SchemaBuilder, connection::Connection};
use tokio::sync::Mutex;

use crate::infra::{cache::TagSink, rows::Generation};
use crate::{
    config::QueryLimits,
    domain::{self, identity::access::Principal},
    infra::ratelimit::Decision,
    state::AppState,
};
use error::ApiResult;
use loaders::Loaders;
use pagination::OffsetCursor;

/// Every query field of the API.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    catalog::CatalogQuery,
    node::NodeQuery,
    identity::IdentityQuery,
    admin::audit::AuditQuery,
    admin::merchandising::MerchandisingQuery,
    commerce::CommerceQuery,
    admin::promotions::PromotionQuery,
    admin::webhooks::WebhookQuery,
    admin::settings::SettingsQuery,
    admin::notifications::NotificationQuery,
);

/// Every mutation of the API.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    identity::IdentityMutation,
    admin::inventory::InventoryMutation,
    admin::catalog::CatalogAdminMutation,
    admin::import::ImportMutation,
    admin::merchandising::MerchandisingMutation,
    commerce::CommerceMutation,
    admin::promotions::PromotionMutation,
    admin::webhooks::WebhookMutation,
    admin::settings::SettingsMutation,
    fulfillment::FulfillmentMutation,
    orders::OrderMoneyMutation,
    admin::notifications::NotificationMutation,
    commerce::timeline::TimelineMutation,
);

pub use subscriptions::SubscriptionRoot;

/// The executable schema.
pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The schema with its limits but no data attached, so the SDL
/// can be exported without a database.
pub fn schema_builder(
    limits: QueryLimits,
) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .limit_recursive_depth(64)
    .limit_directives(50)
    // async-graphql's generic `Connection` carries no description of its own.
    .override_output_type_description::<catalog::connection::ProductConnection>(
        "A page of products: `nodes` (or `edges` with their cursors), \
         `pageInfo` to ask for the next page, and `totalCount`.",
    )
    .override_output_type_description::<Connection<OffsetCursor, catalog::types::Collection>>(
        "A page of collections: `nodes` (or `edges` with their cursors) and \
         `pageInfo` to ask for the next page.",
    )
    .override_output_type_description::<commerce::OrderConnection>(
        "A page of orders: `nodes` (or `edges` with their cursors), `pageInfo` \
         to ask for the next page, and `totalCount`.",
    )
    .override_output_type_description::<Connection<OffsetCursor, identity::types::Customer>>(
        "A page of customer accounts: `nodes` (or `edges` with their \
         cursors) and `pageInfo` to ask for the next page.",
    )
    .override_output_type_description::<Connection<OffsetCursor, admin::webhooks::WebhookDelivery>>(
        "A page of webhook deliveries: `nodes` (or `edges` with their \
         cursors) and `pageInfo` to ask for the next page.",
    )
    .override_output_type_description::<Connection<OffsetCursor, admin::audit::AuditEntry>>(
        "A page of the audit trail: `nodes` (or `edges` with their cursors) \
         and `pageInfo` to ask for the next page.",
    )
}

/// The public SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    schema_builder(QueryLimits::default()).finish().sdl()
}

/// The schema serving requests against `state`.
pub fn build(state: AppState) -> AppSchema {
    schema_builder(state.config.limits).data(state).finish()
}

/// The same schema with the cost extension: it validates an operation and
/// charges its cost, but never executes it (see [`cost`]).
pub fn build_costing(state: AppState) -> AppSchema {
    schema_builder(state.config.limits)
        .extension(cost::CostLimit)
        .data(state)
        .finish()
}

/// Per-request data: who is asking, the channel asked for by header and the
/// request's loaders.
pub struct RequestCtx {
    /// The caller.
    pub principal: Principal,
    /// The client's IP address, when known.
    pub client_ip: Option<IpAddr>,
    /// Channel code from the `emporium-channel` header, if any.
    pub channel_header: Option<String>,
    /// DataLoaders of this request.
    pub loaders: Loaders,
    /// DataLoaders of staff-only rows, outside the shared row cache.
    pub admin_loaders: loaders::AdminLoaders,
    /// Where the loaders' batch loads run; execute the request with [`loaders::RequestTasks::run`].
    pub tasks: loaders::RequestTasks,
    /// What the response shows, for the response cache.
    pub tags: Arc<TagSink>,
    channels: Mutex<HashMap<Option<String>, Arc<domain::channel::Channel>>>,
    cacheable: AtomicBool,
    cost: AtomicU32,
    decision: std::sync::Mutex<Option<Decision>>,
}

impl RequestCtx {
    /// Context for one request; `rows` is the shared row cache of the catalog
    /// version the request read, if caching is on.
    pub fn new(
        state: &AppState,
        principal: Principal,
        client_ip: Option<IpAddr>,
        channel_header: Option<String>,
        rows: Option<Arc<Generation>>,
    ) -> Self {
        let tasks = loaders::RequestTasks::default();
        let tags = Arc::new(TagSink::default());
        Self {
            principal,
            client_ip,
            channel_header,
            loaders: loaders::loaders(state.db.clone(), rows, tags.clone(), tasks.clone()),
            tags,
            admin_loaders: loaders::admin_loaders(state.db.clone(), tasks.clone()),
            tasks,
            channels: Mutex::new(HashMap::new()),
            cacheable: AtomicBool::new(true),
            cost: AtomicU32::new(0),
            decision: std::sync::Mutex::new(None),
        }
    }

    /// Context for one subscription: its loaders keep nothing between
    /// events, so every event is resolved from fresh rows.
    pub fn live(state: &AppState, principal: Principal, client_ip: Option<IpAddr>) -> Self {
        let ctx = Self::new(state, principal, client_ip, None, None);
        ctx.loaders.enable_all_cache(false);
        ctx.admin_loaders.enable_all_cache(false);
        ctx.no_store();
        ctx
    }

    /// Charges `cost` points to the caller's rate bucket (if the caller has
    /// one) and remembers the cost and the decision for the response.
    pub async fn charge(&self, state: &AppState, cost: u32) -> Option<Decision> {
        self.cost.store(cost, Ordering::Relaxed);
        let (key, budget) =
            auth::rate_subject(&self.principal, self.client_ip, &state.config.rate)?;
        let decision = state.limiter.charge(&key, budget, cost).await;
        if let Ok(mut d) = self.decision.lock() {
            *d = Some(decision);
        }
        Some(decision)
    }

    /// The operation's cost (0 if it never got through validation) and the
    /// rate decision taken for it.
    pub fn cost(&self) -> (u32, Option<Decision>) {
        (
            self.cost.load(Ordering::Relaxed),
            self.decision.lock().ok().and_then(|d| *d),
        )
    }

    /// Marks the response as not shareable: resolvers of anything that is not
    /// public catalog data (a viewer's cart, orders, prices of a customer
    /// group) must call this so the response cache never stores it.
    pub fn no_store(&self) {
        self.cacheable.store(false, Ordering::Relaxed);
    }

    /// Whether every resolver allowed caching the response.
    pub fn is_cacheable(&self) -> bool {
        self.cacheable.load(Ordering::Relaxed)
    }
}

/// Typed access to what resolvers need from the context.
pub trait ContextExt {
    /// The node's shared state.
    fn state(&self) -> ApiResult<&AppState>;
    /// This request's context.
    fn request(&self) -> ApiResult<&RequestCtx>;
    /// This request's loaders.
    fn loaders(&self) -> ApiResult<&Loaders> {
        Ok(&self.request()?.loaders)
    }
    /// Who is asking.
    fn principal(&self) -> ApiResult<&Principal> {
        Ok(&self.request()?.principal)
    }
    /// The signed-in customer's id and session (UNAUTHENTICATED or FORBIDDEN otherwise).
    fn customer(&self) -> ApiResult<(i64, &str)> {
        auth::customer_of(self.principal()?)
    }
    /// Checks that the caller holds `p`.
    fn require(&self, p: domain::identity::permission::Permission) -> ApiResult<()> {
        auth::check(self.principal()?, p)
    }
    /// The channel named by `arg`, else by the header, else the default one.
    fn channel(
        &self,
        arg: Option<&str>,
    ) -> impl Future<Output = ApiResult<Arc<domain::channel::Channel>>> + Send;
}

fn missing(what: &str) -> error::ApiError {
    tracing::error!(what, "missing context data");
    error::ErrorCode::Internal.error("internal error; it has been logged")
}

impl ContextExt for Context<'_> {
    fn state(&self) -> ApiResult<&AppState> {
        self.data_opt::<AppState>()
            .ok_or_else(|| missing("AppState"))
    }

    fn request(&self) -> ApiResult<&RequestCtx> {
        self.data_opt::<Arc<RequestCtx>>()
            .map(Arc::as_ref)
            .ok_or_else(|| missing("RequestCtx"))
    }

    async fn channel(&self, arg: Option<&str>) -> ApiResult<Arc<domain::channel::Channel>> {
        let state = self.state()?;
        let req = self.request()?;
        let code = arg
            .map(str::to_owned)
            .or_else(|| req.channel_header.clone());
        let mut cache = req.channels.lock().await;
        if let Some(c) = cache.get(&code) {
            return Ok(c.clone());
        }
        let channel = Arc::new(
            domain::channel::resolve(
                &state.db,
                code.as_deref(),
                state.config.default_channel.as_deref(),
            )
            .await?,
        );
        cache.insert(code, channel.clone());
        Ok(channel)
    }
}
