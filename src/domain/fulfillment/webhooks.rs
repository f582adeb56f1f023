//! Carrier tracking webhooks: `POST /webhooks/carriers/{code}`.
//!
//! A delivery is verified by its carrier (nothing changes when it is not
//! authentic), then applied once: the carrier's event id is recorded in
//! `carrier_webhook_event` (unique per carrier) in the same transaction as
//! the change, so a replay changes nothing and a delivery that failed
//! half-way is processed when retried. The event moves the fulfilment it
//! names (by the carrier's shipment reference, else by tracking number)
//! only forward ([`ShipmentStatus::rank`]): an older event delivered late
//! is recorded and ignored, and `delivered` is final.

use chrono::{DateTime, SubsecRound, Utc};
use entity::{carrier_webhook_event, fulfillment};
use http::HeaderMap;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, sea_query::Expr,
};
use serde_json::json;

use super::{
    carriers::{Carrier, CarrierWebhookError, ShipmentStatus},
    note,
};
use crate::domain::{
    checkout::orders,
    error::{DomainError, DomainResult, is_unique_violation},
    events::{self, DomainEvent},
    tx::begin_write,
};

/// What a webhook delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The fulfilment moved to this status.
    Applied {
        /// The fulfilment.
        fulfillment_id: i64,
        /// Its status now.
        status: ShipmentStatus,
    },
    /// The event id was seen before: nothing changed.
    Duplicate,
    /// Recorded, nothing to change: an event emporium does not act on, or
    /// news no newer than what the fulfilment already shows.
    Ignored,
    /// About a parcel no fulfilment has (yet): nothing was recorded, so the
    /// carrier's retry is processed once the fulfilment exists (answer a
    /// non-2xx status).
    UnknownShipment,
}

/// Verifies and applies one delivery at `now`. `Err` inside: the delivery
/// is not authentic (answer 400); storage errors are the outer error.
pub async fn handle_webhook(
    db: &DatabaseConnection,
    carrier: &dyn Carrier,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> DomainResult<Result<Handled, CarrierWebhookError>> {
    let event = match carrier.verify_webhook(headers, body) {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    let now = now.trunc_subsecs(6);
    let tx = begin_write(db).await?;
    let seen = carrier_webhook_event::Entity::insert(carrier_webhook_event::ActiveModel {
        carrier: Set(carrier.code().to_owned()),
        event_id: Set(event.id.chars().take(255).collect()),
        received_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&tx)
    .await;
    match seen {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            tx.rollback().await?;
            return Ok(Ok(Handled::Duplicate));
        }
        Err(e) => return Err(e.into()),
    }
    let Some(news) = event.tracking else {
        tx.commit().await?;
        return Ok(Ok(Handled::Ignored));
    };
    let mut by =
        Condition::any().add(fulfillment::Column::TrackingNumber.eq(news.tracking_number.clone()));
    if let Some(r) = &news.reference {
        by = by.add(fulfillment::Column::CarrierReference.eq(r.clone()));
    }
    let Some(f) = fulfillment::Entity::find()
        .filter(by)
        .filter(fulfillment::Column::Status.ne("cancelled"))
        .order_by_desc(fulfillment::Column::Id)
        .one(&tx)
        .await?
    else {
        tx.rollback().await?;
        return Ok(Ok(Handled::UnknownShipment));
    };
    let current = ShipmentStatus::parse(&f.status).unwrap_or(ShipmentStatus::Shipped);
    if news.status.rank() <= current.rank() {
        tx.commit().await?;
        tracing::info!(
            fulfillment_id = f.id,
            current = current.as_str(),
            reported = news.status.as_str(),
            "a tracking event no newer than the fulfilment's status was ignored"
        );
        return Ok(Ok(Handled::Ignored));
    }
    let delivered = news.status == ShipmentStatus::Delivered;
    let mut update = fulfillment::Entity::update_many()
        .col_expr(
            fulfillment::Column::Status,
            Expr::value(news.status.as_str()),
        )
        .col_expr(fulfillment::Column::UpdatedAt, Expr::value(now))
        .filter(fulfillment::Column::Id.eq(f.id))
        .filter(fulfillment::Column::Status.eq(f.status.clone()));
    if delivered {
        update = update.col_expr(fulfillment::Column::DeliveredAt, Expr::value(Some(now)));
    }
    if f.tracking_url.is_none() && news.tracking_url.is_some() {
        update = update.col_expr(
            fulfillment::Column::TrackingUrl,
            Expr::value(news.tracking_url.clone()),
        );
    }
    if update.exec(&tx).await?.rows_affected != 1 {
        // Another delivery moved it meanwhile: let the carrier retry.
        tx.rollback().await?;
        return Err(DomainError::Inconsistent(
            "the fulfillment changed meanwhile; retry".into(),
        ));
    }
    let order = orders::get(&tx, f.order_id)
        .await?
        .ok_or_else(|| DomainError::Inconsistent("order vanished".into()))?;
    let kind = match news.status {
        ShipmentStatus::Delivered => "delivered",
        ShipmentStatus::Failure => "delivery_failed",
        ShipmentStatus::OutForDelivery => "out_for_delivery",
        ShipmentStatus::InTransit | ShipmentStatus::Shipped => "in_transit",
    };
    note(
        &tx,
        order.id,
        kind,
        format!(
            "Fulfillment {} is {} ({})",
            f.id,
            news.status.as_str().replace('_', " "),
            news.tracking_number
        ),
        json!({
            "fulfillmentId": f.id,
            "from": f.status,
            "to": news.status.as_str(),
            "carrierEventId": event.id,
        }),
        &format!("carrier:{}", carrier.code()),
        now,
    )
    .await?;
    events::record(
        &tx,
        vec![DomainEvent::FulfillmentUpdated {
            order_id: order.id,
            customer_id: order.customer_id,
            fulfillment_id: f.id,
            shipment_status: news.status.as_str().to_owned(),
            // The carrier's news: the customer hears of a delivery.
            notify_customer: true,
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(Handled::Applied {
        fulfillment_id: f.id,
        status: news.status,
    }))
}
