//! Gift cards and store credit.

use super::*;

#[tokio::test]
async fn a_gift_card_pays_part_of_carts_until_its_balance_is_spent() {
    let (app, admin) = shop().await;
    let (_, v) = product(&app, &admin, "GIFT-1", json!({ "prices": [usd("20.00")] })).await;
    let issued = gql(
        &app,
        signed_in(&admin),
        "mutation { giftCardCreate(input: { initialValue: \"50.00\", currencyCode: USD }) { code giftCard { lastCharacters initialValue { amount } balance { amount currencyCode } } userErrors { code } } }",
        json!({}),
    )
    .await;
    let issued = &issued["giftCardCreate"];
    assert_eq!(issued["userErrors"], json!([]));
    let code = issued["code"].as_str().unwrap_or_default().to_owned();
    assert_eq!(code.len(), 16, "a generated code: {code}");
    let last4 = &code[12..];
    assert_eq!(issued["giftCard"]["lastCharacters"], last4);
    // Only its digest is kept: a gift card has no field that shows the code.
    let fields = gql(
        &app,
        GUEST,
        "{ __type(name: \"GiftCard\") { fields { name } } }",
        json!({}),
    )
    .await;
    let names = fields["__type"]["fields"].to_string();
    assert!(!names.contains("\"code\""), "{names}");
    assert!(names.contains("\"lastCharacters\""), "{names}");
    assert_eq!(
        issued["giftCard"]["balance"],
        json!({ "amount": "50.00", "currencyCode": "USD" })
    );

    let buy = |quantity: i64, code: String| {
        let app = &app;
        let v = v.clone();
        async move {
            let cart = new_cart(
                app,
                GUEST,
                json!({ "lines": [line(&v, quantity)], "buyerIdentity": { "email": "gift@example.com" } }),
            )
            .await;
            let id = id_of(&cart);
            ship(app, GUEST, &id, address(Some("OR"), "US"), "standard").await;
            let payload = mutate(
                app,
                GUEST,
                "cartGiftCardCodesUpdate",
                json!({ "cartId": id, "giftCardCodes": [code] }),
            )
            .await;
            (id, payload)
        }
    };

    // 20.00 + 5.99 shipping: the card pays it all, nothing is due.
    // Codes are read without case, spaces or dashes.
    let spaced = format!(
        "{}-{} {}",
        &code[..4].to_lowercase(),
        &code[4..8],
        &code[8..]
    );
    let (id, payload) = buy(1, spaced).await;
    let cart = ok(payload);
    assert_eq!(cart["cost"]["giftCards"]["amount"], "25.99");
    assert_eq!(cart["cost"]["amountDue"]["amount"], "0.00");
    assert_eq!(
        cart["appliedGiftCards"],
        json!([{ "lastCharacters": last4, "amountUsed": { "amount": "25.99" }, "balance": { "amount": "50.00" } }])
    );
    let order = place_order(&app, GUEST, &id).await;
    assert_eq!(order["giftCards"]["amount"], "25.99");
    assert_eq!(order["payments"], json!([]), "nothing for the gateway");

    // 2 x 20.00 + 5.99 = 45.99: the 24.01 left pays part, 21.98 is due.
    let (id, payload) = buy(2, code.clone()).await;
    let cart = ok(payload);
    assert_eq!(
        cart["appliedGiftCards"],
        json!([{ "lastCharacters": last4, "amountUsed": { "amount": "24.01" }, "balance": { "amount": "24.01" } }])
    );
    assert_eq!(cart["cost"]["giftCards"]["amount"], "24.01");
    assert_eq!(cart["cost"]["amountDue"]["amount"], "21.98");
    let order = place_order(&app, GUEST, &id).await;
    assert_eq!(order["giftCards"]["amount"], "24.01");
    assert_eq!(order["payments"][0]["amount"]["amount"], "21.98");
    assert_eq!(order["totalReceived"]["amount"], "45.99");

    // Spent: the code no longer applies.
    let (_, payload) = buy(1, code.clone()).await;
    assert_eq!(error_codes(&payload), ["INVALID_CODE"]);

    // A USD card on a EUR cart: answered like an unknown code, so a
    // guesser cannot tell that it exists.
    let (_, eu_only) = product(&app, &admin, "GIFT-EU", json!({ "prices": [eur("9.00")] })).await;
    let eu_cart = new_cart(&app, EU, json!({ "lines": [line(&eu_only, 1)] })).await;
    let refused = mutate(
        &app,
        EU,
        "cartGiftCardCodesUpdate",
        json!({ "cartId": eu_cart["id"], "giftCardCodes": ["DEMO-GIFT-CARD-0001"] }),
    )
    .await;
    let unknown = mutate(
        &app,
        EU,
        "cartGiftCardCodesUpdate",
        json!({ "cartId": eu_cart["id"], "giftCardCodes": ["NO-SUCH-CARD-0001"] }),
    )
    .await;
    assert_eq!(
        refused["userErrors"],
        json!([{ "field": ["giftCardCodes", "0"], "code": "INVALID_CODE", "message": "this gift card code is not valid here or has no balance left", "quantityAvailable": null }])
    );
    assert_eq!(refused["userErrors"], unknown["userErrors"]);
    assert_eq!(read(&app, EU, &id_of(&eu_cart)).await, eu_cart);
}

