//! `inventorySetQuantities`, `inventoryAdjustQuantities`, and stock levels
//! and movements per variant.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::graphql::loaders::{MovementsOf, StockLevelsOf};
use crate::{
    domain::{
        error::{UserError as DomainUserError, UserErrorCode as DomainCode},
        idempotency::{self, Refusal},
        identity::permission::Permission,
        inventory::{
            self, AdjustRow, Mode, RowError, RowResult, RowStatus, Rows, SetRow, VariantRef,
        },
    },
    graphql::{
        ContextExt,
        auth::Need,
        common::{UserError, actor},
        error::ApiResult,
        id::{self, Kind},
    },
};

/// How a call treats rejected rows.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
#[graphql(remote = "Mode")]
pub enum InventoryMode {
    /// All rows or none: one rejected row and nothing is applied (default).
    #[default]
    Atomic,
    /// Each good row applies; rejected rows are reported.
    RowByRow,
}

/// Why stock was adjusted.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AdjustmentReason {
    /// Goods received.
    Received,
    /// Damaged or lost.
    Damaged,
    /// A count found a difference.
    Correction,
    /// Returned by a customer and back in stock.
    Restock,
    /// Moved in or out by a transfer between locations.
    Transfer,
}

impl AdjustmentReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Damaged => "damaged",
            Self::Correction => "correction",
            Self::Restock => "restock",
            Self::Transfer => "transfer",
        }
    }
}

/// One absolute quantity. Name the variant by `variantId` or `sku` (one of them).
#[derive(InputObject)]
pub struct InventorySetQuantityInput {
    /// The variant's ID.
    pub variant_id: Option<ID>,
    /// The variant's SKU.
    pub sku: Option<String>,
    /// Stock location code, e.g. `warehouse`.
    pub location: String,
    /// The new on-hand quantity.
    pub on_hand: i32,
    /// Apply only if the on-hand quantity still is this (compare-and-set).
    pub compare_quantity: Option<i32>,
    /// When the source system counted this quantity; an update older than
    /// the last one applied to this stock is ignored (STALE).
    pub source_updated_at: Option<DateTime<Utc>>,
}

/// One delta. Name the variant by `variantId` or `sku` (one of them).
#[derive(InputObject)]
pub struct InventoryAdjustQuantityInput {
    /// The variant's ID.
    pub variant_id: Option<ID>,
    /// The variant's SKU.
    pub sku: Option<String>,
    /// Stock location code.
    pub location: String,
    /// Change of the on-hand quantity (negative to remove).
    pub delta: i32,
}

/// Absolute quantities, e.g. from an ERP or WMS sync.
#[derive(InputObject)]
pub struct InventorySetQuantitiesInput {
    /// Up to 5,000 rows.
    pub quantities: Vec<InventorySetQuantityInput>,
    /// ATOMIC (default) or ROW_BY_ROW.
    pub mode: Option<InventoryMode>,
    /// A reference document (sync run, ERP message id).
    pub reference_document: Option<String>,
    /// Repeat the call with the same key to get the first answer instead of
    /// applying it twice.
    pub idempotency_key: Option<String>,
}

/// Deltas with a reason.
#[derive(InputObject)]
pub struct InventoryAdjustQuantitiesInput {
    /// Up to 5,000 rows.
    pub changes: Vec<InventoryAdjustQuantityInput>,
    /// Why.
    pub reason: AdjustmentReason,
    /// ATOMIC (default) or ROW_BY_ROW.
    pub mode: Option<InventoryMode>,
    /// A reference document (purchase order, delivery note).
    pub reference_document: Option<String>,
    /// Repeat the call with the same key to get the first answer instead of
    /// applying it twice.
    pub idempotency_key: Option<String>,
}

/// What happened to one row.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum InventoryRowStatus {
    /// Applied.
    Applied,
    /// Already that quantity.
    Unchanged,
    /// Older than the last update applied to this stock: ignored.
    Stale,
    /// Valid, but not applied because another row of an atomic call was rejected.
    NotApplied,
    /// Rejected: see `error`.
    Rejected,
}

/// Why a row was rejected.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "RowError")]
pub enum InventoryRowError {
    /// No variant with that ID or SKU.
    UnknownVariant,
    /// No location with that code.
    UnknownLocation,
    /// The quantity would be negative.
    NegativeQuantity,
    /// The stock is not `compareQuantity` any more.
    CompareFailed,
    /// The same variant and location appear twice in the call.
    DuplicateRow,
}

/// The outcome of one row.
#[derive(SimpleObject)]
pub struct InventoryRowResult {
    /// Position of the row in the input.
    pub index: i32,
    /// What happened.
    pub status: InventoryRowStatus,
    /// Why it was rejected.
    pub error: Option<InventoryRowError>,
    /// The variant, if found.
    pub variant_id: Option<ID>,
    /// On hand before.
    pub on_hand_before: Option<i32>,
    /// On hand now.
    pub on_hand_after: Option<i32>,
    /// Available now (on hand minus reserved).
    pub available: Option<i32>,
}

