//! Promotions.

use super::*;

#[tokio::test]
async fn promotion_create_validates_its_input_and_writes_nothing_on_error() {
    let (app, admin) = shop().await;
    let count = || async {
        gql(
            &app,
            signed_in(&admin),
            "{ promotions { name } }",
            json!({}),
        )
        .await["promotions"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let before = count().await;
    let base = json!({ "name": "Bad", "kind": "PERCENTAGE" });
    let with = |extra: Value| {
        let mut input = base.clone();
        if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
            i.extend(e.clone());
        }
        input
    };
    for (input, field, code) in [
        (with(json!({ "percentage": "0" })), "percentage", "INVALID"),
        (
            with(json!({ "percentage": "100.5" })),
            "percentage",
            "INVALID",
        ),
        (with(json!({})), "percentage", "INVALID"),
        (
            with(json!({ "kind": "FIXED_AMOUNT", "amount": "-1" })),
            "amount",
            "INVALID",
        ),
        (
            with(json!({ "kind": "FIXED_AMOUNT", "amount": "1.234" })),
            "amount",
            "INVALID",
        ),
        (
            with(json!({ "kind": "BUY_X_GET_Y", "buyQuantity": 0, "getQuantity": 1 })),
            "buyQuantity",
            "INVALID",
        ),
        (
            with(json!({ "percentage": "10", "code": "BAD CODE" })),
            "code",
            "INVALID",
        ),
        (
            with(json!({ "percentage": "10", "usageLimit": 0 })),
            "usageLimit",
            "INVALID",
        ),
        (
            with(json!({ "percentage": "10", "name": " " })),
            "name",
            "BLANK",
        ),
        (
            with(json!({ "percentage": "10", "productIds": [gid("Product", 999_999)] })),
            "productIds",
            "NOT_FOUND",
        ),
        // Codes are unique per channel, whatever their case.
        (
            with(json!({ "percentage": "10", "code": "save10" })),
            "code",
            "TAKEN",
        ),
    ] {
        let p = promotion_create(&app, &admin, input.clone()).await;
        assert_eq!(p["promotion"], Value::Null, "{input}");
        assert_eq!(
            p["userErrors"][0]["field"],
            json!(["input", field]),
            "{input}: {p}"
        );
        assert_eq!(p["userErrors"][0]["code"], code, "{input}: {p}");
    }
    assert_eq!(count().await, before, "a refused promotion was written");
    // The same code in another channel is another promotion.
    let eu = promotion(
        &app,
        &admin,
        json!({ "name": "5 € off", "code": "take5", "kind": "FIXED_AMOUNT", "amount": "5", "channel": "eu" }),
    )
    .await;
    assert_eq!(eu["code"], "TAKE5");
}

#[tokio::test]
async fn a_code_with_a_usage_limit_of_one_works_once() {
    let (app, admin) = shop().await;
    let (_, v) = product(&app, &admin, "ONCE-1", json!({ "prices": [usd("10.00")] })).await;
    promotion(
        &app,
        &admin,
        json!({ "name": "Once", "code": "ONCE", "kind": "PERCENTAGE", "percentage": "50", "usageLimit": 1 }),
    )
    .await;
    let cart = |email: &str| {
        new_cart(
            &app,
            GUEST,
            json!({ "lines": [line(&v, 1)], "discountCodes": ["once"], "buyerIdentity": { "email": email } }),
        )
    };
    let first = cart("first@example.com").await;
    let second = cart("second@example.com").await;
    assert_eq!(second["discountCodes"][0]["applicable"], true);
    ship(
        &app,
        GUEST,
        &id_of(&first),
        address(Some("OR"), "US"),
        "standard",
    )
    .await;
    let order = place_order(&app, GUEST, &id_of(&first)).await;
    assert_eq!(order["discounts"]["amount"], "5.00");

    // Used up: an open cart that holds it shows it does not apply ...
    let second = read(&app, GUEST, &id_of(&second)).await;
    assert_eq!(second["discountCodes"][0]["applicable"], false);
    assert_eq!(second["cost"]["discounts"]["amount"], "0.00");
    // ... and it can no longer be entered.
    let refused = mutate(
        &app,
        GUEST,
        "cartDiscountCodesUpdate",
        json!({ "cartId": second["id"], "discountCodes": ["ONCE"] }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["INVALID_CODE"]);
    // Checking the open cart out charges the full price.
    ship(
        &app,
        GUEST,
        &id_of(&second),
        address(Some("OR"), "US"),
        "standard",
    )
    .await;
    let order = place_order(&app, GUEST, &id_of(&second)).await;
    assert_eq!(order["discounts"]["amount"], "0.00");
    let used = gql(
        &app,
        signed_in(&admin),
        "{ promotions { code timesUsed usageLimit } }",
        json!({}),
    )
    .await;
    let once = used["promotions"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["code"] == "ONCE").cloned())
        .unwrap_or_default();
    assert_eq!(
        once,
        json!({ "code": "ONCE", "timesUsed": 1, "usageLimit": 1 })
    );
}
