//! Sales channels: creating one and changing its name, tax display or
//! currency (the currency only while no price exists in the channel).

use chrono::Utc;
use entity::{channel as channel_row, variant_price};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter,
};
use serde_json::json;

use super::{Outcome, check_code, check_name, taken};
use crate::domain::{
    audit::{self, Actor, Change},
    catalog_admin::not_found,
    channel::Channel,
    error::{UserError, UserErrorCode},
    money::Currency,
    tx::begin_write,
};

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
