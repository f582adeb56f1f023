//! Fulfilments over GraphQL: `fulfillmentCreate`,
//! `fulfillmentTrackingUpdate` and `fulfillmentCancel` for staff and
//! partner apps (`orders:fulfill`), and the `Fulfillment` type an order
//! shows its owner and whoever may read it.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{fulfillment, fulfillment_line, shop_order};

use crate::{
    domain::{
        error::{Checked, UserError as DomainUserError, UserErrorCode as DomainCode},
        fulfillment::{Caller, CreateRequest, Created, LineRequest, Tracking},
        idempotency::{self, Refusal},
        identity::permission::Permission,
        money::Currency,
    },
    graphql::{
        ContextExt,
        admin::merchandising::StockLocation,
        auth::Need,
        commerce::types::{Order, OrderLine},
        common::{UserError, actor, under_input, user_errors},
        error::ApiResult,
        id::{Kind, decode_as, encode},
        loaders::{FulfillmentLinesOf, FulfillmentsOf, OrderLinesOf, StockLocationId},
    },
};

/// Where a fulfilment stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum FulfillmentStatus {
    /// Handed to the carrier; no movement reported yet.
    Shipped,
    /// Moving.
    InTransit,
    /// Out for delivery today.
    OutForDelivery,
    /// Delivered (final).
    Delivered,
    /// The carrier could not deliver it (failed, returned to sender).
    Failure,
    /// Cancelled: its units went back in stock.
    Cancelled,
}

impl FulfillmentStatus {
    fn of(stored: &str) -> Self {
        match stored {
            "in_transit" => Self::InTransit,
            "out_for_delivery" => Self::OutForDelivery,
            "delivered" => Self::Delivered,
            "failure" => Self::Failure,
            "cancelled" => Self::Cancelled,
            _ => Self::Shipped,
        }
    }
}

/// How to follow a parcel.
#[derive(SimpleObject, Clone, Debug)]
pub struct TrackingInfo {
    /// Who carries it (`UPS`, `USPS` ...).
    pub carrier: Option<String>,
    /// Tracking number.
    pub number: Option<String>,
    /// The carrier's tracking page.
    pub url: Option<String>,
}

/// A shipment of some of an order's units from one stock location.
pub struct Fulfillment {
    row: fulfillment::Model,
    currency: Currency,
}

/// A shipment of some of an order's units from one stock location.
#[Object]
impl Fulfillment {
    /// Globally unique, opaque ID.
    async fn id(&self) -> ID {
        encode(Kind::Fulfillment, self.row.id)
    }
    /// Where it stands.
    async fn status(&self) -> FulfillmentStatus {
        FulfillmentStatus::of(&self.row.status)
    }
    /// Its tracking, if it has any.
    async fn tracking_info(&self) -> Option<TrackingInfo> {
        let r = &self.row;
        (r.carrier.is_some() || r.tracking_number.is_some() || r.tracking_url.is_some()).then(
            || TrackingInfo {
                carrier: r.carrier.clone(),
                number: r.tracking_number.clone(),
                url: r.tracking_url.clone(),
            },
        )
    }
    /// The shipping label bought through a carrier, to print. Staff and
    /// partner apps only: null for customers.
    async fn label_url(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        Ok(ctx
            .principal()?
            .is_operator()
            .then(|| self.row.label_url.clone())
            .flatten())
    }
    /// The stock location it shipped from.
    async fn location(&self, ctx: &Context<'_>) -> ApiResult<Option<StockLocation>> {
        Ok(ctx
            .request()?
            .admin_loaders
            .load_one(StockLocationId(self.row.location_id))
            .await?
            .map(Into::into))
    }
    /// The units shipped, per order line.
    async fn lines(&self, ctx: &Context<'_>) -> ApiResult<Vec<FulfillmentLine>> {
        let rows = ctx
            .request()?
            .admin_loaders
            .load_one(FulfillmentLinesOf(self.row.id))
            .await?
            .unwrap_or_default();
        Ok(rows
            .iter()
            .map(|l| FulfillmentLine {
                line: l.clone(),
                order_id: self.row.order_id,
                currency: self.currency,
            })
            .collect())
    }
    /// When it was created (shipped).
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When the carrier reported it delivered.
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.row.delivered_at
    }
    /// When it was cancelled.
    async fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.row.cancelled_at
    }
}

