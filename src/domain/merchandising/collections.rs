//! Collections: creating, changing and deleting them, and their ordered
//! list of products (add at a position, remove, reorder).

use std::collections::HashSet;

use chrono::Utc;
use entity::{collection, collection_product, product};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::json;

use super::{Outcome, check_count, check_exact_order, check_name, error_at, position, taken};
use crate::domain::{
    audit::{self, Actor, Change},
    catalog_admin::{check_handle, handle_or_slug, not_found},
    error::{DomainResult, UserError, UserErrorCode},
    tx::begin_write,
};

/// A collection's fields (absent: unchanged, or the default on creation).
#[derive(Debug, Clone, Default)]
pub struct CollectionInput {
    /// URL handle; default on creation: made from the title.
    pub handle: Option<String>,
    /// Title (required on creation).
    pub title: Option<String>,
    /// Plain-text description.
    pub description: Option<String>,
}

fn collection_snapshot(c: &collection::Model) -> serde_json::Value {
    json!({ "handle": c.handle, "title": c.title, "description": c.description })
}

async fn handle_taken(
    tx: &DatabaseTransaction,
    handle: &str,
    except: Option<i64>,
) -> DomainResult<bool> {
    Ok(collection::Entity::find()
        .filter(collection::Column::Handle.eq(handle))
        .one(tx)
        .await?
        .is_some_and(|c| Some(c.id) != except))
}

/// Creates a collection (with no products).
pub async fn create_collection(
    db: &DatabaseConnection,
    actor: &Actor,
    input: CollectionInput,
) -> Outcome<collection::Model> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let mut errors = Vec::new();
    let title = check_name(
        input.title.as_deref().unwrap_or_default(),
        &["title"],
        &mut errors,
    );
    let handle = handle_or_slug(input.handle.as_deref(), &title);
    if check_handle(&handle, &mut errors) && handle_taken(&tx, &handle, None).await? {
        errors.push(taken(&["handle"], "handle", &handle));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let now = Utc::now();
    let created = collection::ActiveModel {
        handle: Set(handle),
        title: Set(title),
        description: Set(input.description.unwrap_or_default().trim().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    let change = Change {
        action: "collection.create",
        entity_type: "collection",
        entity_id: created.id.to_string(),
        before: None,
        after: Some(collection_snapshot(&created)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(created))
}

/// Changes a collection's handle, title or description.
pub async fn update_collection(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    input: CollectionInput,
) -> Outcome<collection::Model> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = collection::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "collection")));
    };
    let mut errors = Vec::new();
    let mut row: collection::ActiveModel = existing.clone().into();
    if let Some(title) = &input.title {
        row.title = Set(check_name(title, &["title"], &mut errors));
    }
    if let Some(handle) = input.handle.as_deref().map(str::trim) {
        if check_handle(handle, &mut errors) && handle_taken(&tx, handle, Some(id)).await? {
            errors.push(taken(&["handle"], "handle", handle));
        }
        row.handle = Set(handle.to_owned());
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    if let Some(d) = input.description {
        row.description = Set(d.trim().to_owned());
    }
    row.updated_at = Set(Utc::now());
    let updated = row.update(&tx).await?;
    let change = Change {
        action: "collection.update",
        entity_type: "collection",
        entity_id: id.to_string(),
        before: Some(collection_snapshot(&existing)),
        after: Some(collection_snapshot(&updated)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(updated))
}

/// Deletes a collection; its products stay.
pub async fn delete_collection(db: &DatabaseConnection, actor: &Actor, id: i64) -> Outcome<i64> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = collection::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "collection")));
    };
    let mut before = collection_snapshot(&existing);
    before["products"] = json!(members(&tx, id).await?);
    collection::Entity::delete_by_id(id).exec(&tx).await?;
    let change = Change {
        action: "collection.delete",
        entity_type: "collection",
        entity_id: id.to_string(),
        before: Some(before),
        after: None,
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// The collection's product ids, in order.
async fn members(tx: &DatabaseTransaction, collection_id: i64) -> DomainResult<Vec<i64>> {
    Ok(collection_product::Entity::find()
        .filter(collection_product::Column::CollectionId.eq(collection_id))
        .order_by_asc(collection_product::Column::Position)
        .order_by_asc(collection_product::Column::ProductId)
        .all(tx)
        .await?
        .into_iter()
        .map(|m| m.product_id)
        .collect())
}

/// How a membership call changes the ordered list.
enum Membership {
    /// Add these products at this 0-based index (default: the end).
    Add(Vec<i64>, Option<i32>),
    /// Remove these products.
    Remove(Vec<i64>),
    /// Put the products in exactly this order.
    Reorder(Vec<i64>),
}

impl Membership {
    fn action(&self) -> &'static str {
        match self {
            Self::Add(..) => "collection.products_add",
            Self::Remove(_) => "collection.products_remove",
            Self::Reorder(_) => "collection.products_reorder",
        }
    }
}

