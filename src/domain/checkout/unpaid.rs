//! Orders placed without their payment secured (an offline payment such as
//! a bank transfer, a card payment awaiting 3-D Secure): they hold stock
//! for no money, so both how long and how many are bounded.
//!
//! - Such an order gets a payment deadline ([`crate::domain::checkout::complete::CheckoutSettings::pending_hold`],
//!   per gateway): its stock holds expire then, and the sweeper
//!   ([`super::expiry`]) cancels it through the order state machine as
//!   `system:expiry`, releasing its stock.
//! - One buyer email, one signed-in customer and one client address (an
//!   IPv4 address or IPv6 /64, kept as a keyed digest) may each have at
//!   most [`UnpaidCaps`] such orders open at once. The placing transaction
//!   counts and inserts while holding the buyer's locks ([`lock_keys`]), so
//!   concurrent checkouts never exceed a cap; the refused one gets
//!   `TOO_MANY_UNPAID_ORDERS` and holds nothing.

use entity::shop_order;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::domain::error::{DomainResult, UserError, UserErrorCode};

/// The stored status of an order awaiting payment.
const PENDING: &str = "pending";

/// Most orders awaiting payment one buyer may have open at once (0: no cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpaidCaps {
    /// Per buyer email.
    pub per_email: u32,
    /// Per signed-in customer.
    pub per_customer: u32,
    /// Per client address.
    pub per_address: u32,
}

impl Default for UnpaidCaps {
    fn default() -> Self {
        Self {
            per_email: 3,
            per_customer: 3,
            per_address: 5,
        }
    }
}

/// Who an unpaid order counts against.
#[derive(Debug, Clone, Copy)]
pub struct Buyer<'a> {
    /// The order's email (normalized, lower-case).
    pub email: &'a str,
    /// The signed-in customer.
    pub customer_id: Option<i64>,
    /// The digest of the client's network, when known.
    pub client_address: Option<&'a str>,
}

/// The locks `buyer`'s unpaid orders are counted and written under.
pub fn lock_keys(caps: UnpaidCaps, buyer: Buyer<'_>) -> Vec<String> {
    let mut keys = Vec::new();
    if caps.per_email > 0 {
        keys.push(format!("unpaid-orders:email:{}", buyer.email));
    }
    if let (true, Some(id)) = (caps.per_customer > 0, buyer.customer_id) {
        keys.push(format!("unpaid-orders:customer:{id}"));
    }
    if let (true, Some(address)) = (caps.per_address > 0, buyer.client_address) {
        keys.push(format!("unpaid-orders:address:{address}"));
    }
    keys
}

/// Whether `buyer` may have one more order awaiting payment, besides
/// `placing` (the order being placed, already inserted), in the caller's
/// transaction, which holds [`lock_keys`].
pub async fn check(
    tx: &impl ConnectionTrait,
    caps: UnpaidCaps,
    buyer: Buyer<'_>,
    placing: i64,
) -> DomainResult<Result<(), UserError>> {
    let open = || {
        shop_order::Entity::find()
            .filter(shop_order::Column::Status.eq(PENDING))
            .filter(shop_order::Column::Id.ne(placing))
    };
    if caps.per_email > 0 {
        let n = open()
            .filter(shop_order::Column::Email.eq(buyer.email))
            .count(tx)
            .await?;
        if n >= u64::from(caps.per_email) {
            return Ok(Err(refusal(n, "with this email")));
        }
    }
    if let (true, Some(id)) = (caps.per_customer > 0, buyer.customer_id) {
        let n = open()
            .filter(shop_order::Column::CustomerId.eq(id))
            .count(tx)
            .await?;
        if n >= u64::from(caps.per_customer) {
            return Ok(Err(refusal(n, "on your account")));
        }
    }
    if let (true, Some(address)) = (caps.per_address > 0, buyer.client_address) {
        let n = open()
            .filter(shop_order::Column::ClientAddress.eq(address))
            .count(tx)
            .await?;
        if n >= u64::from(caps.per_address) {
            return Ok(Err(refusal(n, "from your network")));
        }
    }
    Ok(Ok(()))
}

fn refusal(open: u64, whose: &str) -> UserError {
    UserError::new(
        &["payment"],
        UserErrorCode::TooManyUnpaidOrders,
        format!(
            "{open} orders placed {whose} are still awaiting payment; pay for one of them \
             (or wait until it expires) before placing another order without payment"
        ),
    )
}
