//! Merchandising administration around the products: collections and their
//! ordered products, product media, channels, stock locations and customer
//! groups (with the customers in them).
//!
//! Invariants kept here:
//! - Handles and codes are unique and slug-like (see
//!   [`super::catalog_admin::valid_handle`]).
//! - A collection's products and a product's media are an ordered list:
//!   positions run 1, 2, 3 ... with no gaps after every change, and a reorder
//!   must name exactly the current members.
//! - Media URLs are absolute `http`/`https` URLs.
//! - A channel's currency is one [`Currency`] knows, and it cannot change
//!   once prices exist in the channel.
//! - A stock location holding stock (on hand or reserved) cannot be deleted.
//!
//! Like the catalog operations, every mistake is a field-level user error
//! with nothing written, every change one audit entry in the same
//! transaction, checked after the audit head is locked so concurrent
//! writers see each other's results.

use crate::domain::tx::begin_write;
use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{
    channel as channel_row, collection, collection_product, customer, customer_group, media,
    product, stock_level, stock_location, variant_price,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection,
    DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::json;

use super::{
    audit::{self, Actor, Change},
    catalog_admin::{check_handle, handle_or_slug, not_found, valid_handle},
    channel::Channel,
    error::{DomainResult, UserError, UserErrorCode},
    money::Currency,
};

/// Most products or media one call may name.
pub const MAX_ITEMS: usize = 250;

/// An operation's outcome: the value, or what was wrong with the input.
type Outcome<T> = DomainResult<Result<T, Vec<UserError>>>;

/// Checks a code (channel, stock location, customer group): slug-like, at
/// most 64 characters.
fn check_code(code: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let code = code.trim().to_owned();
    if !valid_handle(&code) || code.len() > 64 {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            "a code is 1 to 64 lower-case letters, digits and dashes",
        ));
    }
    code
}

/// Checks a required name or title.
fn check_name(name: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let name = name.trim().to_owned();
    if name.is_empty() {
        errors.push(UserError::new(
            field,
            UserErrorCode::Blank,
            "a name is required",
        ));
    }
    name
}

fn taken(field: &[&str], what: &str, value: &str) -> UserError {
    UserError::new(
        field,
        UserErrorCode::Taken,
        format!("{what} `{value}` is taken"),
    )
}

fn at(field: &str, i: usize) -> [String; 2] {
    [field.to_owned(), i.to_string()]
}

fn error_at(field: &str, i: usize, code: UserErrorCode, message: &str) -> UserError {
    let [f, i] = at(field, i);
    UserError::new(&[&f, &i], code, message)
}

/// Checks that `given` lists exactly the members of `current`, each once.
fn check_exact_order(given: &[i64], current: &[i64], field: &str) -> Vec<UserError> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (i, id) in given.iter().enumerate() {
        if !current.contains(id) {
            errors.push(error_at(
                field,
                i,
                UserErrorCode::NotFound,
                "not one of the items",
            ));
        } else if !seen.insert(*id) {
            errors.push(error_at(field, i, UserErrorCode::Invalid, "listed twice"));
        }
    }
    if errors.is_empty() && seen.len() != current.len() {
        errors.push(UserError::new(
            &[field],
            UserErrorCode::Invalid,
            format!(
                "list every one of the {} items exactly once ({} missing)",
                current.len(),
                current.len() - seen.len()
            ),
        ));
    }
    errors
}

fn check_count(n: usize, field: &str, errors: &mut Vec<UserError>) {
    if n == 0 || n > MAX_ITEMS {
        errors.push(UserError::new(
            &[field],
            UserErrorCode::Invalid,
            format!("give 1 to {MAX_ITEMS} items"),
        ));
    }
}

fn position(i: usize) -> i32 {
    i32::try_from(i + 1).unwrap_or(i32::MAX)
}

