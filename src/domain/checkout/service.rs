//! Checkout as the API calls it: with owned handles, so that a checkout,
//! once started, runs on a task of its own to its end.

use std::{net::IpAddr, sync::Arc};

use sea_orm::DatabaseConnection;

use super::{
    cart::Viewer,
    complete::{Caller, Checkout, CheckoutSettings, Completion, PaymentInput},
    keys::CheckoutKeys,
};
use crate::domain::{
    clock::Clock,
    error::{DomainError, DomainResult},
    events,
    identity::access::Principal,
    payments::Gateways,
};

impl Caller {
    /// The caller a request's principal is, from client address `ip`.
    /// Idempotency keys are the principal's; an anonymous caller's belong
    /// to the cart (see [`Checkout::complete`]).
    pub fn of(principal: &Principal, ip: Option<IpAddr>) -> Self {
        Self {
            viewer: Viewer::of(principal),
            scope: (!matches!(principal, Principal::Anonymous))
                .then(|| principal.idempotency_scope()),
            ip,
        }
    }
}

/// What a checkout needs, owned (cheap to clone).
#[derive(Clone)]
pub struct CheckoutService {
    /// The database.
    pub db: DatabaseConnection,
    /// Enabled payment gateways.
    pub gateways: Arc<Gateways>,
    /// The installation's checkout secret.
    pub keys: CheckoutKeys,
    /// Holds, caps and capture mode.
    pub settings: CheckoutSettings,
    /// The time holds and payment deadlines go by.
    pub clock: Clock,
}

impl CheckoutService {
    /// Completes the checkout of cart `token` (see [`Checkout::complete`]).
    ///
    /// It runs on a task of its own, to its end even if the caller stops
    /// waiting (the client hangs up, the request times out): dropped
    /// half-way, it could leave a payment without an order and its
    /// idempotency key claimed for ever, so a retry would never get an
    /// answer. The events it records count as the caller's (see
    /// [`events::noting`]).
    pub async fn complete(
        self,
        token: String,
        caller: Caller,
        payment: PaymentInput,
        idempotency_key: Option<String>,
    ) -> DomainResult<Completion> {
        let note = events::current_note().unwrap_or_default();
        tokio::spawn(events::noting(note, async move {
            let checkout = Checkout {
                db: &self.db,
                gateways: &self.gateways,
                keys: &self.keys,
                settings: self.settings,
                clock: &self.clock,
            };
            checkout
                .complete(&token, &caller, &payment, idempotency_key.as_deref())
                .await
        }))
        .await
        .map_err(|e| DomainError::Inconsistent(format!("the checkout task failed: {e}")))?
    }
}
