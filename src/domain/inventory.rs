//! Stock changes from staff and partner apps (ERP, WMS, POS):
//! absolute quantities ([`set_quantities`]) and deltas
//! ([`adjust_quantities`]), up to [`MAX_ROWS`] rows per call.
//!
//! - Rows name the variant by id or SKU and the location by code.
//! - A set row may carry the quantity the caller last saw
//!   (`compare_quantity`): it applies only if the stock still is that
//!   (compare-and-set), so of two writers that saw the same quantity exactly
//!   one wins. It may carry the source system's time (`source_at`): a row
//!   older than the last one applied to that stock level is ignored (STALE),
//!   not applied, so a late ERP message cannot undo a newer one.
//! - Mode ATOMIC (default): if any row is rejected, nothing is applied and
//!   every row is reported. Mode ROW_BY_ROW: good rows apply, bad ones are
//!   reported.
//! - Every applied row writes an inventory movement (who, why, reference
//!   document) and an audit entry, in the same transaction.
//! - Calls are serialized by the audit head lock, which is also what makes
//!   compare-and-set exact.
//! - A call whose transaction lost its database connection before the
//!   commit runs once more (`tx::retrying`): everything it does is in it.

use crate::domain::tx::{Attempt, retrying};
use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use entity::{inventory_movement, stock_level, stock_location, variant};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::{CaseStatement, Expr},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    audit::{self, Actor, Change},
    error::DomainResult,
    events::{self, DomainEvent},
};

/// Most rows one call may carry.
pub const MAX_ROWS: usize = 5000;

/// A variant, by id or SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VariantRef {
    /// By row id.
    Id(i64),
    /// By SKU.
    Sku(String),
}

/// One absolute quantity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetRow {
    /// The variant.
    pub variant: VariantRef,
    /// Location code.
    pub location: String,
    /// New on-hand quantity.
    pub on_hand: i32,
    /// Apply only if the on-hand quantity still is this.
    pub compare_quantity: Option<i32>,
    /// The source system's time of this quantity.
    pub source_at: Option<DateTime<Utc>>,
}

/// One delta.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdjustRow {
    /// The variant.
    pub variant: VariantRef,
    /// Location code.
    pub location: String,
    /// Change of the on-hand quantity.
    pub delta: i32,
}

/// How a call treats rejected rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Mode {
    /// All rows or none.
    #[default]
    Atomic,
    /// Each good row applies on its own.
    RowByRow,
}

/// Why a row was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowError {
    /// No variant with that id or SKU.
    UnknownVariant,
    /// No location with that code.
    UnknownLocation,
    /// The quantity would be negative.
    NegativeQuantity,
    /// The stock is not the quantity the caller expected.
    CompareFailed,
    /// The same variant and location appear twice in the call.
    DuplicateRow,
}

/// What happened to one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowStatus {
    /// Applied.
    Applied,
    /// Already that quantity: nothing to change.
    Unchanged,
    /// Older than the last update applied: ignored.
    Stale,
    /// Valid, but not applied because another row of an atomic call was rejected.
    NotApplied,
    /// Rejected.
    Rejected(RowError),
}

/// The outcome of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowResult {
    /// Position of the row in the call.
    pub index: usize,
    /// What happened.
    pub status: RowStatus,
    /// The variant, if found.
    pub variant_id: Option<i64>,
    /// On hand before.
    pub on_hand_before: Option<i32>,
    /// On hand after (what it is now).
    pub on_hand_after: Option<i32>,
    /// Available after (on hand minus reserved, not below 0).
    pub available: Option<i32>,
}

/// Why and on whose authority.
#[derive(Debug, Clone)]
pub struct Context {
    /// Who.
    pub actor: Actor,
    /// Why: `sync` for absolute quantities, or the adjustment's reason.
    pub reason: String,
    /// A reference document (PO, delivery note, ERP message id).
    pub reference: Option<String>,
    /// All-or-nothing, or row by row.
    pub mode: Mode,
}

