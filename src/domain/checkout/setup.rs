//! What prices a cart besides the catalog: tax rates, shipping zones and
//! methods, promotions, gift cards and store credit; read here, and created
//! by staff (promotions, gift cards, store credit adjustments).

use crate::domain::tx::begin_write;
use std::collections::HashSet;

use chrono::{DateTime, SubsecRound, Utc};
use entity::{
    channel, gift_card, gift_card_entry, promotion, shipping_method, shipping_zone,
    store_credit_account, store_credit_entry, tax_rate, variant_price,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use crate::domain::{
    audit::{self, Actor, Change},
    channel::Channel,
    error::{DomainError, DomainResult, Outcome, UserError, UserErrorCode, is_unique_violation},
    identity::secret,
    money::Currency,
};

/// The channel with this id.
pub async fn channel_by_id(db: &impl ConnectionTrait, id: i64) -> DomainResult<Channel> {
    channel::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::Inconsistent(format!("channel {id} is missing")))?
        .try_into()
}

/// Which of `variant_ids` have a price in the channel.
pub async fn priced_variants(
    db: &impl ConnectionTrait,
    channel_id: i64,
    variant_ids: &[i64],
) -> DomainResult<HashSet<i64>> {
    let ids: Vec<i64> = variant_price::Entity::find()
        .select_only()
        .column(variant_price::Column::VariantId)
        .filter(variant_price::Column::ChannelId.eq(channel_id))
        .filter(variant_price::Column::VariantId.is_in(variant_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().collect())
}

/// Price rows of these variants in the channel (every group and tier).
pub async fn price_rows(
    db: &impl ConnectionTrait,
    channel_id: i64,
    variant_ids: &[i64],
) -> DomainResult<Vec<variant_price::Model>> {
    Ok(variant_price::Entity::find()
        .filter(variant_price::Column::ChannelId.eq(channel_id))
        .filter(variant_price::Column::VariantId.is_in(variant_ids.iter().copied()))
        .all(db)
        .await?)
}

/// Tax rates that apply in `country` (country-wide and regional rows).
pub async fn tax_rates_in(
    db: &impl ConnectionTrait,
    country: &str,
) -> DomainResult<Vec<tax_rate::Model>> {
    Ok(tax_rate::Entity::find()
        .filter(tax_rate::Column::Country.eq(country.to_ascii_uppercase()))
        .all(db)
        .await?)
}

/// Active shipping methods of the channel whose zone includes `country`,
/// in display order.
pub async fn shipping_methods_for(
    db: &impl ConnectionTrait,
    channel_id: i64,
    country: &str,
) -> DomainResult<Vec<shipping_method::Model>> {
    let country = country.to_ascii_uppercase();
    let zones: Vec<i64> = shipping_zone::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .filter(|z| {
            z.countries
                .split_whitespace()
                .any(|c| c == country || c == "*")
        })
        .map(|z| z.id)
        .collect();
    if zones.is_empty() {
        return Ok(Vec::new());
    }
    Ok(shipping_method::Entity::find()
        .filter(shipping_method::Column::ChannelId.eq(channel_id))
        .filter(shipping_method::Column::ZoneId.is_in(zones))
        .filter(shipping_method::Column::Active.eq(true))
        .order_by_asc(shipping_method::Column::Position)
        .order_by_asc(shipping_method::Column::Id)
        .all(db)
        .await?)
}

/// One weight bracket as stored in `shipping_method.brackets`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bracket {
    /// Carts up to this weight.
    pub up_to_grams: u64,
    /// Amount in minor units.
    pub amount_minor: i64,
}

/// What a promotion applies to, as stored in `promotion.targets`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    /// Variant ids.
    #[serde(default)]
    pub variants: Vec<i64>,
    /// Product ids.
    #[serde(default)]
    pub products: Vec<i64>,
    /// Collection ids (expanded to their products when a cart is priced).
    #[serde(default)]
    pub collections: Vec<i64>,
}

/// Automatic promotions of the channel and those behind `codes`.
pub async fn promotions_for(
    db: &impl ConnectionTrait,
    channel_id: i64,
    codes: &[String],
) -> DomainResult<Vec<promotion::Model>> {
    let mut cond = sea_orm::Condition::any().add(promotion::Column::Code.is_null());
    if !codes.is_empty() {
        cond = cond.add(promotion::Column::Code.is_in(codes.iter().cloned()));
    }
    Ok(promotion::Entity::find()
        .filter(promotion::Column::ChannelId.eq(channel_id))
        .filter(promotion::Column::Active.eq(true))
        .filter(cond)
        .order_by_asc(promotion::Column::Id)
        .all(db)
        .await?)
}

