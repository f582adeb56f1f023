//! Worked examples: prices, codes, tax and shipping computed by hand.

use super::*;

#[tokio::test]
async fn percentage_and_fixed_codes_stack_and_tax_is_added_on_the_discounted_lines() {
    let (app, admin) = shop().await;
    let (_, a) = product(&app, &admin, "STACK-A", json!({ "prices": [usd("20.00")] })).await;
    let (_, b) = product(&app, &admin, "STACK-B", json!({ "prices": [usd("15.50")] })).await;
    let cart = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&a, 3), line(&b, 1)], "discountCodes": ["save10", "TAKE5"] }),
    )
    .await;
    let id = id_of(&cart);
    let cart = ship(&app, GUEST, &id, address(Some("CA"), "US"), "standard").await;

    // Subtotal: A 3 x 2000 = 6000, B 1550: 7550.
    // SAVE10 (10 %, stackable) first: 755, spread by line: A 600, B 155;
    // left A 5400, B 1395.
    // TAKE5 (500 off from 40.00, stackable) on what is left, largest
    // remainder: A 500*5400/6795 = 397.35, B 500*1395/6795 = 102.65 -> the
    // spare cent goes to B: A 397, B 103.
    // Discounts: A 997, B 258: 1255.
    // Shipping `standard`: 5.99 below 75.00 after discounts (6295); untaxed.
    // CA 7.25 %: A 5003 x 0.0725 = 362.72 -> 363; B 1292 x 0.0725 = 93.67 -> 94.
    // Total: 7550 - 1255 + 599 + 457 = 7351.
    assert_eq!(totals(&cart), ["75.50", "12.55", "5.99", "4.57", "73.51"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["20.00", "60.00", "9.97", "3.63", "53.66"]
    );
    assert_eq!(
        line_cost(&cart, 1),
        ["15.50", "15.50", "2.58", "0.94", "13.86"]
    );
    assert_eq!(
        line_allocations(&cart, 0),
        [("SAVE10", "6.00"), ("TAKE5", "3.97")]
    );
    assert_eq!(
        line_allocations(&cart, 1),
        [("SAVE10", "1.55"), ("TAKE5", "1.03")]
    );
    assert_eq!(
        cart_allocations(&cart),
        [
            ("SAVE10", "7.55", "LINE_ITEM"),
            ("TAKE5", "5.00", "LINE_ITEM")
        ]
    );
    assert_eq!(
        cart["discountCodes"],
        json!([
            { "code": "SAVE10", "applicable": true, "reason": null },
            { "code": "TAKE5", "applicable": true, "reason": null }
        ])
    );
    assert_eq!(cart["cost"]["subtotal"]["currencyCode"], "USD");
    assert_eq!(cart["cost"]["taxIncluded"], false);
    assert_eq!(cart["cost"]["amountDue"]["amount"], "73.51");

    // The order keeps exactly what the cart showed.
    ok(mutate(
        &app,
        GUEST,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": id, "buyerIdentity": { "email": "buyer@example.com" } }),
    )
    .await);
    let order = place_order(&app, GUEST, &id).await;
    let amounts: Vec<&str> = ["subtotal", "discounts", "shipping", "tax", "total"]
        .iter()
        .map(|k| order[*k]["amount"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(amounts, ["75.50", "12.55", "5.99", "4.57", "73.51"]);
    assert_eq!(order["payments"][0]["amount"]["amount"], "73.51");
}

#[tokio::test]
async fn the_best_exclusive_code_wins_and_stackable_codes_apply_after_it() {
    let (app, admin) = shop().await;
    let (_, v) = product(&app, &admin, "EXCL", json!({ "prices": [usd("40.00")] })).await;
    promotion(
        &app,
        &admin,
        json!({ "name": "11 off", "code": "BIG11", "kind": "FIXED_AMOUNT", "amount": "11.00", "exclusive": true }),
    )
    .await;
    let me = accounts::customer(&app, "welcome@example.com").await;
    let who = signed_in(&me.access);
    let cart = new_cart(
        &app,
        who,
        json!({ "lines": [line(&v, 2)], "discountCodes": ["WELCOME15", "BIG11", "SAVE10"] }),
    )
    .await;
    let id = id_of(&cart);
    let cart = ship(&app, who, &id, address(Some("NY"), "US"), "express").await;

    // Subtotal 2 x 4000 = 8000. Exclusive candidates: WELCOME15 is worth
    // 15 % = 1200, BIG11 1100: WELCOME15 wins, BIG11 is dropped.
    // SAVE10 (stackable) on what is left: 10 % of 6800 = 680.
    // Discounts 1880; express 14.99 flat, untaxed.
    // NY 8.875 %: 6120 x 0.08875 = 543.15 -> 543.
    // Total: 8000 - 1880 + 1499 + 543 = 8162.
    assert_eq!(totals(&cart), ["80.00", "18.80", "14.99", "5.43", "81.62"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["40.00", "80.00", "18.80", "5.43", "66.63"]
    );
    assert_eq!(
        line_allocations(&cart, 0),
        [("WELCOME15", "12.00"), ("SAVE10", "6.80")]
    );
    assert_eq!(
        cart_allocations(&cart),
        [
            ("WELCOME15", "12.00", "LINE_ITEM"),
            ("SAVE10", "6.80", "LINE_ITEM")
        ]
    );
    assert_eq!(
        cart["discountCodes"],
        json!([
            { "code": "WELCOME15", "applicable": true, "reason": null },
            { "code": "BIG11", "applicable": false, "reason": "a better offer that does not combine applies instead" },
            { "code": "SAVE10", "applicable": true, "reason": null }
        ])
    );

    // WELCOME15 is once per customer: after this order it no longer applies.
    place_order(&app, who, &id).await;
    let again = new_cart(
        &app,
        who,
        json!({ "lines": [line(&v, 2)], "discountCodes": ["WELCOME15", "BIG11"] }),
    )
    .await;
    assert_eq!(again["discountCodes"][0]["applicable"], false);
    // BIG11 is the best exclusive offer left.
    assert_eq!(totals(&again)[..2], ["80.00", "11.00"]);
}

#[tokio::test]
async fn buy_two_get_one_free_in_a_collection() {
    let (app, admin) = shop().await;
    let (c, cv) = product(&app, &admin, "B2G1-C", json!({ "prices": [usd("9.00")] })).await;
    let (d, dv) = product(&app, &admin, "B2G1-D", json!({ "prices": [usd("6.00")] })).await;
    let (_, ev) = product(&app, &admin, "B2G1-E", json!({ "prices": [usd("10.00")] })).await;
    let who = signed_in(&admin);
    let created = gql(
        &app,
        who,
        "mutation { collectionCreate(input: { title: \"Bundle\" }) { collection { id } userErrors { message } } }",
        json!({}),
    )
    .await;
    let collection = id_of(&created["collectionCreate"]["collection"]);
    gql(
        &app,
        who,
        "mutation($c: ID!, $p: [ID!]!) { collectionProductsAdd(collectionId: $c, productIds: $p) { userErrors { message } } }",
        json!({ "c": collection, "p": [c, d] }),
    )
    .await;
    promotion(
        &app,
        &admin,
        json!({ "name": "Bundle: buy 2, get 1 free", "code": "BUNDLE3", "kind": "BUY_X_GET_Y", "buyQuantity": 2, "getQuantity": 1, "collectionIds": [collection] }),
    )
    .await;

    // Two units of the collection are not enough for a group of three.
    let cart = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&cv, 2), line(&ev, 1)], "discountCodes": ["BUNDLE3"] }),
    )
    .await;
    let id = id_of(&cart);
    assert_eq!(
        cart["discountCodes"][0],
        json!({ "code": "BUNDLE3", "applicable": false, "reason": "add more qualifying items to use this code" })
    );

    ok(mutate(
        &app,
        GUEST,
        "cartLinesUpdate",
        json!({ "cartId": id, "lines": [{ "id": cart["lines"][0]["id"], "quantity": 4 }] }),
    )
    .await);
    ok(mutate(
        &app,
        GUEST,
        "cartLinesAdd",
        json!({ "cartId": id, "lines": [line(&dv, 2)] }),
    )
    .await);
    let cart = ship(&app, GUEST, &id, address(Some("NY"), "US"), "standard").await;

    // Lines: C 4 x 900 = 3600, E 1000 (not in the collection), D 2 x 600 = 1200.
    // Collection units, dearest first: C C C C D D -> groups [C C C] [C D D]:
    // the last unit of each group is free: one C (900) and one D (600).
    // Discounts 1500; 4300 after discounts, below 75.00: shipping 5.99.
    // NY 8.875 %: C 2700 -> 239.625 -> 240; E 1000 -> 88.75 -> 89;
    // D 600 -> 53.25 -> 53: 382.
    // Total: 5800 - 1500 + 599 + 382 = 5281.
    assert_eq!(totals(&cart), ["58.00", "15.00", "5.99", "3.82", "52.81"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["9.00", "36.00", "9.00", "2.40", "29.40"]
    );
    assert_eq!(
        line_cost(&cart, 1),
        ["10.00", "10.00", "0.00", "0.89", "10.89"]
    );
    assert_eq!(
        line_cost(&cart, 2),
        ["6.00", "12.00", "6.00", "0.53", "6.53"]
    );
    assert_eq!(line_allocations(&cart, 0), [("BUNDLE3", "9.00")]);
    assert!(line_allocations(&cart, 1).is_empty());
    assert_eq!(line_allocations(&cart, 2), [("BUNDLE3", "6.00")]);
    assert_eq!(cart_allocations(&cart), [("BUNDLE3", "15.00", "LINE_ITEM")]);
}

