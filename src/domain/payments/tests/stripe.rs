//! The `stripe` gateway against a local mock of Stripe's API: what it sends
//! and how it reads every kind of answer.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

use super::{TestResult, rejected_code, request};
use crate::domain::{
    money::Currency,
    payments::{
        Authorization, CaptureMode, DeclineCode, GatewayError, PaymentGateway, RefundStatus,
        STRIPE_API_VERSION, StripeConfig, StripeGateway,
    },
};

const KEY: &str = "sk_test_51SecretKey";

fn config(server: &MockServer) -> StripeConfig {
    StripeConfig {
        base_url: format!("{}/", server.uri()),
        timeout: Duration::from_secs(5),
        ..StripeConfig::new(KEY, "whsec_stripe")
    }
}

fn stripe(server: &MockServer) -> Result<StripeGateway, GatewayError> {
    StripeGateway::new(config(server))
}

/// A mock Stripe answering one POST to `at`, made with the secret key, the
/// pinned API version and a form body, with `response`.
async fn stripe_answering(at: &str, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(at))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("stripe-version", STRIPE_API_VERSION))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn payment_intent(status: &str) -> Value {
    json!({
        "id": "pi_3Mtw",
        "object": "payment_intent",
        "amount": 1999,
        "amount_capturable": 0,
        "amount_received": 0,
        "client_secret": "pi_3Mtw_secret_abc",
        "currency": "usd",
        "status": status,
        "next_action": null,
        "last_payment_error": null,
    })
}

fn with(mut value: Value, changes: Value) -> Value {
    if let (Some(object), Some(changes)) = (value.as_object_mut(), changes.as_object()) {
        for (key, change) in changes {
            object.insert(key.clone(), change.clone());
        }
    }
    value
}

/// The one request the mock received: its idempotency key and form fields.
async fn sent(server: &MockServer) -> (String, Vec<(String, String)>) {
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let key = requests[0]
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let form = serde_urlencoded::from_bytes(&requests[0].body).unwrap_or_default();
    (key, form)
}

fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn authorize_confirms_a_payment_intent_for_manual_capture() -> TestResult {
    let server = stripe_answering(
        "/v1/payment_intents",
        ok(with(
            payment_intent("requires_capture"),
            json!({ "amount_capturable": 1999 }),
        )),
    )
    .await;
    let req = request("pm_card_visa", CaptureMode::Manual);
    let outcome = stripe(&server)?.authorize(&req).await?;
    assert_eq!(
        outcome,
        Authorization::Authorized {
            reference: "pi_3Mtw".to_owned(),
            amount_minor: 1999,
            captured: false,
        }
    );
    let (key, form) = sent(&server).await;
    assert_eq!(key, req.idempotency_key);
    assert_eq!(
        form,
        pairs(&[
            ("amount", "1999"),
            ("currency", "usd"),
            ("payment_method", "pm_card_visa"),
            ("confirm", "true"),
            ("capture_method", "manual"),
            ("metadata[reference]", "checkout-42"),
            ("automatic_payment_methods[enabled]", "true"),
            ("automatic_payment_methods[allow_redirects]", "never"),
        ])
    );
    Ok(())
}

#[tokio::test]
async fn a_sale_succeeds_captured_and_sends_the_return_url() -> TestResult {
    let server = stripe_answering(
        "/v1/payment_intents",
        ok(with(
            payment_intent("succeeded"),
            json!({ "amount_received": 1999 }),
        )),
    )
    .await;
    let gateway = StripeGateway::new(StripeConfig {
        return_url: Some("https://shop.example/return".to_owned()),
        ..config(&server)
    })?;
    let mut req = request("pm_card_visa", CaptureMode::Automatic);
    req.currency = Currency::JPY;
    req.amount_minor = 1999;
    assert_eq!(
        gateway.authorize(&req).await?,
        Authorization::Authorized {
            reference: "pi_3Mtw".to_owned(),
            amount_minor: 1999,
            captured: true,
        }
    );
    let (_, form) = sent(&server).await;
    assert!(form.contains(&("currency".to_owned(), "jpy".to_owned())));
    assert!(form.contains(&("capture_method".to_owned(), "automatic".to_owned())));
    assert!(form.contains(&(
        "return_url".to_owned(),
        "https://shop.example/return".to_owned()
    )));
    assert!(!form.iter().any(|(k, _)| k.starts_with("automatic_payment")));
    Ok(())
}

