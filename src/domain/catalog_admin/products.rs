//! Products: creating one with its options, variants and prices, changing
//! its own fields and tags, and deleting it with everything it holds.

use std::collections::HashSet;

use chrono::Utc;
use entity::{product, product_status::ProductStatus, product_tag};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter,
};
use serde_json::json;

use super::{
    MAX_OPTIONS,
    handle::{check_handle, handle_or_slug},
    not_found,
    options::{OptionInput, check_options, insert_option},
    prices::price_targets,
    variants::{VariantInput, check_new_variants, check_skus_free, insert_variant},
};
use crate::domain::{
    audit::{self, Actor, Change},
    error::{DomainResult, Outcome, UserError, UserErrorCode},
    tx::begin_write,
};

/// A new product.
#[derive(Debug, Clone, Default)]
pub struct ProductInput {
    /// URL handle; default: made from the title.
    pub handle: Option<String>,
    /// Title.
    pub title: String,
    /// Plain-text description.
    pub description: Option<String>,
    /// Brand.
    pub vendor: Option<String>,
    /// Category.
    pub product_type: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Status (default draft).
    pub status: Option<ProductStatus>,
    /// Options.
    pub options: Vec<OptionInput>,
    /// Variants (at least one).
    pub variants: Vec<VariantInput>,
}

/// Changes to a product (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct ProductUpdate {
    /// URL handle.
    pub handle: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Brand.
    pub vendor: Option<String>,
    /// Category.
    pub product_type: Option<String>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    /// Status.
    pub status: Option<ProductStatus>,
}

fn status_name(s: ProductStatus) -> &'static str {
    match s {
        ProductStatus::Draft => "draft",
        ProductStatus::Active => "active",
        ProductStatus::Archived => "archived",
    }
}

/// A product's own fields and tags, as audit entries keep them.
pub(crate) fn snapshot(p: &product::Model, tags: &[String]) -> serde_json::Value {
    json!({
        "handle": p.handle, "title": p.title, "description": p.description,
        "status": status_name(p.status), "vendor": p.vendor, "productType": p.product_type,
        "tags": tags,
    })
}

/// Tags trimmed, blank ones dropped, one per spelling regardless of case.
pub(crate) fn clean_tags(tags: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    tags.iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && seen.insert(t.to_lowercase()))
        .collect()
}

/// Whether a product has this handle.
async fn handle_taken(db: &impl ConnectionTrait, handle: &str) -> DomainResult<bool> {
    Ok(product::Entity::find()
        .filter(product::Column::Handle.eq(handle))
        .one(db)
        .await?
        .is_some())
}

/// The error of a handle another product has.
fn handle_taken_error(handle: &str) -> UserError {
    UserError::new(
        &["handle"],
        UserErrorCode::Taken,
        format!("handle `{handle}` is taken"),
    )
}

