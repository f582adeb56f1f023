//! Webhook signatures (Stripe's scheme) and event bodies.

use http::{HeaderMap, HeaderValue};
use serde_json::json;

use super::{TestResult, now};
use crate::domain::payments::{
    DeclineCode, ManualGateway, PaymentGateway, StripeConfig, StripeGateway, TestGateway,
    WebhookError, WebhookEvent, WebhookEventKind, signature, stripe_event_json,
};

const SECRET: &str = "whsec_test_secret";
const BODY: &[u8] = br#"{"id":"evt_1"}"#;

fn headers(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert("Stripe-Signature", value);
    }
    headers
}

fn verify(header: &str, body: &[u8]) -> Result<(), WebhookError> {
    signature::verify(SECRET, &headers(header), body, now())
}

#[test]
fn sign_matches_an_independent_hmac() {
    // HMAC-SHA256("whsec_test_secret", "1700000000.{\"id\":\"evt_1\"}"),
    // computed with another implementation.
    assert_eq!(
        signature::sign(SECRET, 1_700_000_000, BODY),
        "t=1700000000,v1=248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a"
    );
}

#[test]
fn a_valid_signature_is_accepted() {
    let header = signature::sign(SECRET, now().timestamp(), BODY);
    assert_eq!(verify(&header, BODY), Ok(()));
}

