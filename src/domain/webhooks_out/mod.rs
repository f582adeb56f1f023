//! Outbound webhooks: partner apps and staff subscribe a URL to event
//! topics, and every matching event is POSTed to it, signed.
//!
//! - Subscriptions ([`create`], [`list`], [`update`], [`delete`]) belong to
//!   whoever created them: a partner token sees and manages only its own,
//!   staff see all ([`Viewer`]). The signing secret is generated here and
//!   returned once, at creation; it is stored sealed with the master key
//!   ([`SECRET_CONTEXT`]) and opened only to sign a delivery.
//! - A URL must reach a public host unless private targets are allowed
//!   ([`target`]): checked when it is set, and again at every delivery.
//! - A paused subscription (`active = false`) is not live: events raised
//!   while it is paused are not enqueued for it, and its pending deliveries
//!   are held (not claimed) until it is resumed, when the due ones go out.
//! - A subscription delivers only while its creator still holds
//!   `webhooks:write` and the read permission of the topic ([`refusal`]):
//!   a staff user's role as it is now, a token's scopes. Events are not
//!   enqueued for it meanwhile, and a delivery that falls due meanwhile is
//!   refused (failed, saying why); it delivers again once the rights are.
//! - Deliveries are enqueued by the outbox relay in the transaction that
//!   marks the events relayed ([`queue::enqueue`]), one row per event and
//!   subscription: none is lost, none is enqueued twice.
//! - A background worker ([`worker`]) claims due deliveries, POSTs them and
//!   records the outcome, retrying with exponential backoff.

pub mod queue;
pub mod target;
pub mod worker;

use crate::domain::tx::begin_write;
use chrono::{DateTime, SubsecRound, Utc};
use entity::{api_token, staff_user, webhook_delivery, webhook_subscription};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{Expr, Query},
};

use super::{
    audit::{self, Actor, Change},
    error::{Checked, DomainError, DomainResult, Outcome, UserError, UserErrorCode},
    events::TOPICS,
    identity::{
        access::Principal,
        api_token as tokens,
        permission::{Permission, PermissionSet, Role},
        secret,
    },
    sealing::{self, MasterKey},
};
use target::Targets;

/// Prefix of signing secrets.
pub const SECRET_PREFIX: &str = "whsec_";

/// What a stored signing secret is sealed for.
pub const SECRET_CONTEXT: &str = "webhook_subscription.secret";

/// Longest URL accepted.
const MAX_URL: usize = 2048;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Every attempt failed; only a manual retry sends it again.
    Failed,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// The status of a stored row (`None` for an unknown name).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Whose subscriptions a caller sees and manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// Staff: every subscription.
    All,
    /// A partner token: the subscriptions it created.
    Token(i64),
    /// Anyone else: none.
    Nobody,
}

impl Viewer {
    /// The view of `principal` (the permission itself is checked by the caller).
    pub fn of(principal: &Principal) -> Self {
        match principal {
            Principal::Staff { .. } => Self::All,
            Principal::Partner { token_id, .. } => Self::Token(*token_id),
            Principal::Customer { .. } | Principal::Anonymous => Self::Nobody,
        }
    }

    fn subscriptions(self) -> Select<webhook_subscription::Entity> {
        let q = webhook_subscription::Entity::find();
        match self {
            Self::All => q,
            Self::Token(t) => q.filter(webhook_subscription::Column::CreatedByTokenId.eq(t)),
            Self::Nobody => q.filter(webhook_subscription::Column::Id.lt(0)),
        }
    }

    /// Subscription `id`, if this viewer sees it.
    async fn subscription(
        self,
        db: &impl ConnectionTrait,
        id: i64,
    ) -> DomainResult<Option<webhook_subscription::Model>> {
        Ok(self
            .subscriptions()
            .filter(webhook_subscription::Column::Id.eq(id))
            .one(db)
            .await?)
    }

    fn deliveries(self) -> Select<webhook_delivery::Entity> {
        let q = webhook_delivery::Entity::find();
        match self {
            Self::All => q,
            Self::Token(t) => q.filter(
                webhook_delivery::Column::SubscriptionId.in_subquery(
                    Query::select()
                        .column(webhook_subscription::Column::Id)
                        .from(webhook_subscription::Entity)
                        .and_where(webhook_subscription::Column::CreatedByTokenId.eq(t))
                        .to_owned(),
                ),
            ),
            Self::Nobody => q.filter(webhook_delivery::Column::Id.lt(0)),
        }
    }
}