#[tokio::test]
async fn store_credit_pays_at_a_signed_in_checkout_and_never_goes_below_zero() {
    let (app, admin) = shop().await;
    let (_, v) = product(
        &app,
        &admin,
        "CREDIT-1",
        json!({ "prices": [usd("20.00")] }),
    )
    .await;
    let me = accounts::customer(&app, "credit@example.com").await;
    let who = signed_in(&me.access);
    let adjust = |amount: &str| {
        gql(
            &app,
            signed_in(&admin),
            "mutation($c: ID!, $a: Decimal!) { storeCreditAdjust(customerId: $c, amount: $a, currencyCode: USD) { balance { amount } userErrors { field code } } }",
            json!({ "c": me.id, "a": amount }),
        )
    };
    let balance = || async {
        gql(
            &app,
            who,
            "{ me { storeCredit { amount currencyCode } } }",
            json!({}),
        )
        .await["me"]["storeCredit"]
            .clone()
    };
    let added = adjust("30.00").await;
    assert_eq!(added["storeCreditAdjust"]["balance"]["amount"], "30.00");
    let refused = adjust("-40.00").await;
    assert_eq!(
        refused["storeCreditAdjust"],
        json!({ "balance": null, "userErrors": [{ "field": ["amount"], "code": "INVALID" }] })
    );
    assert_eq!(
        balance().await,
        json!([{ "amount": "30.00", "currencyCode": "USD" }])
    );

    // 20.00 + 5.99: the credit pays it all.
    let cart = new_cart(&app, who, json!({ "lines": [line(&v, 1)] })).await;
    let cart = ship(
        &app,
        who,
        &id_of(&cart),
        address(Some("OR"), "US"),
        "standard",
    )
    .await;
    assert_eq!(cart["cost"]["storeCredit"]["amount"], "25.99");
    assert_eq!(cart["cost"]["amountDue"]["amount"], "0.00");
    // A guest holding the same cart's ID... cannot: it is the customer's.
    assert_eq!(read(&app, GUEST, &id_of(&cart)).await, Value::Null);
    let order = place_order(&app, who, &id_of(&cart)).await;
    assert_eq!(order["storeCredit"]["amount"], "25.99");
    // 30.00 - 25.99.
    assert_eq!(balance().await[0]["amount"], "4.01");

    // The rest pays part of the next cart.
    let cart = new_cart(&app, who, json!({ "lines": [line(&v, 1)] })).await;
    let cart = ship(
        &app,
        who,
        &id_of(&cart),
        address(Some("OR"), "US"),
        "standard",
    )
    .await;
    assert_eq!(cart["cost"]["storeCredit"]["amount"], "4.01");
    assert_eq!(cart["cost"]["amountDue"]["amount"], "21.98");
    let order = place_order(&app, who, &id_of(&cart)).await;
    assert_eq!(order["payments"][0]["amount"]["amount"], "21.98");
    assert_eq!(balance().await[0]["amount"], "0.00");
    let refused = adjust("-0.01").await;
    assert_eq!(
        refused["storeCreditAdjust"]["userErrors"][0]["code"],
        "INVALID"
    );
    // More decimals than the currency has: the error names the argument.
    let refused = adjust("0.001").await;
    assert_eq!(
        refused["storeCreditAdjust"],
        json!({ "balance": null, "userErrors": [{ "field": ["amount"], "code": "INVALID" }] })
    );
    assert_eq!(balance().await[0]["amount"], "0.00");
}