/// The new on-hand quantity from the current one (a set or a delta).
type Next = Box<dyn Fn(i32) -> i64 + Send>;

/// One row of a call, before its variant and location are looked up.
struct Request<'a> {
    index: usize,
    variant: &'a VariantRef,
    location: &'a str,
    next: Next,
    compare: Option<i32>,
    source_at: Option<DateTime<Utc>>,
}

/// One row with its variant and location found (or not).
struct Target {
    index: usize,
    variant: Option<i64>,
    location: Option<i64>,
    next: Next,
    compare: Option<i32>,
    source_at: Option<DateTime<Utc>>,
}

/// A change to write.
struct Write {
    variant: i64,
    location: i64,
    before: i32,
    after: i32,
    source_at: Option<DateTime<Utc>>,
}

async fn resolve_variants(
    db: &impl ConnectionTrait,
    refs: &[&VariantRef],
) -> DomainResult<(HashMap<i64, i64>, HashMap<String, i64>)> {
    let mut ids: Vec<i64> = refs
        .iter()
        .filter_map(|r| match r {
            VariantRef::Id(i) => Some(*i),
            VariantRef::Sku(_) => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut skus: Vec<String> = refs
        .iter()
        .filter_map(|r| match r {
            VariantRef::Sku(s) => Some(s.trim().to_owned()),
            VariantRef::Id(_) => None,
        })
        .collect();
    skus.sort_unstable();
    skus.dedup();
    let mut by_id = HashMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<i64> = variant::Entity::find()
            .select_only()
            .column(variant::Column::Id)
            .filter(variant::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        by_id.extend(found.into_iter().map(|i| (i, i)));
    }
    let mut by_sku = HashMap::new();
    for chunk in skus.chunks(500) {
        let found: Vec<(i64, String)> = variant::Entity::find()
            .select_only()
            .column(variant::Column::Id)
            .column(variant::Column::Sku)
            .filter(variant::Column::Sku.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        by_sku.extend(found.into_iter().map(|(i, s)| (s, i)));
    }
    Ok((by_id, by_sku))
}

async fn apply(
    attempt: Attempt,
    db: &DatabaseConnection,
    ctx: &Context,
    action: &'static str,
    rows: Vec<Request<'_>>,
) -> DomainResult<Vec<RowResult>> {
    let tx = attempt.begin(db).await?;
    let mut head = audit::lock(&tx).await?;
    let (results, applied) = apply_in(&tx, &mut head, ctx, action, rows).await?;
    if applied {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(results)
}

/// Decides and writes a call's rows inside the caller's transaction (whose
/// audit head is locked). `false`: an atomic call had a rejected row and
/// wrote nothing, so the caller should roll back.
async fn apply_in(
    tx: &DatabaseTransaction,
    head: &mut audit::Head,
    ctx: &Context,
    action: &'static str,
    rows: Vec<Request<'_>>,
) -> DomainResult<(Vec<RowResult>, bool)> {
    let refs: Vec<&VariantRef> = rows.iter().map(|r| r.variant).collect();
    let (by_id, by_sku) = resolve_variants(tx, &refs).await?;
    let locations: HashMap<String, i64> = stock_location::Entity::find()
        .all(tx)
        .await?
        .into_iter()
        .map(|l| (l.code, l.id))
        .collect();
    let targets: Vec<Target> = rows
        .into_iter()
        .map(|r| Target {
            index: r.index,
            variant: match r.variant {
                VariantRef::Id(i) => by_id.get(i).copied(),
                VariantRef::Sku(s) => by_sku.get(s.trim()).copied(),
            },
            location: locations.get(r.location.trim()).copied(),
            next: r.next,
            compare: r.compare,
            source_at: r.source_at,
        })
        .collect();
    // Current levels of every pair named.
    let mut levels: HashMap<(i64, i64), stock_level::Model> = HashMap::new();
    let variant_ids: Vec<i64> = {
        let mut v: Vec<i64> = targets.iter().filter_map(|t| t.variant).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    for chunk in variant_ids.chunks(500) {
        for l in stock_level::Entity::find()
            .filter(stock_level::Column::VariantId.is_in(chunk.iter().copied()))
            .order_by_asc(stock_level::Column::Id)
            .all(tx)
            .await?
        {
            levels.insert((l.variant_id, l.location_id), l);
        }
    }
    // Decide every row.
    let mut results = Vec::with_capacity(targets.len());
    let mut writes: Vec<Write> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for t in &targets {
        let result = |status, before: Option<i32>, after: Option<i32>, reserved: i32| RowResult {
            index: t.index,
            status,
            variant_id: t.variant,
            on_hand_before: before,
            on_hand_after: after,
            available: after.map(|a| (a - reserved).max(0)),
        };
        let (Some(v), Some(l)) = (t.variant, t.location) else {
            let e = if t.variant.is_none() {
                RowError::UnknownVariant
            } else {
                RowError::UnknownLocation
            };
            results.push(result(RowStatus::Rejected(e), None, None, 0));
            continue;
        };
        if !seen.insert((v, l)) {
            results.push(result(
                RowStatus::Rejected(RowError::DuplicateRow),
                None,
                None,
                0,
            ));
            continue;
        }
        let level = levels.get(&(v, l));
        let current = level.map_or(0, |l| l.on_hand);
        let reserved = level.map_or(0, |l| l.reserved);
        if let (Some(incoming), Some(last)) = (t.source_at, level.and_then(|l| l.source_at))
            && incoming <= last
        {
            results.push(result(
                RowStatus::Stale,
                Some(current),
                Some(current),
                reserved,
            ));
            continue;
        }
        if t.compare.is_some_and(|c| c != current) {
            results.push(result(
                RowStatus::Rejected(RowError::CompareFailed),
                Some(current),
                Some(current),
                reserved,
            ));
            continue;
        }
        let next = (t.next)(current);
        let Ok(next) = i32::try_from(next)
            .map_err(|_| ())
            .and_then(|n| if n < 0 { Err(()) } else { Ok(n) })
        else {
            results.push(result(
                RowStatus::Rejected(RowError::NegativeQuantity),
                Some(current),
                Some(current),
                reserved,
            ));
            continue;
        };
        if next == current && level.is_some() && t.source_at.is_none() {
            results.push(result(
                RowStatus::Unchanged,
                Some(current),
                Some(current),
                reserved,
            ));
            continue;
        }
        results.push(result(
            RowStatus::Applied,
            Some(current),
            Some(next),
            reserved,
        ));
        writes.push(Write {
            variant: v,
            location: l,
            before: current,
            after: next,
            source_at: t.source_at,
        });
    }
    let rejected = results
        .iter()
        .any(|r| matches!(r.status, RowStatus::Rejected(_)));
    if rejected && ctx.mode == Mode::Atomic {
        for r in &mut results {
            if r.status == RowStatus::Applied {
                r.status = RowStatus::NotApplied;
                r.on_hand_after = r.on_hand_before;
            }
        }
        return Ok((results, false));
    }
    // Apply.
    let now = Utc::now().trunc_subsecs(6);
    let mut movements = Vec::with_capacity(writes.len());
    let mut changes = Vec::with_capacity(writes.len());
    let mut events = Vec::with_capacity(writes.len());
    // Existing levels: one UPDATE per 500 rows (CASE on the id), so a
    // 5,000-row sync is ten statements, not five thousand round trips.
    let updates: Vec<(i64, &Write)> = writes
        .iter()
        .filter_map(|w| levels.get(&(w.variant, w.location)).map(|l| (l.id, w)))
        .collect();
    for chunk in updates.chunks(500) {
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        let on_hand = chunk.iter().fold(CaseStatement::new(), |case, (id, w)| {
            case.case(stock_level::Column::Id.eq(*id), Expr::value(w.after))
        });
        let mut q = stock_level::Entity::update_many()
            .col_expr(
                stock_level::Column::OnHand,
                on_hand
                    .finally(Expr::col(stock_level::Column::OnHand))
                    .into(),
            )
            .filter(stock_level::Column::Id.is_in(ids));
        let timed: Vec<&(i64, &Write)> = chunk
            .iter()
            .filter(|(_, w)| w.source_at.is_some())
            .collect();
        if !timed.is_empty() {
            let source_at = timed.iter().fold(CaseStatement::new(), |case, (id, w)| {
                case.case(stock_level::Column::Id.eq(*id), Expr::value(w.source_at))
            });
            q = q.col_expr(
                stock_level::Column::SourceAt,
                source_at
                    .finally(Expr::col(stock_level::Column::SourceAt))
                    .into(),
            );
        }
        q.exec(tx).await?;
    }
    let inserts: Vec<stock_level::ActiveModel> = writes
        .iter()
        .filter(|w| !levels.contains_key(&(w.variant, w.location)))
        .map(|w| stock_level::ActiveModel {
            variant_id: Set(w.variant),
            location_id: Set(w.location),
            on_hand: Set(w.after),
            reserved: Set(0),
            source_at: Set(w.source_at),
            ..Default::default()
        })
        .collect();
    for chunk in inserts.chunks(500) {
        stock_level::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await?;
    }
    for w in &writes {
        let (v, l, before, after, source_at) =
            (w.variant, w.location, w.before, w.after, w.source_at);
        movements.push(inventory_movement::ActiveModel {
            variant_id: Set(v),
            location_id: Set(l),
            delta: Set(after - before),
            on_hand_after: Set(after),
            reason: Set(ctx.reason.clone()),
            reference: Set(ctx.reference.clone()),
            actor_label: Set(ctx.actor.label.clone()),
            source_at: Set(source_at),
            at: Set(now),
            ..Default::default()
        });
        events.push(DomainEvent::StockChanged {
            variant_id: v,
            location_id: l,
            on_hand_before: before,
            on_hand: after,
            reserved: levels.get(&(v, l)).map_or(0, |l| l.reserved),
            reason: ctx.reason.clone(),
        });
        changes.push(Change {
            action,
            entity_type: "stock_level",
            entity_id: format!("{v}@{l}"),
            before: Some(json!({ "variantId": v, "locationId": l, "onHand": before })),
            after: Some(json!({
                "variantId": v, "locationId": l, "onHand": after,
                "reason": ctx.reason, "reference": ctx.reference,
            })),
        });
    }
    for chunk in movements.chunks(500) {
        inventory_movement::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await?;
    }
    audit::append(tx, head, &ctx.actor, changes).await?;
    events::record(tx, events).await?;
    Ok((results, true))
}

fn set_requests(rows: &[SetRow]) -> Vec<Request<'_>> {
    rows.iter()
        .enumerate()
        .map(|(index, r)| {
            let on_hand = i64::from(r.on_hand);
            Request {
                index,
                variant: &r.variant,
                location: &r.location,
                next: Box::new(move |_| on_hand),
                compare: r.compare_quantity,
                source_at: r.source_at,
            }
        })
        .collect()
}

/// Sets absolute on-hand quantities inside the caller's transaction, whose
/// audit head is locked (a bulk import writes its stock this way). `false`:
/// a row was rejected and, the call being atomic, nothing was written.
pub async fn set_quantities_in(
    tx: &DatabaseTransaction,
    head: &mut audit::Head,
    ctx: &Context,
    rows: &[SetRow],
) -> DomainResult<(Vec<RowResult>, bool)> {
    apply_in(tx, head, ctx, "inventory.set", set_requests(rows)).await
}

/// Sets absolute on-hand quantities.
pub async fn set_quantities(
    db: &DatabaseConnection,
    ctx: &Context,
    rows: &[SetRow],
) -> DomainResult<Vec<RowResult>> {
    retrying(|attempt| apply(attempt, db, ctx, "inventory.set", set_requests(rows))).await
}

/// Adds deltas to on-hand quantities.
pub async fn adjust_quantities(
    db: &DatabaseConnection,
    ctx: &Context,
    rows: &[AdjustRow],
) -> DomainResult<Vec<RowResult>> {
    retrying(|attempt| apply(attempt, db, ctx, "inventory.adjust", adjust_requests(rows))).await
}

fn adjust_requests(rows: &[AdjustRow]) -> Vec<Request<'_>> {
    rows.iter()
        .enumerate()
        .map(|(index, r)| {
            let delta = i64::from(r.delta);
            Request {
                index,
                variant: &r.variant,
                location: &r.location,
                next: Box::new(move |c| i64::from(c) + delta),
                compare: None,
                source_at: None,
            }
        })
        .collect()
}

/// The rows of one call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Rows {
    /// Absolute quantities.
    Set(Vec<SetRow>),
    /// Deltas.
    Adjust(Vec<AdjustRow>),
}

/// Applies a call's rows.
pub async fn change(
    db: &DatabaseConnection,
    ctx: &Context,
    rows: &Rows,
) -> DomainResult<Vec<RowResult>> {
    match rows {
        Rows::Set(r) => set_quantities(db, ctx, r).await,
        Rows::Adjust(r) => adjust_quantities(db, ctx, r).await,
    }
}

/// The latest `limit` movements of each of several variants, newest first:
/// one statement per 500 variants (a window over each variant's movements).
pub async fn movements_of(
    db: &impl ConnectionTrait,
    variant_ids: &[i64],
    limit: u64,
) -> DomainResult<HashMap<i64, Vec<inventory_movement::Model>>> {
    let mut out: HashMap<i64, Vec<_>> = variant_ids.iter().map(|v| (*v, Vec::new())).collect();
    for chunk in variant_ids.chunks(500) {
        // Integers only are spliced in: ids and the limit, never client text.
        let ids = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT * FROM (SELECT m.*, ROW_NUMBER() OVER (PARTITION BY m.variant_id ORDER BY m.id DESC) AS rn \
             FROM inventory_movement m WHERE m.variant_id IN ({ids})) ranked \
             WHERE rn <= {limit} ORDER BY variant_id, id DESC"
        );
        let rows = inventory_movement::Entity::find()
            .from_raw_sql(Statement::from_string(db.get_database_backend(), sql))
            .all(db)
            .await?;
        for m in rows {
            if let Some(list) = out.get_mut(&m.variant_id) {
                list.push(m);
            }
        }
    }
    Ok(out)
}

/// The stock levels of several variants, each with its location, by
/// location: two statements whatever the number of variants (up to 500).
pub async fn levels_of(
    db: &impl ConnectionTrait,
    variant_ids: &[i64],
) -> DomainResult<HashMap<i64, Vec<(stock_level::Model, stock_location::Model)>>> {
    let mut out: HashMap<i64, Vec<_>> = variant_ids.iter().map(|v| (*v, Vec::new())).collect();
    if variant_ids.is_empty() {
        return Ok(out);
    }
    let locations: HashMap<i64, stock_location::Model> = stock_location::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    for chunk in variant_ids.chunks(500) {
        for l in stock_level::Entity::find()
            .filter(stock_level::Column::VariantId.is_in(chunk.iter().copied()))
            .order_by_asc(stock_level::Column::LocationId)
            .all(db)
            .await?
        {
            if let Some(loc) = locations.get(&l.location_id)
                && let Some(list) = out.get_mut(&l.variant_id)
            {
                list.push((l, loc.clone()));
            }
        }
    }
    Ok(out)
}
