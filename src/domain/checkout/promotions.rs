//! Promotions as staff create them: checked field by field, stored with an
//! upper-cased code unique per channel.

use crate::domain::tx::begin_write;
use chrono::{DateTime, SubsecRound, Utc};
use entity::{collection, product, promotion, variant};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, sea_query::Expr,
};

use super::setup::Targets;
use crate::domain::{
    audit::{self, Actor, Change},
    channel::Channel,
    error::{DomainError, DomainResult, Outcome, UserError, UserErrorCode, is_unique_violation},
    money::Money,
};

/// What a promotion takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A percentage of the targeted lines.
    Percentage,
    /// A fixed amount off the targeted lines.
    FixedAmount,
    /// The shipping price.
    FreeShipping,
    /// Buy X, get Y discounted.
    BuyXGetY,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Percentage => "percentage",
            Self::FixedAmount => "fixed_amount",
            Self::FreeShipping => "free_shipping",
            Self::BuyXGetY => "buy_x_get_y",
        }
    }
}

/// A new promotion.
#[derive(Debug, Clone)]
pub struct PromotionInput {
    /// Display name.
    pub name: String,
    /// Discount code; `None` for an automatic promotion.
    pub code: Option<String>,
    /// What it takes off.
    pub kind: Kind,
    /// Percent off (0–100) for percentage and buy X get Y (100 = free).
    pub percentage: Option<Decimal>,
    /// Amount off, in the channel currency, for fixed amount.
    pub amount: Option<Decimal>,
    /// Buy X get Y: units bought.
    pub buy_quantity: Option<i32>,
    /// Buy X get Y: units discounted.
    pub get_quantity: Option<i32>,
    /// What it applies to; all empty: the whole order.
    pub targets: Targets,
    /// Minimum subtotal of the lines it applies to, in the channel currency.
    pub min_subtotal: Option<Decimal>,
    /// Does not combine with other exclusive promotions (the best one wins).
    pub exclusive: bool,
    /// Valid from.
    pub starts_at: Option<DateTime<Utc>>,
    /// Valid until.
    pub ends_at: Option<DateTime<Utc>>,
    /// Uses in all.
    pub usage_limit: Option<i32>,
    /// Uses per customer (needs a signed-in customer).
    pub per_customer_limit: Option<i32>,
}

fn err(field: &str, code: UserErrorCode, message: impl Into<String>) -> UserError {
    UserError::new(&[field], code, message)
}

fn minor(
    value: Option<Decimal>,
    channel: &Channel,
    field: &str,
    errors: &mut Vec<UserError>,
) -> i64 {
    let Some(v) = value else { return 0 };
    match Money::exact_minor(v, channel.currency) {
        Some(m) if m >= 0 => m,
        _ => {
            errors.push(err(
                field,
                UserErrorCode::Invalid,
                format!(
                    "a non-negative amount with at most {} decimals",
                    channel.currency.minor_units()
                ),
            ));
            0
        }
    }
}

