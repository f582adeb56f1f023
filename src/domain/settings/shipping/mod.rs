//! Shipping zones (a name and the countries it covers) and the shipping
//! methods offered in them, per channel: listing, creating, changing and
//! deleting them. Deleting a zone deletes its methods (each audited).
//!
//! A cart whose selected method is deleted or deactivated keeps pricing
//! without it, and checkout asks for another method (`INVALID_SHIPPING_METHOD`).

use std::collections::{BTreeMap, HashMap, HashSet};

use entity::{shipping_method, shipping_zone};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::json;

use super::{check_countries, check_name};
use crate::domain::{
    audit::{self, Actor, Change},
    catalog_admin::not_found,
    channel::{self, Channel},
    checkout::setup::Bracket,
    error::{DomainError, DomainResult, Outcome, UserError, UserErrorCode, is_unique_violation},
    tx::begin_write,
};

mod method_input;

pub use method_input::{BracketInput, MethodInput};
use method_input::{check_method_code, method_code_taken, priced, taken_code, tax_class_of};

/// How a shipping method charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    /// The same amount whatever the cart.
    Flat,
    /// An amount, or nothing from a subtotal (after discounts) on.
    FreeOver,
    /// The amount of the lightest weight bracket the cart fits in.
    ByWeight,
}

impl MethodKind {
    /// As stored in `shipping_method.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flat => "flat",
            Self::FreeOver => "free_over",
            Self::ByWeight => "by_weight",
        }
    }

    /// The kind stored as `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Flat, Self::FreeOver, Self::ByWeight]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A zone with its methods, for listing.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The zone.
    pub zone: shipping_zone::Model,
    /// Its methods in display order (every channel, active or not).
    pub methods: Vec<Method>,
}

/// A method with the channel its amounts are in.
#[derive(Debug, Clone)]
pub struct Method {
    /// The row.
    pub method: shipping_method::Model,
    /// Its channel.
    pub channel: Channel,
}

impl Method {
    /// The method's weight brackets (`by_weight`), lightest first.
    pub fn brackets(&self) -> Vec<Bracket> {
        let mut b: Vec<Bracket> = self
            .method
            .brackets
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        b.sort_by_key(|x| x.up_to_grams);
        b
    }
}

/// The countries of a zone as stored (space-separated).
pub fn zone_countries(z: &shipping_zone::Model) -> Vec<String> {
    z.countries.split_whitespace().map(str::to_owned).collect()
}

