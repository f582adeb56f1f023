//! An order's timeline: the entries of `order_event` (notes, payments,
//! fulfilments, refunds, notifications, written by the operations that
//! did them) merged with the moves of its state machine
//! (`order_transition`), oldest first; and staff notes.
//!
//! Customers see their order's timeline without what is for staff:
//! only the kinds in [`CUSTOMER_KINDS`] and the status moves, and no
//! actor (who at the shop did it is the shop's business). Notes,
//! failed refunds and anything not listed stay staff-only.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use entity::{order_event, order_transition, shop_order};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;

use crate::domain::{
    audit::{self, Actor, Change},
    error::{DomainResult, Outcome, UserError, UserErrorCode},
    tx::begin_write,
};

/// Longest note accepted, in characters.
pub const NOTE_MAX: usize = 5000;

/// The `order_event` kinds a customer sees on their own order.
pub const CUSTOMER_KINDS: &[&str] = &[
    "captured",
    "marked_paid",
    "fulfilled",
    "fulfillment_cancelled",
    "tracking_updated",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "refunded",
    "cancelled",
    "notified",
];

/// The kind of a state machine move on the timeline.
pub const TRANSITION: &str = "status_changed";

/// One entry of an order's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The `order_event` row (`None` for a status move).
    pub id: Option<i64>,
    /// `note`, `captured`, `fulfilled`, `notified` ..., or
    /// [`TRANSITION`] for a move of the order's statuses.
    pub kind: String,
    /// For people.
    pub message: String,
    /// Who: `staff:2`, `token:5`, `customer:7`, `system:...`
    pub actor: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// For a status move: the statuses before and after
    /// (`order/payment/fulfillment`).
    pub statuses: Option<(String, String)>,
}

fn from_event(e: order_event::Model) -> Entry {
    Entry {
        id: Some(e.id),
        kind: e.kind,
        message: e.message,
        actor: e.actor,
        created_at: e.created_at,
        statuses: None,
    }
}

fn from_transition(t: order_transition::Model) -> Entry {
    Entry {
        id: None,
        kind: TRANSITION.into(),
        message: format!(
            "{}: {} → {}",
            t.event.replace('_', " "),
            t.from_status,
            t.to_status
        ),
        actor: t.actor,
        created_at: t.created_at,
        statuses: Some((t.from_status, t.to_status)),
    }
}

/// Whether a customer sees `e` on their order.
pub fn customer_sees(e: &Entry) -> bool {
    e.kind == TRANSITION || CUSTOMER_KINDS.contains(&e.kind.as_str())
}

/// The order's timeline, oldest first (entries of one instant: status
/// moves first, then the rest in the order they were written). With
/// `staff` false, only what a customer sees.
pub async fn timeline(
    db: &impl ConnectionTrait,
    order_id: i64,
    staff: bool,
) -> DomainResult<Vec<Entry>> {
    Ok(timelines(db, &[order_id], staff)
        .await?
        .remove(&order_id)
        .unwrap_or_default())
}

/// [`timeline`] of several orders in two statements (a page of orders
/// asking for their events); orders without entries are left out.
pub async fn timelines(
    db: &impl ConnectionTrait,
    order_ids: &[i64],
    staff: bool,
) -> DomainResult<HashMap<i64, Vec<Entry>>> {
    let mut by_order: HashMap<i64, Vec<Entry>> = HashMap::new();
    if order_ids.is_empty() {
        return Ok(by_order);
    }
    let transitions = order_transition::Entity::find()
        .filter(order_transition::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(order_transition::Column::Id)
        .all(db)
        .await?;
    let mut events = order_event::Entity::find()
        .filter(order_event::Column::OrderId.is_in(order_ids.iter().copied()));
    if !staff {
        events = events.filter(order_event::Column::Kind.is_in(CUSTOMER_KINDS.iter().copied()));
    }
    let events = events.order_by_asc(order_event::Column::Id).all(db).await?;
    for t in transitions {
        by_order
            .entry(t.order_id)
            .or_default()
            .push(from_transition(t));
    }
    for e in events {
        by_order.entry(e.order_id).or_default().push(from_event(e));
    }
    // A stable sort keeps each source's own order within an instant.
    for entries in by_order.values_mut() {
        entries.sort_by_key(|e| e.created_at);
    }
    Ok(by_order)
}

/// The actor column of a timeline entry written by `actor`.
pub fn actor_column(actor: &Actor) -> String {
    match (actor.kind, actor.id) {
        ("partner", Some(id)) => format!("token:{id}"),
        (kind, Some(id)) => format!("{kind}:{id}"),
        (kind, None) => kind.to_owned(),
    }
}

/// Adds a staff note to an order's timeline; audited. A blank note, or one
/// longer than [`NOTE_MAX`] characters, is refused; an unknown order is
/// `NOT_FOUND`. Answers the order.
pub async fn add_note(
    db: &DatabaseConnection,
    actor: &Actor,
    order_id: i64,
    note: &str,
) -> Outcome<shop_order::Model> {
    let note = note.trim();
    if note.is_empty() {
        return Ok(Err(vec![UserError::new(
            &["note"],
            UserErrorCode::Blank,
            "the note is empty",
        )]));
    }
    if note.chars().count() > NOTE_MAX {
        return Ok(Err(vec![UserError::new(
            &["note"],
            UserErrorCode::TooLong,
            format!("a note has at most {NOTE_MAX} characters"),
        )]));
    }
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let Some(order) = shop_order::Entity::find_by_id(order_id).one(&tx).await? else {
        return Ok(Err(vec![UserError::new(
            &["id"],
            UserErrorCode::NotFound,
            "no such order",
        )]));
    };
    let now = Utc::now().trunc_subsecs(6);
    let inserted = order_event::Entity::insert(order_event::ActiveModel {
        order_id: Set(order_id),
        kind: Set("note".into()),
        message: Set(note.to_owned()),
        detail: Set("{}".into()),
        actor: Set(actor_column(actor)),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(&tx)
    .await?;
    audit::append(
        &tx,
        &mut head,
        actor,
        vec![Change {
            action: "order.note_add",
            entity_type: "order",
            entity_id: order_id.to_string(),
            before: None,
            after: Some(json!({ "orderEvent": inserted.last_insert_id, "note": note })),
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(order))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str) -> Entry {
        Entry {
            id: Some(1),
            kind: kind.into(),
            message: String::new(),
            actor: "staff:1".into(),
            created_at: Utc::now(),
            statuses: None,
        }
    }

    #[test]
    fn customers_see_no_notes() {
        assert!(!customer_sees(&entry("note")));
        assert!(!customer_sees(&entry("refund_failed")));
        assert!(customer_sees(&entry("fulfilled")));
        assert!(customer_sees(&entry(TRANSITION)));
    }

    #[test]
    fn actors_are_written_as_the_timeline_names_them() {
        let a = |kind, id| Actor {
            kind,
            id,
            label: String::new(),
        };
        assert_eq!(actor_column(&a("staff", Some(2))), "staff:2");
        assert_eq!(actor_column(&a("partner", Some(5))), "token:5");
        assert_eq!(actor_column(&a("cli", None)), "cli");
    }
}