/// Creates a promotion in `channel`.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    channel: &Channel,
    input: PromotionInput,
) -> Outcome<promotion::Model> {
    let mut errors = Vec::new();
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        errors.push(err("name", UserErrorCode::Blank, "a name is required"));
    }
    let code = input
        .code
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty());
    if let Some(c) = &code
        && (c.len() > 64
            || !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'))
    {
        errors.push(err(
            "code",
            UserErrorCode::Invalid,
            "a code has up to 64 letters, digits, - or _",
        ));
    }
    let hundred = Decimal::from(100);
    let percent_ppm = match (input.kind, input.percentage) {
        (Kind::Percentage | Kind::BuyXGetY, Some(p)) if p > Decimal::ZERO && p <= hundred => {
            use rust_decimal::prelude::ToPrimitive;
            (p * Decimal::from(10_000)).round().to_i64().unwrap_or(0)
        }
        (Kind::Percentage, _) => {
            errors.push(err(
                "percentage",
                UserErrorCode::Invalid,
                "a percentage above 0 and at most 100",
            ));
            0
        }
        (Kind::BuyXGetY, None) => 1_000_000,
        (Kind::BuyXGetY, Some(_)) => {
            errors.push(err(
                "percentage",
                UserErrorCode::Invalid,
                "a percentage above 0 and at most 100",
            ));
            0
        }
        _ => 0,
    };
    let amount_minor = minor(input.amount, channel, "amount", &mut errors);
    if input.kind == Kind::FixedAmount && amount_minor <= 0 {
        errors.push(err(
            "amount",
            UserErrorCode::Invalid,
            "a fixed amount above 0 is required",
        ));
    }
    let (buy, get) = (
        input.buy_quantity.unwrap_or(0),
        input.get_quantity.unwrap_or(0),
    );
    if input.kind == Kind::BuyXGetY && (buy < 1 || get < 1 || buy > 100 || get > 100) {
        errors.push(err(
            "buyQuantity",
            UserErrorCode::Invalid,
            "buy X get Y needs buy and get quantities from 1 to 100",
        ));
    }
    let min_subtotal_minor = minor(input.min_subtotal, channel, "minSubtotal", &mut errors);
    if let (Some(s), Some(e)) = (input.starts_at, input.ends_at)
        && e <= s
    {
        errors.push(err(
            "endsAt",
            UserErrorCode::Invalid,
            "ends before it starts",
        ));
    }
    for (value, field) in [
        (input.usage_limit, "usageLimit"),
        (input.per_customer_limit, "perCustomerLimit"),
    ] {
        if value.is_some_and(|v| v < 1) {
            errors.push(err(field, UserErrorCode::Invalid, "a limit is at least 1"));
        }
    }
    let t = &input.targets;
    let known = |n: u64, want: usize| n == want as u64;
    if !t.variants.is_empty()
        && !known(
            variant::Entity::find()
                .filter(variant::Column::Id.is_in(t.variants.clone()))
                .count(db)
                .await?,
            t.variants.len(),
        )
    {
        errors.push(err(
            "variantIds",
            UserErrorCode::NotFound,
            "unknown variant",
        ));
    }
    if !t.products.is_empty()
        && !known(
            product::Entity::find()
                .filter(product::Column::Id.is_in(t.products.clone()))
                .count(db)
                .await?,
            t.products.len(),
        )
    {
        errors.push(err(
            "productIds",
            UserErrorCode::NotFound,
            "unknown product",
        ));
    }
    if !t.collections.is_empty()
        && !known(
            collection::Entity::find()
                .filter(collection::Column::Id.is_in(t.collections.clone()))
                .count(db)
                .await?,
            t.collections.len(),
        )
    {
        errors.push(err(
            "collectionIds",
            UserErrorCode::NotFound,
            "unknown collection",
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let whole_order = t.variants.is_empty() && t.products.is_empty() && t.collections.is_empty();
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let inserted = promotion::Entity::insert(promotion::ActiveModel {
        channel_id: Set(channel.id),
        name: Set(name),
        code: Set(code),
        kind: Set(input.kind.as_str().to_owned()),
        percent_ppm: Set(percent_ppm),
        amount_minor: Set(amount_minor),
        buy_quantity: Set(buy),
        get_quantity: Set(get),
        targets: Set((!whole_order).then(|| serde_json::to_string(t).unwrap_or_default())),
        min_subtotal_minor: Set(min_subtotal_minor),
        exclusive: Set(input.exclusive),
        starts_at: Set(input.starts_at),
        ends_at: Set(input.ends_at),
        usage_limit: Set(input.usage_limit),
        per_customer_limit: Set(input.per_customer_limit),
        times_used: Set(0),
        active: Set(true),
        created_at: Set(Utc::now().trunc_subsecs(6)),
        ..Default::default()
    })
    .exec(&tx)
    .await;
    let id = match inserted {
        Ok(r) => r.last_insert_id,
        Err(e) if is_unique_violation(&e) => {
            return Ok(Err(vec![err(
                "code",
                UserErrorCode::Taken,
                "another promotion of this channel has this code",
            )]));
        }
        Err(e) => return Err(e.into()),
    };
    let created = promotion::Entity::find_by_id(id)
        .one(&tx)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("promotion vanished".into()))?;
    let change = Change {
        action: "promotion.create",
        entity_type: "promotion",
        entity_id: id.to_string(),
        before: None,
        after: Some(snapshot(&created)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(created))
}

fn snapshot(p: &promotion::Model) -> serde_json::Value {
    serde_json::json!({
        "name": p.name, "code": p.code, "kind": p.kind, "percentPpm": p.percent_ppm,
        "amountMinor": p.amount_minor, "targets": p.targets, "exclusive": p.exclusive,
        "active": p.active, "startsAt": p.starts_at, "endsAt": p.ends_at,
        "usageLimit": p.usage_limit, "perCustomerLimit": p.per_customer_limit,
    })
}

/// Switches a promotion on or off; `None` if there is no such promotion.
pub async fn set_active(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    active: bool,
) -> DomainResult<Option<promotion::Model>> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(before) = promotion::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(None);
    };
    promotion::Entity::update_many()
        .col_expr(promotion::Column::Active, Expr::value(active))
        .filter(promotion::Column::Id.eq(id))
        .exec(&tx)
        .await?;
    let after = promotion::Entity::find_by_id(id).one(&tx).await?;
    if let Some(a) = &after
        && a.active != before.active
    {
        let change = Change {
            action: "promotion.update",
            entity_type: "promotion",
            entity_id: id.to_string(),
            before: Some(snapshot(&before)),
            after: Some(snapshot(a)),
        };
        audit::append(&tx, &mut head, actor, vec![change]).await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// Every promotion of a channel, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    channel_id: i64,
) -> DomainResult<Vec<promotion::Model>> {
    Ok(promotion::Entity::find()
        .filter(promotion::Column::ChannelId.eq(channel_id))
        .order_by_desc(promotion::Column::Id)
        .all(db)
        .await?)
}
