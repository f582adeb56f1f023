//! Outbound webhooks (`webhooks:write`): subscriptions, the delivery log
//! and manual retries. A partner token sees and manages only the
//! subscriptions it created; staff see all.

use async_graphql::{
    Context, Enum, ID, InputObject, Object, SimpleObject,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::{webhook_delivery, webhook_subscription};

use crate::{
    domain::{
        identity::permission::Permission,
        webhooks_out::{self as hooks, DeliveryFilter, Status, Viewer, target::Targets},
    },
    graphql::{
        ContextExt,
        auth::Need,
        common::{UserError, actor, under_input, user_errors},
        error::ApiResult,
        id::{Kind, decode_as, encode},
        pagination::{OffsetCursor, PageArgs},
    },
};

/// Where a webhook delivery stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "Status")]
pub enum WebhookDeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Every attempt failed; `webhookDeliveryRetry` sends it again.
    Failed,
}

/// A URL subscribed to event topics.
pub struct WebhookSubscription(pub webhook_subscription::Model);

/// A URL subscribed to event topics; every matching event is POSTed to it,
/// signed with the subscription's secret.
#[Object]
impl WebhookSubscription {
    /// Globally unique, opaque ID.
    async fn id(&self) -> ID {
        encode(Kind::WebhookSubscription, self.0.id)
    }
    /// Where deliveries are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The topics delivered: `stock.changed`, `order.created`,
    /// `order.paid`, `order.updated`, `catalog.changed`.
    async fn topics(&self) -> Vec<String> {
        hooks::topics_of(&self.0)
    }
    /// Whether events are delivered: `false` while paused
    /// (`webhookSubscriptionUpdate(input: { active: false })`).
    async fn active(&self) -> bool {
        self.0.active
    }
    /// The staff user who created it, if a staff user did.
    async fn created_by_staff_user_id(&self) -> Option<ID> {
        self.0
            .created_by_staff_id
            .map(|id| encode(Kind::StaffUser, id))
    }
    /// The partner token that created it, if a partner did.
    async fn created_by_api_token_id(&self) -> Option<ID> {
        self.0
            .created_by_token_id
            .map(|id| encode(Kind::ApiToken, id))
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// One event's delivery to a subscription: an entry of the delivery log.
pub struct WebhookDelivery(pub webhook_delivery::Model);

/// One event's delivery to a subscription: an entry of the delivery log.
#[Object]
impl WebhookDelivery {
    /// Globally unique, opaque ID.
    async fn id(&self) -> ID {
        encode(Kind::WebhookDelivery, self.0.id)
    }
    /// The subscription.
    async fn subscription_id(&self) -> ID {
        encode(Kind::WebhookSubscription, self.0.subscription_id)
    }
    /// The event's unique id (the `Emporium-Event-Id` header).
    async fn event_id(&self) -> &str {
        &self.0.event_id
    }
    /// The event's topic.
    async fn topic(&self) -> &str {
        &self.0.topic
    }
    /// Where it stands.
    async fn status(&self) -> WebhookDeliveryStatus {
        Status::parse(&self.0.status)
            .unwrap_or(Status::Pending)
            .into()
    }
    /// Attempts made so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// When it is next attempted (pending deliveries only).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (Status::parse(&self.0.status) == Some(Status::Pending)).then_some(self.0.next_attempt_at)
    }
    /// The HTTP status of the last attempt's response, if one came.
    async fn last_response_status(&self) -> Option<i32> {
        self.0.last_response_status
    }
    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// The JSON body POSTed.
    async fn payload(&self) -> &str {
        &self.0.payload
    }
    /// When it was enqueued.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When the receiver accepted it.
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
}

/// A new webhook subscription.
#[derive(InputObject)]
pub struct WebhookSubscriptionCreateInput {
    /// Where to POST: an absolute http or https URL.
    pub url: String,
    /// Topics to deliver: `stock.changed`, `order.created`, `order.paid`,
    /// `order.updated`, `catalog.changed`.
    pub topics: Vec<String>,
}

/// `webhookSubscriptionCreate`'s result.
#[derive(SimpleObject)]
pub struct WebhookSubscriptionCreatePayload {
    /// The subscription.
    pub webhook_subscription: Option<WebhookSubscription>,
    /// The signing secret, shown this once.
    pub secret: Option<String>,
    /// What was wrong; nothing changed.
    pub user_errors: Vec<UserError>,
}

/// Changes to a webhook subscription; a field left out (or null) stays as
/// it is.
#[derive(InputObject)]
pub struct WebhookSubscriptionUpdateInput {
    /// A new URL to POST to: an absolute http or https URL.
    pub url: Option<String>,
    /// New topics, replacing the old ones: `stock.changed`,
    /// `order.created`, `order.paid`, `order.updated`, `catalog.changed`.
    pub topics: Option<Vec<String>>,
    /// `false` pauses the subscription: events raised meanwhile are not
    /// delivered to it, and its pending deliveries wait. `true` resumes
    /// it: the deliveries that waited go out.
    pub active: Option<bool>,
}

/// `webhookSubscriptionUpdate`'s result.
#[derive(SimpleObject)]
pub struct WebhookSubscriptionUpdatePayload {
    /// The subscription as it is now.
    pub webhook_subscription: Option<WebhookSubscription>,
    /// What was wrong; nothing changed.
    pub user_errors: Vec<UserError>,
}

/// `webhookSubscriptionDelete`'s result.
#[derive(SimpleObject)]
pub struct WebhookSubscriptionDeletePayload {
    /// The ID of the subscription deleted (with its delivery log).
    pub deleted_webhook_subscription_id: Option<ID>,
    /// What was wrong; nothing changed.
    pub user_errors: Vec<UserError>,
}

/// `webhookDeliveryRetry`'s result.
#[derive(SimpleObject)]
pub struct WebhookDeliveryRetryPayload {
    /// The delivery, pending again.
    pub webhook_delivery: Option<WebhookDelivery>,
    /// What was wrong; nothing changed.
    pub user_errors: Vec<UserError>,
}

fn viewer(ctx: &Context<'_>) -> ApiResult<Viewer> {
    Ok(Viewer::of(ctx.principal()?))
}

/// Where this server lets deliveries go.
fn targets(ctx: &Context<'_>) -> ApiResult<Targets> {
    Ok(Targets::allowing_private(
        ctx.state()?.config.webhooks.allow_private,
    ))
}

/// A webhook carries its event's data: subscribing to a topic needs the
/// permission to read that data.
fn require_topics(ctx: &Context<'_>, topics: &[String]) -> ApiResult<()> {
    for topic in topics {
        if let Some(p) = hooks::permission_for(topic) {
            ctx.require(p)?;
        }
    }
    Ok(())
}

/// Webhook queries.
#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The webhook subscriptions you manage, newest first.
    #[graphql(guard = "Need(Permission::WebhooksWrite)")]
    async fn webhook_subscriptions(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<WebhookSubscription>> {
        ctx.request()?.no_store();
        Ok(hooks::list(&ctx.state()?.db, viewer(ctx)?)
            .await?
            .into_iter()
            .map(WebhookSubscription)
            .collect())
    }

    /// The delivery log of the subscriptions you manage, newest first
    /// (empty for a subscription you do not manage).
    #[graphql(
        guard = "Need(Permission::WebhooksWrite)",
        complexity = "crate::graphql::catalog::page_cost(first, None, child_complexity)"
    )]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        subscription_id: Option<ID>,
        status: Option<WebhookDeliveryStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<OffsetCursor, WebhookDelivery, EmptyFields>> {
        ctx.request()?.no_store();
        let window = PageArgs::forward(first, after).window(None)?;
        let filter = DeliveryFilter {
            subscription: subscription_id
                .map(|id| decode_as(Kind::WebhookSubscription, &id))
                .transpose()?,
            status: status.map(Into::into),
        };
        let (rows, total) = hooks::deliveries(
            &ctx.state()?.db,
            viewer(ctx)?,
            filter,
            window.offset,
            window.wanted,
        )
        .await?;
        Ok(window.connection(rows, total, EmptyFields, WebhookDelivery))
    }
}

