//! Global IDs: the URL-safe base64 of `gid://emporium/<Type>/<row id>`.
//!
//! The API's opaque object IDs (the Relay `Node` interface), and the IDs
//! webhook payloads carry, so a partner can pass them straight back to the
//! API. Clients must not build them, but they are stable.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// The kinds of object that have global IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A product.
    Product,
    /// A product variant.
    ProductVariant,
    /// A collection.
    Collection,
    /// An image of a product.
    MediaImage,
    /// A channel.
    Channel,
    /// A customer account.
    Customer,
    /// An address of a customer's address book.
    MailingAddress,
    /// A staff user.
    StaffUser,
    /// A partner API token.
    ApiToken,
    /// A stock location.
    StockLocation,
    /// A customer group (price lists).
    CustomerGroup,
    /// An option of a product (Size, Color).
    ProductOption,
    Order,
    CartLine,
    Promotion,
    GiftCard,
    /// An outbound webhook subscription.
    WebhookSubscription,
    /// One event's delivery to a webhook subscription.
    WebhookDelivery,
    /// A line of an order.
    OrderLine,
    /// A shipment of some of an order's units.
    Fulfillment,
    /// Money paid back on an order.
    Refund,
    /// An entry of an order's timeline.
    OrderEvent,
    /// A shipping zone (countries shipping methods serve).
    ShippingZone,
    /// A shipping method of a zone and channel.
    ShippingMethod,
    /// A tax rate of a tax class at a place.
    TaxRate,
}

impl Kind {
    /// The type name inside the ID (and the GraphQL type's name).
    pub fn name(self) -> &'static str {
        match self {
            Self::Product => "Product",
            Self::ProductVariant => "ProductVariant",
            Self::Collection => "Collection",
            Self::MediaImage => "MediaImage",
            Self::Channel => "Channel",
            Self::Customer => "Customer",
            Self::MailingAddress => "MailingAddress",
            Self::StaffUser => "StaffUser",
            Self::ApiToken => "ApiToken",
            Self::StockLocation => "StockLocation",
            Self::CustomerGroup => "CustomerGroup",
            Self::ProductOption => "ProductOption",
            Self::Order => "Order",
            Self::CartLine => "CartLine",
            Self::Promotion => "Promotion",
            Self::GiftCard => "GiftCard",
            Self::WebhookSubscription => "WebhookSubscription",
            Self::WebhookDelivery => "WebhookDelivery",
            Self::OrderLine => "OrderLine",
            Self::Fulfillment => "Fulfillment",
            Self::Refund => "Refund",
            Self::OrderEvent => "OrderEvent",
            Self::ShippingZone => "ShippingZone",
            Self::ShippingMethod => "ShippingMethod",
            Self::TaxRate => "TaxRate",
        }
    }

    /// The kind named `s`.
    pub fn from_name(s: &str) -> Option<Self> {
        [
            Self::Product,
            Self::ProductVariant,
            Self::Collection,
            Self::MediaImage,
            Self::Channel,
            Self::Customer,
            Self::MailingAddress,
            Self::StaffUser,
            Self::ApiToken,
            Self::StockLocation,
            Self::CustomerGroup,
            Self::ProductOption,
            Self::Order,
            Self::CartLine,
            Self::Promotion,
            Self::GiftCard,
            Self::WebhookSubscription,
            Self::WebhookDelivery,
            Self::OrderLine,
            Self::Fulfillment,
            Self::Refund,
            Self::OrderEvent,
            Self::ShippingZone,
            Self::ShippingMethod,
            Self::TaxRate,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

const PREFIX: &str = "gid://emporium/";

/// The global ID of row `id` of kind `kind`.
pub fn encode(kind: Kind, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{}/{id}", kind.name()))
}

/// Decodes a global ID into its kind and (positive) row id.
pub fn decode(id: &str) -> Option<(Kind, i64)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
    let (kind, row) = text.strip_prefix(PREFIX)?.split_once('/')?;
    let kind = Kind::from_name(kind)?;
    let row = row.parse::<i64>().ok().filter(|n| *n > 0)?;
    Some((kind, row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = encode(Kind::Product, 42);
        assert_eq!(decode(&id), Some((Kind::Product, 42)));
        for bad in [
            "",
            "42",
            "!!!",
            &URL_SAFE_NO_PAD.encode("gid://emporium/Product/-1"),
            &URL_SAFE_NO_PAD.encode("gid://emporium/Invoice/1"),
            &URL_SAFE_NO_PAD.encode("gid://other/Product/1"),
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