// ---------------------------------------------------------------- collections

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
        &["input", "title"],
        &mut errors,
    );
    let handle = handle_or_slug(input.handle.as_deref(), &title);
    if check_handle(&handle, &mut errors) && handle_taken(&tx, &handle, None).await? {
        errors.push(taken(&["input", "handle"], "handle", &handle));
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
        row.title = Set(check_name(title, &["input", "title"], &mut errors));
    }
    if let Some(handle) = input.handle.as_deref().map(str::trim) {
        if check_handle(handle, &mut errors) && handle_taken(&tx, handle, Some(id)).await? {
            errors.push(taken(&["input", "handle"], "handle", handle));
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

// ---------------------------------------------------------------------- media

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

// ------------------------------------------------------------------- channels

/// A channel's fields (absent: unchanged; all but `is_default` required on
/// creation).
#[derive(Debug, Clone, Default)]
pub struct ChannelInput {
    /// Code (creation only).
    pub code: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// ISO 4217 currency code.
    pub currency_code: Option<String>,
    /// Whether prices include tax.
    pub prices_include_tax: Option<bool>,
}

fn channel_snapshot(c: &channel_row::Model) -> serde_json::Value {
    json!({
        "code": c.code, "name": c.name, "currencyCode": c.currency_code,
        "pricesIncludeTax": c.prices_include_tax, "isDefault": c.is_default,
    })
}

fn check_currency(code: &str, errors: &mut Vec<UserError>) -> Option<Currency> {
    match code.parse::<Currency>() {
        Ok(c) => Some(c),
        Err(_) => {
            errors.push(UserError::new(
                &["currencyCode"],
                UserErrorCode::Invalid,
                format!("`{}` is not a currency emporium prices in", code.trim()),
            ));
            None
        }
    }
}

/// Creates a channel.
pub async fn create_channel(
    db: &DatabaseConnection,
    actor: &Actor,
    input: ChannelInput,
) -> Outcome<Channel> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let mut errors = Vec::new();
    let code = check_code(
        input.code.as_deref().unwrap_or_default(),
        &["code"],
        &mut errors,
    );
    let name = check_name(
        input.name.as_deref().unwrap_or_default(),
        &["name"],
        &mut errors,
    );
    let currency = check_currency(
        input.currency_code.as_deref().unwrap_or_default(),
        &mut errors,
    );
    if channel_row::Entity::find()
        .filter(channel_row::Column::Code.eq(code.as_str()))
        .one(&tx)
        .await?
        .is_some()
    {
        errors.push(taken(&["code"], "code", &code));
    }
    let Some(currency) = currency.filter(|_| errors.is_empty()) else {
        return Ok(Err(errors));
    };
    let created = channel_row::ActiveModel {
        code: Set(code),
        name: Set(name),
        currency_code: Set(currency.code().to_owned()),
        prices_include_tax: Set(input.prices_include_tax.unwrap_or(false)),
        is_default: Set(false),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    let change = Change {
        action: "channel.create",
        entity_type: "channel",
        entity_id: created.id.to_string(),
        before: None,
        after: Some(channel_snapshot(&created)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(created.try_into()?))
}

/// Changes a channel's name, tax display or currency (the currency only
/// while no price exists in the channel).
pub async fn update_channel(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    input: ChannelInput,
) -> Outcome<Channel> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = channel_row::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "channel")));
    };
    let mut errors = Vec::new();
    let mut row: channel_row::ActiveModel = existing.clone().into();
    if let Some(name) = &input.name {
        row.name = Set(check_name(name, &["name"], &mut errors));
    }
    if let Some(code) = &input.currency_code
        && let Some(currency) = check_currency(code, &mut errors)
        && currency.code() != existing.currency_code
    {
        let priced = variant_price::Entity::find()
            .filter(variant_price::Column::ChannelId.eq(id))
            .count(&tx)
            .await?;
        if priced > 0 {
            errors.push(UserError::new(
                &["currencyCode"],
                UserErrorCode::Invalid,
                format!(
                    "the channel has {priced} prices in {}",
                    existing.currency_code
                ),
            ));
        }
        row.currency_code = Set(currency.code().to_owned());
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    if let Some(t) = input.prices_include_tax {
        row.prices_include_tax = Set(t);
    }
    let updated = row.update(&tx).await?;
    let change = Change {
        action: "channel.update",
        entity_type: "channel",
        entity_id: id.to_string(),
        before: Some(channel_snapshot(&existing)),
        after: Some(channel_snapshot(&updated)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(updated.try_into()?))
}

// ------------------------------------------------------------ stock locations

fn location_snapshot(l: &stock_location::Model) -> serde_json::Value {
    json!({ "code": l.code, "name": l.name })
}

async fn location_code_taken(
    tx: &DatabaseTransaction,
    code: &str,
    except: Option<i64>,
) -> DomainResult<bool> {
    Ok(stock_location::Entity::find()
        .filter(stock_location::Column::Code.eq(code))
        .one(tx)
        .await?
        .is_some_and(|l| Some(l.id) != except))
}

/// All stock locations, by code.
pub async fn stock_locations(db: &DatabaseConnection) -> DomainResult<Vec<stock_location::Model>> {
    Ok(stock_location::Entity::find()
        .order_by_asc(stock_location::Column::Code)
        .all(db)
        .await?)
}

/// Creates a stock location.
pub async fn create_stock_location(
    db: &DatabaseConnection,
    actor: &Actor,
    code: &str,
    name: &str,
) -> Outcome<stock_location::Model> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let mut errors = Vec::new();
    let code = check_code(code, &["code"], &mut errors);
    let name = check_name(name, &["name"], &mut errors);
    if errors.is_empty() && location_code_taken(&tx, &code, None).await? {
        errors.push(taken(&["code"], "code", &code));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let created = stock_location::ActiveModel {
        code: Set(code),
        name: Set(name),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    let change = Change {
        action: "stock_location.create",
        entity_type: "stock_location",
        entity_id: created.id.to_string(),
        before: None,
        after: Some(location_snapshot(&created)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(created))
}

/// Changes a stock location's code or name.
pub async fn update_stock_location(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    code: Option<&str>,
    name: Option<&str>,
) -> Outcome<stock_location::Model> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = stock_location::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "stock location")));
    };
    let mut errors = Vec::new();
    let mut row: stock_location::ActiveModel = existing.clone().into();
    if let Some(code) = code {
        let code = check_code(code, &["code"], &mut errors);
        if errors.is_empty() && location_code_taken(&tx, &code, Some(id)).await? {
            errors.push(taken(&["code"], "code", &code));
        }
        row.code = Set(code);
    }
    if let Some(name) = name {
        row.name = Set(check_name(name, &["name"], &mut errors));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let updated = row.update(&tx).await?;
    let change = Change {
        action: "stock_location.update",
        entity_type: "stock_location",
        entity_id: id.to_string(),
        before: Some(location_snapshot(&existing)),
        after: Some(location_snapshot(&updated)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(updated))
}

/// Deletes a stock location that holds no stock (its empty stock levels go
/// with it).
pub async fn delete_stock_location(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
) -> Outcome<i64> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = stock_location::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "stock location")));
    };
    let holding = stock_level::Entity::find()
        .filter(stock_level::Column::LocationId.eq(id))
        .filter(
            Condition::any()
                .add(stock_level::Column::OnHand.gt(0))
                .add(stock_level::Column::Reserved.gt(0)),
        )
        .count(&tx)
        .await?;
    if holding > 0 {
        return Ok(Err(vec![UserError::new(
            &["id"],
            UserErrorCode::Invalid,
            format!("the location holds stock of {holding} variants; move or zero it first"),
        )]));
    }
    stock_location::Entity::delete_by_id(id).exec(&tx).await?;
    let change = Change {
        action: "stock_location.delete",
        entity_type: "stock_location",
        entity_id: id.to_string(),
        before: Some(location_snapshot(&existing)),
        after: None,
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

// ------------------------------------------------------------ customer groups

/// All customer groups, by code.
pub async fn customer_groups(db: &DatabaseConnection) -> DomainResult<Vec<customer_group::Model>> {
    Ok(customer_group::Entity::find()
        .order_by_asc(customer_group::Column::Code)
        .all(db)
        .await?)
}

/// Creates a customer group (its prices are set with the price operations).
pub async fn create_customer_group(
    db: &DatabaseConnection,
    actor: &Actor,
    code: &str,
    name: &str,
) -> Outcome<customer_group::Model> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let mut errors = Vec::new();
    let code = check_code(code, &["code"], &mut errors);
    let name = check_name(name, &["name"], &mut errors);
    if errors.is_empty()
        && customer_group::Entity::find()
            .filter(customer_group::Column::Code.eq(code.as_str()))
            .one(&tx)
            .await?
            .is_some()
    {
        errors.push(taken(&["code"], "code", &code));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let created = customer_group::ActiveModel {
        code: Set(code),
        name: Set(name),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    let change = Change {
        action: "customer_group.create",
        entity_type: "customer_group",
        entity_id: created.id.to_string(),
        before: None,
        after: Some(json!({ "code": created.code, "name": created.name })),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(created))
}

/// Puts a customer in the group with this code, or in none.
pub async fn assign_customer_group(
    db: &DatabaseConnection,
    actor: &Actor,
    customer_id: i64,
    group: Option<&str>,
) -> Outcome<customer::Model> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = customer::Entity::find_by_id(customer_id).one(&tx).await? else {
        return Ok(Err(not_found(&["customerId"], "customer")));
    };
    let group_id = match group.map(str::trim) {
        None => None,
        Some(code) => match customer_group::Entity::find()
            .filter(customer_group::Column::Code.eq(code))
            .one(&tx)
            .await?
        {
            Some(g) => Some(g.id),
            None => return Ok(Err(not_found(&["group"], "customer group"))),
        },
    };
    let mut row: customer::ActiveModel = existing.clone().into();
    row.customer_group_id = Set(group_id);
    row.updated_at = Set(Utc::now());
    let updated = row.update(&tx).await?;
    let change = Change {
        action: "customer.assign_group",
        entity_type: "customer",
        entity_id: customer_id.to_string(),
        before: Some(json!({ "customerGroupId": existing.customer_group_id })),
        after: Some(json!({ "customerGroupId": group_id })),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(updated))
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

    #[test]
    fn a_reorder_names_every_item_once() {
        assert!(check_exact_order(&[2, 1, 3], &[1, 2, 3], "ids").is_empty());
        let missing = check_exact_order(&[2, 1], &[1, 2, 3], "ids");
        assert_eq!(missing[0].field, ["ids"]);
        let codes: Vec<UserErrorCode> = check_exact_order(&[1, 1, 9], &[1, 2, 3], "ids")
            .into_iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, [UserErrorCode::Invalid, UserErrorCode::NotFound]);
    }
}