impl From<RowResult> for InventoryRowResult {
    fn from(r: RowResult) -> Self {
        let (status, error) = match r.status {
            RowStatus::Applied => (InventoryRowStatus::Applied, None),
            RowStatus::Unchanged => (InventoryRowStatus::Unchanged, None),
            RowStatus::Stale => (InventoryRowStatus::Stale, None),
            RowStatus::NotApplied => (InventoryRowStatus::NotApplied, None),
            RowStatus::Rejected(e) => (InventoryRowStatus::Rejected, Some(e.into())),
        };
        Self {
            index: i32::try_from(r.index).unwrap_or(i32::MAX),
            status,
            error,
            variant_id: r.variant_id.map(|v| id::encode(Kind::ProductVariant, v)),
            on_hand_before: r.on_hand_before,
            on_hand_after: r.on_hand_after,
            available: r.available,
        }
    }
}

/// Result of an inventory call.
#[derive(SimpleObject, Default)]
pub struct InventoryPayload {
    /// One result per input row, in order.
    pub results: Vec<InventoryRowResult>,
    /// Rows applied.
    pub applied_count: i32,
    /// Rows rejected.
    pub rejected_count: i32,
    /// Mistakes in the call itself (nothing was applied).
    pub user_errors: Vec<UserError>,
}

fn payload(results: Vec<RowResult>) -> InventoryPayload {
    let applied = results
        .iter()
        .filter(|r| r.status == RowStatus::Applied)
        .count();
    let rejected = results
        .iter()
        .filter(|r| matches!(r.status, RowStatus::Rejected(_)))
        .count();
    InventoryPayload {
        results: results.into_iter().map(Into::into).collect(),
        applied_count: i32::try_from(applied).unwrap_or(i32::MAX),
        rejected_count: i32::try_from(rejected).unwrap_or(i32::MAX),
        user_errors: vec![],
    }
}

fn refused(field: &'static str, code: DomainCode, message: impl Into<String>) -> InventoryPayload {
    InventoryPayload {
        user_errors: vec![DomainUserError::new(&["input", field], code, message).into()],
        ..Default::default()
    }
}

fn variant_ref(
    variant_id: Option<&ID>,
    sku: Option<&str>,
    index: usize,
    list: &'static str,
) -> Result<VariantRef, InventoryPayload> {
    let bad = |m: &str| refused(list, DomainCode::Invalid, format!("row {index}: {m}"));
    match (variant_id, sku.map(str::trim).filter(|s| !s.is_empty())) {
        (Some(raw), None) => match id::decode(raw) {
            Ok((Kind::ProductVariant, row)) => Ok(VariantRef::Id(row)),
            _ => Err(bad("`variantId` is not a ProductVariant ID")),
        },
        (None, Some(sku)) => Ok(VariantRef::Sku(sku.to_owned())),
        _ => Err(bad("give exactly one of `variantId` and `sku`")),
    }
}

fn too_many(n: usize, list: &'static str) -> Option<InventoryPayload> {
    (n == 0 || n > inventory::MAX_ROWS).then(|| {
        refused(
            list,
            DomainCode::Invalid,
            format!("give 1 to {} rows, got {n}", inventory::MAX_ROWS),
        )
    })
}

fn refusal(r: Refusal) -> InventoryPayload {
    match r {
        Refusal::DifferentRequest => refused(
            "idempotencyKey",
            DomainCode::Taken,
            "this idempotency key was used with a different request",
        ),
        Refusal::InProgress => refused(
            "idempotencyKey",
            DomainCode::Invalid,
            "the first request with this idempotency key is still running; retry",
        ),
    }
}

/// What both inventory mutations share besides their rows.
struct Call {
    reason: String,
    mode: Option<InventoryMode>,
    reference: Option<String>,
    idempotency_key: Option<String>,
}

impl Call {
    /// Applies the rows as the request's principal, once per idempotency key.
    async fn run(self, ctx: &Context<'_>, rows: Rows) -> ApiResult<InventoryPayload> {
        let context = inventory::Context {
            actor: actor(ctx).await?,
            reason: self.reason,
            reference: self.reference,
            mode: self.mode.unwrap_or_default().into(),
        };
        let state = ctx.state()?;
        let db = &state.db;
        let scope = ctx.principal()?.idempotency_scope();
        let request = (&rows, &context.reason, context.mode, &context.reference);
        let key = self.idempotency_key.as_deref();
        let outcome = idempotency::once(db, &state.clock, &scope, key, &request, || {
            inventory::change(db, &context, &rows)
        })
        .await?;
        Ok(outcome.map_or_else(refusal, payload))
    }
}

/// Inventory mutations.
#[derive(Default)]
pub struct InventoryMutation;