#[tokio::test]
async fn requires_action_and_processing_await_a_webhook() -> TestResult {
    let redirect = with(
        payment_intent("requires_action"),
        json!({ "next_action": {
            "type": "redirect_to_url",
            "redirect_to_url": { "url": "https://hooks.stripe.test/3ds", "return_url": null }
        }}),
    );
    let server = stripe_answering("/v1/payment_intents", ok(redirect)).await;
    assert_eq!(
        stripe(&server)?
            .authorize(&request("pm_card_3ds", CaptureMode::Automatic))
            .await?,
        Authorization::RequiresAction {
            reference: "pi_3Mtw".to_owned(),
            client_secret: Some("pi_3Mtw_secret_abc".to_owned()),
            next_action_url: Some("https://hooks.stripe.test/3ds".to_owned()),
        }
    );

    let server = stripe_answering("/v1/payment_intents", ok(payment_intent("processing"))).await;
    assert_eq!(
        stripe(&server)?
            .authorize(&request("pm_sepa", CaptureMode::Automatic))
            .await?,
        Authorization::RequiresAction {
            reference: "pi_3Mtw".to_owned(),
            client_secret: Some("pi_3Mtw_secret_abc".to_owned()),
            next_action_url: None,
        }
    );
    Ok(())
}

#[tokio::test]
async fn requires_payment_method_is_a_decline() -> TestResult {
    let failed = with(
        payment_intent("requires_payment_method"),
        json!({ "last_payment_error": {
            "type": "card_error",
            "code": "expired_card",
            "message": "Your card has expired."
        }}),
    );
    let server = stripe_answering("/v1/payment_intents", ok(failed)).await;
    assert_eq!(
        stripe(&server)?
            .authorize(&request(
                "pm_card_chargeDeclinedExpiredCard",
                CaptureMode::Manual
            ))
            .await?,
        Authorization::Declined {
            reference: Some("pi_3Mtw".to_owned()),
            code: DeclineCode::ExpiredCard,
            message: "Your card has expired.".to_owned(),
        }
    );
    Ok(())
}

/// A 402 card error as Stripe sends it.
fn card_error(code: &str, decline_code: Option<&str>) -> ResponseTemplate {
    ResponseTemplate::new(402).set_body_json(json!({ "error": {
        "type": "card_error",
        "code": code,
        "decline_code": decline_code,
        "message": "Your card was declined.",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "payment_intent": with(payment_intent("requires_payment_method"), json!({})),
    }}))
}

