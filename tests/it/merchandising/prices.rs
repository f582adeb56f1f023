//! Price lists: tiers and customer group prices.

use super::*;

#[tokio::test]
async fn price_lists_hold_tiers_and_customer_group_prices() {
    let shop = shop().await;
    shop.tee().await;
    let set = shop
        .run(
            PRICES_SET,
            json!({ "p": [
                { "sku": "TEE-S", "channel": "default", "amount": "27", "minQuantity": 10 },
                { "sku": "TEE-S", "channel": "default", "amount": "22", "customerGroup": "wholesale" },
                { "sku": "TEE-S", "channel": "default", "amount": "20", "customerGroup": "wholesale", "minQuantity": 50, "compareAtAmount": "22" }
            ] }),
        )
        .await;
    assert_eq!(
        set["pricesSet"],
        json!({ "updatedCount": 3, "userErrors": [] })
    );
    let list = shop
        .app
        .query_as(&shop.merch.access, PRICE_LIST, json!({}))
        .await;
    assert_eq!(
        list["product"]["variants"][0]["priceList"],
        json!([
            { "channel": { "code": "default" }, "customerGroup": null, "minQuantity": 1, "amount": { "amount": "30.00", "currencyCode": "USD" }, "compareAt": null },
            { "channel": { "code": "default" }, "customerGroup": null, "minQuantity": 10, "amount": { "amount": "27.00", "currencyCode": "USD" }, "compareAt": null },
            { "channel": { "code": "default" }, "customerGroup": { "code": "wholesale" }, "minQuantity": 1, "amount": { "amount": "22.00", "currencyCode": "USD" }, "compareAt": null },
            { "channel": { "code": "default" }, "customerGroup": { "code": "wholesale" }, "minQuantity": 50, "amount": { "amount": "20.00", "currencyCode": "USD" }, "compareAt": { "amount": "22.00" } },
            { "channel": { "code": "eu" }, "customerGroup": null, "minQuantity": 1, "amount": { "amount": "28.00", "currencyCode": "EUR" }, "compareAt": null }
        ])
    );
    // The storefront still sells at the base price; the price list is not public.
    assert_eq!(
        shop.storefront_tee("default").await["variants"][0]["price"]["amount"],
        "30.00"
    );
    let (_, anonymous) = shop.app.post(PRICE_LIST, json!({})).await;
    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );

    // Every mistake is reported and nothing is written.
    let bad = shop
        .run(
            PRICES_SET,
            json!({ "p": [
                { "sku": "TEE-S", "channel": "default", "amount": "1", "customerGroup": "vip" },
                { "sku": "TEE-S", "channel": "default", "amount": "-1", "minQuantity": 5 },
                { "sku": "TEE-S", "channel": "eu", "amount": "1", "currencyCode": "USD" },
                { "sku": "TEE-S", "channel": "default", "amount": "1", "minQuantity": 0 },
                { "sku": "TEE-M", "channel": "eu", "amount": "1", "minQuantity": 5 },
                { "sku": "TEE-S", "channel": "mars", "amount": "1" },
                { "sku": "NOPE", "channel": "default", "amount": "1" },
                { "sku": "TEE-M", "channel": "default", "amount": "99" }
            ] }),
        )
        .await;
    assert_eq!(
        errors(&bad["pricesSet"]),
        pairs(&[
            ("prices.0.customerGroup", "NOT_FOUND"),
            ("prices.1", "INVALID"),
            ("prices.2", "INVALID"),
            ("prices.3.minQuantity", "INVALID"),
            ("prices.4", "INVALID"),
            ("prices.5", "INVALID"),
            ("prices.6", "NOT_FOUND"),
        ]),
        "{bad}"
    );
    let msgs = bad.to_string();
    assert!(
        msgs.contains("needs a base price") && msgs.contains("sells in EUR, not USD"),
        "{msgs}"
    );
    assert_eq!(
        shop.storefront_tee("default").await["variants"][1]["price"]["amount"],
        "30.00",
        "all or none"
    );

    // Tiers and group prices go one by one; a base price only when another stays.
    let removed = shop
        .run(
            PRICES_DELETE,
            json!({ "p": [{ "sku": "TEE-S", "channel": "default", "minQuantity": 10 }] }),
        )
        .await;
    assert_eq!(
        removed["pricesDelete"],
        json!({ "deletedCount": 1, "userErrors": [] })
    );
    let refused = shop
        .run(
            PRICES_DELETE,
            json!({ "p": [
                { "sku": "TEE-S", "channel": "default" },
                { "sku": "TEE-M", "channel": "default" },
                { "sku": "TEE-M", "channel": "eu" },
                { "sku": "TEE-S", "channel": "default", "customerGroup": "nobody" }
            ] }),
        )
        .await;
    assert_eq!(
        errors(&refused["pricesDelete"]),
        pairs(&[
            ("prices.0", "INVALID"),
            ("prices.1", "INVALID"),
            ("prices.2", "NOT_FOUND"),
            ("prices.3.customerGroup", "NOT_FOUND"),
        ]),
        "{refused}"
    );
    let eu_gone = shop
        .run(
            PRICES_DELETE,
            json!({ "p": [{ "sku": "TEE-S", "channel": "eu" }] }),
        )
        .await;
    assert_eq!(eu_gone["pricesDelete"]["deletedCount"], 1);
    assert_eq!(
        shop.storefront_tee("eu").await["variants"][0]["price"],
        Value::Null
    );
    let audit = shop.audit("variant_price").await;
    assert_eq!(
        audit.iter().filter(|a| *a == "price.delete").count(),
        2,
        "{audit:?}"
    );
    assert!(audit.iter().filter(|a| *a == "price.set").count() >= 3);

    // Customer groups and their members (customers:write).
    let group = shop
        .app
        .query_as(
            &shop.admin.access,
            "mutation { customerGroupCreate(code: \"vip\", name: \"VIP\") { customerGroup { code name } userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        group["customerGroupCreate"]["customerGroup"],
        json!({ "code": "vip", "name": "VIP" })
    );
    let again = shop
        .app
        .query_as(
            &shop.admin.access,
            "mutation { customerGroupCreate(code: \"vip\", name: \"VIP\") { userErrors { field code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        errors(&again["customerGroupCreate"]),
        pairs(&[("code", "TAKEN")])
    );
    let vip = shop
        .run(
            PRICES_SET,
            json!({ "p": [{ "sku": "TEE-S", "channel": "default", "amount": "25", "customerGroup": "vip" }] }),
        )
        .await;
    assert_eq!(vip["pricesSet"]["userErrors"], json!([]));
    let customer = accounts::customer(&shop.app, "buyer@example.com").await;
    let assign = "mutation($c: ID!, $g: String) { customerAssignGroup(customerId: $c, group: $g) { customer { email } userErrors { field code } } }";
    let assigned = shop
        .app
        .query_as(
            &shop.admin.access,
            assign,
            json!({ "c": customer.id, "g": "vip" }),
        )
        .await;
    assert_eq!(
        assigned["customerAssignGroup"],
        json!({ "customer": { "email": "buyer@example.com" }, "userErrors": [] })
    );
    let unknown = shop
        .app
        .query_as(
            &shop.admin.access,
            assign,
            json!({ "c": customer.id, "g": "gold" }),
        )
        .await;
    assert_eq!(
        errors(&unknown["customerAssignGroup"]),
        pairs(&[("group", "NOT_FOUND")])
    );
    let (_, forbidden) = shop
        .app
        .post_as(
            &shop.merch.access,
            assign,
            json!({ "c": customer.id, "g": "vip" }),
        )
        .await;
    assert_eq!(forbidden["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let groups = shop.run("{ customerGroups { code } }", json!({})).await;
    assert_eq!(
        groups["customerGroups"],
        json!([{ "code": "vip" }, { "code": "wholesale" }])
    );
    assert_eq!(shop.audit("customer").await, ["customer.assign_group"]);
    assert_eq!(
        shop.audit("customer_group").await,
        ["customer_group.create"]
    );
}