/// Webhook mutations.
#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Subscribes a URL to event topics. The answer carries the signing
    /// secret, this once. Each topic also needs the permission to read its
    /// data: `inventory:read` for `stock.changed`, `orders:read` for
    /// `order.*`, `catalog:read` for `catalog.changed`.
    #[graphql(guard = "Need(Permission::WebhooksWrite)")]
    async fn webhook_subscription_create(
        &self,
        ctx: &Context<'_>,
        input: WebhookSubscriptionCreateInput,
    ) -> ApiResult<WebhookSubscriptionCreatePayload> {
        require_topics(ctx, &input.topics)?;
        let actor = actor(ctx).await?;
        let state = ctx.state()?;
        let created = hooks::create(
            &state.db,
            &state.secrets,
            ctx.principal()?,
            &actor,
            targets(ctx)?,
            hooks::NewSubscription {
                url: input.url,
                topics: input.topics,
            },
        )
        .await?
        .map_err(under_input);
        Ok(match created {
            Ok(c) => WebhookSubscriptionCreatePayload {
                webhook_subscription: Some(WebhookSubscription(c.subscription)),
                secret: Some(c.secret),
                user_errors: Vec::new(),
            },
            Err(e) => WebhookSubscriptionCreatePayload {
                webhook_subscription: None,
                secret: None,
                user_errors: user_errors(e),
            },
        })
    }

    /// Changes a webhook subscription's URL or topics, or pauses
    /// (`active: false`) or resumes it. The same checks as at creation
    /// apply to what changes, the topics' read permissions included.
    #[graphql(guard = "Need(Permission::WebhooksWrite)")]
    async fn webhook_subscription_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: WebhookSubscriptionUpdateInput,
    ) -> ApiResult<WebhookSubscriptionUpdatePayload> {
        let row = decode_as(Kind::WebhookSubscription, &id)?;
        require_topics(ctx, input.topics.as_deref().unwrap_or_default())?;
        let actor = actor(ctx).await?;
        let changes = hooks::SubscriptionChanges {
            url: input.url,
            topics: input.topics,
            active: input.active,
        };
        Ok(
            match hooks::update(
                &ctx.state()?.db,
                viewer(ctx)?,
                &actor,
                targets(ctx)?,
                row,
                changes,
            )
            .await?
            .map_err(under_input)
            {
                Ok(s) => WebhookSubscriptionUpdatePayload {
                    webhook_subscription: Some(WebhookSubscription(s)),
                    user_errors: Vec::new(),
                },
                Err(e) => WebhookSubscriptionUpdatePayload {
                    webhook_subscription: None,
                    user_errors: user_errors(e),
                },
            },
        )
    }

    /// Deletes a webhook subscription and its delivery log.
    #[graphql(guard = "Need(Permission::WebhooksWrite)")]
    async fn webhook_subscription_delete(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<WebhookSubscriptionDeletePayload> {
        let row = decode_as(Kind::WebhookSubscription, &id)?;
        let actor = actor(ctx).await?;
        Ok(
            match hooks::delete(&ctx.state()?.db, viewer(ctx)?, &actor, row).await? {
                Ok(id) => WebhookSubscriptionDeletePayload {
                    deleted_webhook_subscription_id: Some(encode(Kind::WebhookSubscription, id)),
                    user_errors: Vec::new(),
                },
                Err(e) => WebhookSubscriptionDeletePayload {
                    deleted_webhook_subscription_id: None,
                    user_errors: user_errors(e),
                },
            },
        )
    }

    /// Sends a failed delivery again: it becomes pending, due now, for one
    /// more attempt.
    #[graphql(guard = "Need(Permission::WebhooksWrite)")]
    async fn webhook_delivery_retry(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<WebhookDeliveryRetryPayload> {
        let row = decode_as(Kind::WebhookDelivery, &id)?;
        let actor = actor(ctx).await?;
        Ok(
            match hooks::retry(&ctx.state()?.db, viewer(ctx)?, &actor, row).await? {
                Ok(d) => WebhookDeliveryRetryPayload {
                    webhook_delivery: Some(WebhookDelivery(d)),
                    user_errors: Vec::new(),
                },
                Err(e) => WebhookDeliveryRetryPayload {
                    webhook_delivery: None,
                    user_errors: user_errors(e),
                },
            },
        )
    }
}
