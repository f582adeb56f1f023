//! A cart as stored: its row and its lines, with what they say (codes,
//! gift cards, addresses, destination). Cart operations (`cart`) and
//! pricing (`quote`) both read it; it imports neither.

use entity::{cart, cart_line};

use crate::domain::identity::customer::Address;

/// A cart and its lines (in the order they were added).
#[derive(Debug, Clone)]
pub struct Cart {
    /// The row.
    pub row: cart::Model,
    /// Its lines.
    pub lines: Vec<cart_line::Model>,
}

impl Cart {
    /// Entered discount codes, upper-cased.
    pub fn discount_codes(&self) -> Vec<String> {
        serde_json::from_str(&self.row.discount_codes).unwrap_or_default()
    }

    /// Applied gift card ids.
    pub fn gift_card_ids(&self) -> Vec<i64> {
        serde_json::from_str(&self.row.gift_card_ids).unwrap_or_default()
    }

    /// The shipping address, if set.
    pub fn shipping_address(&self) -> Option<Address> {
        self.row
            .shipping_address
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
    }

    /// The billing address, if set.
    pub fn billing_address(&self) -> Option<Address> {
        self.row
            .billing_address
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
    }

    /// Where the cart ships to (the shipping address's country, else the
    /// buyer's country), for tax and shipping.
    pub fn country(&self) -> Option<String> {
        self.shipping_address()
            .map(|a| a.country_code)
            .or_else(|| self.row.country.clone())
    }

    /// Region of the shipping address, for tax.
    pub fn region(&self) -> Option<String> {
        self.shipping_address().and_then(|a| a.province_code)
    }

    /// Whether it became an order.
    pub fn is_completed(&self) -> bool {
        self.row.order_id.is_some()
    }
}
