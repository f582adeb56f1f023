//! Registration, profiles and addresses.

use super::*;

#[tokio::test]
async fn registration_validates_and_emails_are_unique_regardless_of_case() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let ok = accounts::register(&app, "Ada@Example.com", PASSWORD).await;
    assert_eq!(ok["userErrors"], json!([]));
    assert_eq!(ok["customer"]["email"], "ada@example.com");

    let again = accounts::register(&app, "ADA@example.COM ", PASSWORD).await;
    assert_eq!(again["customer"], Value::Null);
    assert_eq!(again["userErrors"][0]["code"], "TAKEN");
    assert_eq!(again["userErrors"][0]["field"], json!(["input", "email"]));

    let codes = |v: &Value| -> Vec<String> {
        v["userErrors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["code"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        codes(&accounts::register(&app, "not-an-email", PASSWORD).await),
        ["INVALID"]
    );
    assert_eq!(
        codes(&accounts::register(&app, "", PASSWORD).await),
        ["BLANK"]
    );
    assert_eq!(
        codes(&accounts::register(&app, "bob@example.com", "short").await),
        ["TOO_SHORT"]
    );
    assert_eq!(
        codes(&accounts::register(&app, "bob@example.com", "password123").await),
        ["PASSWORD_TOO_WEAK"]
    );
    // Both mistakes at once are both reported, and nothing was created.
    assert_eq!(
        codes(&accounts::register(&app, "nope", "x").await),
        ["INVALID", "TOO_SHORT"]
    );
    let (_, login) = accounts::customer_login(&app, "bob@example.com", "password123").await;
    assert_eq!(
        login["data"]["customerLogin"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_email_create_one_account() {
    let app = app_apart().await;
    let attempts = (0..6).map(|i| {
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com"
        };
        accounts::register(&app, email, PASSWORD)
    });
    let results = futures_util::future::join_all(attempts).await;
    let created = results.iter().filter(|r| r["customer"].is_object()).count();
    assert_eq!(created, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r["customer"].is_null())
            .all(|r| r["userErrors"][0]["code"] == "TAKEN")
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_are_indistinguishable() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    accounts::customer(&app, "ada@example.com").await;
    let (s1, wrong) = accounts::customer_login(&app, "ada@example.com", "not the password").await;
    let (s2, unknown) =
        accounts::customer_login(&app, "nobody@example.com", "not the password").await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["data"]["customerLogin"]["tokens"], Value::Null);
    assert_eq!(
        wrong["data"]["customerLogin"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
}

#[tokio::test]
async fn a_customer_reads_and_edits_their_own_profile_and_addresses() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let ada = accounts::customer(&app, "ada@example.com").await;
    let me = app.query_as(&ada.access, ME, json!({})).await;
    assert_eq!(me["me"]["email"], "ada@example.com");
    assert_eq!(me["me"]["id"], json!(ada.id));

    let create = "mutation($a: MailingAddressInput!, $d: Boolean) { customerAddressCreate(address: $a, setDefault: $d) { address { id city countryCode zip formatted } userErrors { field code } } }";
    let first = app
        .query_as(&ada.access, create, json!({ "a": { "address1": "1 Main St", "city": "Springfield", "countryCode": "us", "zip": "12345" } }))
        .await;
    let first = &first["customerAddressCreate"];
    assert_eq!(first["userErrors"], json!([]));
    assert_eq!(first["address"]["countryCode"], "US");
    let first_id = text(&first["address"]["id"]);

    let bad = app
        .query_as(
            &ada.access,
            create,
            json!({ "a": { "city": "Nowhere", "countryCode": "USA" } }),
        )
        .await;
    let codes: Vec<&str> = bad["customerAddressCreate"]["userErrors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["code"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(codes, ["BLANK", "INVALID"]);

    let second = app
        .query_as(&ada.access, create, json!({ "a": { "address1": "2 Side St", "city": "Shelbyville", "countryCode": "US" }, "d": true }))
        .await;
    let second_id = text(&second["customerAddressCreate"]["address"]["id"]);
    let me = app
        .query_as(
            &ada.access,
            "{ me { defaultAddress { id } addresses { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["defaultAddress"]["id"], json!(second_id));
    assert_eq!(me["me"]["addresses"].as_array().map(Vec::len), Some(2));

    let update = app
        .query_as(
            &ada.access,
            "mutation($id: ID!, $a: MailingAddressInput!) { customerAddressUpdate(id: $id, address: $a) { address { city address1 } userErrors { code } } }",
            json!({ "id": first_id, "a": { "city": "Capital City" } }),
        )
        .await;
    assert_eq!(
        update["customerAddressUpdate"]["address"],
        json!({ "city": "Capital City", "address1": "1 Main St" })
    );

    let default = app
        .query_as(
            &ada.access,
            "mutation($id: ID!) { customerDefaultAddressUpdate(addressId: $id) { customer { defaultAddress { id } } userErrors { code } } }",
            json!({ "id": first_id }),
        )
        .await;
    assert_eq!(
        default["customerDefaultAddressUpdate"]["customer"]["defaultAddress"]["id"],
        json!(first_id)
    );

    let delete = app
        .query_as(
            &ada.access,
            "mutation($id: ID!) { customerAddressDelete(id: $id) { deletedAddressId userErrors { code } } }",
            json!({ "id": first_id }),
        )
        .await;
    assert_eq!(
        delete["customerAddressDelete"]["deletedAddressId"],
        json!(first_id)
    );
    let me = app
        .query_as(
            &ada.access,
            "{ me { defaultAddress { id } addresses { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["me"]["defaultAddress"],
        Value::Null,
        "deleting the default clears it"
    );
    assert_eq!(me["me"]["addresses"], json!([{ "id": second_id }]));

    let profile = app
        .query_as(
            &ada.access,
            "mutation { customerUpdate(input: { firstName: \"Ada\", lastName: \"Lovelace\", phone: \"+44 20 7946 0000\" }) { customer { displayName phone } userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        profile["customerUpdate"]["customer"],
        json!({ "displayName": "Ada Lovelace", "phone": "+44 20 7946 0000" })
    );
    let bad_phone = app
        .query_as(&ada.access, "mutation { customerUpdate(input: { phone: \"call me\" }) { customer { id } userErrors { field code } } }", json!({}))
        .await;
    assert_eq!(
        bad_phone["customerUpdate"]["userErrors"],
        json!([{ "field": ["input", "phone"], "code": "INVALID" }])
    );
}
