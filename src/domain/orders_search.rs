//! The staff search over orders: a free-text `query`, filters on the
//! three statuses, the creation time, the buyer's email and the channel,
//! three sort orders, and the count of matches. Every filter and order is
//! served by an index of `shop_order` on both backends
//! (`ix_shop_order_created_at`, `_status_created_at`,
//! `_payment_status`, `_fulfillment_status`, `_email_status`,
//! `_channel_created_at`, `_total`, the primary key).
//!
//! `query` is read as, in this order:
//!
//! - an order's global ID, or its number (`#1001` or `1001`): that order;
//! - text with an `@`: the buyer's email, exactly (case does not matter);
//! - anything else: the start of the name (given, family, or both as
//!   "given family") of the customer account that placed the order,
//!   case-insensitively. Guest orders are found by number or email.

use chrono::{DateTime, Utc};
use entity::{channel, customer, shop_order};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
    sea_query::{Expr, ExprTrait, Func, Query},
};

use crate::domain::{
    checkout::orders,
    error::DomainResult,
    gid::{self, Kind},
    order_state::{FulfillmentStatus, OrderStatus, PaymentStatus},
};

/// What to look for; every part given must match.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Free text (see the module documentation).
    pub query: Option<String>,
    /// Order status, any of these.
    pub status: Vec<OrderStatus>,
    /// Payment status, any of these.
    pub payment_status: Vec<PaymentStatus>,
    /// Fulfilment status, any of these.
    pub fulfillment_status: Vec<FulfillmentStatus>,
    /// Placed at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Placed before.
    pub created_to: Option<DateTime<Utc>>,
    /// The buyer's email, exactly (case does not matter).
    pub email: Option<String>,
    /// The channel's code.
    pub channel: Option<String>,
}

/// How to order the matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// When placed.
    #[default]
    CreatedAt,
    /// The order total (in minor units, whatever the currency).
    Total,
    /// The order number.
    Number,
}

/// The stored (snake_case) form of a status.
fn stored<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// What `query` names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Text {
    Order(i64),
    Email(String),
    Name(String),
}

fn read(query: &str) -> Option<Text> {
    let q = query.trim();
    if q.is_empty() {
        return None;
    }
    if let Some((Kind::Order, id)) = gid::decode(q) {
        return Some(Text::Order(id));
    }
    let digits = q.trim_start_matches('#');
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        // A number below the first order's names nothing: id 0 never exists.
        return Some(Text::Order(orders::id_of_number(digits).unwrap_or(0)));
    }
    if q.contains('@') {
        return Some(Text::Email(q.to_lowercase()));
    }
    Some(Text::Name(q.to_lowercase()))
}

/// `text` made safe for a `LIKE` pattern (its wildcards removed).
fn prefix(text: &str) -> String {
    format!("{}%", text.replace(['%', '_', '\\'], ""))
}

fn lower(col: customer::Column) -> Expr {
    Expr::expr(Func::lower(Expr::col(col)))
}

