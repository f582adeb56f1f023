//! Shop settings over HTTP: shipping zones and methods, tax rates and
//! classes. A change prices the very next cart quote (carts are read
//! anonymously, through the response cache's path), mistakes are typed
//! userErrors that write nothing, every change is audited, and a tax class
//! without a rate where the shop ships and taxes shows as a configuration
//! warning (carts are still sold, taxed 0 % on it).

use emporium::domain::identity::permission::Role;
use serde_json::{Value, json};

use crate::{
    accounts,
    cart::{
        GUEST, address, gql, line, mutate, new_cart, ok, product, read, shop_with, signed_in, usd,
    },
    harness::TestApp,
};

mod refusals;

const ERRORS: &str = "userErrors { field code message }";
const METHOD: &str = "id zoneId channel { code } code name kind price { amount currencyCode } freeOver { amount } weightBrackets { upToGrams price { amount } } taxClass active position";

/// Runs a settings mutation as `token` and returns its payload.
async fn settings(app: &TestApp, token: &str, doc: &str, vars: Value) -> Value {
    let data = gql(app, signed_in(token), doc, vars).await;
    data.as_object()
        .and_then(|o| o.values().next().cloned())
        .unwrap_or(Value::Null)
}

async fn zone_create(app: &TestApp, token: &str, name: &str, countries: &[&str]) -> Value {
    settings(
        app,
        token,
        &format!(
            "mutation($i: ShippingZoneCreateInput!) {{ shippingZoneCreate(input: $i) {{ shippingZone {{ id name countries methods {{ code }} }} {ERRORS} }} }}"
        ),
        json!({ "i": { "name": name, "countries": countries } }),
    )
    .await
}

async fn method_create(app: &TestApp, token: &str, input: Value) -> Value {
    settings(
        app,
        token,
        &format!(
            "mutation($i: ShippingMethodCreateInput!) {{ shippingMethodCreate(input: $i) {{ shippingMethod {{ {METHOD} }} {ERRORS} }} }}"
        ),
        json!({ "i": input }),
    )
    .await
}

async fn method_update(app: &TestApp, token: &str, id: &Value, input: Value) -> Value {
    settings(
        app,
        token,
        &format!(
            "mutation($id: ID!, $i: ShippingMethodUpdateInput!) {{ shippingMethodUpdate(id: $id, input: $i) {{ shippingMethod {{ {METHOD} }} {ERRORS} }} }}"
        ),
        json!({ "id": id, "i": input }),
    )
    .await
}

async fn rate_create(app: &TestApp, token: &str, input: Value) -> Value {
    settings(
        app,
        token,
        &format!(
            "mutation($i: TaxRateCreateInput!) {{ taxRateCreate(input: $i) {{ taxRate {{ id countryCode region taxClass rate name }} {ERRORS} }} }}"
        ),
        json!({ "i": input }),
    )
    .await
}

async fn rate_update(app: &TestApp, token: &str, id: &Value, input: Value) -> Value {
    settings(
        app,
        token,
        &format!(
            "mutation($id: ID!, $i: TaxRateUpdateInput!) {{ taxRateUpdate(id: $id, input: $i) {{ taxRate {{ id countryCode region taxClass rate name }} {ERRORS} }} }}"
        ),
        json!({ "id": id, "i": input }),
    )
    .await
}

/// The payload's object, which must have succeeded.
fn done(payload: &Value, field: &str) -> Value {
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    payload[field].clone()
}

/// The payload's errors as (field path joined by dots, code).
fn refusals(payload: &Value) -> Vec<(String, String)> {
    payload["userErrors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let field = e["field"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(".");
            (field, e["code"].as_str().unwrap_or("?").to_owned())
        })
        .collect()
}

fn pair(field: &str, code: &str) -> (String, String) {
    (field.to_owned(), code.to_owned())
}

/// Entries in the audit chain (and whether it verifies).
async fn audited(app: &TestApp, admin: &str) -> i64 {
    let v = gql(
        app,
        signed_in(admin),
        "{ auditVerify { ok checked } }",
        json!({}),
    )
    .await;
    assert_eq!(v["auditVerify"]["ok"], true, "{v}");
    v["auditVerify"]["checked"].as_i64().unwrap_or(-1)
}

/// Actions of the newest audit entries about `entity_type`.
async fn audit_actions(app: &TestApp, admin: &str, entity_type: &str) -> Vec<String> {
    let v = gql(
        app,
        signed_in(admin),
        "query($t: String) { auditEntries(first: 50, entityType: $t) { nodes { action } } }",
        json!({ "t": entity_type }),
    )
    .await;
    v["auditEntries"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["action"].as_str().map(str::to_owned))
        .collect()
}