#[tokio::test]
async fn shipping_is_free_over_the_threshold_after_discounts_or_with_freeship() {
    let (app, admin) = shop().await;
    let (_, v) = product(
        &app,
        &admin,
        "SHIP-80",
        json!({ "prices": [usd("80.00")], "weightGrams": 500 }),
    )
    .await;
    let (_, small) = product(&app, &admin, "SHIP-20", json!({ "prices": [usd("20.00")] })).await;
    // Oregon: no sales tax in the demo setup, so only shipping moves.
    let oregon = address(Some("OR"), "US");
    let cart = new_cart(&app, GUEST, json!({ "lines": [line(&v, 1)] })).await;
    let id = id_of(&cart);
    let cart = ship(&app, GUEST, &id, oregon.clone(), "standard").await;
    // 8000 >= 7500: `standard` is free; freight for 500 g is 8.00.
    assert_eq!(totals(&cart), ["80.00", "0.00", "0.00", "0.00", "80.00"]);
    assert_eq!(
        shipping_offers(&cart),
        [
            ("standard", "0.00"),
            ("express", "14.99"),
            ("freight", "8.00")
        ]
    );

    // The threshold is on the subtotal after discounts: 7200 < 7500.
    let cart = ok(mutate(
        &app,
        GUEST,
        "cartDiscountCodesUpdate",
        json!({ "cartId": id, "discountCodes": ["SAVE10"] }),
    )
    .await);
    assert_eq!(totals(&cart), ["80.00", "8.00", "5.99", "0.00", "77.99"]);
    assert_eq!(cart["selectedShippingMethod"]["price"]["amount"], "5.99");

    // FREESHIP (from 30.00) takes the shipping off: 800 + 599 in discounts.
    let cart = ok(mutate(
        &app,
        GUEST,
        "cartDiscountCodesUpdate",
        json!({ "cartId": id, "discountCodes": ["SAVE10", "FREESHIP"] }),
    )
    .await);
    assert_eq!(totals(&cart), ["80.00", "13.99", "5.99", "0.00", "72.00"]);
    assert_eq!(
        cart_allocations(&cart),
        [
            ("SAVE10", "8.00", "LINE_ITEM"),
            ("FREESHIP", "5.99", "SHIPPING_LINE")
        ]
    );
    // Free shipping never touches the lines.
    assert_eq!(line_allocations(&cart, 0), [("SAVE10", "8.00")]);
    // And whatever the method costs.
    let cart = ok(mutate(
        &app,
        GUEST,
        "cartShippingMethodSelect",
        json!({ "cartId": id, "shippingMethodCode": "express" }),
    )
    .await);
    assert_eq!(totals(&cart), ["80.00", "22.99", "14.99", "0.00", "72.00"]);

    // Below its minimum, or before a method is chosen, FREESHIP says why.
    let other = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&small, 1)], "discountCodes": ["FREESHIP"] }),
    )
    .await;
    assert_eq!(
        other["discountCodes"][0]["reason"],
        "the cart is below this code's minimum amount"
    );
    let other = ok(mutate(
        &app,
        GUEST,
        "cartLinesUpdate",
        json!({ "cartId": other["id"], "lines": [{ "id": other["lines"][0]["id"], "quantity": 2 }] }),
    )
    .await);
    assert_eq!(
        other["discountCodes"][0]["reason"],
        "choose a shipping method first"
    );
    let other = ship(&app, GUEST, &id_of(&other), oregon, "express").await;
    assert_eq!(totals(&other), ["40.00", "14.99", "14.99", "0.00", "40.00"]);
}