async fn filtered(
    db: &impl ConnectionTrait,
    s: &Search,
) -> DomainResult<Option<Select<shop_order::Entity>>> {
    let mut q = shop_order::Entity::find();
    match s.query.as_deref().and_then(read) {
        None => {}
        Some(Text::Order(id)) => q = q.filter(shop_order::Column::Id.eq(id)),
        Some(Text::Email(email)) => q = q.filter(shop_order::Column::Email.eq(email)),
        Some(Text::Name(name)) => {
            let pattern = prefix(&name);
            let full =
                Expr::cust("LOWER(COALESCE(first_name, '') || ' ' || COALESCE(last_name, ''))")
                    .like(pattern.clone());
            q = q.filter(
                shop_order::Column::CustomerId.in_subquery(
                    Query::select()
                        .column(customer::Column::Id)
                        .from(customer::Entity)
                        .cond_where(
                            Condition::any()
                                .add(lower(customer::Column::FirstName).like(pattern.clone()))
                                .add(lower(customer::Column::LastName).like(pattern))
                                .add(full),
                        )
                        .to_owned(),
                ),
            );
        }
    }
    if !s.status.is_empty() {
        q = q.filter(shop_order::Column::Status.is_in(s.status.iter().map(|v| stored(*v))));
    }
    if !s.payment_status.is_empty() {
        q = q.filter(
            shop_order::Column::PaymentStatus.is_in(s.payment_status.iter().map(|v| stored(*v))),
        );
    }
    if !s.fulfillment_status.is_empty() {
        q = q.filter(
            shop_order::Column::FulfillmentStatus
                .is_in(s.fulfillment_status.iter().map(|v| stored(*v))),
        );
    }
    if let Some(from) = s.created_from {
        q = q.filter(shop_order::Column::CreatedAt.gte(from));
    }
    if let Some(to) = s.created_to {
        q = q.filter(shop_order::Column::CreatedAt.lt(to));
    }
    if let Some(email) = s.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        q = q.filter(shop_order::Column::Email.eq(email.to_lowercase()));
    }
    if let Some(code) = s.channel.as_deref() {
        let id: Option<i64> = channel::Entity::find()
            .select_only()
            .column(channel::Column::Id)
            .filter(channel::Column::Code.eq(code))
            .into_tuple()
            .one(db)
            .await?;
        match id {
            Some(id) => q = q.filter(shop_order::Column::ChannelId.eq(id)),
            // An unknown channel has no orders.
            None => return Ok(None),
        }
    }
    Ok(Some(q))
}

/// How many orders match `s`.
pub async fn count(db: &impl ConnectionTrait, s: &Search) -> DomainResult<u64> {
    Ok(match filtered(db, s).await? {
        Some(q) => q.count(db).await?,
        None => 0,
    })
}

/// A page of the orders matching `s`: newest, largest or highest-numbered
/// first, or the other way round with `reverse`.
pub async fn page(
    db: &impl ConnectionTrait,
    s: &Search,
    sort: SortKey,
    reverse: bool,
    offset: u64,
    limit: u64,
) -> DomainResult<Vec<shop_order::Model>> {
    let Some(mut q) = filtered(db, s).await? else {
        return Ok(Vec::new());
    };
    let order = if reverse {
        sea_orm::Order::Asc
    } else {
        sea_orm::Order::Desc
    };
    q = match sort {
        SortKey::CreatedAt => q.order_by(shop_order::Column::CreatedAt, order.clone()),
        SortKey::Total => q.order_by(shop_order::Column::TotalMinor, order.clone()),
        SortKey::Number => q,
    };
    Ok(q.order_by(shop_order::Column::Id, order)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?)
}

/// The statement [`page`] runs, as SQL for `backend` (for EXPLAIN).
pub async fn page_sql(
    db: &impl ConnectionTrait,
    s: &Search,
    sort: SortKey,
) -> DomainResult<Option<String>> {
    use sea_orm::QueryTrait;
    let Some(q) = filtered(db, s).await? else {
        return Ok(None);
    };
    let q = match sort {
        SortKey::CreatedAt => q.order_by_desc(shop_order::Column::CreatedAt),
        SortKey::Total => q.order_by_desc(shop_order::Column::TotalMinor),
        SortKey::Number => q,
    };
    let stmt = q
        .order_by_desc(shop_order::Column::Id)
        .limit(50)
        .build(db.get_database_backend());
    Ok(Some(stmt.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_an_order_an_email_or_a_name() {
        assert_eq!(read("#1004"), Some(Text::Order(4)));
        assert_eq!(read(" 1004 "), Some(Text::Order(4)));
        assert_eq!(read("12"), Some(Text::Order(0)));
        assert_eq!(read(&gid::encode(Kind::Order, 9)), Some(Text::Order(9)));
        assert_eq!(
            read("Ada@Example.com"),
            Some(Text::Email("ada@example.com".into()))
        );
        assert_eq!(read("Ada L"), Some(Text::Name("ada l".into())));
        assert_eq!(read("  "), None);
        assert_eq!(prefix("a%b_c"), "abc%");
    }
}