/// The stored digest of a gift card code (case, spaces and dashes ignored).
pub fn gift_card_hash(code: &str) -> String {
    secret::digest(&normalize_gift_card_code(code))
}

fn normalize_gift_card_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A new gift card: its code is shown once.
#[derive(Debug, Clone)]
pub struct IssuedGiftCard {
    /// The row.
    pub card: gift_card::Model,
    /// The code to give the recipient (only its digest is stored).
    pub code: String,
}

/// Issues a gift card of `amount_minor` in `currency`; `code` may be given
/// (at least 8 letters or digits), otherwise one is generated.
pub async fn gift_card_create(
    db: &DatabaseConnection,
    actor: &Actor,
    amount_minor: i64,
    currency: Currency,
    code: Option<&str>,
    expires_at: Option<DateTime<Utc>>,
) -> Outcome<IssuedGiftCard> {
    if amount_minor <= 0 {
        return Ok(Err(vec![UserError::new(
            &["initialValue"],
            UserErrorCode::Invalid,
            "the value must be positive",
        )]));
    }
    let code = match code {
        Some(c) => {
            let n = normalize_gift_card_code(c);
            if n.len() < 8 || n.len() > 32 {
                return Ok(Err(vec![UserError::new(
                    &["code"],
                    UserErrorCode::Invalid,
                    "a gift card code has 8 to 32 letters or digits",
                )]));
            }
            n
        }
        None => generated_code(),
    };
    let now = Utc::now().trunc_subsecs(6);
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let inserted = gift_card::Entity::insert(gift_card::ActiveModel {
        code_hash: Set(secret::digest(&code)),
        last_chars: Set(code
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()),
        currency_code: Set(currency.code().to_owned()),
        initial_minor: Set(amount_minor),
        balance_minor: Set(amount_minor),
        expires_at: Set(expires_at),
        disabled: Set(false),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(&tx)
    .await;
    let id = match inserted {
        Ok(r) => r.last_insert_id,
        Err(e) if is_unique_violation(&e) => {
            return Ok(Err(vec![UserError::new(
                &["code"],
                UserErrorCode::Taken,
                "this code is already used by another gift card",
            )]));
        }
        Err(e) => return Err(e.into()),
    };
    gift_card_entry::Entity::insert(gift_card_entry::ActiveModel {
        gift_card_id: Set(id),
        amount_minor: Set(amount_minor),
        order_id: Set(None),
        reason: Set("issued".into()),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&tx)
    .await?;
    let change = Change {
        action: "gift_card.create",
        entity_type: "gift_card",
        entity_id: id.to_string(),
        before: None,
        after: Some(serde_json::json!({
            "currency": currency.code(),
            "initialMinor": amount_minor,
            "expiresAt": expires_at,
        })),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    let card = gift_card::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("gift card vanished".into()))?;
    Ok(Ok(IssuedGiftCard { card, code }))
}

/// Characters of generated gift card codes: 32 without look-alikes, so
/// each carries 5 bits.
const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn generated_code() -> String {
    // 16 characters, each from 5 uniformly random bits: 80 bits in all.
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    bytes
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(b & 31)]))
        .collect()
}

/// Debits a gift card in the caller's transaction, only if its balance
/// covers `amount_minor` (checked by the update itself). Returns whether it did.
pub async fn gift_card_debit(
    tx: &impl ConnectionTrait,
    card_id: i64,
    amount_minor: i64,
    order_id: i64,
) -> DomainResult<bool> {
    let updated = gift_card::Entity::update_many()
        .col_expr(
            gift_card::Column::BalanceMinor,
            Expr::col(gift_card::Column::BalanceMinor).sub(amount_minor),
        )
        .filter(gift_card::Column::Id.eq(card_id))
        .filter(gift_card::Column::BalanceMinor.gte(amount_minor))
        .filter(gift_card::Column::Disabled.eq(false))
        .exec(tx)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(false);
    }
    gift_card_entry::Entity::insert(gift_card_entry::ActiveModel {
        gift_card_id: Set(card_id),
        amount_minor: Set(-amount_minor),
        order_id: Set(Some(order_id)),
        reason: Set("order".into()),
        created_at: Set(Utc::now().trunc_subsecs(6)),
        ..Default::default()
    })
    .exec_without_returning(tx)
    .await?;
    Ok(true)
}

