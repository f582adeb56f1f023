//! Notification templates: a subject, a plain-text body and an HTML body
//! per kind, written in the MiniJinja dialect of Jinja (`{{ order.name }}`,
//! `{% for line in order.lines %}`). Defaults ship in the binary; a
//! merchant's change is stored and audited, and can be reset to the
//! default. A template is checked before it is stored: it must render
//! against made-up data ([`super::context::sample`]) with every variable
//! it names known, within a bounded amount of work.
//!
//! At send time a stored template that fails on real data (it cannot after
//! the check, short of a data shape the sample lacks) falls back to the
//! default, so a mail still goes out.

use chrono::{DateTime, SubsecRound, Utc};
use entity::notification_template;
use minijinja::{Environment, UndefinedBehavior};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::OnConflict,
};
use serde_json::json;

use super::{Kind, context::Context};
use crate::domain::{
    audit::{self, Actor, Change},
    error::{DomainResult, Outcome, UserError, UserErrorCode},
    tx::begin_write,
};

/// Longest template part accepted, in bytes.
pub const MAX_LEN: usize = 64 * 1024;
/// Work a render may do (MiniJinja fuel) before it is stopped.
const FUEL: u64 = 200_000;

/// A template: what a kind of notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Which notification.
    pub kind: Kind,
    /// Subject line (rendered, then cut at the first line break).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (values are HTML-escaped when rendered).
    pub html: String,
    /// Whether the merchant changed it (`false`: the default).
    pub customized: bool,
    /// When it was changed (`None` for a default).
    pub updated_at: Option<DateTime<Utc>>,
}

/// The default template of `kind`, shipped in the binary.
pub fn default_of(kind: Kind) -> Template {
    let (subject, text, html) = match kind {
        Kind::OrderConfirmation => (
            "Order {{ order.name }} confirmed",
            include_str!("defaults/order_confirmation.txt"),
            include_str!("defaults/order_confirmation.html"),
        ),
        Kind::OrderShipped => (
            "Your order {{ order.name }} has shipped",
            include_str!("defaults/order_shipped.txt"),
            include_str!("defaults/order_shipped.html"),
        ),
        Kind::OrderDelivered => (
            "Your order {{ order.name }} was delivered",
            include_str!("defaults/order_delivered.txt"),
            include_str!("defaults/order_delivered.html"),
        ),
        Kind::OrderCancelled => (
            "Your order {{ order.name }} was cancelled",
            include_str!("defaults/order_cancelled.txt"),
            include_str!("defaults/order_cancelled.html"),
        ),
        Kind::OrderRefunded => (
            "A refund on your order {{ order.name }}",
            include_str!("defaults/order_refunded.txt"),
            include_str!("defaults/order_refunded.html"),
        ),
    };
    Template {
        kind,
        subject: subject.into(),
        text: text.into(),
        html: html.into(),
        customized: false,
        updated_at: None,
    }
}

fn from_row(kind: Kind, row: notification_template::Model) -> Template {
    Template {
        kind,
        subject: row.subject,
        text: row.text_body,
        html: row.html_body,
        customized: true,
        updated_at: Some(row.updated_at),
    }
}

/// The template in force for `kind`: the merchant's, else the default.
pub async fn get(db: &impl ConnectionTrait, kind: Kind) -> DomainResult<Template> {
    Ok(notification_template::Entity::find()
        .filter(notification_template::Column::Kind.eq(kind.as_str()))
        .one(db)
        .await?
        .map_or_else(|| default_of(kind), |row| from_row(kind, row)))
}

/// Every kind's template in force, in [`Kind::ALL`] order.
pub async fn list(db: &impl ConnectionTrait) -> DomainResult<Vec<Template>> {
    let rows = notification_template::Entity::find().all(db).await?;
    Ok(Kind::ALL
        .iter()
        .map(|k| {
            rows.iter()
                .find(|r| r.kind == k.as_str())
                .cloned()
                .map_or_else(|| default_of(*k), |row| from_row(*k, row))
        })
        .collect())
}

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_keep_trailing_newline(true);
    env
}

