//! Catalog administration: products with their options, variants and
//! prices, changed by staff (`catalog:write`, `prices:write`) or partner
//! apps. Every input mistake is a field-level user error and nothing is
//! written; every change is audited in the same transaction.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{
    product, product_option, product_option_value, product_status::ProductStatus, product_tag,
    variant, variant_option_value, variant_price,
};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::json;

use super::{
    audit::{self, Actor, Change},
    channel::{self, Channel},
    error::{DomainResult, UserError, UserErrorCode},
    money::Money,
};

/// Most options a product may have.
pub const MAX_OPTIONS: usize = 3;
/// Most variants one call may create.
pub const MAX_VARIANTS: usize = 250;

/// A price of a variant in a channel.
#[derive(Debug, Clone)]
pub struct PriceInput {
    /// Channel code.
    pub channel: String,
    /// Amount in the channel's currency.
    pub amount: Decimal,
    /// The currency the caller means; must be the channel's.
    pub currency: Option<String>,
    /// The "was" price.
    pub compare_at: Option<Decimal>,
}

/// A new variant.
#[derive(Debug, Clone, Default)]
pub struct VariantInput {
    /// Unique SKU.
    pub sku: String,
    /// Title; default: its option values joined by " / ".
    pub title: Option<String>,
    /// One value per product option, in the options' order.
    pub option_values: Vec<String>,
    /// Barcode (GTIN).
    pub barcode: Option<String>,
    /// Weight in grams.
    pub weight_grams: Option<i32>,
    /// Whether stock is tracked (default true).
    pub track_inventory: Option<bool>,
    /// Whether it sells when out of stock (default false).
    pub allow_backorder: Option<bool>,
    /// Tax class (default `standard`).
    pub tax_class: Option<String>,
    /// Prices per channel.
    pub prices: Vec<PriceInput>,
}

/// An option and its values, in order.
#[derive(Debug, Clone)]
pub struct OptionInput {
    /// Name, e.g. `Size`.
    pub name: String,
    /// Values, e.g. `S`, `M`, `L`.
    pub values: Vec<String>,
}

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

/// Makes a URL handle from a title: lower-case ASCII letters, digits and dashes.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(200).collect()
}

/// Whether a URL handle is lower-case ASCII letters, digits and dashes.
pub(crate) fn valid_handle(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
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

/// A price checked against its channel, in minor units.
struct CheckedPrice {
    channel_id: i64,
    amount_minor: i64,
    compare_at_minor: Option<i64>,
}

fn check_price(
    p: &PriceInput,
    channels: &HashMap<String, Channel>,
    field: &[&str],
    errors: &mut Vec<UserError>,
) -> Option<CheckedPrice> {
    let Some(ch) = channels.get(p.channel.trim()) else {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            format!("no channel `{}`", p.channel.trim()),
        ));
        return None;
    };
    if let Some(cur) = &p.currency
        && !cur.trim().eq_ignore_ascii_case(ch.currency.code())
    {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            format!(
                "channel `{}` sells in {}, not {}",
                ch.code,
                ch.currency.code(),
                cur.trim()
            ),
        ));
        return None;
    }
    if p.amount.is_sign_negative() || p.compare_at.is_some_and(|c| c.is_sign_negative()) {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            "prices cannot be negative",
        ));
        return None;
    }
    let minor = |d: Decimal| Money::from_decimal(d, ch.currency).to_minor();
    let Some(amount_minor) = minor(p.amount) else {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            "the price is too large",
        ));
        return None;
    };
    Some(CheckedPrice {
        channel_id: ch.id,
        amount_minor,
        compare_at_minor: p.compare_at.and_then(minor),
    })
}

async fn channels_by_code(
    db: &impl sea_orm::ConnectionTrait,
) -> DomainResult<HashMap<String, Channel>> {
    Ok(channel::list(db)
        .await?
        .into_iter()
        .map(|c| (c.code.clone(), c))
        .collect())
}

