//! GraphQL types and helpers every feature module shares: the user errors
//! of mutation payloads and their stable codes, the [`Payload`] of a domain
//! use case as a payload, [`Money`], and the audit actor of a request.
//! Feature modules import these from here, never from one another.

use async_graphql::{Context, Enum, SimpleObject};

use crate::{
    domain::{
        audit::Actor,
        error::{UserError as DomainUserError, UserErrorCode as DomainCode},
        money::{Currency, Money as DomainMoney},
    },
    graphql::{
        ContextExt,
        error::ApiResult,
        scalars::{CurrencyCode, Decimal},
    },
};

/// Stable codes of input mistakes.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "DomainCode")]
pub enum UserErrorCode {
    /// A required value is empty.
    Blank,
    /// The value does not have the expected form.
    Invalid,
    /// The value must be unique and is already used.
    Taken,
    /// The value is too short.
    TooShort,
    /// The value is too long.
    TooLong,
    /// The password is too easy to guess.
    PasswordTooWeak,
    /// Email and password do not match an account that can log in.
    InvalidCredentials,
    /// The current password given is wrong.
    WrongPassword,
    /// A one-time token is unknown, used or expired.
    TokenInvalid,
    /// The object does not exist or is not yours.
    NotFound,
    /// Not enough stock; `quantityAvailable` says how many units are left.
    OutOfStock,
    /// The variant does not exist or is not for sale in this channel.
    VariantNotFound,
    /// A discount or gift card code is unknown, expired or used up.
    InvalidCode,
    /// A gift card or store credit is in another currency than the cart.
    CurrencyMismatch,
    /// Checkout needs an email.
    MissingEmail,
    /// Checkout needs a shipping address for shippable lines.
    MissingShippingAddress,
    /// Checkout needs a shipping method for shippable lines.
    MissingShippingMethod,
    /// The shipping method is not offered for this cart.
    InvalidShippingMethod,
    /// The cart has no lines.
    EmptyCart,
    /// The cart was already checked out.
    CartCompleted,
    /// The payment was declined by the gateway.
    PaymentDeclined,
    /// The payment gateway could not be reached or failed; nothing was charged.
    PaymentFailed,
    /// The idempotency key was used before with a different request.
    IdempotencyKeyReused,
    /// The first request with this idempotency key is still running; retry later.
    RequestInProgress,
    /// The buyer (email, customer or client address) already has as many
    /// orders awaiting payment as the shop allows
    /// (`EMPORIUM_UNPAID_ORDERS_PER_*`); pay for one, or wait until it
    /// expires. A payment secured at checkout (a card) is not refused.
    TooManyUnpaidOrders,
    /// A webhook URL is not an absolute http or https URL.
    InvalidUrl,
    /// A webhook URL's host is not on the public internet: a loopback,
    /// private, link-local, CGNAT, multicast or unspecified address, or
    /// `localhost` (unless `EMPORIUM_WEBHOOK_ALLOW_PRIVATE` is set).
    PrivateUrl,
    /// A webhook topic is not one of the event topics.
    UnknownTopic,
    /// A country is not an assigned ISO 3166-1 alpha-2 code (`GB`, not `UK`).
    InvalidCountryCode,
    /// A number is outside its allowed range: a negative amount, a tax rate
    /// below 0 or above 1 (100 %).
    OutOfRange,
    /// The order is not open (awaiting payment, cancelled or completed):
    /// nothing can be fulfilled or un-fulfilled.
    OrderNotOpen,
    /// More units than the line has left to ship (ordered, less fulfilled
    /// and cancelled).
    OverFulfillment,
    /// Every unit of the order is already fulfilled or cancelled.
    NothingToFulfill,
    /// The stock location does not have the units (its holds for the order
    /// and its free stock): ship from another location, or split the
    /// fulfilment across locations.
    LocationStockInsufficient,
    /// The fulfilment was cancelled.
    FulfillmentCancelled,
    /// The fulfilment was delivered; it cannot be cancelled.
    FulfillmentDelivered,
    /// The carrier could not sell a label (no label carrier configured, no
    /// rate, a refused address, the carrier unreachable); nothing was
    /// written.
    LabelPurchaseFailed,
    /// The order is cancelled (or its cancellation is under way).
    OrderCancelled,
    /// Every item of the order was fulfilled: nothing is left to cancel.
    AlreadyFulfilled,
    /// An amount above what is left for it (to capture, to refund, of
    /// shipping), or more units than are left to refund.
    AmountTooLarge,
    /// The order has no open authorization (or nothing due) to capture.
    NothingToCapture,
    /// The order was not paid with the `manual` gateway
    /// (`orderMarkAsPaid` records bank transfers and cash).
    PaymentNotManual,
    /// The payment gateway failed or refused the call; for a capture
    /// nothing was recorded, for a refund see its `status`.
    GatewayFailed,
    /// The operation needs the order's customer (a guest order has no store
    /// credit account).
    CustomerRequired,
    /// Only a FAILED refund can be retried.
    RefundNotRetryable,
    /// Captured money must be refunded (or a FAILED refund retried) before
    /// the order can be cancelled.
    RefundRequired,
}

