//! Cart mutations and their userErrors.

use super::*;

#[tokio::test]
async fn unsellable_variants_and_bad_quantities_are_refused_and_change_nothing() {
    let (app, admin) = shop().await;
    let (_, okv) = product(&app, &admin, "OK-1", json!({ "prices": [usd("5.00")] })).await;
    let (_, stocked) = product(
        &app,
        &admin,
        "STOCKED-1",
        json!({ "prices": [usd("5.00")], "trackInventory": true }),
    )
    .await;
    stock(&app, &admin, "STOCKED-1", 3).await;
    let (_, unpriced) = product(&app, &admin, "UNPRICED-1", json!({})).await;
    let draft = gql(
        &app,
        signed_in(&admin),
        "mutation($i: ProductCreateInput!) { productCreate(input: $i) { product { variants { id } } userErrors { message } } }",
        json!({ "i": { "title": "Draft", "status": "DRAFT", "variants": [{ "sku": "DRAFT-1", "trackInventory": false, "prices": [usd("5.00")] }] } }),
    )
    .await;
    let draft = id_of(&draft["productCreate"]["product"]["variants"][0]);
    let unknown = gid("ProductVariant", 999_999);

    let cart = new_cart(&app, GUEST, json!({ "lines": [line(&okv, 1)] })).await;
    let id = id_of(&cart);
    let add = |lines: Value| {
        mutate(
            &app,
            GUEST,
            "cartLinesAdd",
            json!({ "cartId": id, "lines": lines }),
        )
    };

    for bad in [&unknown, &draft, &unpriced] {
        let refused = add(json!([line(bad, 1)])).await;
        // With userErrors the payload still shows the cart, unchanged.
        assert_eq!(refused["cart"], cart);
        assert_eq!(
            refused["userErrors"],
            json!([{ "field": ["lines", "0", "merchandiseId"], "code": "VARIANT_NOT_FOUND", "message": "this variant does not exist or is not for sale in this channel", "quantityAvailable": null }])
        );
    }
    // One bad line spoils the call: the good one is not added either.
    let refused = add(json!([line(&okv, 2), line(&unknown, 1)])).await;
    assert_eq!(error_codes(&refused), ["VARIANT_NOT_FOUND"]);
    assert_eq!(
        refused["userErrors"][0]["field"],
        json!(["lines", "1", "merchandiseId"])
    );
    // Quantities below 1.
    for q in [0, -3] {
        let refused = add(json!([line(&okv, q)])).await;
        assert_eq!(error_codes(&refused), ["INVALID"]);
    }
    // More than in stock, with what is available.
    let refused = add(json!([line(&stocked, 4)])).await;
    assert_eq!(
        refused["userErrors"],
        json!([{ "field": ["lines", "0", "quantity"], "code": "OUT_OF_STOCK", "message": "only 3 left in stock", "quantityAvailable": 3 }])
    );
    // Empty additions.
    assert_eq!(error_codes(&add(json!([])).await), ["BLANK"]);
    assert_eq!(
        read(&app, GUEST, &id).await,
        cart,
        "a refused mutation changed the cart"
    );

    // What is in stock can be added; then updates are checked the same way.
    let cart = ok(add(json!([line(&stocked, 3)])).await);
    assert_eq!(cart["lines"][1]["quantityAvailable"], 3);
    let stocked_line = cart["lines"][1]["id"].clone();
    let update = |lines: Value| {
        mutate(
            &app,
            GUEST,
            "cartLinesUpdate",
            json!({ "cartId": id, "lines": lines }),
        )
    };
    let refused = update(json!([{ "id": stocked_line, "quantity": 4 }])).await;
    assert_eq!(error_codes(&refused), ["OUT_OF_STOCK"]);
    assert_eq!(refused["userErrors"][0]["quantityAvailable"], 3);
    let refused = update(json!([{ "id": stocked_line, "quantity": -1 }])).await;
    assert_eq!(error_codes(&refused), ["INVALID"]);
    let refused = update(json!([{ "id": gid("CartLine", 999_999), "quantity": 1 }])).await;
    assert_eq!(error_codes(&refused), ["NOT_FOUND"]);
    let refused = mutate(
        &app,
        GUEST,
        "cartLinesRemove",
        json!({ "cartId": id, "lineIds": [stocked_line, gid("CartLine", 999_999)] }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["NOT_FOUND"]);
    assert_eq!(refused["userErrors"][0]["field"], json!(["lineIds", "1"]));
    // A variant priced only in USD is not for sale in the EU channel.
    let refused = mutate(
        &app,
        EU,
        "cartCreate",
        json!({ "input": { "lines": [line(&okv, 1)] } }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["VARIANT_NOT_FOUND"]);
    assert_eq!(
        read(&app, GUEST, &id).await,
        cart,
        "a refused mutation changed the cart"
    );

    // Quantity 0 removes a line.
    let cart = ok(update(json!([{ "id": stocked_line, "quantity": 0 }])).await);
    assert_eq!(cart["totalQuantity"], 1);
}

#[tokio::test]
async fn codes_gift_cards_and_shipping_choices_are_checked_and_change_nothing() {
    let (app, admin) = shop().await;
    let (_, v) = product(&app, &admin, "CODES-1", json!({ "prices": [usd("50.00")] })).await;
    promotion(
        &app,
        &admin,
        json!({ "name": "Expired", "code": "OLD20", "kind": "PERCENTAGE", "percentage": "20", "endsAt": "2020-01-01T00:00:00Z" }),
    )
    .await;
    let cart = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&v, 1)], "discountCodes": ["SAVE10"] }),
    )
    .await;
    let id = id_of(&cart);

    let codes = |list: Value| {
        mutate(
            &app,
            GUEST,
            "cartDiscountCodesUpdate",
            json!({ "cartId": id, "discountCodes": list }),
        )
    };
    for list in [json!(["NOPE"]), json!(["old20"]), json!(["TAKE5", "NOPE"])] {
        let refused = codes(list).await;
        assert_eq!(error_codes(&refused), ["INVALID_CODE"]);
        assert_eq!(refused["cart"], cart);
    }
    let refused = codes(json!(["TAKE5", "NOPE"])).await;
    assert_eq!(
        refused["userErrors"][0]["field"],
        json!(["discountCodes", "1"])
    );
    // A code of another channel is unknown here.
    let (_, euv) = product(&app, &admin, "CODES-EU", json!({ "prices": [eur("9.00")] })).await;
    let refused = mutate(
        &app,
        EU,
        "cartCreate",
        json!({ "input": { "lines": [line(&euv, 1)], "discountCodes": ["TAKE5"] } }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["INVALID_CODE"]);
    // An unknown code at creation refuses the whole cart.
    let refused = mutate(
        &app,
        GUEST,
        "cartCreate",
        json!({ "input": { "lines": [line(&v, 1)], "discountCodes": ["NOPE"] } }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["INVALID_CODE"]);

    let gift = |list: Value| {
        mutate(
            &app,
            GUEST,
            "cartGiftCardCodesUpdate",
            json!({ "cartId": id, "giftCardCodes": list }),
        )
    };
    assert_eq!(
        error_codes(&gift(json!(["NOT-A-CARD-0000"])).await),
        ["INVALID_CODE"]
    );

    let select = |code: &str| {
        mutate(
            &app,
            GUEST,
            "cartShippingMethodSelect",
            json!({ "cartId": id, "shippingMethodCode": code }),
        )
    };
    let refused = select("standard").await;
    assert_eq!(
        refused["userErrors"][0],
        json!({ "field": ["buyerIdentity", "shippingAddress"], "code": "MISSING_SHIPPING_ADDRESS", "message": "set a shipping address (or a country) first", "quantityAvailable": null })
    );
    let refused = mutate(
        &app,
        GUEST,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": id, "buyerIdentity": { "email": "not an email", "countryCode": "USA" } }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["INVALID", "INVALID"]);
    assert_eq!(
        read(&app, GUEST, &id).await,
        cart,
        "a refused mutation changed the cart"
    );

    let cart = ok(mutate(
        &app,
        GUEST,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": id, "buyerIdentity": { "shippingAddress": address(Some("CA"), "US") } }),
    )
    .await);
    let refused = select("teleport").await;
    assert_eq!(error_codes(&refused), ["INVALID_SHIPPING_METHOD"]);
    // The UK ships `international` only: `standard` is not offered there.
    let uk = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&v, 1)], "buyerIdentity": { "countryCode": "GB" } }),
    )
    .await;
    let refused = mutate(
        &app,
        GUEST,
        "cartShippingMethodSelect",
        json!({ "cartId": uk["id"], "shippingMethodCode": "standard" }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["INVALID_SHIPPING_METHOD"]);
    assert_eq!(
        read(&app, GUEST, &id).await,
        cart,
        "a refused mutation changed the cart"
    );
}

