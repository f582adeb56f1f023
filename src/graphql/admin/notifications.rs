//! Customer notification templates (`settings:read`, `settings:write`):
//! what each order mail says, in subject, plain text and HTML, and
//! setting one back to the default.

use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        identity::permission::Permission,
        notifications::{
            Kind,
            templates::{self, NewTemplate, Template},
        },
    },
    graphql::{
        ContextExt,
        auth::Need,
        common::{UserError, actor, user_errors},
        error::ApiResult,
    },
    infra::notify::shop_name,
};

/// A kind of mail to customers.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "Kind")]
pub enum NotificationKind {
    /// The order was placed (sent on `order.created`).
    OrderConfirmation,
    /// Items shipped, with tracking (on `order.fulfilled`).
    OrderShipped,
    /// A shipment was delivered (on `fulfillment.updated` to delivered).
    OrderDelivered,
    /// The order was cancelled (on `order.cancelled`).
    OrderCancelled,
    /// Money was paid back (on `order.refunded`).
    OrderRefunded,
}

/// What a kind of customer mail says: MiniJinja templates (Jinja syntax)
/// rendered with `shop`, `order` (with `lines` and `shipping_address`),
/// and `fulfillment`, `refund` or `cancellation` for the mails about them.
#[derive(SimpleObject)]
pub struct NotificationTemplate {
    /// Which mail.
    pub kind: NotificationKind,
    /// Subject line (its first line, rendered).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (values are HTML-escaped).
    pub html: String,
    /// Whether it was changed from the default.
    pub customized: bool,
    /// When it was changed (null for the default).
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<Template> for NotificationTemplate {
    fn from(t: Template) -> Self {
        Self {
            kind: t.kind.into(),
            subject: t.subject,
            text: t.text,
            html: t.html,
            customized: t.customized,
            updated_at: t.updated_at,
        }
    }
}

/// `notificationTemplateUpdate`'s and `notificationTemplateReset`'s result.
#[derive(SimpleObject, Default)]
pub struct NotificationTemplatePayload {
    /// The template in force now.
    pub notification_template: Option<NotificationTemplate>,
    /// What was wrong; nothing changed.
    pub user_errors: Vec<UserError>,
}

fn shop(ctx: &Context<'_>) -> ApiResult<String> {
    Ok(shop_name(&ctx.state()?.config.auth.mail_from))
}

/// Notification template queries.
#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The template of every kind of customer mail, as in force
    /// (`settings:read`).
    #[graphql(guard = "Need(Permission::SettingsRead)")]
    async fn notification_templates(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<NotificationTemplate>> {
        ctx.request()?.no_store();
        Ok(templates::list(&ctx.state()?.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

/// Notification template mutations.
#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Changes what a kind of customer mail says (`settings:write`;
    /// audited). Each part must render against a sample order: an unknown
    /// variable or a syntax error is refused with `INVALID` on that part
    /// (`subject`, `text` or `html`), an empty part with `BLANK`.
    #[graphql(guard = "Need(Permission::SettingsWrite)")]
    async fn notification_template_update(
        &self,
        ctx: &Context<'_>,
        kind: NotificationKind,
        subject: String,
        text: String,
        html: String,
    ) -> ApiResult<NotificationTemplatePayload> {
        let actor = actor(ctx).await?;
        let new = NewTemplate {
            subject,
            text,
            html,
        };
        let done =
            templates::update(&ctx.state()?.db, &actor, kind.into(), new, &shop(ctx)?).await?;
        Ok(match done {
            Ok(t) => NotificationTemplatePayload {
                notification_template: Some(t.into()),
                user_errors: Vec::new(),
            },
            Err(e) => NotificationTemplatePayload {
                notification_template: None,
                user_errors: user_errors(e),
            },
        })
    }

    /// Sets a kind of customer mail back to the default shipped with the
    /// server (`settings:write`; audited).
    #[graphql(guard = "Need(Permission::SettingsWrite)")]
    async fn notification_template_reset(
        &self,
        ctx: &Context<'_>,
        kind: NotificationKind,
    ) -> ApiResult<NotificationTemplatePayload> {
        let actor = actor(ctx).await?;
        let t = templates::reset(&ctx.state()?.db, &actor, kind.into()).await?;
        Ok(NotificationTemplatePayload {
            notification_template: Some(t.into()),
            user_errors: Vec::new(),
        })
    }
}
