//! Carrier tracking webhooks: `POST /webhooks/carriers/{carrier}`.
//!
//! The raw body and headers go to the carrier's verifier (for `easypost`,
//! `X-Hmac-Signature`); an authentic event is applied once. Answers: 200
//! when applied, already seen or nothing to change (so the carrier stops
//! retrying); 409 for a parcel no fulfilment has (yet), so the carrier
//! retries; 400 for a delivery that is not authentic (nothing changes); 404
//! for a carrier that is not enabled; 500 when storage failed (it retries
//! later).

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};

use super::HttpState;
use crate::domain::fulfillment::{Handled, handle_webhook};

/// Handles one webhook delivery.
pub async fn webhook(
    State(state): State<HttpState>,
    Path(carrier): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let Some(c) = state.app.carriers.get(&carrier) else {
        return (StatusCode::NOT_FOUND, "unknown carrier").into_response();
    };
    let now = state.app.clock.now();
    match handle_webhook(&state.app.db, c.as_ref(), &headers, &body, now).await {
        Ok(Ok(Handled::UnknownShipment)) => (
            // Not recorded: the carrier retries, and the fulfilment may exist by then.
            StatusCode::CONFLICT,
            "unknown shipment; retry later",
        )
            .into_response(),
        Ok(Ok(handled)) => {
            let text = match handled {
                Handled::Applied { .. } => "applied",
                Handled::Duplicate => "duplicate",
                Handled::Ignored | Handled::UnknownShipment => "ignored",
            };
            tracing::info!(carrier, outcome = text, "carrier webhook");
            if matches!(handled, Handled::Applied { .. }) {
                // The answer waits for the relay, like a mutation's, so
                // subscribers and caches have heard of it.
                state
                    .app
                    .relay
                    .flush(std::time::Duration::from_secs(2))
                    .await;
            }
            (StatusCode::OK, text).into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!(carrier, error = %e, "carrier webhook refused");
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
        Err(e) => {
            tracing::error!(carrier, error = %e, "carrier webhook failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
