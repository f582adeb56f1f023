//! Tax rates (a tax class's rate in a country, or in one region of it),
//! the tax classes they and the catalog name, and the configuration
//! warnings about classes without a rate where the shop ships.
//!
//! How a cart is taxed is the pricing engine's rule
//! ([`rates_for`](crate::domain::pricing::rates_for)): a place no rate
//! applies to at all is untaxed on purpose (a shop collects tax where it
//! configured it), but a place with rates must have one for every class its
//! carts use. A class missing there is priced at 0 % rather than refusing
//! the sale; [`warnings`] lists every such (class, place) a shop can reach,
//! and [`note_missing_rate`] logs it once per process when a quote hits it.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    sync::{Mutex, OnceLock},
};

use entity::{shipping_method, tax_rate, variant};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde_json::json;

use super::{check_name, check_tax_class, country_code, shipping};
use crate::domain::{
    audit::{self, Actor, Change},
    catalog_admin::not_found,
    channel,
    error::{DomainResult, Outcome, UserError, UserErrorCode, is_unique_violation},
    tx::begin_write,
};

/// Every tax rate, by country, region and class (`country`: only those of
/// this country; `class`: only this class).
pub async fn rates(
    db: &impl ConnectionTrait,
    country: Option<&str>,
    class: Option<&str>,
) -> DomainResult<Vec<tax_rate::Model>> {
    let mut q = tax_rate::Entity::find();
    if let Some(c) = country {
        q = q.filter(tax_rate::Column::Country.eq(c.trim().to_ascii_uppercase()));
    }
    if let Some(c) = class {
        q = q.filter(tax_rate::Column::TaxClass.eq(c.trim()));
    }
    Ok(q.order_by_asc(tax_rate::Column::Country)
        .order_by_asc(tax_rate::Column::Region)
        .order_by_asc(tax_rate::Column::TaxClass)
        .all(db)
        .await?)
}

/// A tax class and what names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxClass {
    /// The class's code, as variants and rates name it.
    pub code: String,
    /// Variants of this class.
    pub variant_count: u64,
    /// Shipping methods taxed as this class.
    pub shipping_method_count: u64,
    /// Its rates, by country and region.
    pub rates: Vec<tax_rate::Model>,
}

/// Every tax class any rate, variant or shipping method names, by code.
pub async fn classes(db: &impl ConnectionTrait) -> DomainResult<Vec<TaxClass>> {
    fn slot<'a>(out: &'a mut BTreeMap<String, TaxClass>, code: &str) -> &'a mut TaxClass {
        out.entry(code.to_owned()).or_insert_with(|| TaxClass {
            code: code.to_owned(),
            variant_count: 0,
            shipping_method_count: 0,
            rates: Vec::new(),
        })
    }
    let mut out: BTreeMap<String, TaxClass> = BTreeMap::new();
    let variants: Vec<(String, i64)> = variant::Entity::find()
        .select_only()
        .column(variant::Column::TaxClass)
        .column_as(Expr::col(variant::Column::Id).count(), "n")
        .group_by(variant::Column::TaxClass)
        .into_tuple()
        .all(db)
        .await?;
    for (code, n) in variants {
        slot(&mut out, &code).variant_count = u64::try_from(n).unwrap_or(0);
    }
    let methods: Vec<Option<String>> = shipping_method::Entity::find()
        .select_only()
        .column(shipping_method::Column::TaxClass)
        .into_tuple()
        .all(db)
        .await?;
    for code in methods.into_iter().flatten() {
        slot(&mut out, &code).shipping_method_count += 1;
    }
    for r in rates(db, None, None).await? {
        slot(&mut out, &r.tax_class.clone()).rates.push(r);
    }
    Ok(out.into_values().collect())
}

/// What a configuration warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WarningCode {
    /// A tax class in use has no rate at a place where the shop ships and
    /// collects tax: carts there are taxed 0 % on it.
    MissingTaxRate,
}

/// Something in the shop's settings that prices carts in a way the owner
/// probably did not mean.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    /// What kind of problem.
    pub code: WarningCode,
    /// The country (ISO 3166-1 alpha-2).
    pub country: String,
    /// The region of the country the rates are for; `None`: the whole country.
    pub region: Option<String>,
    /// The tax class without a rate.
    pub tax_class: String,
    /// What is wrong and how to fix it, for people.
    pub message: String,
}