/// Creates a product with its options, variants and prices.
pub async fn create_product(
    db: &DatabaseConnection,
    actor: &Actor,
    input: ProductInput,
) -> DomainResult<Result<product::Model, Vec<UserError>>> {
    let mut errors = Vec::new();
    let title = input.title.trim().to_owned();
    if title.is_empty() {
        errors.push(UserError::new(
            &["input", "title"],
            UserErrorCode::Blank,
            "the title is required",
        ));
    }
    let handle = input
        .handle
        .as_deref()
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|| slug(&title));
    if !valid_handle(&handle) {
        errors.push(UserError::new(
            &["input", "handle"],
            UserErrorCode::Invalid,
            "a handle is lower-case letters, digits and dashes",
        ));
    }
    // Options.
    if input.options.len() > MAX_OPTIONS {
        errors.push(UserError::new(
            &["input", "options"],
            UserErrorCode::Invalid,
            format!("at most {MAX_OPTIONS} options"),
        ));
    }
    let mut option_names = HashSet::new();
    let options: Vec<(String, Vec<String>)> = input
        .options
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let idx = i.to_string();
            let name = o.name.trim().to_owned();
            if name.is_empty() || !option_names.insert(name.to_lowercase()) {
                errors.push(UserError::new(
                    &["input", "options", &idx, "name"],
                    UserErrorCode::Invalid,
                    "option names must be given and distinct",
                ));
            }
            let mut seen = HashSet::new();
            let values: Vec<String> = o.values.iter().map(|v| v.trim().to_owned()).collect();
            if values.is_empty()
                || values
                    .iter()
                    .any(|v| v.is_empty() || !seen.insert(v.to_lowercase()))
            {
                errors.push(UserError::new(
                    &["input", "options", &idx, "values"],
                    UserErrorCode::Invalid,
                    "option values must be given and distinct",
                ));
            }
            (name, values)
        })
        .collect();
    // Variants.
    if input.variants.is_empty() || input.variants.len() > MAX_VARIANTS {
        errors.push(UserError::new(
            &["input", "variants"],
            UserErrorCode::Invalid,
            format!("give 1 to {MAX_VARIANTS} variants"),
        ));
    }
    let channels = channels_by_code(db).await?;
    let mut skus = HashSet::new();
    let mut combos = HashSet::new();
    let mut checked_prices: Vec<Vec<CheckedPrice>> = Vec::new();
    let mut value_picks: Vec<Vec<usize>> = Vec::new();
    for (i, v) in input.variants.iter().enumerate() {
        let idx = i.to_string();
        let sku = v.sku.trim();
        if sku.is_empty() || sku.len() > 128 {
            errors.push(UserError::new(
                &["input", "variants", &idx, "sku"],
                UserErrorCode::Invalid,
                "a SKU has 1 to 128 characters",
            ));
        } else if !skus.insert(sku.to_owned()) {
            errors.push(UserError::new(
                &["input", "variants", &idx, "sku"],
                UserErrorCode::Taken,
                format!("SKU `{sku}` appears twice"),
            ));
        }
        let mut picks = Vec::new();
        if v.option_values.len() != options.len() {
            errors.push(UserError::new(
                &["input", "variants", &idx, "optionValues"],
                UserErrorCode::Invalid,
                format!("give one value for each of the {} options", options.len()),
            ));
        } else {
            for (value, (name, values)) in v.option_values.iter().zip(&options) {
                match values
                    .iter()
                    .position(|x| x.eq_ignore_ascii_case(value.trim()))
                {
                    Some(p) => picks.push(p),
                    None => errors.push(UserError::new(
                        &["input", "variants", &idx, "optionValues"],
                        UserErrorCode::Invalid,
                        format!("`{}` is not a value of option `{name}`", value.trim()),
                    )),
                }
            }
            if picks.len() == options.len() && !combos.insert(picks.clone()) {
                errors.push(UserError::new(
                    &["input", "variants", &idx, "optionValues"],
                    UserErrorCode::Taken,
                    "two variants have the same option values",
                ));
            }
        }
        value_picks.push(picks);
        let mut prices = Vec::new();
        let mut priced_channels = HashSet::new();
        for (j, p) in v.prices.iter().enumerate() {
            let jdx = j.to_string();
            let field = ["input", "variants", idx.as_str(), "prices", jdx.as_str()];
            if let Some(c) = check_price(p, &channels, &field, &mut errors) {
                if !priced_channels.insert(c.channel_id) {
                    errors.push(UserError::new(
                        &field,
                        UserErrorCode::Taken,
                        "one price per channel",
                    ));
                }
                prices.push(c);
            }
        }
        checked_prices.push(prices);
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    // Uniqueness against the database.
    if product::Entity::find()
        .filter(product::Column::Handle.eq(handle.as_str()))
        .one(db)
        .await?
        .is_some()
    {
        errors.push(UserError::new(
            &["input", "handle"],
            UserErrorCode::Taken,
            format!("handle `{handle}` is taken"),
        ));
    }
    let taken: Vec<String> = variant::Entity::find()
        .filter(variant::Column::Sku.is_in(skus.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(|v| v.sku)
        .collect();
    for (i, v) in input.variants.iter().enumerate() {
        if taken.iter().any(|t| t == v.sku.trim()) {
            errors.push(UserError::new(
                &["input", "variants", &i.to_string(), "sku"],
                UserErrorCode::Taken,
                format!("SKU `{}` is taken", v.sku.trim()),
            ));
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }

    let tx = db.begin().await?;
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
        let option = product_option::ActiveModel {
            product_id: Set(created.id),
            name: Set(name.clone()),
            position: Set(i32::try_from(pos).unwrap_or(0)),
            ..Default::default()
        }
        .insert(&tx)
        .await?;
        let mut ids = Vec::new();
        for (vpos, value) in values.iter().enumerate() {
            let v = product_option_value::ActiveModel {
                option_id: Set(option.id),
                value: Set(value.clone()),
                position: Set(i32::try_from(vpos).unwrap_or(0)),
                ..Default::default()
            }
            .insert(&tx)
            .await?;
            ids.push(v.id);
        }
        value_ids.push(ids);
    }
    let mut variant_snapshots = Vec::new();
    for (pos, ((v, picks), prices)) in input
        .variants
        .iter()
        .zip(&value_picks)
        .zip(&checked_prices)
        .enumerate()
    {
        let chosen: Vec<String> = picks
            .iter()
            .zip(&options)
            .map(|(p, (_, values))| values[*p].clone())
            .collect();
        let title = v
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                if chosen.is_empty() {
                    "Default".into()
                } else {
                    chosen.join(" / ")
                }
            });
        let row = variant::ActiveModel {
            product_id: Set(created.id),
            sku: Set(v.sku.trim().to_owned()),
            title: Set(title),
            position: Set(i32::try_from(pos).unwrap_or(0)),
            weight_grams: Set(v.weight_grams),
            barcode: Set(v
                .barcode
                .as_deref()
                .map(str::trim)
                .filter(|b| !b.is_empty())
                .map(str::to_owned)),
            track_inventory: Set(v.track_inventory.unwrap_or(true)),
            allow_backorder: Set(v.allow_backorder.unwrap_or(false)),
            tax_class: Set(v.tax_class.clone().unwrap_or_else(|| "standard".into())),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&tx)
        .await?;
        for (o, p) in picks.iter().enumerate() {
            variant_option_value::ActiveModel {
                variant_id: Set(row.id),
                option_value_id: Set(value_ids[o][*p]),
            }
            .insert(&tx)
            .await?;
        }
        for price in prices {
            variant_price::ActiveModel {
                variant_id: Set(row.id),
                channel_id: Set(price.channel_id),
                customer_group_id: Set(None),
                min_quantity: Set(1),
                amount_minor: Set(price.amount_minor),
                compare_at_minor: Set(price.compare_at_minor),
                ..Default::default()
            }
            .insert(&tx)
            .await?;
        }
        variant_snapshots.push(json!({ "sku": row.sku, "options": chosen, "prices": prices.iter().map(|p| json!({ "channelId": p.channel_id, "amountMinor": p.amount_minor })).collect::<Vec<_>>() }));
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

fn not_found() -> Vec<UserError> {
    vec![UserError::new(
        &["id"],
        UserErrorCode::NotFound,
        "no such product",
    )]
}

async fn tags_of(db: &impl sea_orm::ConnectionTrait, product_id: i64) -> DomainResult<Vec<String>> {
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
) -> DomainResult<Result<product::Model, Vec<UserError>>> {
    let tx = db.begin().await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = product::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found()));
    };
    let before_tags = tags_of(&tx, id).await?;
    let mut errors = Vec::new();
    let mut row: product::ActiveModel = existing.clone().into();
    if let Some(title) = input.title.map(|t| t.trim().to_owned()) {
        if title.is_empty() {
            errors.push(UserError::new(
                &["input", "title"],
                UserErrorCode::Blank,
                "the title is required",
            ));
        }
        row.title = Set(title);
    }
    if let Some(handle) = input.handle.map(|h| h.trim().to_owned()) {
        if !valid_handle(&handle) {
            errors.push(UserError::new(
                &["input", "handle"],
                UserErrorCode::Invalid,
                "a handle is lower-case letters, digits and dashes",
            ));
        } else if handle != existing.handle
            && product::Entity::find()
                .filter(product::Column::Handle.eq(handle.as_str()))
                .one(&tx)
                .await?
                .is_some()
        {
            errors.push(UserError::new(
                &["input", "handle"],
                UserErrorCode::Taken,
                format!("handle `{handle}` is taken"),
            ));
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
pub async fn delete_product(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<Result<i64, Vec<UserError>>> {
    let tx = db.begin().await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = product::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found()));
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

/// One base price to set, by SKU.
#[derive(Debug, Clone)]
pub struct SkuPrice {
    /// The variant's SKU.
    pub sku: String,
    /// The price.
    pub price: PriceInput,
}

/// Sets base prices by SKU, all or none; returns how many changed.
pub async fn set_prices(
    db: &DatabaseConnection,
    actor: &Actor,
    rows: &[SkuPrice],
) -> DomainResult<Result<usize, Vec<UserError>>> {
    let channels = channels_by_code(db).await?;
    let skus: Vec<String> = rows.iter().map(|r| r.sku.trim().to_owned()).collect();
    let mut variants: HashMap<String, i64> = HashMap::new();
    for chunk in skus.chunks(500) {
        for v in variant::Entity::find()
            .filter(variant::Column::Sku.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            variants.insert(v.sku, v.id);
        }
    }
    let mut errors = Vec::new();
    let mut checked = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let idx = i.to_string();
        let field = ["prices", idx.as_str()];
        let Some(variant_id) = variants.get(r.sku.trim()).copied() else {
            errors.push(UserError::new(
                &field,
                UserErrorCode::NotFound,
                format!("no variant with SKU `{}`", r.sku.trim()),
            ));
            continue;
        };
        if let Some(p) = check_price(&r.price, &channels, &field, &mut errors) {
            checked.push((variant_id, p));
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = db.begin().await?;
    let mut head = audit::lock(&tx).await?;
    let mut changes = Vec::new();
    for (variant_id, p) in &checked {
        let existing = variant_price::Entity::find()
            .filter(variant_price::Column::VariantId.eq(*variant_id))
            .filter(variant_price::Column::ChannelId.eq(p.channel_id))
            .filter(variant_price::Column::CustomerGroupId.is_null())
            .filter(variant_price::Column::MinQuantity.eq(1))
            .one(&tx)
            .await?;
        let before = existing.as_ref().map(
            |e| json!({ "amountMinor": e.amount_minor, "compareAtMinor": e.compare_at_minor }),
        );
        if existing.as_ref().is_some_and(|e| {
            e.amount_minor == p.amount_minor && e.compare_at_minor == p.compare_at_minor
        }) {
            continue;
        }
        match existing {
            Some(e) => {
                let mut row: variant_price::ActiveModel = e.into();
                row.amount_minor = Set(p.amount_minor);
                row.compare_at_minor = Set(p.compare_at_minor);
                row.update(&tx).await?;
            }
            None => {
                variant_price::ActiveModel {
                    variant_id: Set(*variant_id),
                    channel_id: Set(p.channel_id),
                    customer_group_id: Set(None),
                    min_quantity: Set(1),
                    amount_minor: Set(p.amount_minor),
                    compare_at_minor: Set(p.compare_at_minor),
                    ..Default::default()
                }
                .insert(&tx)
                .await?;
            }
        }
        changes.push(Change {
            action: "price.set",
            entity_type: "variant_price",
            entity_id: format!("{variant_id}@{}", p.channel_id),
            before,
            after: Some(
                json!({ "amountMinor": p.amount_minor, "compareAtMinor": p.compare_at_minor }),
            ),
        });
    }
    let changed = changes.len();
    audit::append(&tx, &mut head, actor, changes).await?;
    tx.commit().await?;
    Ok(Ok(changed))
}