/// A new subscription.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    /// Where to POST: an absolute http or https URL.
    pub url: String,
    /// Topics to deliver, each one of [`TOPICS`].
    pub topics: Vec<String>,
}

/// A subscription as created, with its secret (shown this once).
#[derive(Debug, Clone)]
pub struct Created {
    /// The stored row.
    pub subscription: webhook_subscription::Model,
    /// The signing secret.
    pub secret: String,
}

/// What a caller must be allowed to read to subscribe to `topic`: a
/// webhook carries the event's data, so it needs the same permission as
/// reading that data through the API.
pub fn permission_for(topic: &str) -> Option<Permission> {
    match topic.trim() {
        "stock.changed" => Some(Permission::InventoryRead),
        "catalog.changed" => Some(Permission::CatalogRead),
        t if t.starts_with("order.") || t.starts_with("fulfillment.") => {
            Some(Permission::OrdersRead)
        }
        _ => None,
    }
}

/// What the creators of `subscriptions` may do now, by subscription id: a
/// staff user's role's permissions, a token's scopes (nothing for a creator
/// gone or unknown).
pub async fn owner_rights(
    db: &impl ConnectionTrait,
    subscriptions: &[webhook_subscription::Model],
) -> DomainResult<std::collections::HashMap<i64, PermissionSet>> {
    let staff_ids: Vec<i64> = subscriptions
        .iter()
        .filter_map(|s| s.created_by_staff_id)
        .collect();
    let token_ids: Vec<i64> = subscriptions
        .iter()
        .filter_map(|s| s.created_by_token_id)
        .collect();
    let staff: std::collections::HashMap<i64, PermissionSet> = if staff_ids.is_empty() {
        Default::default()
    } else {
        staff_user::Entity::find()
            .filter(staff_user::Column::Id.is_in(staff_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|u| {
                let rights = u
                    .role
                    .parse::<Role>()
                    .map(Role::permissions)
                    .unwrap_or(PermissionSet::EMPTY);
                (u.id, rights)
            })
            .collect()
    };
    let tokens: std::collections::HashMap<i64, PermissionSet> = if token_ids.is_empty() {
        Default::default()
    } else {
        api_token::Entity::find()
            .filter(api_token::Column::Id.is_in(token_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.id, tokens::scopes_of(&t)))
            .collect()
    };
    Ok(subscriptions
        .iter()
        .map(|s| {
            let rights = s
                .created_by_staff_id
                .and_then(|id| staff.get(&id))
                .or_else(|| s.created_by_token_id.and_then(|id| tokens.get(&id)))
                .copied()
                .unwrap_or(PermissionSet::EMPTY);
            (s.id, rights)
        })
        .collect())
}

/// The permission a creator with `rights` lacks to receive `topic`, if any:
/// `webhooks:write`, then the topic's read permission.
pub fn refusal(rights: PermissionSet, topic: &str) -> Option<Permission> {
    [Some(Permission::WebhooksWrite), permission_for(topic)]
        .into_iter()
        .flatten()
        .find(|p| !rights.contains(*p))
}

/// Subscriptions that deliver: active (not paused), and whose owner still may (a token
/// neither revoked nor expired, a staff user still active).
fn live(now: DateTime<Utc>) -> Condition {
    let tokens = Query::select()
        .column(api_token::Column::Id)
        .from(api_token::Entity)
        .and_where(api_token::Column::RevokedAt.is_null())
        .cond_where(
            Condition::any()
                .add(api_token::Column::ExpiresAt.is_null())
                .add(api_token::Column::ExpiresAt.gt(now)),
        )
        .to_owned();
    let staff = Query::select()
        .column(staff_user::Column::Id)
        .from(staff_user::Entity)
        .and_where(staff_user::Column::Active.eq(true))
        .to_owned();
    Condition::all()
        .add(webhook_subscription::Column::Active.eq(true))
        .add(
            Condition::any()
                .add(webhook_subscription::Column::CreatedByTokenId.in_subquery(tokens))
                .add(webhook_subscription::Column::CreatedByStaffId.in_subquery(staff)),
        )
}

/// The topics a subscription delivers.
pub fn topics_of(s: &webhook_subscription::Model) -> Vec<String> {
    s.topics.split_whitespace().map(str::to_owned).collect()
}

fn check_url(raw: &str, targets: Targets) -> Result<String, UserError> {
    let bad = |message: &str| UserError::new(&["url"], UserErrorCode::InvalidUrl, message);
    let raw = raw.trim();
    if raw.len() > MAX_URL {
        return Err(bad("a URL has at most 2048 characters"));
    }
    let url = reqwest::Url::parse(raw).map_err(|_| bad("an absolute http or https URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials in the URL are not allowed"));
    }
    target::check_host(&url, targets).map_err(|refused| {
        UserError::new(
            &["url"],
            UserErrorCode::PrivateUrl,
            format!("{refused}; webhooks go to public hosts only"),
        )
    })?;
    Ok(url.to_string())
}