/// Units of one order line in a fulfilment.
pub struct FulfillmentLine {
    line: fulfillment_line::Model,
    order_id: i64,
    currency: Currency,
}

/// Units of one order line in a fulfilment.
#[Object]
impl FulfillmentLine {
    /// The order line.
    async fn order_line(&self, ctx: &Context<'_>) -> ApiResult<Option<OrderLine>> {
        let lines = ctx
            .request()?
            .admin_loaders
            .load_one(OrderLinesOf(self.order_id))
            .await?
            .unwrap_or_default();
        Ok(lines
            .iter()
            .find(|l| l.id == self.line.order_line_id)
            .map(|l| OrderLine::new(l.clone(), self.currency)))
    }
    /// Units shipped.
    async fn quantity(&self) -> i32 {
        self.line.quantity
    }
}

/// The fulfilments of an order, oldest first (for `Order.fulfillments`).
pub async fn of_order(ctx: &Context<'_>, order: &shop_order::Model) -> ApiResult<Vec<Fulfillment>> {
    let currency = order.currency_code.parse().unwrap_or(Currency::USD);
    let rows = ctx
        .request()?
        .admin_loaders
        .load_one(FulfillmentsOf(order.id))
        .await?
        .unwrap_or_default();
    Ok(rows
        .iter()
        .map(|row| Fulfillment {
            row: row.clone(),
            currency,
        })
        .collect())
}

/// Units of one order line to ship.
#[derive(InputObject)]
pub struct FulfillmentLineInput {
    /// The order line (`OrderLine.id`).
    pub order_line_id: ID,
    /// Units.
    pub quantity: i32,
}

/// Tracking of a parcel.
#[derive(InputObject)]
pub struct FulfillmentTrackingInput {
    /// Who carries it (`UPS`, `DHL`, a courier).
    pub carrier: Option<String>,
    /// Tracking number.
    pub number: Option<String>,
    /// The carrier's tracking page.
    pub url: Option<String>,
}

impl From<FulfillmentTrackingInput> for Tracking {
    fn from(t: FulfillmentTrackingInput) -> Self {
        Self {
            carrier: t.carrier,
            number: t.number,
            url: t.url,
        }
    }
}

/// A fulfilment to create.
#[derive(InputObject)]
pub struct FulfillmentCreateInput {
    /// The order.
    pub order_id: ID,
    /// What ships; none (or empty): everything the order has left to ship.
    pub lines: Option<Vec<FulfillmentLineInput>>,
    /// The stock location it ships from (default: where the order's stock
    /// is held).
    pub location_id: Option<ID>,
    /// Tracking typed by hand.
    pub tracking: Option<FulfillmentTrackingInput>,
    /// Buy a shipping label from the label carrier (its tracking replaces
    /// any typed).
    #[graphql(default = false)]
    pub purchase_label: bool,
    /// Tell the customer (shipping notification).
    #[graphql(default = true)]
    pub notify_customer: bool,
}

/// Result of a fulfilment mutation.
#[derive(SimpleObject, Default)]
pub struct FulfillmentPayload {
    /// The fulfilment.
    pub fulfillment: Option<Fulfillment>,
    /// Its order, as it is now.
    pub order: Option<Order>,
    /// Why nothing was done.
    pub user_errors: Vec<UserError>,
}

fn refused(field: &str, code: DomainCode, message: &str) -> FulfillmentPayload {
    FulfillmentPayload {
        user_errors: vec![DomainUserError::new(&[field], code, message).into()],
        ..Default::default()
    }
}

fn refusal(r: Refusal) -> FulfillmentPayload {
    match r {
        Refusal::DifferentRequest => refused(
            "idempotencyKey",
            DomainCode::IdempotencyKeyReused,
            "this idempotency key was used with a different request",
        ),
        Refusal::InProgress => refused(
            "idempotencyKey",
            DomainCode::RequestInProgress,
            "the first request with this idempotency key is still running; retry",
        ),
    }
}

