//! What a notification template is rendered with: the shop, the order
//! with its lines and addresses, and the fulfilment, refund or
//! cancellation the mail is about. Amounts are formatted with their
//! currency (`"12.50 EUR"`).

use chrono::{DateTime, Utc};
use entity::{
    customer, fulfillment, fulfillment_line, notification, order_line, refund, shop_order,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::Kind;
use crate::domain::{
    checkout::orders,
    error::DomainResult,
    identity::customer::Address,
    money::{Currency, Money},
};

/// Everything a template sees.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    /// The shop.
    pub shop: Shop,
    /// The order.
    pub order: OrderView,
    /// The fulfilment (shipped and delivered mails).
    pub fulfillment: Option<FulfillmentView>,
    /// The refund (refunded mails).
    pub refund: Option<RefundView>,
    /// The cancellation (cancelled mails).
    pub cancellation: Option<CancellationView>,
}

/// The shop.
#[derive(Debug, Clone, Serialize)]
pub struct Shop {
    /// Its name (the display name of `EMPORIUM_MAIL_FROM`).
    pub name: String,
}

/// An order as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    /// `#1001`.
    pub name: String,
    /// `1001`.
    pub number: i64,
    /// The buyer's email.
    pub email: String,
    /// The buyer's name: the account's, else the shipping address's (may
    /// be empty).
    pub customer_name: String,
    /// When it was placed (RFC 3339).
    pub created_at: String,
    /// Currency code.
    pub currency: String,
    /// Sum of the lines.
    pub subtotal: String,
    /// Every discount.
    pub discounts: String,
    /// Shipping.
    pub shipping: String,
    /// Tax.
    pub tax: String,
    /// Total.
    pub total: String,
    /// Shipping method name.
    pub shipping_method: Option<String>,
    /// Shipping address.
    pub shipping_address: Option<AddressView>,
    /// Lines.
    pub lines: Vec<LineView>,
}

/// An address as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct AddressView {
    /// Full name.
    pub name: String,
    /// Address lines, one per line (street, city and postcode, country).
    pub lines: Vec<String>,
}

/// An order line.
#[derive(Debug, Clone, Serialize)]
pub struct LineView {
    /// Product title.
    pub title: String,
    /// Variant title.
    pub variant_title: String,
    /// SKU.
    pub sku: String,
    /// Units.
    pub quantity: i32,
    /// Line total.
    pub total: String,
}

/// A fulfilment.
#[derive(Debug, Clone, Serialize)]
pub struct FulfillmentView {
    /// Carrier code (`manual`, `easypost` ...).
    pub carrier: Option<String>,
    /// Tracking number.
    pub tracking_number: Option<String>,
    /// Tracking link.
    pub tracking_url: Option<String>,
    /// Shipment status (`shipped`, `delivered` ...).
    pub status: String,
    /// What it carries.
    pub lines: Vec<ShippedLine>,
}

/// Units of a line in a fulfilment.
#[derive(Debug, Clone, Serialize)]
pub struct ShippedLine {
    /// Product title.
    pub title: String,
    /// Variant title.
    pub variant_title: String,
    /// Units.
    pub quantity: i32,
}

/// A refund.
#[derive(Debug, Clone, Serialize)]
pub struct RefundView {
    /// Paid back.
    pub amount: String,
    /// Where to: `original` or `store_credit`.
    pub destination: String,
    /// The note staff gave, if any.
    pub note: Option<String>,
}

/// A cancellation.
#[derive(Debug, Clone, Serialize)]
pub struct CancellationView {
    /// Why, as staff told it.
    pub reason: String,
}

fn amount(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).to_string()
}