#[tokio::test]
async fn an_unknown_cart_is_not_found_everywhere() {
    let (app, admin) = shop().await;
    let (_, v) = product(&app, &admin, "ANY-1", json!({ "prices": [usd("5.00")] })).await;
    let missing = "cart_doesnotexist";
    assert_eq!(read(&app, GUEST, missing).await, Value::Null);
    for (name, vars) in [
        ("cartLinesAdd", json!({ "lines": [line(&v, 1)] })),
        ("cartLinesUpdate", json!({ "lines": [] })),
        ("cartLinesRemove", json!({ "lineIds": [] })),
        ("cartBuyerIdentityUpdate", json!({ "buyerIdentity": {} })),
        ("cartDiscountCodesUpdate", json!({ "discountCodes": [] })),
        ("cartGiftCardCodesUpdate", json!({ "giftCardCodes": [] })),
        (
            "cartShippingMethodSelect",
            json!({ "shippingMethodCode": "standard" }),
        ),
    ] {
        let mut vars = vars;
        vars["cartId"] = json!(missing);
        let refused = mutate(&app, GUEST, name, vars).await;
        assert_eq!(
            refused["userErrors"],
            json!([{ "field": ["cartId"], "code": "NOT_FOUND", "message": "no cart with this id", "quantityAvailable": null }]),
            "{name}"
        );
        assert_eq!(refused["cart"], Value::Null, "{name}");
    }
    let done = checkout(&app, GUEST, missing).await;
    assert_eq!(error_codes(&done), ["NOT_FOUND"]);
}

