//! The EasyPost adapter against a local mock: labels bought (or refused,
//! writing nothing) and signed tracking webhooks moving a fulfilment
//! forward once.

use super::*;

/// EasyPost answers a shipment with two rates and sells the cheaper one.
async fn mock_easypost(mock: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v2/shipments"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "shp_100",
            "object": "Shipment",
            "rates": [
                { "id": "rate_exp", "carrier": "USPS", "service": "Express", "rate": "24.10", "currency": "USD" },
                { "id": "rate_pri", "carrier": "USPS", "service": "Priority", "rate": "7.58", "currency": "USD" },
            ],
        })))
        .expect(1)
        .mount(mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/shipments/shp_100/buy"))
        .and(wiremock::matchers::body_json(
            json!({ "rate": { "id": "rate_pri" } }),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "shp_100",
            "object": "Shipment",
            "tracking_code": "EZ1000000001",
            "postage_label": { "label_url": "https://labels.example/shp_100.png" },
            "tracker": { "id": "trk_100", "public_url": "https://track.example/EZ1000000001" },
            "selected_rate": { "id": "rate_pri", "carrier": "USPS" },
        })))
        .expect(1)
        .mount(mock)
        .await;
}

/// POSTs a tracker event; returns the HTTP status.
async fn tracker_event(s: &Shop, id: &str, status: &str, secret: &str) -> u16 {
    let body = json!({
        "id": id,
        "object": "Event",
        "description": "tracker.updated",
        "result": {
            "object": "Tracker", "id": "trk_100", "tracking_code": "EZ1000000001",
            "status": status, "shipment_id": "shp_100",
            "public_url": "https://track.example/EZ1000000001",
        },
    })
    .to_string();
    s.app
        .client
        .post(format!("{}/webhooks/carriers/easypost", s.app.base))
        .header("content-type", "application/json")
        .header("x-hmac-signature", sign(secret, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("webhook: {e}"))
        .status()
        .as_u16()
}

async fn status_of(s: &Shop, id: &Value) -> Value {
    data(
        &s.app,
        Some(&s.staff),
        "query($o: ID!) { order(id: $o) { fulfillments { status deliveredAt } } }",
        json!({ "o": id }),
    )
    .await["order"]["fulfillments"][0]
        .clone()
}

#[tokio::test]
async fn a_label_is_bought_and_tracking_webhooks_move_the_fulfilment_forward_once() {
    let mock = MockServer::start().await;
    mock_easypost(&mock).await;
    let s = shop_with(easypost(&mock), false).await;
    let admin = s.admin().await;
    let a = s.item(&admin, "FUL-E", "10.00", &[("warehouse", 5)]).await;
    let order = s.buy(&[(&a, 2)]).await;
    let done = s
        .fulfil(
            &s.staff,
            json!({ "orderId": order["id"], "purchaseLabel": true }),
            None,
        )
        .await;
    ok(&done);
    let f = &done["fulfillment"];
    assert_eq!(f["labelUrl"], "https://labels.example/shp_100.png");
    assert_eq!(
        f["trackingInfo"],
        json!({ "carrier": "USPS", "number": "EZ1000000001", "url": "https://track.example/EZ1000000001" })
    );
    let row = fulfillment::Entity::find()
        .one(&s.app.db)
        .await
        .unwrap_or_else(|e| panic!("row: {e}"))
        .unwrap_or_else(|| panic!("no fulfillment"));
    assert_eq!(row.carrier_reference.as_deref(), Some("shp_100"));
    // The parcel: from the configured address, to the order's, 2 × 200 g.
    let requests = mock.received_requests().await.unwrap_or_default();
    let shipment: Value =
        serde_json::from_slice(&requests[0].body).unwrap_or_else(|e| panic!("shipment body: {e}"));
    assert_eq!(shipment["shipment"]["to_address"]["city"], "New York");
    assert_eq!(shipment["shipment"]["from_address"]["city"], "Portland");
    assert_eq!(shipment["shipment"]["parcel"]["weight"], json!(14.1));

    // In transit; the same event again changes nothing.
    assert_eq!(
        tracker_event(&s, "evt_1", "in_transit", WEBHOOK_SECRET).await,
        200
    );
    assert_eq!(
        tracker_event(&s, "evt_1", "in_transit", WEBHOOK_SECRET).await,
        200
    );
    assert_eq!(status_of(&s, &order["id"]).await["status"], "IN_TRANSIT");
    // A forged delivery is refused and changes nothing.
    assert_eq!(
        tracker_event(&s, "evt_9", "delivered", "not-the-secret").await,
        400
    );
    assert_eq!(status_of(&s, &order["id"]).await["status"], "IN_TRANSIT");
    // Delivered; then an older "out for delivery" arrives late: no regression.
    assert_eq!(
        tracker_event(&s, "evt_3", "delivered", WEBHOOK_SECRET).await,
        200
    );
    assert_eq!(
        tracker_event(&s, "evt_2", "out_for_delivery", WEBHOOK_SECRET).await,
        200
    );
    let now = status_of(&s, &order["id"]).await;
    assert_eq!(now["status"], "DELIVERED");
    assert!(now["deliveredAt"].is_string(), "{now}");
    assert_eq!(
        s.timeline().await,
        vec!["fulfilled", "in_transit", "delivered"]
    );
    assert_eq!(
        carrier_webhook_event::Entity::find()
            .count(&s.app.db)
            .await
            .unwrap_or_else(|e| panic!("count: {e}")),
        3
    );
    // A delivered fulfilment cannot be cancelled.
    let cancel = s.cancel(&done["fulfillment"]["id"]).await;
    assert_eq!(codes(&cancel), vec!["FULFILLMENT_DELIVERED"]);
    // News of a parcel no fulfilment has: retried later, not recorded.
    let body = json!({ "id": "evt_x", "description": "tracker.updated", "result": { "tracking_code": "NOPE", "status": "in_transit" } }).to_string();
    let unknown = s
        .app
        .client
        .post(format!("{}/webhooks/carriers/easypost", s.app.base))
        .header("x-hmac-signature", sign(WEBHOOK_SECRET, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("webhook: {e}"));
    assert_eq!(unknown.status().as_u16(), 409);
    let nowhere = s
        .app
        .client
        .post(format!("{}/webhooks/carriers/nowhere", s.app.base))
        .body("{}")
        .send()
        .await
        .unwrap_or_else(|e| panic!("webhook: {e}"));
    assert_eq!(nowhere.status().as_u16(), 404);
}

#[tokio::test]
async fn a_label_the_carrier_refuses_writes_nothing() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/shipments"))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(json!({ "error": { "code": "ADDRESS.VERIFY.FAILURE", "message": "Address not found" } })),
        )
        .mount(&mock)
        .await;
    let s = shop_with(easypost(&mock), false).await;
    let admin = s.admin().await;
    let a = s.item(&admin, "FUL-R", "10.00", &[("warehouse", 5)]).await;
    let order = s.buy(&[(&a, 1)]).await;
    let refused = s
        .fulfil(
            &s.staff,
            json!({ "orderId": order["id"], "purchaseLabel": true }),
            None,
        )
        .await;
    assert_eq!(codes(&refused), vec!["LABEL_PURCHASE_FAILED"]);
    assert_eq!(s.level("FUL-R", "warehouse").await, (5, 1));
    assert_eq!(
        fulfillment::Entity::find()
            .count(&s.app.db)
            .await
            .unwrap_or_else(|e| panic!("count: {e}")),
        0
    );
    // Without a label carrier the request is refused the same way.
    let plain = shop().await;
    let admin = plain.admin().await;
    let b = plain
        .item(&admin, "FUL-R", "10.00", &[("warehouse", 5)])
        .await;
    let order = plain.buy(&[(&b, 1)]).await;
    let refused = plain
        .fulfil(
            &plain.staff,
            json!({ "orderId": order["id"], "purchaseLabel": true }),
            None,
        )
        .await;
    assert_eq!(codes(&refused), vec!["LABEL_PURCHASE_FAILED"]);
}