fn address_view(json: Option<&str>) -> Option<AddressView> {
    let a: Address = serde_json::from_str(json?).ok()?;
    let name = [a.first_name.as_deref(), a.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let mut lines = vec![a.address1.clone()];
    lines.extend(a.address2.clone().filter(|s| !s.trim().is_empty()));
    lines.push(
        [a.zip.as_deref(), Some(a.city.as_str())]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
    );
    lines.push(a.country_code.clone());
    Some(AddressView { name, lines })
}

fn order_view(
    row: &shop_order::Model,
    lines: &[order_line::Model],
    account_name: Option<String>,
) -> OrderView {
    let currency: Currency = row.currency_code.parse().unwrap_or(Currency::USD);
    let shipping_address = address_view(row.shipping_address.as_deref());
    let customer_name = account_name
        .filter(|n| !n.trim().is_empty())
        .or_else(|| shipping_address.as_ref().map(|a| a.name.clone()))
        .unwrap_or_default();
    OrderView {
        name: orders::number(row.id),
        number: row.id + orders::NUMBER_OFFSET,
        email: row.email.clone(),
        customer_name,
        created_at: row.created_at.to_rfc3339(),
        currency: row.currency_code.clone(),
        subtotal: amount(row.subtotal_minor, currency),
        discounts: amount(row.discounts_minor, currency),
        shipping: amount(row.shipping_minor, currency),
        tax: amount(row.tax_minor, currency),
        total: amount(row.total_minor, currency),
        shipping_method: row.shipping_method_name.clone(),
        shipping_address,
        lines: lines
            .iter()
            .map(|l| LineView {
                title: l.product_title.clone(),
                variant_title: l.variant_title.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
                total: amount(l.total_minor, currency),
            })
            .collect(),
    }
}

/// The recipient and context of a queued notification, or `None` when
/// there is nothing to send (the order, fulfilment or refund is gone, or
/// the order has no email).
pub async fn load(
    db: &impl ConnectionTrait,
    n: &notification::Model,
    shop: &str,
) -> DomainResult<Option<(String, Context)>> {
    let Some(kind) = super::queue::kind_of(n) else {
        return Ok(None);
    };
    let Some(row) = orders::get(db, n.order_id).await? else {
        return Ok(None);
    };
    if row.email.trim().is_empty() {
        return Ok(None);
    }
    let lines = orders::lines(db, row.id).await?;
    let account_name = match row.customer_id {
        Some(id) => customer::Entity::find_by_id(id).one(db).await?.map(|c| {
            [c.first_name, c.last_name]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        }),
        None => None,
    };
    let currency: Currency = row.currency_code.parse().unwrap_or(Currency::USD);
    let mut ctx = Context {
        shop: Shop {
            name: shop.to_owned(),
        },
        order: order_view(&row, &lines, account_name),
        fulfillment: None,
        refund: None,
        cancellation: None,
    };
    match kind {
        Kind::OrderConfirmation => {}
        Kind::OrderShipped | Kind::OrderDelivered => {
            let Some(f) = fulfillment::Entity::find_by_id(n.subject_id.unwrap_or_default())
                .one(db)
                .await?
            else {
                return Ok(None);
            };
            let shipped = fulfillment_line::Entity::find()
                .filter(fulfillment_line::Column::FulfillmentId.eq(f.id))
                .order_by_asc(fulfillment_line::Column::Id)
                .all(db)
                .await?;
            ctx.fulfillment = Some(FulfillmentView {
                carrier: f.carrier,
                tracking_number: f.tracking_number,
                tracking_url: f.tracking_url,
                status: f.status,
                lines: shipped
                    .iter()
                    .filter_map(|s| {
                        let l = lines.iter().find(|l| l.id == s.order_line_id)?;
                        Some(ShippedLine {
                            title: l.product_title.clone(),
                            variant_title: l.variant_title.clone(),
                            quantity: s.quantity,
                        })
                    })
                    .collect(),
            });
        }
        Kind::OrderRefunded => {
            let Some(r) = refund::Entity::find_by_id(n.subject_id.unwrap_or_default())
                .one(db)
                .await?
            else {
                return Ok(None);
            };
            ctx.refund = Some(RefundView {
                amount: amount(r.amount_minor, currency),
                destination: r.destination,
                note: r.note,
            });
        }
        Kind::OrderCancelled => {
            ctx.cancellation = Some(CancellationView {
                reason: row.cancel_reason.clone().unwrap_or_default(),
            });
        }
    }
    Ok(Some((row.email.clone(), ctx)))
}

/// Made-up data every template is checked against before it is saved: a
/// template that does not render with it is refused.
pub fn sample(shop: &str) -> Context {
    let at: DateTime<Utc> = DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
    Context {
        shop: Shop {
            name: shop.to_owned(),
        },
        order: OrderView {
            name: "#1001".into(),
            number: 1001,
            email: "ada@example.com".into(),
            customer_name: "Ada Lovelace".into(),
            created_at: at.to_rfc3339(),
            currency: "EUR".into(),
            subtotal: "40.00 EUR".into(),
            discounts: "4.00 EUR".into(),
            shipping: "5.00 EUR".into(),
            tax: "7.41 EUR".into(),
            total: "41.00 EUR".into(),
            shipping_method: Some("Standard".into()),
            shipping_address: Some(AddressView {
                name: "Ada Lovelace".into(),
                lines: vec![
                    "1 Analytical Row".into(),
                    "10115 Berlin".into(),
                    "DE".into(),
                ],
            }),
            lines: vec![LineView {
                title: "Linen shirt".into(),
                variant_title: "M / Blue".into(),
                sku: "SHIRT-M-BLUE".into(),
                quantity: 2,
                total: "36.00 EUR".into(),
            }],
        },
        fulfillment: Some(FulfillmentView {
            carrier: Some("manual".into()),
            tracking_number: Some("1Z999".into()),
            tracking_url: Some("https://track.example/1Z999".into()),
            status: "shipped".into(),
            lines: vec![ShippedLine {
                title: "Linen shirt".into(),
                variant_title: "M / Blue".into(),
                quantity: 2,
            }],
        }),
        refund: Some(RefundView {
            amount: "18.00 EUR".into(),
            destination: "original".into(),
            note: Some("One shirt came back".into()),
        }),
        cancellation: Some(CancellationView {
            reason: "customer".into(),
        }),
    }
}
