//! Settings refused: mistakes are typed userErrors that write nothing,
//! and reading or changing settings needs its permission.

use super::*;

#[tokio::test]
async fn mistakes_are_typed_user_errors_and_write_nothing() {
    let (app, admin) = shop_with(None).await;
    let before = audited(&app, &admin).await;
    let zones_before = gql(
        &app,
        signed_in(&admin),
        "{ shippingZones { name countries methods { code price { amount } } } }",
        json!({}),
    )
    .await;
    let rates_before = gql(
        &app,
        signed_in(&admin),
        "{ taxRates { countryCode region taxClass rate } }",
        json!({}),
    )
    .await;

    // Zones.
    let z = zone_create(&app, &admin, " ", &["DE", "UK", "EU"]).await;
    assert_eq!(z["shippingZone"], Value::Null);
    assert_eq!(
        refusals(&z),
        [
            pair("input.name", "BLANK"),
            pair("input.countries.1", "INVALID_COUNTRY_CODE"),
            pair("input.countries.2", "INVALID_COUNTRY_CODE"),
        ]
    );
    assert_eq!(
        refusals(&zone_create(&app, &admin, "Nowhere", &[]).await),
        [pair("input.countries", "BLANK")]
    );
    assert_eq!(
        refusals(&zone_create(&app, &admin, "United States", &["US"]).await),
        [pair("input.name", "TAKEN")]
    );

    // Methods.
    let zones = gql(
        &app,
        signed_in(&admin),
        "{ shippingZones { id name } }",
        json!({}),
    )
    .await;
    let us = zones["shippingZones"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|z| z["name"] == "United States")
        .map(|z| z["id"].clone())
        .unwrap_or_default();
    let base = json!({ "zoneId": us, "channel": "default", "code": "courier", "name": "Courier", "kind": "FLAT", "price": "5.00" });
    let with = |changes: Value| {
        let mut input = base.clone();
        if let (Some(i), Some(c)) = (input.as_object_mut(), changes.as_object()) {
            i.extend(c.clone());
        }
        input
    };
    for (changes, expected) in [
        (
            json!({ "price": "-1.00" }),
            vec![pair("input.price", "OUT_OF_RANGE")],
        ),
        (
            json!({ "price": "1.005" }),
            vec![pair("input.price", "INVALID")],
        ),
        (
            json!({ "code": "standard" }),
            vec![pair("input.code", "TAKEN")],
        ),
        (
            json!({ "code": "" , "name": "" }),
            vec![pair("input.code", "BLANK"), pair("input.name", "BLANK")],
        ),
        (
            json!({ "code": "Not A Slug" }),
            vec![pair("input.code", "INVALID")],
        ),
        (
            json!({ "channel": "nope" }),
            vec![pair("input.channel", "NOT_FOUND")],
        ),
        (
            json!({ "kind": "FREE_OVER" }),
            vec![pair("input.freeOver", "BLANK")],
        ),
        (
            json!({ "freeOver": "10.00" }),
            vec![pair("input.freeOver", "INVALID")],
        ),
        (
            json!({ "kind": "BY_WEIGHT", "weightBrackets": [] }),
            vec![pair("input.weightBrackets", "BLANK")],
        ),
        (
            json!({ "kind": "BY_WEIGHT", "weightBrackets": [{ "upToGrams": 0, "price": "1.00" }, { "upToGrams": 500, "price": "-2.00" }] }),
            vec![
                pair("input.weightBrackets.0.upToGrams", "OUT_OF_RANGE"),
                pair("input.weightBrackets.1.price", "OUT_OF_RANGE"),
            ],
        ),
    ] {
        let refused = method_create(&app, &admin, with(changes.clone())).await;
        assert_eq!(refused["shippingMethod"], Value::Null, "{changes}");
        assert_eq!(refusals(&refused), expected, "{changes}: {refused}");
    }

    // Tax rates.
    let rate = json!({ "countryCode": "JP", "taxClass": "standard", "rate": "0.1", "name": "JCT" });
    let with_rate = |changes: Value| {
        let mut input = rate.clone();
        if let (Some(i), Some(c)) = (input.as_object_mut(), changes.as_object()) {
            i.extend(c.clone());
        }
        input
    };
    for (changes, expected) in [
        (
            json!({ "rate": "1.5" }),
            vec![pair("input.rate", "OUT_OF_RANGE")],
        ),
        (
            json!({ "rate": "-0.01" }),
            vec![pair("input.rate", "OUT_OF_RANGE")],
        ),
        (
            json!({ "rate": "0.0000001" }),
            vec![pair("input.rate", "INVALID")],
        ),
        (
            json!({ "countryCode": "XX" }),
            vec![pair("input.countryCode", "INVALID_COUNTRY_CODE")],
        ),
        (
            json!({ "countryCode": "" }),
            vec![pair("input.countryCode", "BLANK")],
        ),
        (
            json!({ "taxClass": " ", "name": "" }),
            vec![pair("input.taxClass", "BLANK"), pair("input.name", "BLANK")],
        ),
        (
            json!({ "countryCode": "de" }),
            vec![pair("input.taxClass", "TAKEN")],
        ),
        (
            json!({ "countryCode": "US", "region": "ny" }),
            vec![pair("input.taxClass", "TAKEN")],
        ),
        (
            json!({ "region": "not a region!" }),
            vec![pair("input.region", "INVALID")],
        ),
    ] {
        let refused = rate_create(&app, &admin, with_rate(changes.clone())).await;
        assert_eq!(refused["taxRate"], Value::Null, "{changes}");
        assert_eq!(refusals(&refused), expected, "{changes}: {refused}");
    }
    // Unknown objects.
    let missing = settings(
        &app,
        &admin,
        &format!("mutation($id: ID!) {{ taxRateUpdate(id: $id, input: {{ rate: \"0.2\" }}) {{ taxRate {{ id }} {ERRORS} }} }}"),
        json!({ "id": crate::authz::gid("TaxRate", 999_999) }),
    )
    .await;
    assert_eq!(refusals(&missing), [pair("id", "NOT_FOUND")]);

    // Nothing was written.
    assert_eq!(audited(&app, &admin).await, before);
    let zones_after = gql(
        &app,
        signed_in(&admin),
        "{ shippingZones { name countries methods { code price { amount } } } }",
        json!({}),
    )
    .await;
    let rates_after = gql(
        &app,
        signed_in(&admin),
        "{ taxRates { countryCode region taxClass rate } }",
        json!({}),
    )
    .await;
    assert_eq!(zones_after, zones_before);
    assert_eq!(rates_after, rates_before);
}