#[test]
fn a_tampered_body_is_refused() {
    let header = signature::sign(SECRET, now().timestamp(), BODY);
    assert_eq!(
        verify(&header, br#"{"id":"evt_2"}"#),
        Err(WebhookError::BadSignature)
    );
}

#[test]
fn a_signature_by_another_secret_is_refused() {
    let header = signature::sign("whsec_other", now().timestamp(), BODY);
    assert_eq!(verify(&header, BODY), Err(WebhookError::BadSignature));
}

#[test]
fn timestamps_outside_five_minutes_are_refused_either_way() {
    let t = now().timestamp();
    for (timestamp, accepted) in [
        (t - 300, true),
        (t + 300, true),
        (t - 301, false),
        (t + 301, false),
        (t - 86_400, false),
    ] {
        let result = verify(&signature::sign(SECRET, timestamp, BODY), BODY);
        if accepted {
            assert_eq!(result, Ok(()), "t{:+}", timestamp - t);
        } else {
            assert_eq!(
                result,
                Err(WebhookError::TimestampOutOfTolerance { timestamp })
            );
        }
    }
    // A forged signature is refused as such, whatever its age.
    let forged = signature::sign("whsec_other", t - 1000, BODY);
    assert_eq!(verify(&forged, BODY), Err(WebhookError::BadSignature));
}

#[test]
fn a_missing_header_is_refused() {
    assert_eq!(
        signature::verify(SECRET, &HeaderMap::new(), BODY, now()),
        Err(WebhookError::MissingSignature)
    );
}

#[test]
fn malformed_headers_are_refused() {
    let good = signature::sign(SECRET, now().timestamp(), BODY);
    let v1 = good
        .split_once(",v1=")
        .map(|(_, v1)| v1)
        .unwrap_or_default();
    for header in [
        String::new(),
        "garbage".to_owned(),
        format!("v1={v1}"),
        format!("t={}", now().timestamp()),
        format!("t=soon,v1={v1}"),
        // Only other schemes: nothing to check.
        format!("t={},v0={v1}", now().timestamp()),
    ] {
        assert_eq!(
            verify(&header, BODY),
            Err(WebhookError::MalformedSignature),
            "{header}"
        );
    }
}

#[test]
fn any_one_of_several_v1_signatures_may_match() {
    let t = now().timestamp();
    let good = signature::sign(SECRET, t, BODY);
    let old = signature::sign("whsec_rolled_away", t, BODY);
    let old_v1 = old.split_once(",v1=").map(|(_, v1)| v1).unwrap_or_default();
    let good_v1 = good
        .split_once(",v1=")
        .map(|(_, v1)| v1)
        .unwrap_or_default();
    // The matching one last, among a stale one, a non-hex one and another
    // scheme; spaces after commas are tolerated.
    let header = format!("t={t}, v1={old_v1}, v1=not-hex, v0={good_v1}, v1={good_v1}");
    assert_eq!(verify(&header, BODY), Ok(()));
    // A correct signature under another scheme does not count.
    let header = format!("t={t},v0={good_v1},v1={old_v1}");
    assert_eq!(verify(&header, BODY), Err(WebhookError::BadSignature));
}

fn event(id: &str, kind: WebhookEventKind) -> WebhookEvent {
    WebhookEvent {
        id: id.to_owned(),
        kind,
    }
}

#[test]
fn events_survive_the_stripe_json_shape() -> TestResult {
    let stripe = StripeGateway::new(StripeConfig::new("sk_test_1", SECRET))?;
    let events = [
        event(
            "evt_1",
            WebhookEventKind::PaymentSucceeded {
                reference: "pi_1".to_owned(),
                amount_minor: 1999,
            },
        ),
        event(
            "evt_2",
            WebhookEventKind::PaymentAuthorized {
                reference: "pi_2".to_owned(),
                amount_minor: 500,
            },
        ),
        event(
            "evt_3",
            WebhookEventKind::PaymentFailed {
                reference: "pi_3".to_owned(),
                code: DeclineCode::InsufficientFunds,
            },
        ),
        event(
            "evt_4",
            WebhookEventKind::Refunded {
                reference: "pi_4".to_owned(),
                total_refunded_minor: 700,
            },
        ),
        event(
            "evt_5",
            WebhookEventKind::Canceled {
                reference: "pi_5".to_owned(),
            },
        ),
        event(
            "evt_6",
            WebhookEventKind::Other("customer.created".to_owned()),
        ),
    ];
    for event in events {
        let body = stripe_event_json(&event, now().timestamp()).to_string();
        let header = signature::sign(SECRET, now().timestamp(), body.as_bytes());
        let read = stripe.verify_webhook(&headers(&header), body.as_bytes(), now())?;
        assert_eq!(read, event);
    }
    Ok(())
}

/// A body as Stripe sends it, with fields this code does not read.
fn realistic(event_type: &str, object: serde_json::Value) -> Vec<u8> {
    json!({
        "id": "evt_3PabcXYZ",
        "object": "event",
        "api_version": "2024-06-20",
        "created": 1_700_000_000,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type,
        "data": { "object": object },
    })
    .to_string()
    .into_bytes()
}

fn read_stripe(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let gateway = TestGateway::new(SECRET);
    let header = signature::sign(SECRET, now().timestamp(), body);
    gateway.verify_webhook(&headers(&header), body, now())
}

#[test]
fn realistic_stripe_bodies_are_read() -> TestResult {
    let failed = realistic(
        "payment_intent.payment_failed",
        json!({
            "id": "pi_3Pabc",
            "object": "payment_intent",
            "amount": 1999,
            "amount_received": 0,
            "currency": "usd",
            "metadata": { "reference": "checkout-42" },
            "status": "requires_payment_method",
            "last_payment_error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds."
            }
        }),
    );
    assert_eq!(
        read_stripe(&failed)?,
        event(
            "evt_3PabcXYZ",
            WebhookEventKind::PaymentFailed {
                reference: "pi_3Pabc".to_owned(),
                code: DeclineCode::InsufficientFunds,
            }
        )
    );

    let refunded = realistic(
        "charge.refunded",
        json!({
            "id": "ch_3Pabc",
            "object": "charge",
            "amount": 1999,
            "amount_refunded": 1999,
            "payment_intent": "pi_3Pabc",
            "refunded": true
        }),
    );
    assert_eq!(
        read_stripe(&refunded)?.kind,
        WebhookEventKind::Refunded {
            reference: "pi_3Pabc".to_owned(),
            total_refunded_minor: 1999,
        }
    );

    // A charge made outside PaymentIntents is none of emporium's.
    let legacy = realistic(
        "charge.refunded",
        json!({ "id": "ch_1", "amount_refunded": 5, "payment_intent": null }),
    );
    assert_eq!(
        read_stripe(&legacy)?.kind,
        WebhookEventKind::Other("charge.refunded".to_owned())
    );
    Ok(())
}

#[test]
fn signed_garbage_is_unparseable() {
    for body in [
        &b"not json"[..],
        br#"{"id":"evt_1"}"#,
        br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"amount":1}}}"#,
    ] {
        assert!(
            matches!(read_stripe(body), Err(WebhookError::UnparseableBody(_))),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn gateways_check_their_own_secret() -> TestResult {
    let body = stripe_event_json(
        &event(
            "evt_1",
            WebhookEventKind::Canceled {
                reference: "pi_1".to_owned(),
            },
        ),
        now().timestamp(),
    )
    .to_string();
    let header = headers(&signature::sign(SECRET, now().timestamp(), body.as_bytes()));
    let stripe = StripeGateway::new(StripeConfig::new("sk_test_1", "whsec_other"))?;
    assert_eq!(
        stripe.verify_webhook(&header, body.as_bytes(), now()),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(
        TestGateway::new("whsec_other").verify_webhook(&header, body.as_bytes(), now()),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(
        ManualGateway::new().verify_webhook(&header, body.as_bytes(), now()),
        Err(WebhookError::Unsupported)
    );
    Ok(())
}
