//! Who sees an order, and a claim left by a crashed request.

use super::*;

#[tokio::test]
async fn a_claim_left_by_a_crashed_request_is_taken_over_by_its_retry() {
    use emporium::domain::idempotency;
    use entity::idempotency_key;
    let app = TestApp::spawn_with(Options {
        products: Some(3),
        ..Default::default()
    })
    .await;
    let request = json!({ "cart": "cart_x", "gateway": "test" });
    // The first request claims the key and dies before answering (its
    // future is dropped mid-way, as a crashed process would leave it).
    let first = tokio::time::timeout(
        Duration::from_millis(200),
        idempotency::once(
            &app.db,
            &app.state.clock,
            "checkout:test",
            Some("k-crash"),
            &request,
            || async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<_, emporium::domain::error::DomainError>(1_i64)
            },
        ),
    )
    .await;
    assert!(first.is_err(), "the first request was meant to die");
    // While the claim is young, a retry waits for it and then gives up ...
    // (not run here: it takes the full wait). Once the claim is older than
    // the lease, the retry owns the key and runs.
    let claimed = idempotency_key::Entity::find()
        .filter(idempotency_key::Column::Key.eq("k-crash"))
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the first request claimed no key"));
    app.advance_past(claimed.created_at + chrono::Duration::hours(1));
    let retried = idempotency::once(
        &app.db,
        &app.state.clock,
        "checkout:test",
        Some("k-crash"),
        &request,
        || async { Ok::<_, emporium::domain::error::DomainError>(2_i64) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(retried, Ok(2));
    // Later retries get that answer; another request with the key is refused.
    let again = idempotency::once(
        &app.db,
        &app.state.clock,
        "checkout:test",
        Some("k-crash"),
        &request,
        || async { Ok::<_, emporium::domain::error::DomainError>(3_i64) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, Ok(2));
    let other = idempotency::once(
        &app.db,
        &app.state.clock,
        "checkout:test",
        Some("k-crash"),
        &json!({ "cart": "cart_y" }),
        || async { Ok::<_, emporium::domain::error::DomainError>(4_i64) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(other, Err(idempotency::Refusal::DifferentRequest));
}
