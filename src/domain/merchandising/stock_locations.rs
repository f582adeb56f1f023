//! Stock locations: listing, creating, renaming and deleting them (only
//! one that holds no stock can go).

use chrono::Utc;
use entity::{stock_level, stock_location};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection,
    DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::json;

use super::{Outcome, check_code, check_name, taken};
use crate::domain::{
    audit::{self, Actor, Change},
    catalog_admin::not_found,
    error::{DomainResult, UserError, UserErrorCode},
    tx::begin_write,
};

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