#[tokio::test]
async fn reading_needs_settings_read_and_changing_settings_write() {
    let (app, admin) = shop_with(None).await;
    let merchandiser = accounts::staff_user(&app, "m@example.com", Role::Merchandiser).await;
    let zones = "{ shippingZones { name } }";
    let create = "mutation { taxRateCreate(input: { countryCode: \"JP\", taxClass: \"standard\", rate: \"0.1\", name: \"JCT\" }) { taxRate { countryCode } userErrors { code } } }";

    // Roles below admin read, and may not change.
    let seen = gql(&app, signed_in(&merchandiser.access), zones, json!({})).await;
    assert!(
        seen["shippingZones"]
            .as_array()
            .is_some_and(|z| z.len() == 3),
        "{seen}"
    );
    let (_, body) = app.post_as(&merchandiser.access, create, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let (_, body) = app.post(zones, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );

    // Partner tokens: by scope.
    let (reader, _) = accounts::partner_token(&app, &["settings:read"], None).await;
    let (writer, _) = accounts::partner_token(&app, &["settings:write"], None).await;
    let (_, body) = app.post_as(&reader, create, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let (_, body) = app.post_as(&writer, zones, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let made = app.query_as(&writer, create, json!({})).await;
    assert_eq!(
        made["taxRateCreate"]["taxRate"]["countryCode"], "JP",
        "{made}"
    );
    // Audited as the token.
    let entries = gql(
        &app,
        signed_in(&admin),
        "{ auditEntries(first: 1, entityType: \"tax_rate\") { nodes { action actorKind } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        entries["auditEntries"]["nodes"],
        json!([{ "action": "tax_rate.create", "actorKind": "partner" }])
    );
}