/// The shop's configuration warnings, by country, region and class.
///
/// A shop ships to the countries of zones with an active method, and taxes
/// a cart without an address at its channel's default country. Every class
/// a variant names is used everywhere; a shipping method's class in its
/// zone's countries. A country with no rate at all is untaxed on purpose
/// and gets no warning; one with rates is checked country-wide (if it has
/// country-wide rates) and in each region it has rates for (regional rates
/// first, then the country-wide ones, as carts are priced).
pub async fn warnings(db: &impl ConnectionTrait) -> DomainResult<Vec<Warning>> {
    let zones = shipping::zones(db).await?;
    let mut destinations: BTreeSet<String> = zones
        .iter()
        .filter(|z| z.methods.iter().any(|m| m.method.active))
        .flat_map(|z| shipping::zone_countries(&z.zone))
        .collect();
    destinations.extend(
        channel::list(db)
            .await?
            .into_iter()
            .filter_map(|c| c.default_country),
    );
    let variant_classes: Vec<String> = variant::Entity::find()
        .select_only()
        .column(variant::Column::TaxClass)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let method_classes = shipping::method_classes_by_country(db).await?;
    let mut by_country: BTreeMap<String, Vec<tax_rate::Model>> = BTreeMap::new();
    for r in rates(db, None, None).await? {
        by_country.entry(r.country.clone()).or_default().push(r);
    }

    let mut out = Vec::new();
    for country in &destinations {
        let Some(rows) = by_country.get(country) else {
            continue;
        };
        let mut used: BTreeSet<&str> = variant_classes.iter().map(String::as_str).collect();
        used.extend(
            method_classes
                .get(country)
                .into_iter()
                .flatten()
                .map(String::as_str),
        );
        let country_wide: HashSet<&str> = rows
            .iter()
            .filter(|r| r.region.is_empty())
            .map(|r| r.tax_class.as_str())
            .collect();
        let regions: BTreeSet<&str> = rows
            .iter()
            .filter(|r| !r.region.is_empty())
            .map(|r| r.region.as_str())
            .collect();
        let mut places: Vec<(Option<&str>, HashSet<&str>)> = Vec::new();
        if !country_wide.is_empty() {
            places.push((None, country_wide.clone()));
        }
        for region in regions {
            let mut covered = country_wide.clone();
            covered.extend(
                rows.iter()
                    .filter(|r| r.region == region)
                    .map(|r| r.tax_class.as_str()),
            );
            places.push((Some(region), covered));
        }
        for (region, covered) in places {
            for class in used.iter().filter(|c| !covered.contains(*c)) {
                let place = match region {
                    Some(r) => format!("{country} region {r}"),
                    None => country.clone(),
                };
                out.push(Warning {
                    code: WarningCode::MissingTaxRate,
                    country: country.clone(),
                    region: region.map(str::to_owned),
                    tax_class: (*class).to_owned(),
                    message: format!(
                        "tax class `{class}` has no tax rate in {place}, where other classes are taxed: carts there are taxed 0 % on it; add a rate (taxRateCreate) or change the class"
                    ),
                });
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Most distinct (class, place) pairs [`note_missing_rate`] remembers; later
/// ones are not logged (the warnings list still has them).
const MAX_NOTED: usize = 10_000;

/// A tax class at a place: (class, country, region).
type ClassAt = (String, String, Option<String>);

/// Logs, once per process for each (class, country, region), that a cart
/// was priced with `class` and no rate for it at a place with rates, so it
/// was taxed 0 %. Returns whether it logged.
pub fn note_missing_rate(class: &str, country: &str, region: Option<&str>) -> bool {
    static NOTED: OnceLock<Mutex<HashSet<ClassAt>>> = OnceLock::new();
    let key = (
        class.to_owned(),
        country.to_ascii_uppercase(),
        region.map(str::to_ascii_uppercase),
    );
    let first = NOTED
        .get_or_init(Mutex::default)
        .lock()
        .is_ok_and(|mut seen| seen.len() < MAX_NOTED && seen.insert(key));
    if first {
        tracing::warn!(
            tax_class = class,
            country,
            region,
            "a cart was priced with a tax class that has no tax rate at its destination, \
             where other classes are taxed: taxed at 0 % (see shopConfigurationWarnings); \
             logged once per class and place"
        );
    }
    first
}

fn rate_snapshot(r: &tax_rate::Model) -> serde_json::Value {
    json!({
        "country": r.country,
        "region": r.region,
        "taxClass": r.tax_class,
        "ratePpm": r.rate_ppm,
        "name": r.name,
    })
}

/// A tax rate's fields (absent: left alone; all but `region` required on
/// creation).
#[derive(Debug, Clone, Default)]
pub struct RateInput {
    /// ISO 3166-1 alpha-2 country.
    pub country: Option<String>,
    /// Region of the country as addresses give it (`provinceCode`, e.g.
    /// `CA`); empty: the whole country.
    pub region: Option<String>,
    /// The tax class it sets a rate for.
    pub tax_class: Option<String>,
    /// The rate as a fraction (`0.19` is 19 %).
    pub rate: Option<Decimal>,
    /// Label shown with the tax, e.g. `VAT`.
    pub name: Option<String>,
}

/// A rate checked into parts per million: from 0 to 1, at most 6 decimals.
fn check_rate(rate: Decimal, errors: &mut Vec<UserError>) -> i64 {
    if rate < Decimal::ZERO || rate > Decimal::ONE {
        errors.push(UserError::new(
            &["rate"],
            UserErrorCode::OutOfRange,
            "a tax rate is a fraction from 0 to 1 (0.19 is 19 %)",
        ));
        return 0;
    }
    let ppm = rate * Decimal::from(1_000_000);
    if ppm.fract() != Decimal::ZERO {
        errors.push(UserError::new(
            &["rate"],
            UserErrorCode::Invalid,
            "a tax rate has at most 6 decimals",
        ));
        return 0;
    }
    i64::try_from(ppm).unwrap_or(0)
}

fn check_region(region: &str, errors: &mut Vec<UserError>) -> String {
    let region = region.trim().to_ascii_uppercase();
    if region.len() > 16
        || !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        errors.push(UserError::new(
            &["region"],
            UserErrorCode::Invalid,
            "a region is up to 16 letters, digits and dashes, as addresses give it (e.g. CA)",
        ));
    }
    region
}

fn check_country(country: &str, errors: &mut Vec<UserError>) -> String {
    if country.trim().is_empty() {
        errors.push(UserError::new(
            &["countryCode"],
            UserErrorCode::Blank,
            "a country is required",
        ));
        return String::new();
    }
    country_code(country).unwrap_or_else(|| {
        errors.push(UserError::new(
            &["countryCode"],
            UserErrorCode::InvalidCountryCode,
            format!(
                "`{}` is not an ISO 3166-1 alpha-2 country code (e.g. US, DE, GB)",
                country.trim()
            ),
        ));
        String::new()
    })
}

async fn place_taken(
    tx: &DatabaseTransaction,
    row: &tax_rate::Model,
    except: Option<i64>,
) -> DomainResult<bool> {
    Ok(tax_rate::Entity::find()
        .filter(tax_rate::Column::Country.eq(row.country.as_str()))
        .filter(tax_rate::Column::Region.eq(row.region.as_str()))
        .filter(tax_rate::Column::TaxClass.eq(row.tax_class.as_str()))
        .one(tx)
        .await?
        .is_some_and(|r| Some(r.id) != except))
}

fn taken_place(r: &tax_rate::Model) -> Vec<UserError> {
    let place = if r.region.is_empty() {
        r.country.clone()
    } else {
        format!("{} region {}", r.country, r.region)
    };
    vec![UserError::new(
        &["taxClass"],
        UserErrorCode::Taken,
        format!(
            "{place} already has a rate for tax class `{}`; change that one",
            r.tax_class
        ),
    )]
}

/// The row `input` makes of `existing` (or of nothing), checked.
fn apply(
    existing: Option<&tax_rate::Model>,
    input: &RateInput,
    errors: &mut Vec<UserError>,
) -> tax_rate::Model {
    let creating = existing.is_none();
    let mut row = existing.cloned().unwrap_or(tax_rate::Model {
        id: 0,
        country: String::new(),
        region: String::new(),
        tax_class: String::new(),
        rate_ppm: 0,
        name: String::new(),
    });
    if creating || input.country.is_some() {
        row.country = check_country(input.country.as_deref().unwrap_or_default(), errors);
    }
    if let Some(region) = &input.region {
        row.region = check_region(region, errors);
    }
    if creating || input.tax_class.is_some() {
        row.tax_class = check_tax_class(
            input.tax_class.as_deref().unwrap_or_default(),
            &["taxClass"],
            errors,
        );
    }
    match input.rate {
        Some(rate) => row.rate_ppm = check_rate(rate, errors),
        None if creating => errors.push(UserError::new(
            &["rate"],
            UserErrorCode::Blank,
            "a rate is required",
        )),
        None => {}
    }
    if creating || input.name.is_some() {
        row.name = check_name(input.name.as_deref().unwrap_or_default(), &["name"], errors);
    }
    row
}

/// Creates a tax rate.
pub async fn rate_create(
    db: &DatabaseConnection,
    actor: &Actor,
    input: RateInput,
) -> Outcome<tax_rate::Model> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let mut errors = Vec::new();
    let row = apply(None, &input, &mut errors);
    if errors.is_empty() && place_taken(&tx, &row, None).await? {
        return Ok(Err(taken_place(&row)));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let inserted = tax_rate::ActiveModel {
        country: Set(row.country.clone()),
        region: Set(row.region.clone()),
        tax_class: Set(row.tax_class.clone()),
        rate_ppm: Set(row.rate_ppm),
        name: Set(row.name.clone()),
        ..Default::default()
    }
    .insert(&tx)
    .await;
    let created = match inserted {
        Ok(r) => r,
        Err(e) if is_unique_violation(&e) => return Ok(Err(taken_place(&row))),
        Err(e) => return Err(e.into()),
    };
    let change = Change {
        action: "tax_rate.create",
        entity_type: "tax_rate",
        entity_id: created.id.to_string(),
        before: None,
        after: Some(rate_snapshot(&created)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(created))
}

/// Changes a tax rate.
pub async fn rate_update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    input: RateInput,
) -> Outcome<tax_rate::Model> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = tax_rate::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "tax rate")));
    };
    let mut errors = Vec::new();
    let row = apply(Some(&existing), &input, &mut errors);
    if errors.is_empty() && place_taken(&tx, &row, Some(id)).await? {
        return Ok(Err(taken_place(&row)));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let mut active: tax_rate::ActiveModel = existing.clone().into();
    active.country = Set(row.country.clone());
    active.region = Set(row.region.clone());
    active.tax_class = Set(row.tax_class.clone());
    active.rate_ppm = Set(row.rate_ppm);
    active.name = Set(row.name.clone());
    let updated = match active.update(&tx).await {
        Ok(r) => r,
        Err(e) if is_unique_violation(&e) => return Ok(Err(taken_place(&row))),
        Err(e) => return Err(e.into()),
    };
    let change = Change {
        action: "tax_rate.update",
        entity_type: "tax_rate",
        entity_id: id.to_string(),
        before: Some(rate_snapshot(&existing)),
        after: Some(rate_snapshot(&updated)),
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(updated))
}

