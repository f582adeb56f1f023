//! Guest carts and login.

use super::*;

#[tokio::test]
async fn a_guest_cart_merges_into_the_customers_cart_at_login() {
    let (app, admin) = shop().await;
    let (_, x) = product(&app, &admin, "MERGE-X", json!({ "prices": [usd("5.00")] })).await;
    let (_, y) = product(&app, &admin, "MERGE-Y", json!({ "prices": [usd("3.00")] })).await;
    let me = accounts::customer(&app, "merger@example.com").await;
    let mine = new_cart(
        &app,
        signed_in(&me.access),
        json!({ "lines": [line(&x, 2)], "discountCodes": ["SAVE10"], "buyerIdentity": { "shippingAddress": address(Some("NY"), "US") } }),
    )
    .await;
    let guest = new_cart(
        &app,
        GUEST,
        json!({
            "lines": [line(&x, 998), line(&y, 1)],
            "discountCodes": ["TAKE5", "save10"],
            "buyerIdentity": { "email": "someone@example.com", "shippingAddress": address(Some("CA"), "US") }
        }),
    )
    .await;

    let (token, cart_id) = login_with_cart(&app, "merger@example.com", &id_of(&guest)).await;
    // The customer's cart is the result, under its own ID.
    assert_eq!(cart_id, mine["id"]);
    let merged = read(&app, signed_in(&token), &id_of(&mine)).await;
    // Same variant: 2 + 998 = 1000, capped at 999; new variants are added.
    let lines: Vec<(&str, i64)> = merged["lines"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .map(|l| {
                    (
                        l["merchandise"]["sku"].as_str().unwrap_or("?"),
                        l["quantity"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(lines, [("MERGE-X", 999), ("MERGE-Y", 1)]);
    let codes: Vec<&str> = merged["discountCodes"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["code"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(codes, ["SAVE10", "TAKE5"]);
    // The customer's buyer details are kept.
    assert_eq!(
        merged["buyerIdentity"],
        json!({ "email": "merger@example.com", "countryCode": null, "signedIn": true, "shippingAddress": { "city": "Springfield", "provinceCode": "NY", "countryCode": "US" } })
    );
    // The guest cart is gone, for everyone.
    assert_eq!(read(&app, GUEST, &id_of(&guest)).await, Value::Null);
    assert_eq!(
        read(&app, signed_in(&token), &id_of(&guest)).await,
        Value::Null
    );
}

#[tokio::test]
async fn a_guest_cart_becomes_the_customers_when_they_have_none() {
    let (app, admin) = shop().await;
    let (_, x) = product(&app, &admin, "ADOPT-X", json!({ "prices": [usd("5.00")] })).await;
    accounts::customer(&app, "adopter@example.com").await;
    let guest = new_cart(&app, GUEST, json!({ "lines": [line(&x, 2)] })).await;
    assert_eq!(guest["buyerIdentity"]["signedIn"], false);

    let (token, cart_id) = login_with_cart(&app, "adopter@example.com", &id_of(&guest)).await;
    assert_eq!(cart_id, guest["id"], "the same cart, now the customer's");
    let theirs = read(&app, signed_in(&token), &id_of(&guest)).await;
    assert_eq!(theirs["buyerIdentity"]["signedIn"], true);
    assert_eq!(theirs["buyerIdentity"]["email"], "adopter@example.com");
    assert_eq!(theirs["totalQuantity"], 2);
    // No longer a guest cart: its ID alone does not open it.
    assert_eq!(read(&app, GUEST, &id_of(&guest)).await, Value::Null);
    let refused = mutate(
        &app,
        GUEST,
        "cartLinesAdd",
        json!({ "cartId": guest["id"], "lines": [line(&x, 1)] }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["NOT_FOUND"]);
}

#[tokio::test]
async fn a_signed_in_buyer_identity_update_takes_a_guest_cart_over() {
    let (app, admin) = shop().await;
    let (_, x) = product(&app, &admin, "TAKE-X", json!({ "prices": [usd("5.00")] })).await;
    let (_, z) = product(&app, &admin, "TAKE-Z", json!({ "prices": [usd("2.00")] })).await;
    let me = accounts::customer(&app, "taker@example.com").await;
    let who = signed_in(&me.access);

    // No cart of their own yet: the guest cart becomes theirs.
    let first = new_cart(&app, GUEST, json!({ "lines": [line(&x, 1)] })).await;
    let taken = ok(mutate(
        &app,
        who,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": first["id"], "buyerIdentity": { "countryCode": "US" } }),
    )
    .await);
    assert_eq!(taken["id"], first["id"]);
    assert_eq!(taken["buyerIdentity"]["signedIn"], true);
    assert_eq!(taken["buyerIdentity"]["email"], "taker@example.com");
    assert_eq!(read(&app, GUEST, &id_of(&first)).await, Value::Null);

    // With a cart of their own, another guest cart merges into it.
    let second = new_cart(&app, GUEST, json!({ "lines": [line(&z, 3), line(&x, 1)] })).await;
    let merged = ok(mutate(
        &app,
        who,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": second["id"], "buyerIdentity": { "email": "other@example.com" } }),
    )
    .await);
    assert_eq!(merged["id"], first["id"]);
    assert_eq!(merged["totalQuantity"], 5);
    assert_eq!(merged["buyerIdentity"]["email"], "taker@example.com");
    assert_eq!(read(&app, who, &id_of(&second)).await, Value::Null);
}