/// Every zone by name, with its methods.
pub async fn zones(db: &impl ConnectionTrait) -> DomainResult<Vec<Zone>> {
    let zones = shipping_zone::Entity::find()
        .order_by_asc(shipping_zone::Column::Name)
        .order_by_asc(shipping_zone::Column::Id)
        .all(db)
        .await?;
    let methods = shipping_method::Entity::find()
        .order_by_asc(shipping_method::Column::Position)
        .order_by_asc(shipping_method::Column::Id)
        .all(db)
        .await?;
    let channels: HashMap<i64, Channel> = channel::list(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut by_zone: HashMap<i64, Vec<Method>> = HashMap::new();
    for m in methods {
        let channel = channels.get(&m.channel_id).cloned().ok_or_else(|| {
            DomainError::Inconsistent(format!(
                "shipping method {}: channel {} is missing",
                m.id, m.channel_id
            ))
        })?;
        by_zone
            .entry(m.zone_id)
            .or_default()
            .push(Method { method: m, channel });
    }
    Ok(zones
        .into_iter()
        .map(|zone| Zone {
            methods: by_zone.remove(&zone.id).unwrap_or_default(),
            zone,
        })
        .collect())
}

fn zone_snapshot(z: &shipping_zone::Model) -> serde_json::Value {
    json!({ "name": z.name, "countries": zone_countries(z) })
}

async fn zone_name_taken(
    tx: &DatabaseTransaction,
    name: &str,
    except: Option<i64>,
) -> DomainResult<bool> {
    Ok(shipping_zone::Entity::find()
        .filter(shipping_zone::Column::Name.eq(name))
        .one(tx)
        .await?
        .is_some_and(|z| Some(z.id) != except))
}

async fn zone_in(tx: &DatabaseTransaction, id: i64) -> DomainResult<Option<Zone>> {
    Ok(zones(tx).await?.into_iter().find(|z| z.zone.id == id))
}

/// A zone's fields (absent: left alone; both required on creation).
#[derive(Debug, Clone, Default)]
pub struct ZoneInput {
    /// Display name, unique among zones.
    pub name: Option<String>,
    /// ISO 3166-1 alpha-2 codes.
    pub countries: Option<Vec<String>>,
}

/// Creates a zone.
pub async fn zone_create(
    db: &DatabaseConnection,
    actor: &Actor,
    input: ZoneInput,
) -> Outcome<Zone> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let mut errors = Vec::new();
    let name = check_name(
        input.name.as_deref().unwrap_or_default(),
        &["name"],
        &mut errors,
    );
    let countries = check_countries(
        input.countries.as_deref().unwrap_or_default(),
        &["countries"],
        &mut errors,
    );
    if errors.is_empty() && zone_name_taken(&tx, &name, None).await? {
        errors.push(taken_name(&name));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let created = shipping_zone::ActiveModel {
        name: Set(name),
        countries: Set(countries.join(" ")),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    let change = Change {
        action: "shipping_zone.create",
        entity_type: "shipping_zone",
        entity_id: created.id.to_string(),
        before: None,
        after: Some(zone_snapshot(&created)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(Zone {
        zone: created,
        methods: Vec::new(),
    }))
}

fn taken_name(name: &str) -> UserError {
    UserError::new(
        &["name"],
        UserErrorCode::Taken,
        format!("another shipping zone is named `{name}`"),
    )
}

/// Renames a zone or sets its countries.
pub async fn zone_update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    input: ZoneInput,
) -> Outcome<Zone> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = shipping_zone::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "shipping zone")));
    };
    let mut errors = Vec::new();
    let mut row: shipping_zone::ActiveModel = existing.clone().into();
    if let Some(name) = &input.name {
        let name = check_name(name, &["name"], &mut errors);
        if errors.is_empty() && zone_name_taken(&tx, &name, Some(id)).await? {
            errors.push(taken_name(&name));
        }
        row.name = Set(name);
    }
    if let Some(countries) = &input.countries {
        let countries = check_countries(countries, &["countries"], &mut errors);
        row.countries = Set(countries.join(" "));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let updated = row.update(&tx).await?;
    let change = Change {
        action: "shipping_zone.update",
        entity_type: "shipping_zone",
        entity_id: id.to_string(),
        before: Some(zone_snapshot(&existing)),
        after: Some(zone_snapshot(&updated)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    let zone = zone_in(&tx, id)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("shipping zone vanished".into()))?;
    tx.commit().await?;
    Ok(Ok(zone))
}

/// Deletes a zone and the methods in it.
pub async fn zone_delete(db: &DatabaseConnection, actor: &Actor, id: i64) -> Outcome<i64> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = zone_in(&tx, id).await? else {
        return Ok(Err(not_found(&["id"], "shipping zone")));
    };
    let mut changes = Vec::new();
    for m in &existing.methods {
        changes.push(Change {
            action: "shipping_method.delete",
            entity_type: "shipping_method",
            entity_id: m.method.id.to_string(),
            before: Some(method_snapshot(&m.method, &m.channel)),
            after: None,
        });
    }
    shipping_method::Entity::delete_many()
        .filter(shipping_method::Column::ZoneId.eq(id))
        .exec(&tx)
        .await?;
    shipping_zone::Entity::delete_by_id(id).exec(&tx).await?;
    changes.push(Change {
        action: "shipping_zone.delete",
        entity_type: "shipping_zone",
        entity_id: id.to_string(),
        before: Some(zone_snapshot(&existing.zone)),
        after: None,
    });
    audit::append(&tx, &mut head, actor, changes).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

fn method_snapshot(m: &shipping_method::Model, ch: &Channel) -> serde_json::Value {
    json!({
        "zoneId": m.zone_id,
        "channel": ch.code,
        "code": m.code,
        "name": m.name,
        "kind": m.kind,
        "amountMinor": m.amount_minor,
        "thresholdMinor": m.threshold_minor,
        "brackets": m.brackets,
        "taxClass": m.tax_class,
        "active": m.active,
        "position": m.position,
        "currency": ch.currency.code(),
    })
}

/// Creates a shipping method.
pub async fn method_create(
    db: &DatabaseConnection,
    actor: &Actor,
    input: MethodInput,
) -> Outcome<Method> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let mut errors = Vec::new();
    let zone = match input.zone_id {
        Some(z) => shipping_zone::Entity::find_by_id(z).one(&tx).await?,
        None => None,
    };
    if zone.is_none() {
        errors.extend(not_found(&["zoneId"], "shipping zone"));
    }
    let channel_code = input.channel.as_deref().unwrap_or_default().trim();
    let channel = channel::list(&tx)
        .await?
        .into_iter()
        .find(|c| c.code == channel_code);
    if channel.is_none() {
        errors.push(UserError::new(
            &["channel"],
            UserErrorCode::NotFound,
            format!("no channel has the code `{channel_code}`"),
        ));
    }
    let code = check_method_code(input.code.as_deref().unwrap_or_default(), &mut errors);
    let name = check_name(
        input.name.as_deref().unwrap_or_default(),
        &["name"],
        &mut errors,
    );
    let tax_class = tax_class_of(&input, &mut errors).flatten();
    let (Some(zone), Some(ch), Some(kind)) = (zone, channel, input.kind) else {
        if input.kind.is_none() {
            errors.push(UserError::new(
                &["kind"],
                UserErrorCode::Blank,
                "a kind is required",
            ));
        }
        return Ok(Err(errors));
    };
    let (amount, threshold, brackets) = priced(kind, None, &input, &ch, &mut errors);
    if errors.is_empty() && method_code_taken(&tx, ch.id, &code, None).await? {
        errors.push(taken_code(&code, &ch));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let position = match input.position {
        Some(p) => p,
        None => shipping_method::Entity::find()
            .filter(shipping_method::Column::ChannelId.eq(ch.id))
            .order_by_desc(shipping_method::Column::Position)
            .one(&tx)
            .await?
            .map_or(0, |m| m.position.saturating_add(1)),
    };
    let inserted = shipping_method::ActiveModel {
        zone_id: Set(zone.id),
        channel_id: Set(ch.id),
        code: Set(code.clone()),
        name: Set(name),
        kind: Set(kind.as_str().to_owned()),
        amount_minor: Set(amount),
        threshold_minor: Set(threshold),
        brackets: Set(brackets),
        tax_class: Set(tax_class),
        active: Set(input.active.unwrap_or(true)),
        position: Set(position),
        ..Default::default()
    }
    .insert(&tx)
    .await;
    let created = match inserted {
        Ok(m) => m,
        Err(e) if is_unique_violation(&e) => return Ok(Err(vec![taken_code(&code, &ch)])),
        Err(e) => return Err(e.into()),
    };
    let change = Change {
        action: "shipping_method.create",
        entity_type: "shipping_method",
        entity_id: created.id.to_string(),
        before: None,
        after: Some(method_snapshot(&created, &ch)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(Method {
        method: created,
        channel: ch,
    }))
}

/// Changes a shipping method (not its channel).
pub async fn method_update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    input: MethodInput,
) -> Outcome<Method> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = shipping_method::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "shipping method")));
    };
    let ch = channel::list(&tx)
        .await?
        .into_iter()
        .find(|c| c.id == existing.channel_id)
        .ok_or_else(|| DomainError::Inconsistent(format!("shipping method {id}: no channel")))?;
    let mut errors = Vec::new();
    if input
        .channel
        .as_deref()
        .is_some_and(|c| c.trim() != ch.code)
    {
        errors.push(UserError::new(
            &["channel"],
            UserErrorCode::Invalid,
            "a shipping method's channel cannot change (its amounts are in that currency); create one in the other channel",
        ));
    }
    let mut row: shipping_method::ActiveModel = existing.clone().into();
    if let Some(z) = input.zone_id {
        if shipping_zone::Entity::find_by_id(z)
            .one(&tx)
            .await?
            .is_none()
        {
            errors.extend(not_found(&["zoneId"], "shipping zone"));
        }
        row.zone_id = Set(z);
    }
    if let Some(code) = &input.code {
        let code = check_method_code(code, &mut errors);
        if errors.is_empty() && method_code_taken(&tx, ch.id, &code, Some(id)).await? {
            errors.push(taken_code(&code, &ch));
        }
        row.code = Set(code);
    }
    if let Some(name) = &input.name {
        row.name = Set(check_name(name, &["name"], &mut errors));
    }
    if let Some(class) = tax_class_of(&input, &mut errors) {
        row.tax_class = Set(class);
    }
    let kind = match input.kind {
        Some(k) => k,
        None => MethodKind::parse(&existing.kind).ok_or_else(|| {
            DomainError::Inconsistent(format!(
                "shipping method {id}: unknown kind `{}`",
                existing.kind
            ))
        })?,
    };
    let (amount, threshold, brackets) = priced(kind, Some(&existing), &input, &ch, &mut errors);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    row.kind = Set(kind.as_str().to_owned());
    row.amount_minor = Set(amount);
    row.threshold_minor = Set(threshold);
    row.brackets = Set(brackets);
    if let Some(a) = input.active {
        row.active = Set(a);
    }
    if let Some(p) = input.position {
        row.position = Set(p);
    }
    let updated = match row.update(&tx).await {
        Ok(m) => m,
        Err(e) if is_unique_violation(&e) => {
            return Ok(Err(vec![taken_code(
                input.code.as_deref().unwrap_or_default().trim(),
                &ch,
            )]));
        }
        Err(e) => return Err(e.into()),
    };
    let change = Change {
        action: "shipping_method.update",
        entity_type: "shipping_method",
        entity_id: id.to_string(),
        before: Some(method_snapshot(&existing, &ch)),
        after: Some(method_snapshot(&updated, &ch)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(Method {
        method: updated,
        channel: ch,
    }))
}

