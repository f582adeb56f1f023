//! The `test` gateway: every documented token, idempotency, the payment
//! lifecycle and its signed webhooks.

use std::sync::Arc;

use super::{TestResult, now, rejected_code, request};
use crate::domain::{
    money::Currency,
    payments::{
        Authorization, CaptureMode, DeclineCode, GatewayError, PaymentGateway, RefundStatus,
        TestGateway, WebhookEventKind,
    },
};

const SECRET: &str = "whsec_test";

fn gateway() -> TestGateway {
    TestGateway::new(SECRET)
}

/// Authorizes 19.99 USD with `token`, returning the outcome.
async fn authorize(
    gateway: &TestGateway,
    token: &str,
    capture: CaptureMode,
) -> Result<Authorization, GatewayError> {
    gateway.authorize(&request(token, capture)).await
}

/// The reference of an outcome that must have one.
fn reference(outcome: &Authorization) -> String {
    match outcome.reference() {
        Some(reference) => reference.to_owned(),
        None => panic!("no reference in {outcome:?}"),
    }
}

#[tokio::test]
async fn visa_and_success_tokens_authorize() -> TestResult {
    let gateway = gateway();
    assert_eq!(gateway.code(), "test");
    for token in ["tok_visa", "tok_success"] {
        for (capture, captured) in [(CaptureMode::Automatic, true), (CaptureMode::Manual, false)] {
            let outcome = authorize(&gateway, token, capture).await?;
            match outcome {
                Authorization::Authorized {
                    reference,
                    amount_minor,
                    captured: was_captured,
                } => {
                    assert!(reference.starts_with("test_pi_"), "{reference}");
                    assert_eq!(reference.len(), "test_pi_".len() + 32);
                    assert_eq!(amount_minor, 1999);
                    assert_eq!(was_captured, captured);
                }
                other => panic!("{token}: {other:?}"),
            }
        }
    }
    assert_eq!(gateway.authorizations(), 4);
    Ok(())
}

#[tokio::test]
async fn decline_tokens_decline_with_their_code() -> TestResult {
    let gateway = gateway();
    for (token, expected) in [
        ("tok_decline", DeclineCode::CardDeclined),
        ("tok_insufficient_funds", DeclineCode::InsufficientFunds),
        ("tok_expired_card", DeclineCode::ExpiredCard),
        ("tok_incorrect_cvc", DeclineCode::IncorrectCvc),
        ("tok_processing_error", DeclineCode::ProcessingError),
    ] {
        match authorize(&gateway, token, CaptureMode::Automatic).await? {
            Authorization::Declined {
                reference,
                code,
                message,
            } => {
                assert_eq!(code, expected, "{token}");
                assert!(reference.is_some_and(|r| r.starts_with("test_pi_")));
                assert!(!message.is_empty());
            }
            other => panic!("{token}: {other:?}"),
        }
    }
    assert_eq!(gateway.authorizations(), 5);
    Ok(())
}

