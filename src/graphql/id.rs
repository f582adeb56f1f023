//! Opaque global IDs for the Relay `Node` interface.
//!
//! An ID is the URL-safe base64 of `gid://emporium/<Type>/<row id>`: opaque to
//! clients (they must not build them), but stable and decodable by `node(id:)`.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::error::{ApiResult, ErrorCode};

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
}

impl Kind {
    fn name(self) -> &'static str {
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
        }
    }

    fn from_name(s: &str) -> Option<Self> {
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
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

const PREFIX: &str = "gid://emporium/";

/// The global ID of row `id` of kind `kind`.
pub fn encode(kind: Kind, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{PREFIX}{}/{id}", kind.name())))
}

/// Decodes any global ID into its kind and row id.
pub fn decode(id: &ID) -> ApiResult<(Kind, i64)> {
    let invalid = || ErrorCode::BadUserInput.error(format!("`{}` is not a valid ID", id.as_str()));
    let bytes = URL_SAFE_NO_PAD.decode(id.as_str()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let rest = text.strip_prefix(PREFIX).ok_or_else(invalid)?;
    let (kind, row) = rest.split_once('/').ok_or_else(invalid)?;
    let kind = Kind::from_name(kind).ok_or_else(invalid)?;
    let row = row
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(invalid)?;
    Ok((kind, row))
}

/// Decodes a global ID that must be of kind `expected`.
pub fn decode_as(expected: Kind, id: &ID) -> ApiResult<i64> {
    match decode(id)? {
        (kind, row) if kind == expected => Ok(row),
        _ => Err(ErrorCode::BadUserInput.error(format!(
            "`{}` is not the ID of a {}",
            id.as_str(),
            expected.name()
        ))),
    }
}

/// Decodes global IDs that must all be of kind `expected`.
pub fn decode_all(expected: Kind, ids: &[ID]) -> ApiResult<Vec<i64>> {
    ids.iter().map(|id| decode_as(expected, id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = encode(Kind::Product, 42);
        assert!(matches!(decode(&id), Ok((Kind::Product, 42))));
        assert!(decode_as(Kind::Collection, &id).is_err());
        for bad in [
            "",
            "42",
            "!!!",
            &URL_SAFE_NO_PAD.encode("gid://emporium/Product/-1"),
            &URL_SAFE_NO_PAD.encode("gid://emporium/Invoice/1"),
            &URL_SAFE_NO_PAD.encode("gid://other/Product/1"),
        ] {
            assert!(decode(&ID(bad.to_string())).is_err(), "{bad}");
        }
    }
}