#[Object]
impl InventoryMutation {
    /// Sets absolute on-hand quantities per variant (by ID or SKU) and
    /// location, with optional compare-and-set and source timestamps.
    #[graphql(guard = "Need(Permission::InventoryWrite)")]
    async fn inventory_set_quantities(
        &self,
        ctx: &Context<'_>,
        input: InventorySetQuantitiesInput,
    ) -> ApiResult<InventoryPayload> {
        if let Some(p) = too_many(input.quantities.len(), "quantities") {
            return Ok(p);
        }
        let mut rows = Vec::with_capacity(input.quantities.len());
        for (i, q) in input.quantities.iter().enumerate() {
            let variant =
                match variant_ref(q.variant_id.as_ref(), q.sku.as_deref(), i, "quantities") {
                    Ok(v) => v,
                    Err(p) => return Ok(p),
                };
            rows.push(SetRow {
                variant,
                location: q.location.clone(),
                on_hand: q.on_hand,
                compare_quantity: q.compare_quantity,
                source_at: q.source_updated_at,
            });
        }
        let call = Call {
            reason: "sync".into(),
            mode: input.mode,
            reference: input.reference_document,
            idempotency_key: input.idempotency_key,
        };
        call.run(ctx, Rows::Set(rows)).await
    }

    /// Adds deltas to on-hand quantities, with a reason.
    #[graphql(guard = "Need(Permission::InventoryWrite)")]
    async fn inventory_adjust_quantities(
        &self,
        ctx: &Context<'_>,
        input: InventoryAdjustQuantitiesInput,
    ) -> ApiResult<InventoryPayload> {
        if let Some(p) = too_many(input.changes.len(), "changes") {
            return Ok(p);
        }
        let mut rows = Vec::with_capacity(input.changes.len());
        for (i, c) in input.changes.iter().enumerate() {
            let variant = match variant_ref(c.variant_id.as_ref(), c.sku.as_deref(), i, "changes") {
                Ok(v) => v,
                Err(p) => return Ok(p),
            };
            rows.push(AdjustRow {
                variant,
                location: c.location.clone(),
                delta: c.delta,
            });
        }
        let call = Call {
            reason: input.reason.as_str().into(),
            mode: input.mode,
            reference: input.reference_document,
            idempotency_key: input.idempotency_key,
        };
        call.run(ctx, Rows::Adjust(rows)).await
    }
}

/// Stock of a variant at one location.
#[derive(SimpleObject)]
pub struct InventoryLevel {
    /// Location code.
    pub location: String,
    /// Location name.
    pub location_name: String,
    /// On hand.
    pub on_hand: i32,
    /// Held for checkouts in progress.
    pub reserved: i32,
    /// On hand minus reserved (not below 0).
    pub available: i32,
    /// The source system's time of the last quantity applied.
    pub source_updated_at: Option<DateTime<Utc>>,
}

/// One recorded stock change.
#[derive(SimpleObject)]
pub struct InventoryMovement {
    /// Location code.
    pub location: String,
    /// Change of on hand.
    pub delta: i32,
    /// On hand after.
    pub on_hand_after: i32,
    /// Why: sync, received, damaged, correction, restock, transfer.
    pub reason: String,
    /// Reference document.
    pub reference_document: Option<String>,
    /// Who made it.
    pub actor: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// Stock per location and its history, for `inventory:read`.
pub async fn levels(ctx: &Context<'_>, variant_id: i64) -> ApiResult<Vec<InventoryLevel>> {
    ctx.request()?.no_store();
    let rows = ctx
        .request()?
        .admin_loaders
        .load_one(StockLevelsOf(variant_id))
        .await?
        .unwrap_or_default();
    Ok(rows
        .iter()
        .map(|(l, loc)| InventoryLevel {
            location: loc.code.clone(),
            location_name: loc.name.clone(),
            on_hand: l.on_hand,
            reserved: l.reserved,
            available: (l.on_hand - l.reserved).max(0),
            source_updated_at: l.source_at,
        })
        .collect())
}

/// A variant's latest movements, newest first.
pub async fn movements(
    ctx: &Context<'_>,
    variant_id: i64,
    first: Option<i32>,
) -> ApiResult<Vec<InventoryMovement>> {
    ctx.request()?.no_store();
    let limit = u64::try_from(first.unwrap_or(50).clamp(1, 250)).unwrap_or(50);
    let codes: std::collections::HashMap<i64, String> = ctx
        .request()?
        .admin_loaders
        .load_one(StockLevelsOf(variant_id))
        .await?
        .unwrap_or_default()
        .iter()
        .map(|(_, loc)| (loc.id, loc.code.clone()))
        .collect();
    let rows = ctx
        .request()?
        .admin_loaders
        .load_one(MovementsOf(variant_id, limit))
        .await?
        .unwrap_or_default();
    Ok(rows
        .iter()
        .map(|m| InventoryMovement {
            location: codes.get(&m.location_id).cloned().unwrap_or_default(),
            delta: m.delta,
            on_hand_after: m.on_hand_after,
            reason: m.reason.clone(),
            reference_document: m.reference.clone(),
            actor: m.actor_label.clone(),
            at: m.at,
        })
        .collect())
}