/// Creates a product with its options, variants and prices.
pub async fn create_product(
    db: &DatabaseConnection,
    actor: &Actor,
    input: ProductInput,
) -> Outcome<product::Model> {
    let mut errors = Vec::new();
    let title = input.title.trim().to_owned();
    if title.is_empty() {
        errors.push(UserError::new(
            &["title"],
            UserErrorCode::Blank,
            "the title is required",
        ));
    }
    let handle = handle_or_slug(input.handle.as_deref(), &title);
    check_handle(&handle, &mut errors);
    // Options.
    if input.options.len() > MAX_OPTIONS {
        errors.push(UserError::new(
            &["options"],
            UserErrorCode::Invalid,
            format!("at most {MAX_OPTIONS} options"),
        ));
    }
    let options = check_options(
        &input.options,
        &mut HashSet::new(),
        &["options"],
        &mut errors,
    );
    // Variants.
    let targets = price_targets(db).await?;
    let checked = check_new_variants(
        &input.variants,
        &options,
        &targets,
        &["variants"],
        &mut HashSet::new(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    // Uniqueness against the database.
    if handle_taken(db, &handle).await? {
        errors.push(handle_taken_error(&handle));
    }
    check_skus_free(db, &input.variants, &["variants"], &mut errors).await?;
    if !errors.is_empty() {
        return Ok(Err(errors));
    }

    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let now = Utc::now();
    let status = input.status.unwrap_or(ProductStatus::Draft);
    let created = product::ActiveModel {
        handle: Set(handle),
        title: Set(title),
        description: Set(input.description.unwrap_or_default().trim().to_owned()),
        status: Set(status),
        vendor: Set(input
            .vendor
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())),
        product_type: Set(input
            .product_type
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())),
        created_at: Set(now),
        updated_at: Set(now),
        published_at: Set((status == ProductStatus::Active).then_some(now)),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    let tags = clean_tags(&input.tags);
    for tag in &tags {
        product_tag::ActiveModel {
            product_id: Set(created.id),
            tag: Set(tag.clone()),
        }
        .insert(&tx)
        .await?;
    }
    let mut value_ids: Vec<Vec<i64>> = Vec::new();
    for (pos, (name, values)) in options.iter().enumerate() {
        let position = i32::try_from(pos).unwrap_or(0);
        let (_, ids) = insert_option(&tx, created.id, position, name, values).await?;
        value_ids.push(ids);
    }
    let mut variant_snapshots = Vec::new();
    for (pos, (v, c)) in input.variants.iter().zip(&checked).enumerate() {
        let position = i32::try_from(pos).unwrap_or(0);
        let (_, snap) =
            insert_variant(&tx, created.id, position, v, c, &options, &value_ids, now).await?;
        variant_snapshots.push(snap);
    }
    let mut after = snapshot(&created, &tags);
    after["options"] = json!(
        options
            .iter()
            .map(|(n, v)| json!({ "name": n, "values": v }))
            .collect::<Vec<_>>()
    );
    after["variants"] = json!(variant_snapshots);
    audit::append(
        &tx,
        &mut head,
        actor,
        vec![Change {
            action: "product.create",
            entity_type: "product",
            entity_id: created.id.to_string(),
            before: None,
            after: Some(after),
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(created))
}

async fn tags_of(db: &impl ConnectionTrait, product_id: i64) -> DomainResult<Vec<String>> {
    Ok(product_tag::Entity::find()
        .filter(product_tag::Column::ProductId.eq(product_id))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.tag)
        .collect())
}

/// Changes a product's own fields (not its variants).
pub async fn update_product(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    input: ProductUpdate,
) -> Outcome<product::Model> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = product::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "product")));
    };
    let before_tags = tags_of(&tx, id).await?;
    let mut errors = Vec::new();
    let mut row: product::ActiveModel = existing.clone().into();
    if let Some(title) = input.title.map(|t| t.trim().to_owned()) {
        if title.is_empty() {
            errors.push(UserError::new(
                &["title"],
                UserErrorCode::Blank,
                "the title is required",
            ));
        }
        row.title = Set(title);
    }
    if let Some(handle) = input.handle.map(|h| h.trim().to_owned()) {
        if check_handle(&handle, &mut errors)
            && handle != existing.handle
            && handle_taken(&tx, &handle).await?
        {
            errors.push(handle_taken_error(&handle));
        }
        row.handle = Set(handle);
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    if let Some(d) = input.description {
        row.description = Set(d.trim().to_owned());
    }
    if let Some(v) = input.vendor {
        row.vendor = Set(Some(v.trim().to_owned()).filter(|v| !v.is_empty()));
    }
    if let Some(t) = input.product_type {
        row.product_type = Set(Some(t.trim().to_owned()).filter(|t| !t.is_empty()));
    }
    if let Some(s) = input.status {
        row.status = Set(s);
        if s == ProductStatus::Active && existing.published_at.is_none() {
            row.published_at = Set(Some(Utc::now()));
        }
    }
    row.updated_at = Set(Utc::now());
    let updated = row.update(&tx).await?;
    let tags = match input.tags {
        Some(tags) => {
            let tags = clean_tags(&tags);
            product_tag::Entity::delete_many()
                .filter(product_tag::Column::ProductId.eq(id))
                .exec(&tx)
                .await?;
            for tag in &tags {
                product_tag::ActiveModel {
                    product_id: Set(id),
                    tag: Set(tag.clone()),
                }
                .insert(&tx)
                .await?;
            }
            tags
        }
        None => before_tags.clone(),
    };
    audit::append(
        &tx,
        &mut head,
        actor,
        vec![Change {
            action: "product.update",
            entity_type: "product",
            entity_id: id.to_string(),
            before: Some(snapshot(&existing, &before_tags)),
            after: Some(snapshot(&updated, &tags)),
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(updated))
}

/// Deletes a product with its variants, prices and stock.
pub async fn delete_product(db: &DatabaseConnection, actor: &Actor, id: i64) -> Outcome<i64> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = product::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "product")));
    };
    let tags = tags_of(&tx, id).await?;
    product::Entity::delete_by_id(id).exec(&tx).await?;
    audit::append(
        &tx,
        &mut head,
        actor,
        vec![Change {
            action: "product.delete",
            entity_type: "product",
            entity_id: id.to_string(),
            before: Some(snapshot(&existing, &tags)),
            after: None,
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}