#[tokio::test]
async fn a_checked_out_cart_is_read_only() {
    let (app, admin) = shop().await;
    let (_, v) = product(&app, &admin, "DONE-1", json!({ "prices": [usd("5.00")] })).await;
    let cart = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&v, 1)], "buyerIdentity": { "email": "done@example.com" } }),
    )
    .await;
    let id = id_of(&cart);
    ship(&app, GUEST, &id, address(Some("OR"), "US"), "standard").await;
    let order = place_order(&app, GUEST, &id).await;
    assert_eq!(order["total"]["amount"], "10.99");
    let before = read(&app, GUEST, &id).await;
    assert_eq!(before["completed"], true);

    for (name, vars) in [
        ("cartLinesAdd", json!({ "lines": [line(&v, 1)] })),
        (
            "cartLinesUpdate",
            json!({ "lines": [{ "id": before["lines"][0]["id"], "quantity": 2 }] }),
        ),
        (
            "cartLinesRemove",
            json!({ "lineIds": [before["lines"][0]["id"]] }),
        ),
        (
            "cartBuyerIdentityUpdate",
            json!({ "buyerIdentity": { "email": "late@example.com" } }),
        ),
        (
            "cartDiscountCodesUpdate",
            json!({ "discountCodes": ["SAVE10"] }),
        ),
        ("cartGiftCardCodesUpdate", json!({ "giftCardCodes": [] })),
        (
            "cartShippingMethodSelect",
            json!({ "shippingMethodCode": "express" }),
        ),
    ] {
        let mut vars = vars;
        vars["cartId"] = json!(id);
        let refused = mutate(&app, GUEST, name, vars).await;
        assert_eq!(error_codes(&refused), ["CART_COMPLETED"], "{name}");
        assert_eq!(refused["cart"], before, "{name}");
    }
    let again = checkout(&app, GUEST, &id).await;
    assert_eq!(error_codes(&again), ["CART_COMPLETED"]);
    assert_eq!(again["order"], Value::Null);
    assert_eq!(read(&app, GUEST, &id).await, before);
}

#[tokio::test]
async fn prices_come_from_the_server_on_every_read() {
    let (app, admin) = shop().await;
    let (_, v) = product(
        &app,
        &admin,
        "REPRICE-1",
        json!({ "prices": [usd("10.00")] }),
    )
    .await;
    let cart = new_cart(&app, GUEST, json!({ "lines": [line(&v, 2)] })).await;
    let id = id_of(&cart);
    assert_eq!(line_cost(&cart, 0)[..2], ["10.00", "20.00"]);

    // A line input has no price to send: the schema does not take one.
    let fields = gql(
        &app,
        GUEST,
        "{ __type(name: \"CartLineInput\") { inputFields { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        fields["__type"]["inputFields"],
        json!([{ "name": "merchandiseId" }, { "name": "quantity" }])
    );
    let (_, body) = app
        .post(
            "mutation($c: ID!, $v: ID!) { cartLinesAdd(cartId: $c, lines: [{ merchandiseId: $v, quantity: 1, price: \"0.01\" }]) { userErrors { code } } }",
            json!({ "c": id, "v": v }),
        )
        .await;
    assert!(
        body["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert_eq!(read(&app, GUEST, &id).await, cart);

    // The merchant changes the price: the next read shows it, no mutation needed.
    let set = gql(
        &app,
        signed_in(&admin),
        "mutation { pricesSet(prices: [{ sku: \"REPRICE-1\", channel: \"default\", amount: \"12.50\" }]) { userErrors { code message } } }",
        json!({}),
    )
    .await;
    assert_eq!(set["pricesSet"]["userErrors"], json!([]));
    let cart = read(&app, GUEST, &id).await;
    assert_eq!(line_cost(&cart, 0)[..2], ["12.50", "25.00"]);
    assert_eq!(cart["cost"]["total"]["amount"], "25.00");
}
