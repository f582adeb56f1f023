//! Product media: images added after the existing ones, reordered and
//! deleted, their URLs absolute `http`/`https` ones.

use std::collections::HashMap;

use entity::{media, product};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;

use super::{Outcome, at, check_count, check_exact_order, error_at, position};
use crate::domain::{
    audit::{self, Actor, Change},
    catalog_admin::not_found,
    error::{UserError, UserErrorCode},
    tx::begin_write,
};

/// A new image of a product.
#[derive(Debug, Clone)]
pub struct MediaInput {
    /// Absolute `http` or `https` URL.
    pub url: String,
    /// Text alternative.
    pub alt: Option<String>,
}

/// Whether `url` is an absolute `http`/`https` URL with a host, without
/// spaces or control characters, at most 2,048 characters.
pub fn valid_web_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    url.len() <= 2048
        && !host.is_empty()
        && !host.starts_with(':')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn media_snapshot(m: &[media::Model]) -> serde_json::Value {
    json!(
        m.iter()
            .map(|m| json!({ "id": m.id, "url": m.url, "alt": m.alt, "position": m.position }))
            .collect::<Vec<_>>()
    )
}

/// How a media call changes a product's media.
enum MediaChange {
    Add(Vec<MediaInput>),
    Reorder(Vec<i64>),
    Delete(Vec<i64>),
}

async fn change_media(
    db: &DatabaseConnection,
    actor: &Actor,
    product_id: i64,
    change: MediaChange,
) -> Outcome<product::Model> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(product) = product::Entity::find_by_id(product_id).one(&tx).await? else {
        return Ok(Err(not_found(&["productId"], "product")));
    };
    let current = media::Entity::find()
        .filter(media::Column::ProductId.eq(product_id))
        .order_by_asc(media::Column::Position)
        .order_by_asc(media::Column::Id)
        .all(&tx)
        .await?;
    let ids: Vec<i64> = current.iter().map(|m| m.id).collect();
    let mut errors = Vec::new();
    let (action, order, new) = match &change {
        MediaChange::Add(items) => {
            check_count(items.len(), "media", &mut errors);
            for (i, m) in items.iter().enumerate() {
                if !valid_web_url(m.url.trim()) {
                    let [f, i] = at("media", i);
                    errors.push(UserError::new(
                        &[&f, &i, "url"],
                        UserErrorCode::Invalid,
                        "give an absolute http or https URL",
                    ));
                }
            }
            ("media.add", ids.clone(), items.as_slice())
        }
        MediaChange::Reorder(given) => {
            errors.extend(check_exact_order(given, &ids, "mediaIds"));
            ("media.reorder", given.clone(), &[][..])
        }
        MediaChange::Delete(given) => {
            check_count(given.len(), "mediaIds", &mut errors);
            for (i, id) in given.iter().enumerate() {
                if !ids.contains(id) {
                    errors.push(error_at(
                        "mediaIds",
                        i,
                        UserErrorCode::NotFound,
                        "no such media of this product",
                    ));
                }
            }
            let kept = ids
                .iter()
                .copied()
                .filter(|id| !given.contains(id))
                .collect();
            ("media.delete", kept, &[][..])
        }
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let gone: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !order.contains(id))
        .collect();
    if !gone.is_empty() {
        media::Entity::delete_many()
            .filter(media::Column::Id.is_in(gone))
            .exec(&tx)
            .await?;
    }
    let by_id: HashMap<i64, &media::Model> = current.iter().map(|m| (m.id, m)).collect();
    for (i, id) in order.iter().enumerate() {
        if let Some(m) = by_id.get(id)
            && m.position != position(i)
        {
            let mut row: media::ActiveModel = (*m).clone().into();
            row.position = Set(position(i));
            row.update(&tx).await?;
        }
    }
    for (i, m) in new.iter().enumerate() {
        media::ActiveModel {
            product_id: Set(product_id),
            url: Set(m.url.trim().to_owned()),
            alt: Set(m
                .alt
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)),
            position: Set(position(order.len() + i)),
            media_type: Set("image".to_owned()),
            ..Default::default()
        }
        .insert(&tx)
        .await?;
    }
    let after = media::Entity::find()
        .filter(media::Column::ProductId.eq(product_id))
        .order_by_asc(media::Column::Position)
        .all(&tx)
        .await?;
    let entry = Change {
        action,
        entity_type: "product",
        entity_id: product_id.to_string(),
        before: Some(json!({ "media": media_snapshot(&current) })),
        after: Some(json!({ "media": media_snapshot(&after) })),
    };
    audit::append(&tx, &mut head, actor, vec![entry]).await?;
    tx.commit().await?;
    Ok(Ok(product))
}

/// Adds images after a product's existing media.
pub async fn add_media(
    db: &DatabaseConnection,
    actor: &Actor,
    product_id: i64,
    items: Vec<MediaInput>,
) -> Outcome<product::Model> {
    change_media(db, actor, product_id, MediaChange::Add(items)).await
}

/// Puts a product's media in this order (naming each exactly once).
pub async fn reorder_media(
    db: &DatabaseConnection,
    actor: &Actor,
    product_id: i64,
    media_ids: Vec<i64>,
) -> Outcome<product::Model> {
    change_media(db, actor, product_id, MediaChange::Reorder(media_ids)).await
}

/// Deletes media of a product.
pub async fn delete_media(
    db: &DatabaseConnection,
    actor: &Actor,
    product_id: i64,
    media_ids: Vec<i64>,
) -> Outcome<product::Model> {
    change_media(db, actor, product_id, MediaChange::Delete(media_ids)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_web_urls_are_media() {
        for ok in [
            "https://cdn.example.com/a.jpg",
            "http://example.com",
            "HTTPS://example.com/x?y=1#z",
        ] {
            assert!(valid_web_url(ok), "{ok}");
        }
        for bad in [
            "",
            "ftp://example.com/a.jpg",
            "javascript:alert(1)",
            "https://",
            "https:///path",
            "https://exa mple.com/a.jpg",
            "/relative/a.jpg",
            "data:image/png;base64,AAAA",
        ] {
            assert!(!valid_web_url(bad), "{bad}");
        }
    }
}