#[tokio::test]
async fn card_errors_are_declines_with_a_stable_code() -> TestResult {
    for (code, decline_code, expected) in [
        (
            "card_declined",
            Some("generic_decline"),
            DeclineCode::CardDeclined,
        ),
        (
            "card_declined",
            Some("insufficient_funds"),
            DeclineCode::InsufficientFunds,
        ),
        (
            "expired_card",
            Some("expired_card"),
            DeclineCode::ExpiredCard,
        ),
        ("incorrect_cvc", None, DeclineCode::IncorrectCvc),
        ("processing_error", None, DeclineCode::ProcessingError),
        (
            "card_declined",
            Some("lost_card"),
            DeclineCode::Other("lost_card".to_owned()),
        ),
    ] {
        let server = stripe_answering("/v1/payment_intents", card_error(code, decline_code)).await;
        let outcome = stripe(&server)?
            .authorize(&request("pm_card_x", CaptureMode::Automatic))
            .await?;
        assert_eq!(
            outcome,
            Authorization::Declined {
                reference: Some("pi_3Mtw".to_owned()),
                code: expected,
                message: "Your card was declined.".to_owned(),
            },
            "{code}/{decline_code:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_unknown_payment_method_is_a_decline() -> TestResult {
    let server = stripe_answering(
        "/v1/payment_intents",
        ResponseTemplate::new(400).set_body_json(json!({ "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": "payment_method",
            "message": "No such PaymentMethod: 'pm_nope'",
        }})),
    )
    .await;
    match stripe(&server)?
        .authorize(&request("pm_nope", CaptureMode::Automatic))
        .await?
    {
        Authorization::Declined {
            reference: None,
            code: DeclineCode::Other(code),
            ..
        } => assert_eq!(code, "resource_missing"),
        other => panic!("{other:?}"),
    }
    Ok(())
}

async fn authorize_error(response: ResponseTemplate) -> Result<GatewayError, GatewayError> {
    let server = stripe_answering("/v1/payment_intents", response).await;
    match stripe(&server)?
        .authorize(&request("pm_card_visa", CaptureMode::Automatic))
        .await
    {
        Err(err) => Ok(err),
        Ok(outcome) => panic!("{outcome:?}"),
    }
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retryable() -> TestResult {
    let api_error = json!({ "error": { "type": "api_error", "message": "Something went wrong." } });
    for status in [500, 502, 503, 429, 409] {
        let err =
            authorize_error(ResponseTemplate::new(status).set_body_json(api_error.clone())).await?;
        assert!(err.is_retryable(), "{status}: {err:?}");
        assert!(
            matches!(err, GatewayError::Unavailable { status: s, .. } if s == status),
            "{err:?}"
        );
    }
    // Even without a JSON body.
    let err = authorize_error(ResponseTemplate::new(503).set_body_string("<html>")).await?;
    assert!(err.is_retryable(), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn a_refused_key_is_a_misconfiguration_that_does_not_name_it() -> TestResult {
    let err = authorize_error(ResponseTemplate::new(401).set_body_json(json!({ "error": {
        "type": "invalid_request_error",
        "message": format!("Invalid API Key provided: {KEY}"),
    }})))
    .await?;
    assert!(matches!(err, GatewayError::Misconfigured(_)), "{err:?}");
    assert!(!err.is_retryable());
    assert!(!err.to_string().contains(KEY), "{err}");
    Ok(())
}

#[tokio::test]
async fn other_client_errors_are_rejections() -> TestResult {
    let err = authorize_error(ResponseTemplate::new(400).set_body_json(json!({ "error": {
        "type": "idempotency_error",
        "message": "Keys for idempotent requests can only be used with the same parameters.",
    }})))
    .await?;
    assert_eq!(rejected_code(Err::<(), _>(err)), "idempotency_error");
    Ok(())
}

#[tokio::test]
async fn unreadable_answers_are_unexpected() -> TestResult {
    let err = authorize_error(ResponseTemplate::new(200).set_body_string("{not json")).await?;
    assert!(
        matches!(err, GatewayError::UnexpectedResponse(_)),
        "{err:?}"
    );
    let err = authorize_error(ok(payment_intent("requires_confirmation"))).await?;
    assert!(
        matches!(err, GatewayError::UnexpectedResponse(_)),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    Ok(())
}

#[tokio::test]
async fn a_slow_answer_times_out_retryably() -> TestResult {
    let server = stripe_answering(
        "/v1/payment_intents",
        ok(payment_intent("succeeded")).set_delay(Duration::from_secs(3)),
    )
    .await;
    let gateway = StripeGateway::new(StripeConfig {
        timeout: Duration::from_millis(200),
        ..config(&server)
    })?;
    let result = gateway
        .authorize(&request("pm_card_visa", CaptureMode::Automatic))
        .await;
    assert_eq!(result, Err(GatewayError::Timeout));
    Ok(())
}

#[tokio::test]
async fn an_unreachable_gateway_is_a_retryable_transport_error() -> TestResult {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let gateway = StripeGateway::new(StripeConfig {
        base_url: format!("http://127.0.0.1:{port}"),
        timeout: Duration::from_secs(2),
        ..StripeConfig::new(KEY, "whsec_stripe")
    })?;
    match gateway
        .authorize(&request("pm_card_visa", CaptureMode::Automatic))
        .await
    {
        Err(err @ GatewayError::Transport(_)) => {
            assert!(err.is_retryable());
            assert!(!err.to_string().contains(KEY));
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn capture_posts_the_amount_to_capture() -> TestResult {
    let server = stripe_answering(
        "/v1/payment_intents/pi_3Mtw/capture",
        ok(with(
            payment_intent("succeeded"),
            json!({ "amount_received": 1500 }),
        )),
    )
    .await;
    let capture = stripe(&server)?
        .capture("pi_3Mtw", 1500, Currency::USD, "capture-1", true)
        .await?;
    assert_eq!(
        (capture.reference.as_str(), capture.amount_minor),
        ("pi_3Mtw", 1500)
    );
    assert_eq!(
        sent(&server).await,
        (
            "capture-1".to_owned(),
            pairs(&[("amount_to_capture", "1500")])
        )
    );
    Ok(())
}

#[tokio::test]
async fn capture_in_the_wrong_state_is_rejected() -> TestResult {
    let server = stripe_answering(
        "/v1/payment_intents/pi_3Mtw/capture",
        ResponseTemplate::new(400).set_body_json(json!({ "error": {
            "type": "invalid_request_error",
            "code": "payment_intent_unexpected_state",
            "message": "This PaymentIntent could not be captured because it has a status of canceled.",
        }})),
    )
    .await;
    assert_eq!(
        rejected_code(
            stripe(&server)?
                .capture("pi_3Mtw", 1500, Currency::USD, "capture-1", true)
                .await
        ),
        "payment_intent_unexpected_state"
    );
    Ok(())
}

#[tokio::test]
async fn void_cancels_the_payment_intent() -> TestResult {
    let server = stripe_answering(
        "/v1/payment_intents/pi_3Mtw/cancel",
        ok(payment_intent("canceled")),
    )
    .await;
    stripe(&server)?.void("pi_3Mtw", "void-1").await?;
    assert_eq!(sent(&server).await, ("void-1".to_owned(), Vec::new()));

    let server = stripe_answering(
        "/v1/payment_intents/pi_3Mtw/cancel",
        ok(payment_intent("succeeded")),
    )
    .await;
    assert!(matches!(
        stripe(&server)?.void("pi_3Mtw", "void-1").await,
        Err(GatewayError::UnexpectedResponse(_))
    ));
    Ok(())
}

#[tokio::test]
async fn refund_posts_a_refund_of_the_payment_intent() -> TestResult {
    for (status, expected) in [
        ("succeeded", RefundStatus::Succeeded),
        ("pending", RefundStatus::Pending),
        ("failed", RefundStatus::Failed),
    ] {
        let server = stripe_answering(
            "/v1/refunds",
            ok(json!({
                "id": "re_3Mtw",
                "object": "refund",
                "amount": 700,
                "currency": "usd",
                "payment_intent": "pi_3Mtw",
                "status": status,
            })),
        )
        .await;
        let refund = stripe(&server)?
            .refund("pi_3Mtw", 700, Currency::USD, "refund-1")
            .await?;
        assert_eq!(
            (refund.id.as_str(), refund.reference.as_str()),
            ("re_3Mtw", "pi_3Mtw")
        );
        assert_eq!((refund.amount_minor, refund.status), (700, expected));
        assert_eq!(
            sent(&server).await,
            (
                "refund-1".to_owned(),
                pairs(&[("payment_intent", "pi_3Mtw"), ("amount", "700")])
            )
        );
    }
    Ok(())
}

#[tokio::test]
async fn bad_references_and_keys_never_reach_stripe() -> TestResult {
    let server = MockServer::start().await;
    let gateway = stripe(&server)?;
    for reference in ["", "pi_1/../../v1/refunds", "pi_1?x=y", "pi 1"] {
        assert_eq!(
            rejected_code(
                gateway
                    .capture(reference, 1, Currency::USD, "k", true)
                    .await
            ),
            "invalid_reference"
        );
        assert_eq!(
            rejected_code(gateway.void(reference, "k").await),
            "invalid_reference"
        );
    }
    assert_eq!(
        rejected_code(gateway.void("pi_1", "").await),
        "idempotency_key_missing"
    );
    assert_eq!(
        rejected_code(gateway.void("pi_1", "line\nbreak").await),
        "invalid_idempotency_key"
    );
    assert_eq!(
        rejected_code(gateway.void("pi_1", &"k".repeat(256)).await),
        "invalid_idempotency_key"
    );
    assert_eq!(
        rejected_code(gateway.refund("pi_1", 0, Currency::USD, "k").await),
        "invalid_amount"
    );
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
    Ok(())
}

#[test]
fn settings_are_checked_and_never_shown() {
    assert!(matches!(
        StripeGateway::new(StripeConfig::new(" ", "whsec_1")),
        Err(GatewayError::Misconfigured(_))
    ));
    assert!(matches!(
        StripeGateway::new(StripeConfig::new("sk_test_1", "")),
        Err(GatewayError::Misconfigured(_))
    ));
    assert!(matches!(
        StripeGateway::new(StripeConfig {
            base_url: "ftp://stripe".to_owned(),
            ..StripeConfig::new("sk_test_1", "whsec_1")
        }),
        Err(GatewayError::Misconfigured(_))
    ));
    let config = StripeConfig::new(KEY, "whsec_hidden");
    assert_eq!(config.base_url, "https://api.stripe.com");
    let shown = format!("{config:?}");
    assert!(
        !shown.contains(KEY) && !shown.contains("whsec_hidden"),
        "{shown}"
    );
    match StripeGateway::new(config) {
        Ok(gateway) => {
            assert_eq!(gateway.code(), "stripe");
            assert!(!format!("{gateway:?}").contains(KEY));
        }
        Err(err) => panic!("{err}"),
    }
}