/// The payload of a fulfilment (and its order) by id, read fresh.
async fn payload_of(ctx: &Context<'_>, id: i64) -> ApiResult<FulfillmentPayload> {
    let db = &ctx.state()?.db;
    let Some(row) = crate::domain::fulfillment::get(db, id).await? else {
        return Ok(FulfillmentPayload::default());
    };
    let order = crate::domain::checkout::orders::get(db, row.order_id).await?;
    let currency = order
        .as_ref()
        .and_then(|o| o.currency_code.parse().ok())
        .unwrap_or(Currency::USD);
    Ok(FulfillmentPayload {
        fulfillment: Some(Fulfillment { row, currency }),
        order: order.map(|row| Order { row }),
        user_errors: vec![],
    })
}

async fn caller(ctx: &Context<'_>) -> ApiResult<Caller> {
    Ok(Caller {
        actor: actor(ctx).await?,
        reference: ctx.principal()?.idempotency_scope(),
    })
}

async fn answer(
    ctx: &Context<'_>,
    outcome: Checked<fulfillment::Model>,
) -> ApiResult<FulfillmentPayload> {
    match outcome {
        Ok(row) => payload_of(ctx, row.id).await,
        Err(e) => Ok(FulfillmentPayload {
            user_errors: user_errors(e),
            ..Default::default()
        }),
    }
}

/// Fulfilment mutations.
#[derive(Default)]
pub struct FulfillmentMutation;

#[Object]
impl FulfillmentMutation {
    /// Ships units of an open order from a stock location, with tracking
    /// typed by hand or a label bought from the label carrier. Turns the
    /// order's stock holds there into an on-hand decrease. Several
    /// fulfilments per order, from one location each. A retry with the same
    /// `idempotencyKey` returns the first answer.
    #[graphql(guard = "Need(Permission::OrdersFulfill)")]
    async fn fulfillment_create(
        &self,
        ctx: &Context<'_>,
        input: FulfillmentCreateInput,
        idempotency_key: Option<String>,
    ) -> ApiResult<FulfillmentPayload> {
        let mut lines = Vec::new();
        for l in input.lines.unwrap_or_default() {
            lines.push(LineRequest {
                order_line_id: decode_as(Kind::OrderLine, &l.order_line_id)?,
                quantity: l.quantity,
            });
        }
        let req = CreateRequest {
            order_id: decode_as(Kind::Order, &input.order_id)?,
            lines,
            location_id: input
                .location_id
                .as_ref()
                .map(|l| decode_as(Kind::StockLocation, l))
                .transpose()?,
            tracking: input.tracking.map(Into::into),
            purchase_label: input.purchase_label,
            notify_customer: input.notify_customer,
        };
        let caller = caller(ctx).await?;
        let state = ctx.state()?;
        let service = state.fulfillment();
        let scope = ctx.principal()?.idempotency_scope();
        let outcome: Result<Checked<Created>, Refusal> = idempotency::once(
            &state.db,
            &state.clock,
            &scope,
            idempotency_key.as_deref(),
            &("fulfillmentCreate", &req),
            || service.create(&caller, &req),
        )
        .await?;
        match outcome {
            Err(r) => Ok(refusal(r)),
            Ok(Err(e)) => Ok(FulfillmentPayload {
                user_errors: user_errors(under_input(e)),
                ..Default::default()
            }),
            Ok(Ok(created)) => payload_of(ctx, created.fulfillment_id).await,
        }
    }

    /// Replaces a fulfilment's tracking (refused once it is cancelled).
    #[graphql(guard = "Need(Permission::OrdersFulfill)")]
    async fn fulfillment_tracking_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        tracking: FulfillmentTrackingInput,
        #[graphql(default = true)] notify_customer: bool,
    ) -> ApiResult<FulfillmentPayload> {
        let id = decode_as(Kind::Fulfillment, &id)?;
        let caller = caller(ctx).await?;
        let outcome = ctx
            .state()?
            .fulfillment()
            .update_tracking(&caller, id, &tracking.into(), notify_customer)
            .await?;
        answer(ctx, outcome).await
    }

    /// Cancels a fulfilment that was not delivered: its units go back in
    /// stock at its location (held for the order again) and the order's
    /// lines are unfulfilled.
    #[graphql(guard = "Need(Permission::OrdersFulfill)")]
    async fn fulfillment_cancel(&self, ctx: &Context<'_>, id: ID) -> ApiResult<FulfillmentPayload> {
        let id = decode_as(Kind::Fulfillment, &id)?;
        let caller = caller(ctx).await?;
        let outcome = ctx.state()?.fulfillment().cancel(&caller, id).await?;
        answer(ctx, outcome).await
    }
}
