//! Payment gateway webhooks: `POST /webhooks/payments/{gateway}`.
//!
//! The raw body and headers go to the gateway's verifier (for Stripe and the
//! test gateway, `Stripe-Signature`); an authentic event is applied once.
//! Answers: 200 when applied, already seen or not relevant (so the gateway
//! stops retrying); 409 for a payment not known (yet), so the gateway
//! retries; 400 for a delivery that is not authentic; 404 for a gateway that
//! is not enabled; 500 when storage or the gateway failed (it retries later).

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use chrono::Utc;

use super::HttpState;
use crate::domain::checkout::webhooks::{self, Handled};

/// Handles one webhook delivery.
pub async fn webhook(
    State(state): State<HttpState>,
    Path(gateway): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let Some(g) = state.app.gateways.get(&gateway) else {
        return (StatusCode::NOT_FOUND, "unknown payment gateway").into_response();
    };
    match webhooks::handle(&state.app.db, g.as_ref(), &headers, &body, Utc::now()).await {
        Ok(Ok(Handled::UnknownPayment)) => (
            // Not recorded: the gateway retries, and the payment may exist by then.
            StatusCode::CONFLICT,
            "unknown payment; retry later",
        )
            .into_response(),
        Ok(Ok(handled)) => {
            let text = match handled {
                Handled::Applied { .. } => "applied",
                Handled::Duplicate => "duplicate",
                Handled::Returned { .. } => "returned",
                Handled::Ignored | Handled::UnknownPayment => "ignored",
            };
            tracing::info!(gateway, outcome = text, "payment webhook");
            (StatusCode::OK, text).into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!(gateway, error = %e, "payment webhook refused");
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
        Err(e) => {
            tracing::error!(gateway, error = %e, "payment webhook failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