/// Renders `t` with `ctx`; the error says which part failed and why.
pub fn render(t: &Template, ctx: &Context) -> Result<Rendered, (&'static str, String)> {
    let env = environment();
    let subject = env
        .render_named_str("subject.txt", &t.subject, ctx)
        .map_err(|e| ("subject", e.to_string()))?;
    let text = env
        .render_named_str("body.txt", &t.text, ctx)
        .map_err(|e| ("text", e.to_string()))?;
    // The `.html` name turns HTML escaping on.
    let html = env
        .render_named_str("body.html", &t.html, ctx)
        .map_err(|e| ("html", e.to_string()))?;
    let subject = subject.lines().next().unwrap_or_default().trim().to_owned();
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

/// Renders the template in force for `kind`, falling back to the default
/// when the merchant's fails (logged).
pub async fn render_for(
    db: &impl ConnectionTrait,
    kind: Kind,
    ctx: &Context,
) -> DomainResult<Result<Rendered, String>> {
    let t = get(db, kind).await?;
    match render(&t, ctx) {
        Ok(r) => Ok(Ok(r)),
        Err((part, why)) if t.customized => {
            tracing::warn!(kind = %kind, part, error = %why, "a changed notification template fails; sending the default");
            Ok(render(&default_of(kind), ctx).map_err(|(part, why)| format!("{part}: {why}")))
        }
        Err((part, why)) => Ok(Err(format!("{part}: {why}"))),
    }
}

/// A merchant's new template.
#[derive(Debug, Clone)]
pub struct NewTemplate {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// What is wrong with `t`, checked against the sample data.
fn check(t: &NewTemplate, shop: &str) -> Vec<UserError> {
    let mut errors = Vec::new();
    for (field, value) in [
        ("subject", &t.subject),
        ("text", &t.text),
        ("html", &t.html),
    ] {
        if value.trim().is_empty() {
            errors.push(UserError::new(
                &[field],
                UserErrorCode::Blank,
                format!("the {field} template is empty"),
            ));
        } else if value.len() > MAX_LEN {
            errors.push(UserError::new(
                &[field],
                UserErrorCode::TooLong,
                format!("the {field} template is longer than {MAX_LEN} bytes"),
            ));
        }
    }
    if !errors.is_empty() {
        return errors;
    }
    let candidate = Template {
        kind: Kind::OrderConfirmation,
        subject: t.subject.clone(),
        text: t.text.clone(),
        html: t.html.clone(),
        customized: true,
        updated_at: None,
    };
    let sample = super::context::sample(shop);
    if let Err((part, why)) = render(&candidate, &sample) {
        errors.push(UserError::new(
            &[part],
            UserErrorCode::Invalid,
            format!("the {part} template does not render against the sample order: {why}"),
        ));
    }
    errors
}

fn snapshot(t: &Template) -> serde_json::Value {
    json!({
        "kind": t.kind.as_str(),
        "subject": t.subject,
        "text": t.text,
        "html": t.html,
        "customized": t.customized,
    })
}

/// Stores a merchant's template for `kind`, if it renders against the
/// sample data (`shop` names the shop there); audited.
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    kind: Kind,
    new: NewTemplate,
    shop: &str,
) -> Outcome<Template> {
    let errors = check(&new, shop);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let now = Utc::now().trunc_subsecs(6);
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let before = get(&tx, kind).await?;
    notification_template::Entity::insert(notification_template::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        subject: Set(new.subject),
        text_body: Set(new.text),
        html_body: Set(new.html),
        updated_by: Set(actor_label(actor)),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(notification_template::Column::Kind)
            .update_columns([
                notification_template::Column::Subject,
                notification_template::Column::TextBody,
                notification_template::Column::HtmlBody,
                notification_template::Column::UpdatedBy,
                notification_template::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&tx)
    .await?;
    let after = get(&tx, kind).await?;
    audit::append(
        &tx,
        &mut head,
        actor,
        vec![Change {
            action: "notification_template.update",
            entity_type: "notification_template",
            entity_id: kind.as_str().to_owned(),
            before: Some(snapshot(&before)),
            after: Some(snapshot(&after)),
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(after))
}

/// Puts `kind` back to its default template; audited (a kind already on
/// its default is answered as it is, and nothing is recorded).
pub async fn reset(db: &DatabaseConnection, actor: &Actor, kind: Kind) -> DomainResult<Template> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let before = get(&tx, kind).await?;
    if !before.customized {
        tx.commit().await?;
        return Ok(before);
    }
    notification_template::Entity::delete_many()
        .filter(notification_template::Column::Kind.eq(kind.as_str()))
        .exec(&tx)
        .await?;
    let after = default_of(kind);
    audit::append(
        &tx,
        &mut head,
        actor,
        vec![Change {
            action: "notification_template.reset",
            entity_type: "notification_template",
            entity_id: kind.as_str().to_owned(),
            before: Some(snapshot(&before)),
            after: Some(snapshot(&after)),
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// `staff:2`, `partner:5` ... for the `updated_by` column.
fn actor_label(actor: &Actor) -> String {
    match actor.id {
        Some(id) => format!("{}:{id}", actor.kind),
        None => actor.kind.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::notifications::context::sample;

    #[test]
    fn every_default_renders_against_the_sample() {
        let ctx = sample("Shop & Co");
        for k in Kind::ALL {
            let r = render(&default_of(*k), &ctx).unwrap_or_else(|e| panic!("{k}: {e:?}"));
            assert!(r.subject.contains("#1001"), "{k}: {}", r.subject);
            assert!(!r.subject.contains('\n'));
            assert!(r.text.contains("#1001"), "{k}");
            // Values are escaped in HTML, not in text.
            assert!(r.html.contains("Shop &amp; Co"), "{k}: {}", r.html);
            assert!(r.text.contains("Shop & Co"), "{k}");
        }
        let shipped =
            render(&default_of(Kind::OrderShipped), &ctx).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(shipped.text.contains("1Z999"));
        // Escaped in HTML (`/` too), which an `href` reads back.
        assert!(
            shipped.html.contains("track.example&#x2f;1Z999"),
            "{}",
            shipped.html
        );
        assert!(shipped.text.contains("https://track.example/1Z999"));
    }

    #[test]
    fn templates_that_do_not_render_are_refused() {
        let ok = NewTemplate {
            subject: "Hi {{ order.name }}".into(),
            text: "{{ order.total }}".into(),
            html: "<p>{{ order.total }}</p>".into(),
        };
        assert!(check(&ok, "Shop").is_empty());
        let unknown = NewTemplate {
            text: "{{ order.nope }}".into(),
            ..ok.clone()
        };
        let e = check(&unknown, "Shop");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, vec!["text".to_owned()]);
        assert_eq!(e[0].code, UserErrorCode::Invalid);
        let broken = NewTemplate {
            html: "{% for x in order.lines %}".into(),
            ..ok.clone()
        };
        assert_eq!(check(&broken, "Shop")[0].field, vec!["html".to_owned()]);
        let blank = NewTemplate {
            subject: " ".into(),
            ..ok.clone()
        };
        assert_eq!(check(&blank, "Shop")[0].code, UserErrorCode::Blank);
        let endless = NewTemplate {
            text: "{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}"
                .into(),
            ..ok
        };
        assert_eq!(check(&endless, "Shop")[0].code, UserErrorCode::Invalid);
    }
}
