//! The arguments of the staff `orders` search (see
//! [`crate::domain::orders_search`] for what they match).

use async_graphql::{Enum, InputObject};
use chrono::{DateTime, Utc};

use super::types::{OrderFulfillmentStatus, OrderPaymentStatus, OrderStatus};
use crate::domain::orders_search::{Search, SortKey};

/// A span of time: from (inclusive) to (exclusive); either end may be open.
#[derive(InputObject, Default)]
pub struct DateTimeRange {
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

/// Which orders to list; every field given must match (a list matches any
/// of its values).
#[derive(InputObject, Default)]
pub struct OrderFilter {
    /// Order statuses.
    #[graphql(default)]
    pub status: Vec<OrderStatus>,
    /// Payment statuses.
    #[graphql(default)]
    pub payment_status: Vec<OrderPaymentStatus>,
    /// Fulfillment statuses.
    #[graphql(default)]
    pub fulfillment_status: Vec<OrderFulfillmentStatus>,
    /// When the order was placed.
    pub created_at: Option<DateTimeRange>,
    /// The buyer's email, exactly (case does not matter).
    pub email: Option<String>,
    /// The channel's code.
    pub channel: Option<String>,
}

/// What orders are sorted by: newest, largest or highest first, unless
/// `reverse` is set.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
#[graphql(remote = "SortKey")]
pub enum OrderSortKeys {
    /// When placed (the default).
    #[default]
    CreatedAt,
    /// The order total.
    Total,
    /// The order number.
    Number,
}

/// The domain search for a query and filter.
pub fn search(query: Option<String>, filter: Option<OrderFilter>) -> Search {
    let f = filter.unwrap_or_default();
    let range = f.created_at.unwrap_or_default();
    Search {
        query,
        status: f.status.into_iter().map(Into::into).collect(),
        payment_status: f.payment_status.into_iter().map(Into::into).collect(),
        fulfillment_status: f.fulfillment_status.into_iter().map(Into::into).collect(),
        created_from: range.from,
        created_to: range.to,
        email: f.email,
        channel: f.channel,
    }
}