/// A customer's store credit account in `currency`, if any.
pub async fn store_credit(
    db: &impl ConnectionTrait,
    customer_id: i64,
    currency: Currency,
) -> DomainResult<Option<store_credit_account::Model>> {
    Ok(store_credit_account::Entity::find()
        .filter(store_credit_account::Column::CustomerId.eq(customer_id))
        .filter(store_credit_account::Column::CurrencyCode.eq(currency.code()))
        .one(db)
        .await?)
}

/// Every store credit account of a customer.
pub async fn store_credit_accounts(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> DomainResult<Vec<store_credit_account::Model>> {
    Ok(store_credit_account::Entity::find()
        .filter(store_credit_account::Column::CustomerId.eq(customer_id))
        .order_by_asc(store_credit_account::Column::CurrencyCode)
        .all(db)
        .await?)
}

/// Adds (positive) or removes (negative) store credit; refuses to go below
/// zero. Returns the account after the change.
pub async fn store_credit_adjust(
    db: &DatabaseConnection,
    actor: &Actor,
    customer_id: i64,
    currency: Currency,
    amount_minor: i64,
    reason: &str,
) -> Outcome<store_credit_account::Model> {
    if amount_minor == 0 {
        return Ok(Err(vec![UserError::new(
            &["amount"],
            UserErrorCode::Invalid,
            "the amount must not be zero",
        )]));
    }
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    // Create the account on first use (a no-op when it exists).
    store_credit_account::Entity::insert(store_credit_account::ActiveModel {
        customer_id: Set(customer_id),
        currency_code: Set(currency.code().to_owned()),
        balance_minor: Set(0),
        ..Default::default()
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::columns([
            store_credit_account::Column::CustomerId,
            store_credit_account::Column::CurrencyCode,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&tx)
    .await?;
    let Some(account) = store_credit(&tx, customer_id, currency).await? else {
        return Err(DomainError::Inconsistent(
            "store credit account vanished".into(),
        ));
    };
    if !store_credit_move(&tx, account.id, amount_minor, None, reason).await? {
        return Ok(Err(vec![UserError::new(
            &["amount"],
            UserErrorCode::Invalid,
            "the balance cannot go below zero",
        )]));
    }
    let change = Change {
        action: "store_credit.adjust",
        entity_type: "store_credit_account",
        entity_id: account.id.to_string(),
        before: Some(serde_json::json!({"balanceMinor": account.balance_minor})),
        after: Some(serde_json::json!({
            "balanceMinor": account.balance_minor + amount_minor,
            "reason": reason,
        })),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    let account = store_credit(db, customer_id, currency)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("store credit account vanished".into()))?;
    Ok(Ok(account))
}

/// Moves store credit in the caller's transaction, only if the balance stays
/// non-negative (checked by the update itself). Returns whether it did.
pub async fn store_credit_move(
    tx: &impl ConnectionTrait,
    account_id: i64,
    amount_minor: i64,
    order_id: Option<i64>,
    reason: &str,
) -> DomainResult<bool> {
    let updated = store_credit_account::Entity::update_many()
        .col_expr(
            store_credit_account::Column::BalanceMinor,
            Expr::col(store_credit_account::Column::BalanceMinor).add(amount_minor),
        )
        .filter(store_credit_account::Column::Id.eq(account_id))
        .filter(store_credit_account::Column::BalanceMinor.gte(-amount_minor))
        .exec(tx)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(false);
    }
    store_credit_entry::Entity::insert(store_credit_entry::ActiveModel {
        account_id: Set(account_id),
        amount_minor: Set(amount_minor),
        order_id: Set(order_id),
        reason: Set(reason.to_owned()),
        created_at: Set(Utc::now().trunc_subsecs(6)),
        ..Default::default()
    })
    .exec_without_returning(tx)
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_use_every_character_alike() {
        // 80 bits need each of the 32 characters equally likely at each of
        // the 16 places; with 32,000 draws each character is expected 1,000
        // times, and a skewed draw is off by hundreds.
        let mut counts = [0u32; 32];
        for _ in 0..2_000 {
            let code = generated_code();
            assert_eq!(code.len(), 16);
            for c in code.bytes() {
                let i = CODE_ALPHABET
                    .iter()
                    .position(|a| *a == c)
                    .unwrap_or_else(|| panic!("{c} is not in the alphabet"));
                counts[i] += 1;
            }
        }
        let (min, max) = (
            counts.iter().min().copied().unwrap_or(0),
            counts.iter().max().copied().unwrap_or(0),
        );
        assert!(min > 800 && max < 1_200, "{counts:?}");
    }
}