/// The cart's shipping offers as (code, price).
fn offers(cart: &Value) -> Vec<(String, String)> {
    cart["availableShippingMethods"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["code"].as_str().unwrap_or("?").to_owned(),
                m["price"]["amount"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

fn offer(code: &str, price: &str) -> (String, String) {
    (code.to_owned(), price.to_owned())
}

/// A guest cart of one unit of `variant` shipping to `to`.
async fn cart_to(app: &TestApp, variant: &str, to: Value) -> String {
    let cart = new_cart(app, GUEST, json!({ "lines": [line(variant, 1)] })).await;
    let id = cart["id"].as_str().unwrap_or_default().to_owned();
    ok(mutate(
        app,
        GUEST,
        "cartBuyerIdentityUpdate",
        json!({ "cartId": id, "buyerIdentity": { "shippingAddress": to } }),
    )
    .await);
    id
}

#[tokio::test]
async fn a_zone_and_method_are_offered_and_each_change_prices_the_next_quote() {
    let (app, admin) = shop_with(None).await;
    let (_, v) = product(&app, &admin, "SHIP-1", json!({ "prices": [usd("20.00")] })).await;
    let cart = cart_to(&app, &v, address(None, "JP")).await;
    assert!(offers(&read(&app, GUEST, &cart).await).is_empty());

    let zone = done(
        &zone_create(&app, &admin, "Japan and Korea", &["jp", " KR", "JP"]).await,
        "shippingZone",
    );
    assert_eq!(zone["countries"], json!(["JP", "KR"]));
    let method = done(
        &method_create(
            &app,
            &admin,
            json!({ "zoneId": zone["id"], "channel": "default", "code": "jp-post",
                    "name": "Japan Post", "kind": "FLAT", "price": "12.50" }),
        )
        .await,
        "shippingMethod",
    );
    assert_eq!(
        method["price"],
        json!({ "amount": "12.50", "currencyCode": "USD" })
    );
    assert_eq!(method["channel"]["code"], "default");
    assert_eq!(method["zoneId"], zone["id"]);

    // Offered at once, and chosen.
    assert_eq!(
        offers(&read(&app, GUEST, &cart).await),
        [offer("jp-post", "12.50")]
    );
    let chosen = ok(mutate(
        &app,
        GUEST,
        "cartShippingMethodSelect",
        json!({ "cartId": cart, "shippingMethodCode": "jp-post" }),
    )
    .await);
    assert_eq!(chosen["cost"]["shipping"]["amount"], "12.50");
    assert_eq!(chosen["cost"]["total"]["amount"], "32.50");

    // A new price prices the next read.
    done(
        &method_update(&app, &admin, &method["id"], json!({ "price": "9.00" })).await,
        "shippingMethod",
    );
    let after = read(&app, GUEST, &cart).await;
    assert_eq!(offers(&after), [offer("jp-post", "9.00")]);
    assert_eq!(after["selectedShippingMethod"]["price"]["amount"], "9.00");
    assert_eq!(after["cost"]["shipping"]["amount"], "9.00");

    // Free over a threshold the cart reaches.
    let free = done(
        &method_update(
            &app,
            &admin,
            &method["id"],
            json!({ "kind": "FREE_OVER", "freeOver": "15.00" }),
        )
        .await,
        "shippingMethod",
    );
    assert_eq!(free["kind"], "FREE_OVER");
    assert_eq!(free["freeOver"]["amount"], "15.00");
    assert_eq!(
        read(&app, GUEST, &cart).await["cost"]["shipping"]["amount"],
        "0.00"
    );

    // Inactive: not offered; active again: back.
    method_update(&app, &admin, &method["id"], json!({ "active": false })).await;
    assert!(offers(&read(&app, GUEST, &cart).await).is_empty());
    method_update(&app, &admin, &method["id"], json!({ "active": true })).await;
    assert_eq!(
        offers(&read(&app, GUEST, &cart).await),
        [offer("jp-post", "0.00")]
    );

    // Listed with its zone.
    let zones = gql(
        &app,
        signed_in(&admin),
        &format!("{{ shippingZones {{ id name countries methods {{ {METHOD} }} }} }}"),
        json!({}),
    )
    .await;
    let listed = zones["shippingZones"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|z| z["id"] == zone["id"])
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed["methods"][0]["code"], "jp-post", "{zones}");

    // Deleted: gone from the next quote, and the cart no longer has it.
    let deleted = settings(
        &app,
        &admin,
        &format!("mutation($id: ID!) {{ shippingMethodDelete(id: $id) {{ deletedShippingMethodId {ERRORS} }} }}"),
        json!({ "id": method["id"] }),
    )
    .await;
    assert_eq!(deleted["deletedShippingMethodId"], method["id"]);
    let gone = read(&app, GUEST, &cart).await;
    assert!(offers(&gone).is_empty());
    assert_eq!(gone["selectedShippingMethod"], Value::Null);
    assert_eq!(gone["cost"]["shipping"]["amount"], "0.00");

    // Every change is in the audit chain.
    assert_eq!(
        audit_actions(&app, &admin, "shipping_method").await,
        [
            "shipping_method.delete",
            "shipping_method.update",
            "shipping_method.update",
            "shipping_method.update",
            "shipping_method.update",
            "shipping_method.create",
        ]
    );
    assert_eq!(
        audit_actions(&app, &admin, "shipping_zone").await,
        ["shipping_zone.create"]
    );
}

#[tokio::test]
async fn weight_brackets_and_deleting_a_zone_with_its_methods() {
    let (app, admin) = shop_with(None).await;
    let (_, v) = product(
        &app,
        &admin,
        "HEAVY-1",
        json!({ "prices": [usd("10.00")], "weightGrams": 1500 }),
    )
    .await;
    let zone = done(
        &zone_create(&app, &admin, "Oceania", &["AU", "NZ"]).await,
        "shippingZone",
    );
    let method = done(
        &method_create(
            &app,
            &admin,
            json!({ "zoneId": zone["id"], "channel": "default", "code": "oceania-freight",
                    "name": "Freight", "kind": "BY_WEIGHT",
                    "weightBrackets": [{ "upToGrams": 5000, "price": "30.00" }, { "upToGrams": 1000, "price": "15.00" }] }),
        )
        .await,
        "shippingMethod",
    );
    assert_eq!(
        method["weightBrackets"],
        json!([
            { "upToGrams": 1000, "price": { "amount": "15.00" } },
            { "upToGrams": 5000, "price": { "amount": "30.00" } }
        ])
    );
    let cart = cart_to(&app, &v, address(None, "NZ")).await;
    assert_eq!(
        offers(&read(&app, GUEST, &cart).await),
        [offer("oceania-freight", "30.00")]
    );
    // Moving the zone's countries moves the offer.
    let moved = settings(
        &app,
        &admin,
        &format!("mutation($id: ID!) {{ shippingZoneUpdate(id: $id, input: {{ countries: [\"AU\"] }}) {{ shippingZone {{ countries methods {{ code }} }} {ERRORS} }} }}"),
        json!({ "id": zone["id"] }),
    )
    .await;
    assert_eq!(
        done(&moved, "shippingZone"),
        json!({ "countries": ["AU"], "methods": [{ "code": "oceania-freight" }] })
    );
    assert!(offers(&read(&app, GUEST, &cart).await).is_empty());

    let deleted = settings(
        &app,
        &admin,
        &format!("mutation($id: ID!) {{ shippingZoneDelete(id: $id) {{ deletedShippingZoneId {ERRORS} }} }}"),
        json!({ "id": zone["id"] }),
    )
    .await;
    assert_eq!(deleted["deletedShippingZoneId"], zone["id"]);
    let zones = gql(
        &app,
        signed_in(&admin),
        "{ shippingZones { name methods { code } } }",
        json!({}),
    )
    .await;
    let text = zones.to_string();
    assert!(
        !text.contains("Oceania") && !text.contains("oceania-freight"),
        "{zones}"
    );
    // The method went with an audit entry of its own.
    assert_eq!(
        audit_actions(&app, &admin, "shipping_method").await,
        ["shipping_method.delete", "shipping_method.create"]
    );
}

#[tokio::test]
async fn a_tax_rate_change_prices_the_next_quote() {
    let (app, admin) = shop_with(None).await;
    let (_, v) = product(
        &app,
        &admin,
        "TAXED-1",
        json!({ "prices": [usd("100.00")] }),
    )
    .await;
    let cart = cart_to(&app, &v, address(Some("CA"), "US")).await;
    // Seeded: California 7.25 % on `standard`.
    assert_eq!(
        read(&app, GUEST, &cart).await["cost"]["tax"]["amount"],
        "7.25"
    );

    let rates = gql(
        &app,
        signed_in(&admin),
        "{ taxRates(countryCode: \"us\", taxClass: \"standard\") { id region rate name } }",
        json!({}),
    )
    .await;
    let ca = rates["taxRates"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["region"] == "CA")
        .cloned()
        .unwrap_or_default();
    assert_eq!(ca["rate"], "0.0725", "{rates}");
    let updated = done(
        &rate_update(&app, &admin, &ca["id"], json!({ "rate": "0.08" })).await,
        "taxRate",
    );
    assert_eq!(updated["rate"], "0.08");
    assert_eq!(
        read(&app, GUEST, &cart).await["cost"]["tax"]["amount"],
        "8.00"
    );

    // A country with no rate is untaxed; one rate there taxes it.
    let jp = cart_to(&app, &v, address(None, "JP")).await;
    assert_eq!(
        read(&app, GUEST, &jp).await["cost"]["tax"]["amount"],
        "0.00"
    );
    let created = done(
        &rate_create(
            &app,
            &admin,
            json!({ "countryCode": "jp", "taxClass": "standard", "rate": "0.1", "name": "Consumption tax" }),
        )
        .await,
        "taxRate",
    );
    assert_eq!(
        created,
        json!({ "id": created["id"], "countryCode": "JP", "region": null, "taxClass": "standard", "rate": "0.1", "name": "Consumption tax" })
    );
    assert_eq!(
        read(&app, GUEST, &jp).await["cost"]["tax"]["amount"],
        "10.00"
    );
    let deleted = settings(
        &app,
        &admin,
        &format!("mutation($id: ID!) {{ taxRateDelete(id: $id) {{ deletedTaxRateId {ERRORS} }} }}"),
        json!({ "id": created["id"] }),
    )
    .await;
    assert_eq!(deleted["deletedTaxRateId"], created["id"]);
    assert_eq!(
        read(&app, GUEST, &jp).await["cost"]["tax"]["amount"],
        "0.00"
    );

    // Tax classes: what variants, methods and rates name.
    let classes = gql(
        &app,
        signed_in(&admin),
        "{ taxClasses { code productVariantCount shippingMethodCount rates { countryCode region rate } } }",
        json!({}),
    )
    .await;
    let standard = classes["taxClasses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["code"] == "standard")
        .cloned()
        .unwrap_or_default();
    assert!(
        standard["productVariantCount"].as_i64().unwrap_or(0) >= 1,
        "{classes}"
    );
    assert_eq!(standard["shippingMethodCount"], 2, "{classes}");
    assert!(
        standard["rates"].as_array().is_some_and(
            |r| r.contains(&json!({ "countryCode": "US", "region": "CA", "rate": "0.08" }))
        ),
        "{classes}"
    );
    assert_eq!(
        audit_actions(&app, &admin, "tax_rate").await,
        ["tax_rate.delete", "tax_rate.create", "tax_rate.update"]
    );
}

#[tokio::test]
async fn a_tax_class_without_a_rate_is_a_warning_until_a_rate_is_added() {
    let (app, admin) = shop_with(None).await;
    let warnings = "{ shopConfigurationWarnings { code message taxClass countryCode region } }";
    // The seeded shop taxes every class it uses wherever it taxes.
    let clean = gql(&app, signed_in(&admin), warnings, json!({})).await;
    assert_eq!(clean["shopConfigurationWarnings"], json!([]));

    let (_, v) = product(
        &app,
        &admin,
        "BOOK-1",
        json!({ "prices": [usd("10.00")], "taxClass": "books" }),
    )
    .await;
    let places = |data: &Value| -> Vec<(String, String, String)> {
        data["shopConfigurationWarnings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|w| {
                assert_eq!(w["code"], "MISSING_TAX_RATE");
                assert!(
                    w["message"].as_str().is_some_and(|m| m.contains("books")),
                    "{w}"
                );
                (
                    w["taxClass"].as_str().unwrap_or("?").to_owned(),
                    w["countryCode"].as_str().unwrap_or("?").to_owned(),
                    w["region"].as_str().unwrap_or("-").to_owned(),
                )
            })
            .collect()
    };
    let place = |c: &str, r: &str| ("books".to_owned(), c.to_owned(), r.to_owned());
    let listed = gql(&app, signed_in(&admin), warnings, json!({})).await;
    assert_eq!(
        places(&listed),
        [
            place("AT", "-"),
            place("DE", "-"),
            place("FR", "-"),
            place("NL", "-"),
            place("US", "CA"),
            place("US", "NY"),
        ]
    );

    // The cart is still sold, taxed 0 % on the class (not refused).
    let cart = cart_to(&app, &v, address(Some("CA"), "US")).await;
    let priced = read(&app, GUEST, &cart).await;
    assert_eq!(priced["cost"]["tax"]["amount"], "0.00");
    assert_eq!(priced["cost"]["total"]["amount"], "10.00");

    // A rate for California (and one for all of Germany) clears those.
    for (country, region) in [("US", Some("CA")), ("DE", None)] {
        done(
            &rate_create(
                &app,
                &admin,
                json!({ "countryCode": country, "region": region, "taxClass": "books", "rate": "0.05", "name": "Books" }),
            )
            .await,
            "taxRate",
        );
    }
    let after = gql(&app, signed_in(&admin), warnings, json!({})).await;
    assert_eq!(
        places(&after),
        [
            place("AT", "-"),
            place("FR", "-"),
            place("NL", "-"),
            place("US", "NY")
        ]
    );
    assert_eq!(
        read(&app, GUEST, &cart).await["cost"]["tax"]["amount"],
        "0.50"
    );
}