/// Deletes a tax rate.
pub async fn rate_delete(db: &DatabaseConnection, actor: &Actor, id: i64) -> Outcome<i64> {
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(existing) = tax_rate::Entity::find_by_id(id).one(&tx).await? else {
        return Ok(Err(not_found(&["id"], "tax rate")));
    };
    tax_rate::Entity::delete_by_id(id).exec(&tx).await?;
    let change = Change {
        action: "tax_rate.delete",
        entity_type: "tax_rate",
        entity_id: id.to_string(),
        before: Some(rate_snapshot(&existing)),
        after: None,
    };
    audit::append(&tx, &mut head, actor, vec![change]).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_fractions_in_parts_per_million() {
        let mut errors = Vec::new();
        assert_eq!(check_rate(Decimal::new(19, 2), &mut errors), 190_000);
        assert_eq!(check_rate(Decimal::new(8875, 5), &mut errors), 88_750);
        assert_eq!(check_rate(Decimal::ONE, &mut errors), 1_000_000);
        assert_eq!(check_rate(Decimal::ZERO, &mut errors), 0);
        assert!(errors.is_empty());
        for (bad, code) in [
            (Decimal::new(-1, 2), UserErrorCode::OutOfRange),
            (Decimal::new(19, 0), UserErrorCode::OutOfRange),
            (Decimal::new(1, 7), UserErrorCode::Invalid),
        ] {
            let mut errors = Vec::new();
            check_rate(bad, &mut errors);
            assert_eq!(errors.first().map(|e| e.code), Some(code), "{bad}");
        }
    }

    #[test]
    fn a_missing_rate_is_logged_once_per_class_and_place() {
        let class = "unit-test-class-with-no-rate";
        assert!(note_missing_rate(class, "de", None));
        assert!(!note_missing_rate(class, "DE", None));
        assert!(note_missing_rate(class, "US", Some("ca")));
        assert!(!note_missing_rate(class, "us", Some("CA")));
        assert!(note_missing_rate(class, "US", Some("NY")));
    }
}