/// Deletes a shipping method.
pub async fn method_delete(db: &DatabaseConnection, actor: &Actor, id: i64) -> Outcome<i64> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = shipping_method::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "shipping method")));
    };
    let ch = channel::list(&tx)
        .await?
        .into_iter()
        .find(|c| c.id == existing.channel_id)
        .ok_or_else(|| DomainError::Inconsistent(format!("shipping method {id}: no channel")))?;
    shipping_method::Entity::delete_by_id(id).exec(&tx).await?;
    let change = Change {
        action: "shipping_method.delete",
        entity_type: "shipping_method",
        entity_id: id.to_string(),
        before: Some(method_snapshot(&existing, &ch)),
        after: None,
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// The countries each tax class of a shipping method is charged in: for
/// every active method with a tax class, the countries of its zone.
pub(super) async fn method_classes_by_country(
    db: &impl ConnectionTrait,
) -> DomainResult<BTreeMap<String, HashSet<String>>> {
    let mut out: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for z in zones(db).await? {
        for m in z.methods.iter().filter(|m| m.method.active) {
            let Some(class) = &m.method.tax_class else {
                continue;
            };
            for c in zone_countries(&z.zone) {
                out.entry(c).or_default().insert(class.clone());
            }
        }
    }
    Ok(out)
}
