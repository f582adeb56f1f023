//! An order's timeline over GraphQL, and staff notes (`orderNoteAdd`).

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::types::Order;
use crate::{
    domain::{
        identity::permission::Permission,
        order_timeline::{self, Entry},
    },
    graphql::{
        ContextExt,
        auth::Need,
        common::{UserError, actor, user_errors},
        error::ApiResult,
        id::{Kind, decode_as, encode},
    },
};

/// One entry of an order's timeline.
#[derive(SimpleObject, Clone, Debug)]
pub struct OrderEvent {
    /// Globally unique, opaque ID (null for a status change).
    pub id: Option<ID>,
    /// What happened: `status_changed` (a move of the order's statuses),
    /// `note` (staff only), `captured`, `marked_paid`, `fulfilled`,
    /// `tracking_updated`, `delivered`, `refunded`, `cancelled`,
    /// `notified` (a mail to the customer) ...
    pub kind: String,
    /// For people.
    pub message: String,
    /// Who: `staff:2`, `token:5`, `customer:7`, `system:...`. Null for
    /// customers: who at the shop did it is not theirs to see.
    pub actor: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// For a status change: the statuses before, as
    /// `order/payment/fulfillment`.
    pub status_from: Option<String>,
    /// For a status change: the statuses after.
    pub status_to: Option<String>,
}

/// The timeline entry as `staff` (or a customer) sees it.
pub fn event_of(e: Entry, staff: bool) -> OrderEvent {
    let (status_from, status_to) = e.statuses.map_or((None, None), |(f, t)| (Some(f), Some(t)));
    OrderEvent {
        id: e.id.map(|id| encode(Kind::OrderEvent, id)),
        kind: e.kind,
        message: e.message,
        actor: staff.then_some(e.actor),
        created_at: e.created_at,
        status_from,
        status_to,
    }
}

/// `orderNoteAdd`'s result.
#[derive(SimpleObject, Default)]
pub struct OrderNoteAddPayload {
    /// The order, its timeline with the note.
    pub order: Option<Order>,
    /// What was wrong; nothing changed.
    pub user_errors: Vec<UserError>,
}

/// Order timeline mutations.
#[derive(Default)]
pub struct TimelineMutation;

#[Object]
impl TimelineMutation {
    /// Adds a staff note to an order's timeline (`orders:write`). Customers
    /// never see notes. A blank note is refused (`BLANK`), and so is one
    /// over 5000 characters (`TOO_LONG`).
    #[graphql(guard = "Need(Permission::OrdersWrite)")]
    async fn order_note_add(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: String,
    ) -> ApiResult<OrderNoteAddPayload> {
        ctx.request()?.no_store();
        let row = decode_as(Kind::Order, &id)?;
        let actor = actor(ctx).await?;
        Ok(
            match order_timeline::add_note(&ctx.state()?.db, &actor, row, &note).await? {
                Ok(row) => OrderNoteAddPayload {
                    order: Some(Order { row }),
                    user_errors: Vec::new(),
                },
                Err(e) => OrderNoteAddPayload {
                    order: None,
                    user_errors: user_errors(e),
                },
            },
        )
    }
}
