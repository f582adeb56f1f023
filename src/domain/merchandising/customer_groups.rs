//! Customer groups: listing and creating them, and putting a customer in
//! one (their prices are set with the catalog's price operations).

use chrono::Utc;
use entity::{customer, customer_group};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;

use super::{Outcome, check_code, check_name, taken};
use crate::domain::{
    audit::{self, Actor, Change},
    catalog_admin::not_found,
    error::DomainResult,
    tx::begin_write,
};

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