#[tokio::test]
async fn an_unknown_token_is_declined_with_the_list_of_tokens() -> TestResult {
    let gateway = gateway();
    match authorize(&gateway, "4242424242424242", CaptureMode::Automatic).await? {
        Authorization::Declined {
            reference: None,
            code: DeclineCode::Other(code),
            message,
        } => {
            assert_eq!(code, "invalid_token");
            assert!(message.contains("tok_visa"), "{message}");
            assert!(!message.contains("4242"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn the_gateway_error_token_fails_retryably_and_records_nothing() -> TestResult {
    let gateway = gateway();
    let req = request("tok_gateway_error", CaptureMode::Automatic);
    for _ in 0..2 {
        match gateway.authorize(&req).await {
            Err(err) => assert!(err.is_retryable(), "{err:?}"),
            Ok(outcome) => panic!("{outcome:?}"),
        }
    }
    assert_eq!(gateway.authorizations(), 0);
    Ok(())
}

#[tokio::test]
async fn the_same_idempotency_key_is_the_same_authorization() -> TestResult {
    let gateway = Arc::new(gateway());
    let req = request("tok_visa", CaptureMode::Manual);
    let first = gateway.authorize(&req).await?;
    assert_eq!(gateway.authorize(&req).await?, first);

    // Concurrent retries wait for the first and get its answer.
    let retries: Vec<_> = (0..8)
        .map(|_| {
            let (gateway, req) = (Arc::clone(&gateway), req.clone());
            tokio::spawn(async move { gateway.authorize(&req).await })
        })
        .collect();
    for retry in retries {
        assert_eq!(retry.await??, first);
    }
    assert_eq!(gateway.authorizations(), 1);
    // Every call is counted apart: ten asked, one authorization made.
    assert_eq!(gateway.authorize_calls(), 10);

    // Declines are replayed too.
    let decline = request("tok_decline", CaptureMode::Manual);
    let declined = gateway.authorize(&decline).await?;
    assert_eq!(gateway.authorize(&decline).await?, declined);
    assert_eq!(gateway.authorizations(), 2);

    // A new key is a new payment.
    let other = gateway
        .authorize(&request("tok_visa", CaptureMode::Manual))
        .await?;
    assert_ne!(reference(&other), reference(&first));
    assert_eq!(gateway.authorizations(), 3);
    Ok(())
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused() -> TestResult {
    let gateway = gateway();
    let req = request("tok_visa", CaptureMode::Manual);
    gateway.authorize(&req).await?;
    let mut changed = req.clone();
    changed.amount_minor += 1;
    assert_eq!(
        rejected_code(gateway.authorize(&changed).await),
        "idempotency_key_reused"
    );
    assert_eq!(gateway.authorizations(), 1);
    Ok(())
}

#[tokio::test]
async fn invalid_requests_are_refused() {
    let gateway = gateway();
    let mut req = request("tok_visa", CaptureMode::Manual);
    req.amount_minor = 0;
    assert_eq!(
        rejected_code(gateway.authorize(&req).await),
        "invalid_amount"
    );
    let mut req = request("tok_visa", CaptureMode::Manual);
    req.idempotency_key.clear();
    assert_eq!(
        rejected_code(gateway.authorize(&req).await),
        "idempotency_key_missing"
    );
    assert_eq!(
        rejected_code(
            gateway
                .capture("test_pi_none", 1, Currency::USD, "k", true)
                .await
        ),
        "resource_missing"
    );
    assert_eq!(gateway.authorizations(), 0);
    assert_eq!(gateway.authorize_calls(), 2, "refused calls count as calls");
}

#[tokio::test]
async fn an_authorization_is_captured_once_up_to_its_amount() -> TestResult {
    let gateway = gateway();
    let pi = reference(&authorize(&gateway, "tok_visa", CaptureMode::Manual).await?);
    assert_eq!(
        rejected_code(gateway.capture(&pi, 2000, Currency::USD, "c0", true).await),
        "amount_too_large"
    );
    assert_eq!(
        rejected_code(gateway.capture(&pi, 1000, Currency::EUR, "c1", true).await),
        "currency_mismatch"
    );
    let capture = gateway
        .capture(&pi, 1500, Currency::USD, "c2", true)
        .await?;
    assert_eq!(
        (capture.reference.as_str(), capture.amount_minor),
        (pi.as_str(), 1500)
    );
    // A retry replays; a second capture is refused.
    assert_eq!(
        gateway
            .capture(&pi, 1500, Currency::USD, "c2", true)
            .await?,
        capture
    );
    assert_eq!(
        rejected_code(gateway.capture(&pi, 400, Currency::USD, "c3", true).await),
        "payment_intent_unexpected_state"
    );
    // What was captured can be refunded, no more.
    let refund = gateway.refund(&pi, 1000, Currency::USD, "r1").await?;
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert!(refund.id.starts_with("test_re_"));
    assert_eq!(
        gateway.refund(&pi, 1000, Currency::USD, "r1").await?,
        refund
    );
    assert_eq!(
        rejected_code(gateway.refund(&pi, 501, Currency::USD, "r2").await),
        "amount_too_large"
    );
    gateway.refund(&pi, 500, Currency::USD, "r3").await?;
    Ok(())
}

#[tokio::test]
async fn a_void_releases_an_authorization() -> TestResult {
    let gateway = gateway();
    let pi = reference(&authorize(&gateway, "tok_visa", CaptureMode::Manual).await?);
    gateway.void(&pi, "v1").await?;
    gateway.void(&pi, "v1").await?;
    assert_eq!(
        rejected_code(gateway.void(&pi, "v2").await),
        "payment_intent_unexpected_state"
    );
    assert_eq!(
        rejected_code(gateway.capture(&pi, 1999, Currency::USD, "c1", true).await),
        "payment_intent_unexpected_state"
    );

    // A sale cannot be voided, only refunded; an authorization not yet
    // captured cannot be refunded.
    let sale = reference(&authorize(&gateway, "tok_visa", CaptureMode::Automatic).await?);
    assert_eq!(
        rejected_code(gateway.void(&sale, "v3").await),
        "payment_intent_unexpected_state"
    );
    let held = reference(&authorize(&gateway, "tok_visa", CaptureMode::Manual).await?);
    assert_eq!(
        rejected_code(gateway.refund(&held, 1, Currency::USD, "r1").await),
        "payment_intent_unexpected_state"
    );
    Ok(())
}

#[tokio::test]
async fn a_3ds_sale_completes_by_signed_webhook() -> TestResult {
    let gateway = gateway();
    let outcome = authorize(&gateway, "tok_3ds", CaptureMode::Automatic).await?;
    let pi = match &outcome {
        Authorization::RequiresAction {
            reference,
            client_secret: Some(secret),
            next_action_url: None,
        } => {
            assert!(secret.starts_with(&format!("{reference}_secret_")));
            reference.clone()
        }
        other => panic!("{other:?}"),
    };
    // Nothing to capture or refund until the customer has acted.
    assert_eq!(
        rejected_code(gateway.refund(&pi, 1, Currency::USD, "r0").await),
        "payment_intent_unexpected_state"
    );

    let delivery = gateway.complete_action(&pi, true, now())?;
    let event = gateway.verify_webhook(&delivery.headers(), &delivery.body, now())?;
    assert!(event.id.starts_with("evt_test_"));
    assert_eq!(
        event.kind,
        WebhookEventKind::PaymentSucceeded {
            reference: pi.clone(),
            amount_minor: 1999,
        }
    );
    assert_eq!(
        rejected_code(gateway.complete_action(&pi, true, now())),
        "payment_intent_unexpected_state"
    );
    gateway.refund(&pi, 1999, Currency::USD, "r1").await?;
    assert_eq!(gateway.authorizations(), 1);
    Ok(())
}

#[tokio::test]
async fn a_3ds_authorization_becomes_capturable() -> TestResult {
    let gateway = gateway();
    let pi = reference(&authorize(&gateway, "tok_3ds", CaptureMode::Manual).await?);
    let delivery = gateway.complete_action(&pi, true, now())?;
    assert_eq!(
        gateway
            .verify_webhook(&delivery.headers(), &delivery.body, now())?
            .kind,
        WebhookEventKind::PaymentAuthorized {
            reference: pi.clone(),
            amount_minor: 1999,
        }
    );
    gateway
        .capture(&pi, 1999, Currency::USD, "c1", true)
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_failed_3ds_fails_by_signed_webhook() -> TestResult {
    let gateway = gateway();
    let pi = reference(&authorize(&gateway, "tok_3ds", CaptureMode::Automatic).await?);
    let delivery = gateway.complete_action(&pi, false, now())?;
    assert_eq!(
        gateway
            .verify_webhook(&delivery.headers(), &delivery.body, now())?
            .kind,
        WebhookEventKind::PaymentFailed {
            reference: pi.clone(),
            code: DeclineCode::Other("payment_intent_authentication_failure".to_owned()),
        }
    );
    // A payment awaiting action can also be abandoned.
    let other = reference(&authorize(&gateway, "tok_3ds", CaptureMode::Automatic).await?);
    gateway.void(&other, "v1").await?;
    Ok(())
}

#[tokio::test]
async fn deliveries_are_signed_with_the_gateways_secret() -> TestResult {
    let gateway = gateway();
    let pi = reference(&authorize(&gateway, "tok_3ds", CaptureMode::Automatic).await?);
    let delivery = gateway.complete_action(&pi, true, now())?;
    let headers = delivery.headers();
    assert_eq!(
        headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    assert!(delivery.signature.starts_with("t=1700000000,v1="));
    assert!(
        TestGateway::new("whsec_other")
            .verify_webhook(&headers, &delivery.body, now())
            .is_err()
    );
    Ok(())
}
