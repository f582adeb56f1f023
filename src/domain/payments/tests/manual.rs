//! The `manual` gateway: offline payments recorded by staff.

use super::{TestResult, rejected_code, request};
use crate::domain::{
    money::Currency,
    payments::{Authorization, CaptureMode, ManualGateway, PaymentGateway, RefundStatus},
};

#[tokio::test]
async fn authorize_is_pending_offline_with_a_stable_reference() -> TestResult {
    let gateway = ManualGateway::new();
    assert_eq!(gateway.code(), "manual");
    let req = request("anything", CaptureMode::Automatic);
    let first = gateway.authorize(&req).await?;
    let reference = match &first {
        Authorization::PendingOffline { reference } => reference.clone(),
        other => panic!("{other:?}"),
    };
    assert!(reference.starts_with("manual_"), "{reference}");
    assert!(!reference.contains(&req.idempotency_key));
    // Any node, any time: the same key gives the same reference.
    assert_eq!(ManualGateway::new().authorize(&req).await?, first);
    let other = gateway
        .authorize(&request("anything", CaptureMode::Automatic))
        .await?;
    assert_ne!(other, first);
    Ok(())
}

#[tokio::test]
async fn staff_record_captures_voids_and_refunds() -> TestResult {
    let gateway = ManualGateway::new();
    let capture = gateway
        .capture("manual_abc", 1999, Currency::EUR, "c1", true)
        .await?;
    assert_eq!(
        (capture.reference.as_str(), capture.amount_minor),
        ("manual_abc", 1999)
    );
    gateway.void("manual_abc", "v1").await?;
    let refund = gateway
        .refund("manual_abc", 500, Currency::EUR, "r1")
        .await?;
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount_minor, 500);
    assert!(refund.id.starts_with("manual_re_"));
    assert_eq!(
        gateway
            .refund("manual_abc", 500, Currency::EUR, "r1")
            .await?,
        refund
    );
    assert_ne!(
        gateway
            .refund("manual_abc", 500, Currency::EUR, "r2")
            .await?
            .id,
        refund.id
    );
    Ok(())
}

#[tokio::test]
async fn invalid_amounts_and_missing_keys_are_refused() {
    let gateway = ManualGateway::new();
    let mut req = request("x", CaptureMode::Manual);
    req.amount_minor = -1;
    assert_eq!(
        rejected_code(gateway.authorize(&req).await),
        "invalid_amount"
    );
    assert_eq!(
        rejected_code(
            gateway
                .capture("manual_a", 0, Currency::EUR, "c", true)
                .await
        ),
        "invalid_amount"
    );
    assert_eq!(
        rejected_code(gateway.refund("manual_a", 1, Currency::EUR, "").await),
        "idempotency_key_missing"
    );
    assert_eq!(
        rejected_code(gateway.void("manual_a", "").await),
        "idempotency_key_missing"
    );
}