#[tokio::test]
async fn freight_is_priced_by_weight() {
    let (app, admin) = shop().await;
    let (_, v) = product(
        &app,
        &admin,
        "HEAVY",
        json!({ "prices": [usd("12.00")], "weightGrams": 1000 }),
    )
    .await;
    let cart = new_cart(&app, GUEST, json!({ "lines": [line(&v, 1)] })).await;
    let id = id_of(&cart);
    // Brackets: up to 1 kg 8.00, up to 5 kg 15.00, up to 30 kg 35.00
    // (inclusive).
    let cart = ship(&app, GUEST, &id, address(Some("CA"), "US"), "freight").await;
    assert_eq!(cart["selectedShippingMethod"]["price"]["amount"], "8.00");
    let line_id = cart["lines"][0]["id"].clone();
    let set = |q: i64| {
        mutate(
            &app,
            GUEST,
            "cartLinesUpdate",
            json!({ "cartId": id, "lines": [{ "id": line_id, "quantity": q }] }),
        )
    };

    // 3 kg: 15.00. CA 7.25 % on 3600 = 261 (shipping is untaxed in the US).
    let cart = ok(set(3).await);
    assert_eq!(totals(&cart), ["36.00", "0.00", "15.00", "2.61", "53.61"]);
    assert_eq!(
        shipping_offers(&cart),
        [
            ("standard", "5.99"),
            ("express", "14.99"),
            ("freight", "15.00")
        ]
    );
    // 30 kg: the last bracket.
    let cart = ok(set(30).await);
    assert_eq!(cart["selectedShippingMethod"]["price"]["amount"], "35.00");
    // 31 kg: too heavy for freight. The cart still reads; freight has no
    // price and is no longer the selected method; checkout refuses it.
    let cart = ok(set(31).await);
    assert_eq!(
        shipping_offers(&cart),
        [("standard", "0.00"), ("express", "14.99"), ("freight", "-")]
    );
    assert_eq!(cart["selectedShippingMethod"], Value::Null);
    assert_eq!(totals(&cart), ["372.00", "0.00", "0.00", "26.97", "398.97"]);
    ok(mutate(
        &app,
        GUEST,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": id, "buyerIdentity": { "email": "heavy@example.com" } }),
    )
    .await);
    let done = checkout(&app, GUEST, &id).await;
    assert_eq!(error_codes(&done), ["INVALID_SHIPPING_METHOD"]);
    // Choosing it again is refused while the cart is too heavy.
    let refused = mutate(
        &app,
        GUEST,
        "cartShippingMethodSelect",
        json!({ "cartId": id, "shippingMethodCode": "freight" }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["INVALID_SHIPPING_METHOD"]);
    let cart = ship(&app, GUEST, &id, address(Some("CA"), "US"), "express").await;
    assert_eq!(cart["selectedShippingMethod"]["code"], "express");
}

#[tokio::test]
async fn an_eu_cart_includes_vat_and_taxes_shipping_at_the_standard_rate() {
    let (app, admin) = shop().await;
    let (_, g) = product(&app, &admin, "EU-STD", json!({ "prices": [eur("11.90")] })).await;
    let (_, h) = product(
        &app,
        &admin,
        "EU-RED",
        json!({ "prices": [eur("10.70")], "taxClass": "reduced" }),
    )
    .await;
    let cart = new_cart(&app, EU, json!({ "lines": [line(&g, 2), line(&h, 1)] })).await;
    let id = id_of(&cart);
    let cart = ship(&app, EU, &id, address(None, "DE"), "standard").await;
    assert_eq!(cart["cost"]["subtotal"]["currencyCode"], "EUR");
    assert_eq!(cart["cost"]["taxIncluded"], true);

    // Gross prices. G: 2 x 1190 = 2380, VAT 19 %: 2380 - 2380/1.19 = 380.
    // H (reduced, 7 %): 1070 - 1070/1.07 = 70.
    // Shipping `standard` 4.90 below 50.00, taxed at the standard rate:
    // 490 - 490/1.19 = 78.24 -> 78.
    // Total (tax included): 3450 + 490 = 3940; tax 380 + 70 + 78 = 528.
    assert_eq!(totals(&cart), ["34.50", "0.00", "4.90", "5.28", "39.40"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["11.90", "23.80", "0.00", "3.80", "23.80"]
    );
    assert_eq!(
        line_cost(&cart, 1),
        ["10.70", "10.70", "0.00", "0.70", "10.70"]
    );

    // SAVE10 (eu): 345 off, G 238, H 107. VAT on what is left:
    // G 2142 - 2142/1.19 = 342; H 963 - 963/1.07 = 63; shipping still 78.
    // Total 3450 - 345 + 490 = 3595; tax 483.
    let cart = ok(mutate(
        &app,
        EU,
        "cartDiscountCodesUpdate",
        json!({ "cartId": id, "discountCodes": ["SAVE10"] }),
    )
    .await);
    assert_eq!(totals(&cart), ["34.50", "3.45", "4.90", "4.83", "35.95"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["11.90", "23.80", "2.38", "3.42", "21.42"]
    );
    assert_eq!(
        line_cost(&cart, 1),
        ["10.70", "10.70", "1.07", "0.63", "9.63"]
    );
    assert_eq!(line_allocations(&cart, 1), [("SAVE10", "1.07")]);

    // Express 12.90: 1290 - 1290/1.19 = 205.97 -> 206 of VAT.
    // Total 3105 + 1290 = 4395; tax 342 + 63 + 206 = 611.
    let cart = ok(mutate(
        &app,
        EU,
        "cartShippingMethodSelect",
        json!({ "cartId": id, "shippingMethodCode": "express" }),
    )
    .await);
    assert_eq!(totals(&cart), ["34.50", "3.45", "12.90", "6.11", "43.95"]);

    // FREESHIP takes the shipping off, and its VAT with it.
    let cart = ok(mutate(
        &app,
        EU,
        "cartDiscountCodesUpdate",
        json!({ "cartId": id, "discountCodes": ["SAVE10", "FREESHIP"] }),
    )
    .await);
    assert_eq!(totals(&cart), ["34.50", "16.35", "12.90", "4.05", "31.05"]);

    // The cart keeps its channel: read without the header, still EUR.
    let plain = read(&app, GUEST, &id).await;
    assert_eq!(plain["cost"]["total"]["amount"], "31.05");
    assert_eq!(plain["cost"]["subtotal"]["currencyCode"], "EUR");
}

#[tokio::test]
async fn tax_and_percentages_round_half_up_per_line() {
    let (app, admin) = shop().await;
    let (_, p1) = product(&app, &admin, "HALF-1", json!({ "prices": [usd("2.00")] })).await;
    let (_, p2) = product(&app, &admin, "HALF-2", json!({ "prices": [usd("10.05")] })).await;
    let cart = new_cart(
        &app,
        GUEST,
        json!({ "lines": [line(&p1, 1), line(&p2, 1)], "buyerIdentity": { "shippingAddress": address(Some("CA"), "US") } }),
    )
    .await;
    // CA 7.25 %: 200 x 0.0725 = 14.5 -> 15 (half-up, not to even);
    // 1005 x 0.0725 = 72.86 -> 73. No shipping method yet: no shipping.
    assert_eq!(totals(&cart), ["12.05", "0.00", "0.00", "0.88", "12.93"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["2.00", "2.00", "0.00", "0.15", "2.15"]
    );

    // SAVE10: 10 % of 1205 = 120.5 -> 121. Spread: 121 x 200/1205 = 20.08,
    // 121 x 1005/1205 = 100.92 -> the spare cent goes to the larger
    // remainder: 20 and 101. Tax: 180 x 0.0725 = 13.05 -> 13;
    // 904 x 0.0725 = 65.54 -> 66. Total 1205 - 121 + 79 = 1163.
    let cart = ok(mutate(
        &app,
        GUEST,
        "cartDiscountCodesUpdate",
        json!({ "cartId": cart["id"], "discountCodes": ["SAVE10"] }),
    )
    .await);
    assert_eq!(totals(&cart), ["12.05", "1.21", "0.00", "0.79", "11.63"]);
    assert_eq!(
        line_cost(&cart, 0),
        ["2.00", "2.00", "0.20", "0.13", "1.93"]
    );
    assert_eq!(
        line_cost(&cart, 1),
        ["10.05", "10.05", "1.01", "0.66", "9.70"]
    );
}

#[tokio::test]
async fn quantity_tiers_and_the_wholesale_group_set_the_unit_price() {
    let (app, admin) = shop().await;
    let (_, t) = product(
        &app,
        &admin,
        "TIERED",
        json!({ "prices": [
            usd("10.00"),
            { "channel": "default", "amount": "8.00", "minQuantity": 10 },
            { "channel": "default", "amount": "7.00", "customerGroup": "wholesale" }
        ] }),
    )
    .await;
    let cart = new_cart(&app, GUEST, json!({ "lines": [line(&t, 9)] })).await;
    assert_eq!(line_cost(&cart, 0)[..2], ["10.00", "90.00"]);
    let cart = ok(mutate(
        &app,
        GUEST,
        "cartLinesUpdate",
        json!({ "cartId": cart["id"], "lines": [{ "id": cart["lines"][0]["id"], "quantity": 10 }] }),
    )
    .await);
    // From 10 units the tier price applies.
    assert_eq!(line_cost(&cart, 0)[..2], ["8.00", "80.00"]);

    // A wholesale customer pays the group price (the lowest that applies).
    let buyer = accounts::customer(&app, "wholesale@example.com").await;
    let assigned = gql(
        &app,
        signed_in(&admin),
        "mutation($c: ID!) { customerAssignGroup(customerId: $c, group: \"wholesale\") { userErrors { code } } }",
        json!({ "c": buyer.id }),
    )
    .await;
    assert_eq!(assigned["customerAssignGroup"]["userErrors"], json!([]));
    let who = signed_in(&buyer.access);
    let own = new_cart(&app, who, json!({ "lines": [line(&t, 1)] })).await;
    assert_eq!(line_cost(&own, 0)[..2], ["7.00", "7.00"]);
    let own = ok(mutate(
        &app,
        who,
        "cartLinesUpdate",
        json!({ "cartId": own["id"], "lines": [{ "id": own["lines"][0]["id"], "quantity": 10 }] }),
    )
    .await);
    assert_eq!(line_cost(&own, 0)[..2], ["7.00", "70.00"]);
    // A customer outside the group pays the public price.
    let retail = accounts::customer(&app, "retail@example.com").await;
    let theirs = new_cart(
        &app,
        signed_in(&retail.access),
        json!({ "lines": [line(&t, 1)] }),
    )
    .await;
    assert_eq!(line_cost(&theirs, 0)[..2], ["10.00", "10.00"]);
}
