//! Tests of the payment gateways: the shared types and the registry here,
//! one module per gateway and one for webhooks.

mod manual;
mod stripe;
mod test_gateway;
mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A fixed "now" for signatures.
fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000, 0)
        .single()
        .unwrap_or_default()
}

/// An authorization of 19.99 USD with `token`.
fn request(token: &str, capture: CaptureMode) -> AuthorizeRequest {
    AuthorizeRequest {
        amount_minor: 1999,
        currency: Currency::USD,
        token: token.to_owned(),
        idempotency_key: format!("key-{}", uuid::Uuid::new_v4().simple()),
        reference: "checkout-42".to_owned(),
        capture,
    }
}

/// The `code` of a [`GatewayError::Rejected`], panicking on anything else.
fn rejected_code<T: std::fmt::Debug>(result: Result<T, GatewayError>) -> String {
    match result {
        Err(GatewayError::Rejected { code, .. }) => code,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn decline_codes_have_stable_stored_forms() {
    for code in [
        DeclineCode::CardDeclined,
        DeclineCode::InsufficientFunds,
        DeclineCode::ExpiredCard,
        DeclineCode::IncorrectCvc,
        DeclineCode::ProcessingError,
        DeclineCode::Other("lost_card".to_owned()),
    ] {
        assert_eq!(DeclineCode::from(code.as_str()), code);
        assert_eq!(code.to_string(), code.as_str());
    }
    assert_eq!(
        DeclineCode::from("generic_decline"),
        DeclineCode::CardDeclined
    );
    assert_eq!(DeclineCode::from("invalid_cvc"), DeclineCode::IncorrectCvc);
    assert_eq!(
        DeclineCode::InsufficientFunds.as_str(),
        "insufficient_funds"
    );
    assert_eq!(CaptureMode::Manual.as_str(), "manual");
    assert_eq!(RefundStatus::Pending.as_str(), "pending");
}

#[test]
fn retryable_errors_are_the_transient_ones() {
    assert!(GatewayError::Timeout.is_retryable());
    assert!(GatewayError::Transport("reset".to_owned()).is_retryable());
    assert!(
        GatewayError::Unavailable {
            status: 503,
            message: String::new()
        }
        .is_retryable()
    );
    assert!(!GatewayError::Misconfigured("key".to_owned()).is_retryable());
    assert!(!GatewayError::rejected("amount_too_large", "").is_retryable());
    assert!(!GatewayError::UnexpectedResponse("?".to_owned()).is_retryable());
}

#[test]
fn debug_output_never_shows_tokens_or_secrets() {
    let req = request("pm_card_secretish", CaptureMode::Manual);
    let shown = format!("{req:?}");
    assert!(!shown.contains("pm_card_secretish"), "{shown}");
    assert!(shown.contains("checkout-42"));

    let settings = GatewaySettings {
        manual: true,
        test_webhook_secret: Some("whsec_test_hidden".to_owned()),
        stripe: Some(StripeConfig::new("sk_test_hidden", "whsec_hidden")),
    };
    let shown = format!("{settings:?}");
    assert!(!shown.contains("hidden"), "{shown}");
}

#[test]
fn authorization_names_its_reference() {
    let declined = Authorization::Declined {
        reference: None,
        code: DeclineCode::CardDeclined,
        message: String::new(),
    };
    assert_eq!(declined.reference(), None);
    let pending = Authorization::PendingOffline {
        reference: "manual_1".to_owned(),
    };
    assert_eq!(pending.reference(), Some("manual_1"));
}

#[test]
fn registry_looks_gateways_up_by_code() -> TestResult {
    let gateways = Gateways::new(vec![
        Arc::new(TestGateway::new("whsec_test")),
        Arc::new(ManualGateway::new()),
    ])?;
    assert_eq!(gateways.codes(), vec!["manual", "test"]);
    assert_eq!(gateways.get("test").map(|g| g.code()), Some("test"));
    assert_eq!(gateways.get("manual").map(|g| g.code()), Some("manual"));
    assert!(gateways.get("stripe").is_none());
    assert!(Gateways::default().codes().is_empty());

    let twice = Gateways::new(vec![
        Arc::new(ManualGateway::new()),
        Arc::new(ManualGateway::new()),
    ]);
    assert_eq!(twice.err(), Some(DuplicateGateway("manual")));
    Ok(())
}

#[test]
fn registry_is_built_from_settings() -> TestResult {
    let settings = GatewaySettings {
        manual: true,
        test_webhook_secret: Some("whsec_test".to_owned()),
        stripe: Some(StripeConfig::new("sk_test_1", "whsec_1")),
    };
    let gateways = Gateways::from_settings(&settings)?;
    assert_eq!(gateways.codes(), vec!["manual", "stripe", "test"]);
    assert_eq!(
        format!("{gateways:?}"),
        r#"Gateways { codes: ["manual", "stripe", "test"] }"#
    );

    let only_manual = Gateways::from_settings(&GatewaySettings {
        manual: true,
        ..GatewaySettings::default()
    })?;
    assert_eq!(only_manual.codes(), vec!["manual"]);

    let broken = GatewaySettings {
        stripe: Some(StripeConfig::new("", "whsec_1")),
        ..GatewaySettings::default()
    };
    assert!(matches!(
        Gateways::from_settings(&broken),
        Err(GatewayError::Misconfigured(_))
    ));
    Ok(())
}
