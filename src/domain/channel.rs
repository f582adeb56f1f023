//! Channels: where a request shops (currency, tax display).
//!
//! A request names its channel by code; with none it gets the configured
//! default or else the channel flagged `is_default`.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use entity::channel;

use super::{
    error::{DomainError, DomainResult},
    money::Currency,
};

/// A channel as the rest of the domain uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Row id.
    pub id: i64,
    /// Stable code clients use (`default`, `eu`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Currency every price in this channel is in.
    pub currency: Currency,
    /// Whether prices are entered including tax.
    pub prices_include_tax: bool,
    /// Country whose tax applies before a shopper gives an address.
    pub default_country: Option<String>,
}

impl TryFrom<channel::Model> for Channel {
    type Error = DomainError;
    fn try_from(m: channel::Model) -> Result<Self, Self::Error> {
        let currency = m
            .currency_code
            .parse()
            .map_err(|e| DomainError::Inconsistent(format!("channel {}: {e}", m.code)))?;
        Ok(Self {
            id: m.id,
            code: m.code,
            name: m.name,
            currency,
            prices_include_tax: m.prices_include_tax,
            default_country: m.default_country,
        })
    }
}

/// Finds the channel a request asked for (`code`), or the default one.
pub async fn resolve(
    db: &impl ConnectionTrait,
    code: Option<&str>,
    configured_default: Option<&str>,
) -> DomainResult<Channel> {
    let query = match code.or(configured_default) {
        Some(code) => channel::Entity::find().filter(channel::Column::Code.eq(code)),
        None => channel::Entity::find()
            .filter(channel::Column::IsDefault.eq(true))
            .order_by_asc(channel::Column::Id),
    };
    let found = query.one(db).await?;
    match found {
        Some(m) => m.try_into(),
        None => Err(DomainError::UnknownChannel(
            code.or(configured_default)
                .unwrap_or("(default)")
                .to_owned(),
        )),
    }
}

/// All channels, by code.
pub async fn list(db: &impl ConnectionTrait) -> DomainResult<Vec<Channel>> {
    channel::Entity::find()
        .order_by_asc(channel::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(Channel::try_from)
        .collect()
}