/// A mistake in a mutation's input; the mutation changed nothing.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    /// Path of the input field at fault, e.g. `["input", "email"]`.
    pub field: Option<Vec<String>>,
    /// Stable code.
    pub code: UserErrorCode,
    /// What is wrong, for people.
    pub message: String,
}

impl From<DomainUserError> for UserError {
    fn from(e: DomainUserError) -> Self {
        Self {
            field: (!e.field.is_empty()).then_some(e.field),
            code: e.code.into(),
            message: e.message,
        }
    }
}

/// Converts domain user errors.
pub fn user_errors(errors: Vec<DomainUserError>) -> Vec<UserError> {
    errors.into_iter().map(Into::into).collect()
}

/// Domain user errors of a mutation whose fields travel in one `input`
/// argument, with their paths in the mutation's arguments: the domain
/// names a field of its input (`["variants", "2", "sku"]`, now
/// `["input", "variants", "2", "sku"]`) or an argument of its own, kept as
/// it is: the object acted on (`["id"]`) or the `idempotencyKey`.
pub fn under_input(errors: Vec<DomainUserError>) -> Vec<DomainUserError> {
    errors
        .into_iter()
        .map(|mut e| {
            if !e.field.is_empty() && e.field != ["id"] && e.field != ["idempotencyKey"] {
                e.field.insert(0, "input".to_owned());
            }
            e
        })
        .collect()
}

/// A mutation payload built from a domain [`Outcome`](crate::domain::error::Outcome): the object on success,
/// the user errors otherwise.
pub trait Payload<T>: Default {
    /// The payload of a success.
    fn success(item: T) -> Self;
    /// The payload of a refusal.
    fn failure(errors: Vec<UserError>) -> Self;
    /// The payload of either.
    fn from_outcome(result: Result<T, Vec<DomainUserError>>) -> Self {
        match result {
            Ok(item) => Self::success(item),
            Err(e) => Self::failure(user_errors(e)),
        }
    }
}

/// Implements [`Payload`] for a payload holding one optional `field`.
macro_rules! payload {
    ($payload:ty, $model:ty, $field:ident, $wrap:expr) => {
        impl Payload<$model> for $payload {
            fn success(item: $model) -> Self {
                Self {
                    $field: Some($wrap(item)),
                    ..Default::default()
                }
            }
            fn failure(errors: Vec<UserError>) -> Self {
                Self {
                    user_errors: errors,
                    ..Default::default()
                }
            }
        }
    };
}

pub(crate) use payload;

/// An amount of money in a currency.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct Money {
    /// Decimal amount at the currency's precision, as a string (`"19.99"`).
    pub amount: Decimal,
    /// The currency.
    pub currency_code: CurrencyCode,
}

impl From<DomainMoney> for Money {
    fn from(m: DomainMoney) -> Self {
        Self {
            amount: Decimal(m.amount()),
            currency_code: m.currency().into(),
        }
    }
}

/// The money of `minor` units of `currency`.
pub fn money(minor: i64, currency: Currency) -> Money {
    DomainMoney::from_minor(minor, currency).into()
}

/// The audit actor behind the request: the staff user or partner token.
pub async fn actor(ctx: &Context<'_>) -> ApiResult<Actor> {
    Ok(ctx.principal()?.actor(&ctx.state()?.db).await?)
}