fn check_topics(topics: &[String]) -> Checked<Vec<&'static str>> {
    let mut errors = Vec::new();
    let mut known: Vec<&'static str> = Vec::new();
    for (i, t) in topics.iter().enumerate() {
        match TOPICS.iter().find(|k| **k == t.trim()) {
            Some(k) => known.push(*k),
            None => errors.push(UserError::new(
                &["topics", &i.to_string()],
                UserErrorCode::UnknownTopic,
                format!("unknown topic `{}`; known: {}", t.trim(), TOPICS.join(", ")),
            )),
        }
    }
    if topics.is_empty() {
        errors.push(UserError::new(
            &["topics"],
            UserErrorCode::Blank,
            "at least one topic",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // In the order of TOPICS, once each.
    Ok(TOPICS
        .iter()
        .copied()
        .filter(|t| known.contains(t))
        .collect())
}

fn snapshot(s: &webhook_subscription::Model) -> serde_json::Value {
    // Never the secret.
    serde_json::json!({
        "url": s.url, "topics": s.topics, "active": s.active,
        "createdByStaffId": s.created_by_staff_id, "createdByTokenId": s.created_by_token_id,
    })
}

/// Creates a subscription owned by `principal` (a staff user or a partner
/// token), audited as `actor`; its URL must be one of `targets`. The secret
/// is stored sealed with `master`.
pub async fn create(
    db: &DatabaseConnection,
    master: &MasterKey,
    principal: &Principal,
    actor: &Actor,
    targets: Targets,
    input: NewSubscription,
) -> Outcome<Created> {
    let mut errors = Vec::new();
    let url = check_url(&input.url, targets)
        .map_err(|e| errors.push(e))
        .ok();
    let topics = check_topics(&input.topics)
        .map_err(|e| errors.extend(e))
        .ok();
    let (Some(url), Some(topics)) = (url, topics) else {
        return Ok(Err(errors));
    };
    let (staff, token) = match principal {
        Principal::Staff { id, .. } => (Some(*id), None),
        Principal::Partner { token_id, .. } => (None, Some(*token_id)),
        // The guard lets only staff and partners through.
        Principal::Customer { .. } | Principal::Anonymous => {
            return Err(DomainError::Inconsistent(
                "a webhook subscription needs a staff user or a partner token".into(),
            ));
        }
    };
    let secret = secret::random_token(SECRET_PREFIX);
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let id = webhook_subscription::Entity::insert(webhook_subscription::ActiveModel {
        url: Set(url),
        topics: Set(topics.join(" ")),
        secret: Set(master.seal(SECRET_CONTEXT, secret.as_bytes())),
        created_by_staff_id: Set(staff),
        created_by_token_id: Set(token),
        active: Set(true),
        created_at: Set(Utc::now().trunc_subsecs(6)),
        ..Default::default()
    })
    .exec(&tx)
    .await?
    .last_insert_id;
    let subscription = webhook_subscription::Entity::find_by_id(id)
        .one(&tx)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("webhook subscription vanished".into()))?;
    let change = Change {
        action: "webhook_subscription.create",
        entity_type: "webhook_subscription",
        entity_id: id.to_string(),
        before: None,
        after: Some(snapshot(&subscription)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(Created {
        subscription,
        secret,
    }))
}

/// The signing secret of a subscription, opened with `master` (a secret
/// stored in clear by an older version, not yet sealed, as it is).
pub fn signing_secret(
    s: &webhook_subscription::Model,
    master: &MasterKey,
) -> Result<String, sealing::Unopenable> {
    if sealing::is_sealed(&s.secret) {
        master.open_str(SECRET_CONTEXT, &s.secret)
    } else {
        Ok(s.secret.clone())
    }
}

/// Seals the signing secrets stored in clear (by a version before they were
/// sealed); returns how many it sealed. Run at start.
pub async fn seal_stored_secrets(
    db: &impl ConnectionTrait,
    master: &MasterKey,
) -> DomainResult<u64> {
    let clear = webhook_subscription::Entity::find()
        .filter(webhook_subscription::Column::Secret.starts_with(SECRET_PREFIX))
        .all(db)
        .await?;
    let mut sealed = 0;
    for s in clear {
        sealed += webhook_subscription::Entity::update_many()
            .col_expr(
                webhook_subscription::Column::Secret,
                Expr::value(master.seal(SECRET_CONTEXT, s.secret.as_bytes())),
            )
            .filter(webhook_subscription::Column::Id.eq(s.id))
            .filter(webhook_subscription::Column::Secret.eq(s.secret))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(sealed)
}

/// The subscriptions `viewer` sees, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    viewer: Viewer,
) -> DomainResult<Vec<webhook_subscription::Model>> {
    Ok(viewer
        .subscriptions()
        .order_by_desc(webhook_subscription::Column::Id)
        .all(db)
        .await?)
}

fn not_found(field: &str, what: &str) -> Vec<UserError> {
    vec![UserError::new(
        &[field],
        UserErrorCode::NotFound,
        format!("no such {what}"),
    )]
}

/// Changes to a subscription; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionChanges {
    /// A new URL, checked as at creation.
    pub url: Option<String>,
    /// New topics (replacing the old ones), checked as at creation.
    pub topics: Option<Vec<String>>,
    /// `false` pauses the subscription, `true` resumes it.
    pub active: Option<bool>,
}

/// Changes a subscription `viewer` sees, audited as `actor` (before and
/// after, never the secret); a new URL must be one of `targets`. A change
/// that changes nothing writes nothing. Returns the subscription as it is
/// now.
pub async fn update(
    db: &DatabaseConnection,
    viewer: Viewer,
    actor: &Actor,
    targets: Targets,
    id: i64,
    changes: SubscriptionChanges,
) -> Outcome<webhook_subscription::Model> {
    let mut errors = Vec::new();
    let url = match &changes.url {
        Some(raw) => check_url(raw, targets).map_err(|e| errors.push(e)).ok(),
        None => None,
    };
    let topics = match &changes.topics {
        Some(t) => check_topics(t).map_err(|e| errors.extend(e)).ok(),
        None => None,
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(before) = viewer.subscription(&tx, id).await? else {
        return Ok(Err(not_found("id", "webhook subscription")));
    };
    let mut after = before.clone();
    if let Some(url) = url {
        after.url = url;
    }
    if let Some(topics) = topics {
        after.topics = topics.join(" ");
    }
    if let Some(active) = changes.active {
        after.active = active;
    }
    if after == before {
        tx.commit().await?;
        return Ok(Ok(before));
    }
    webhook_subscription::Entity::update(webhook_subscription::ActiveModel {
        id: Set(id),
        url: Set(after.url.clone()),
        topics: Set(after.topics.clone()),
        active: Set(after.active),
        ..Default::default()
    })
    .exec(&tx)
    .await?;
    let change = Change {
        action: "webhook_subscription.update",
        entity_type: "webhook_subscription",
        entity_id: id.to_string(),
        before: Some(snapshot(&before)),
        after: Some(snapshot(&after)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(after))
}

/// Deletes a subscription `viewer` sees, with its delivery log; returns
/// its id.
pub async fn delete(
    db: &DatabaseConnection,
    viewer: Viewer,
    actor: &Actor,
    id: i64,
) -> Outcome<i64> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(before) = viewer.subscription(&tx, id).await? else {
        return Ok(Err(not_found("id", "webhook subscription")));
    };
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::SubscriptionId.eq(id))
        .exec(&tx)
        .await?;
    webhook_subscription::Entity::delete_by_id(id)
        .exec(&tx)
        .await?;
    let change = Change {
        action: "webhook_subscription.delete",
        entity_type: "webhook_subscription",
        entity_id: id.to_string(),
        before: Some(snapshot(&before)),
        after: None,
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// Which deliveries to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryFilter {
    /// Only of this subscription.
    pub subscription: Option<i64>,
    /// Only in this status.
    pub status: Option<Status>,
}

/// Deliveries `viewer` sees matching `filter`, newest first, and how many
/// match.
pub async fn deliveries(
    db: &impl ConnectionTrait,
    viewer: Viewer,
    filter: DeliveryFilter,
    offset: u64,
    limit: u64,
) -> DomainResult<(Vec<webhook_delivery::Model>, u64)> {
    let mut q = viewer.deliveries();
    if let Some(s) = filter.subscription {
        q = q.filter(webhook_delivery::Column::SubscriptionId.eq(s));
    }
    if let Some(s) = filter.status {
        q = q.filter(webhook_delivery::Column::Status.eq(s.as_str()));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(webhook_delivery::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Sends a failed delivery `viewer` sees again: it becomes pending, due
/// now, for one more attempt (its attempts keep counting).
pub async fn retry(
    db: &DatabaseConnection,
    viewer: Viewer,
    actor: &Actor,
    id: i64,
) -> Outcome<webhook_delivery::Model> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(before) = viewer
        .deliveries()
        .filter(webhook_delivery::Column::Id.eq(id))
        .one(&tx)
        .await?
    else {
        return Ok(Err(not_found("id", "webhook delivery")));
    };
    if Status::parse(&before.status) != Some(Status::Failed) {
        return Ok(Err(vec![UserError::new(
            &["id"],
            UserErrorCode::Invalid,
            format!(
                "only a failed delivery can be retried; this one is {}",
                before.status
            ),
        )]));
    }
    let now = Utc::now().trunc_subsecs(6);
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(Status::Pending.as_str()),
        )
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now))
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_delivery::Column::Id.eq(id))
        .filter(webhook_delivery::Column::Status.eq(Status::Failed.as_str()))
        .exec(&tx)
        .await?;
    let after = webhook_delivery::Entity::find_by_id(id)
        .one(&tx)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("webhook delivery vanished".into()))?;
    let change = Change {
        action: "webhook_delivery.retry",
        entity_type: "webhook_delivery",
        entity_id: id.to_string(),
        before: Some(serde_json::json!({ "status": before.status, "attempts": before.attempts })),
        after: Some(serde_json::json!({ "status": after.status, "attempts": after.attempts })),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http_or_https() {
        for ok in [
            "https://partner.example.com/hooks",
            "http://127.0.0.1:9000/x?y=1",
        ] {
            assert!(check_url(ok, Targets::Any).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/relative/path",
            "partner.example.com/hooks",
            "ftp://partner.example.com/",
            "mailto:ops@example.com",
            "file:///etc/passwd",
            "https://user:pw@partner.example.com/",
            "http://",
        ] {
            let e = check_url(bad, Targets::Any).err();
            assert_eq!(e.map(|e| e.code), Some(UserErrorCode::InvalidUrl), "{bad}");
        }
    }

    #[test]
    fn urls_must_reach_public_hosts_unless_private_targets_are_allowed() {
        let public = "https://partner.example.com/hooks";
        assert!(check_url(public, Targets::Public).is_ok());
        for private in [
            "http://127.0.0.1:9000/x",
            "http://10.0.0.8/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://localhost:8000/",
        ] {
            let e = check_url(private, Targets::Public).err();
            assert_eq!(
                e.as_ref().map(|e| (e.code, e.field.join("."))),
                Some((UserErrorCode::PrivateUrl, "url".to_owned())),
                "{private}"
            );
            assert!(check_url(private, Targets::Any).is_ok(), "{private}");
        }
    }

    #[test]
    fn topics_must_be_known_and_are_kept_once_in_order() {
        let t = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            check_topics(&t(&["order.paid", "stock.changed", "order.paid"])).ok(),
            Some(vec!["stock.changed", "order.paid"])
        );
        let errors = check_topics(&t(&["order.paid", "order.shipped"])).err();
        assert_eq!(
            errors.map(|e| e
                .iter()
                .map(|e| (e.code, e.field.join(".")))
                .collect::<Vec<_>>()),
            Some(vec![(UserErrorCode::UnknownTopic, "topics.1".into())])
        );
        let errors = check_topics(&[]).err();
        assert_eq!(errors.map(|e| e[0].code), Some(UserErrorCode::Blank));
    }
}