/// Applies a membership change; the collection on success.
async fn change_members(
    db: &DatabaseConnection,
    actor: &Actor,
    collection_id: i64,
    change: Membership,
) -> Outcome<collection::Model> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = collection::Entity::find_by_id(collection_id)
        .one(&tx)
        .await?
    else {
        return Ok(Err(not_found(&["collectionId"], "collection")));
    };
    let current = members(&tx, collection_id).await?;
    let mut errors = Vec::new();
    let order: Vec<i64> = match &change {
        Membership::Add(ids, at) => {
            check_count(ids.len(), "productIds", &mut errors);
            let found: HashSet<i64> = product::Entity::find()
                .filter(product::Column::Id.is_in(ids.iter().copied()))
                .all(&tx)
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect();
            for (i, id) in ids.iter().enumerate() {
                if !found.contains(id) {
                    errors.push(error_at(
                        "productIds",
                        i,
                        UserErrorCode::NotFound,
                        "no such product",
                    ));
                }
            }
            let index = match at {
                None => current.len(),
                Some(p) if *p >= 0 => usize::try_from(*p).unwrap_or(usize::MAX).min(current.len()),
                Some(_) => {
                    errors.push(UserError::new(
                        &["position"],
                        UserErrorCode::Invalid,
                        "a position is 0 or more",
                    ));
                    0
                }
            };
            let mut new: Vec<i64> = Vec::new();
            for id in ids {
                if !current.contains(id) && !new.contains(id) {
                    new.push(*id);
                }
            }
            let mut order = current.clone();
            order.splice(index..index, new);
            order
        }
        Membership::Remove(ids) => {
            check_count(ids.len(), "productIds", &mut errors);
            for (i, id) in ids.iter().enumerate() {
                if !current.contains(id) {
                    errors.push(error_at(
                        "productIds",
                        i,
                        UserErrorCode::NotFound,
                        "not a product of the collection",
                    ));
                }
            }
            current
                .iter()
                .copied()
                .filter(|c| !ids.contains(c))
                .collect()
        }
        Membership::Reorder(ids) => {
            errors.extend(check_exact_order(ids, &current, "productIds"));
            ids.clone()
        }
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let removed: Vec<i64> = current
        .iter()
        .copied()
        .filter(|c| !order.contains(c))
        .collect();
    if !removed.is_empty() {
        collection_product::Entity::delete_many()
            .filter(collection_product::Column::CollectionId.eq(collection_id))
            .filter(collection_product::Column::ProductId.is_in(removed))
            .exec(&tx)
            .await?;
    }
    for (i, product_id) in order.iter().enumerate() {
        let was = current.iter().position(|c| c == product_id);
        let row = collection_product::ActiveModel {
            collection_id: Set(collection_id),
            product_id: Set(*product_id),
            position: Set(position(i)),
        };
        match was {
            None => {
                row.insert(&tx).await?;
            }
            Some(_) => {
                row.update(&tx).await?;
            }
        }
    }
    let mut touched: collection::ActiveModel = existing.into();
    touched.updated_at = Set(Utc::now());
    let updated = touched.update(&tx).await?;
    let entry = Change {
        action: change.action(),
        entity_type: "collection",
        entity_id: collection_id.to_string(),
        before: Some(json!({ "products": current })),
        after: Some(json!({ "products": order })),
    };
    audit::append(&tx, &mut head, actor, vec![entry]).await?;
    tx.commit().await?;
    Ok(Ok(updated))
}

/// Adds products to a collection at a 0-based `position` (default: the
/// end); products already in it keep their place.
pub async fn add_collection_products(
    db: &DatabaseConnection,
    actor: &Actor,
    collection_id: i64,
    product_ids: Vec<i64>,
    position: Option<i32>,
) -> Outcome<collection::Model> {
    change_members(
        db,
        actor,
        collection_id,
        Membership::Add(product_ids, position),
    )
    .await
}

/// Removes products from a collection.
pub async fn remove_collection_products(
    db: &DatabaseConnection,
    actor: &Actor,
    collection_id: i64,
    product_ids: Vec<i64>,
) -> Outcome<collection::Model> {
    change_members(db, actor, collection_id, Membership::Remove(product_ids)).await
}

/// Puts a collection's products in this order (naming each exactly once).
pub async fn reorder_collection_products(
    db: &DatabaseConnection,
    actor: &Actor,
    collection_id: i64,
    product_ids: Vec<i64>,
) -> Outcome<collection::Model> {
    change_members(db, actor, collection_id, Membership::Reorder(product_ids)).await
}
