//! Catalog administration: products with options, variants and prices,
//! field-level validation that writes nothing, prices by SKU, and the audit
//! entries every change leaves.

use emporium::domain::identity::permission::Role;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::{
    accounts::{self, Login},
    harness::{Options, TestApp, first_code},
};

const CREATE: &str = "mutation($i: ProductCreateInput!) { productCreate(input: $i) { product { id handle title status options { name values } variants { sku title price { amount currencyCode } compareAtPrice { amount } selectedOptions { name value } } } userErrors { field code message } } }";

fn tee() -> Value {
    json!({
        "title": "Merino Tee", "description": "Soft.", "vendor": "Emporium Basics", "tags": ["tops", "merino"],
        "status": "ACTIVE",
        "options": [{ "name": "Size", "values": ["S", "M"] }, { "name": "Color", "values": ["Navy"] }],
        "variants": [
            { "sku": "TEE-S-NAVY", "optionValues": ["S", "Navy"], "prices": [{ "channel": "default", "amount": "29.90", "compareAtAmount": "35.00" }, { "channel": "eu", "amount": "27.50", "currencyCode": "EUR" }] },
            { "sku": "TEE-M-NAVY", "optionValues": ["M", "navy"], "prices": [{ "channel": "default", "amount": "29.90" }] }
        ]
    })
}

async fn setup() -> (TestApp, Login) {
    let app = TestApp::spawn_with(Options {
        products: Some(5),
        ..Default::default()
    })
    .await;
    let merch = accounts::staff_user(&app, "merch@example.com", Role::Merchandiser).await;
    (app, merch)
}

async fn products(app: &TestApp) -> u64 {
    entity::product::Entity::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("query: {e}"))
}

#[tokio::test]
async fn a_merchandiser_creates_a_product_the_storefront_sells() {
    let (app, merch) = setup().await;
    let created = app
        .query_as(&merch.access, CREATE, json!({ "i": tee() }))
        .await;
    let p = &created["productCreate"];
    assert_eq!(p["userErrors"], json!([]));
    assert_eq!(p["product"]["handle"], "merino-tee");
    assert_eq!(p["product"]["variants"][0]["title"], "S / Navy");
    assert_eq!(
        p["product"]["variants"][1]["selectedOptions"],
        json!([{ "name": "Size", "value": "M" }, { "name": "Color", "value": "Navy" }])
    );

    let eu = app
        .query("{ product(handle: \"merino-tee\", channel: \"eu\") { title vendor tags variants { sku price { amount currencyCode } } } }", json!({}))
        .await;
    assert_eq!(
        eu["product"]["variants"][0]["price"],
        json!({ "amount": "27.50", "currencyCode": "EUR" })
    );
    assert_eq!(
        eu["product"]["variants"][1]["price"],
        Value::Null,
        "no EU price for M"
    );
    assert_eq!(eu["product"]["tags"], json!(["merino", "tops"]));

    let admin = accounts::staff_user(&app, "admin@example.com", Role::Admin).await;
    let audit = app
        .query_as(&admin.access, "{ auditEntries(first: 5, entityType: \"product\") { nodes { action actorKind actor after } } }", json!({}))
        .await;
    let entry = &audit["auditEntries"]["nodes"][0];
    assert_eq!(
        (entry["action"].as_str(), entry["actor"].as_str()),
        (Some("product.create"), Some("merch@example.com"))
    );
    assert!(entry["after"].as_str().unwrap_or("").contains("TEE-S-NAVY"));
}

#[tokio::test]
async fn bad_input_is_reported_field_by_field_and_writes_nothing() {
    let (app, merch) = setup().await;
    let before = products(&app).await;
    let codes = |v: &Value| -> Vec<(String, String)> {
        v["productCreate"]["userErrors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let field = e["field"]
                            .as_array()
                            .map(|f| {
                                f.iter()
                                    .filter_map(|x| x.as_str())
                                    .collect::<Vec<_>>()
                                    .join(".")
                            })
                            .unwrap_or_default();
                        (field, e["code"].as_str().unwrap_or("").to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut bad = tee();
    bad["variants"][1]["sku"] = json!("TEE-S-NAVY");
    bad["variants"][1]["optionValues"] = json!(["XL", "Navy"]);
    bad["variants"][0]["prices"][0]["amount"] = json!("-1");
    bad["variants"][0]["prices"][1]["currencyCode"] = json!("USD");
    let result = app
        .query_as(&merch.access, CREATE, json!({ "i": bad }))
        .await;
    assert_eq!(
        codes(&result),
        [
            ("input.variants.0.prices.0".into(), "INVALID".into()),
            ("input.variants.0.prices.1".into(), "INVALID".into()),
            ("input.variants.1.sku".into(), "TAKEN".into()),
            ("input.variants.1.optionValues".into(), "INVALID".into()),
        ]
    );
    let msgs = result["productCreate"]["userErrors"].to_string();
    assert!(
        msgs.contains("sells in EUR, not USD")
            && msgs.contains("`XL` is not a value of option `Size`"),
        "{msgs}"
    );
    assert_eq!(products(&app).await, before);

    // Taken in the database: an existing handle and SKU.
    let mut taken = tee();
    taken["handle"] = json!("pocket-journal-0");
    taken["variants"][0]["sku"] = json!("EMP-00000-01");
    let result = app
        .query_as(&merch.access, CREATE, json!({ "i": taken }))
        .await;
    assert_eq!(
        codes(&result),
        [
            ("input.handle".into(), "TAKEN".into()),
            ("input.variants.0.sku".into(), "TAKEN".into())
        ]
    );
    let mut unknown = tee();
    unknown["variants"][0]["prices"][0]["channel"] = json!("mars");
    let result = app
        .query_as(&merch.access, CREATE, json!({ "i": unknown }))
        .await;
    assert_eq!(
        codes(&result),
        [("input.variants.0.prices.0".into(), "INVALID".into())]
    );
    assert_eq!(products(&app).await, before);
}

#[tokio::test]
async fn products_are_updated_archived_and_deleted_with_an_audit_entry_each() {
    let (app, merch) = setup().await;
    let created = app
        .query_as(&merch.access, CREATE, json!({ "i": tee() }))
        .await;
    let id = created["productCreate"]["product"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let update = app
        .query_as(
            &merch.access,
            "mutation($id: ID!) { productUpdate(id: $id, input: { title: \"Merino Tee II\", tags: [\"new\"] }) { product { title tags } userErrors { code } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        update["productUpdate"]["product"],
        json!({ "title": "Merino Tee II", "tags": ["new"] })
    );
    let clash = app
        .query_as(&merch.access, "mutation($id: ID!) { productUpdate(id: $id, input: { handle: \"pocket-journal-0\" }) { userErrors { field code } } }", json!({ "id": id }))
        .await;
    assert_eq!(
        clash["productUpdate"]["userErrors"],
        json!([{ "field": ["input", "handle"], "code": "TAKEN" }])
    );

    let visible = "{ product(handle: \"merino-tee\") { title } }";
    assert_eq!(
        app.query(visible, json!({})).await["product"]["title"],
        "Merino Tee II"
    );
    app.query_as(
        &merch.access,
        "mutation($id: ID!) { productArchive(id: $id) { product { status } } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        app.query(visible, json!({})).await["product"],
        Value::Null,
        "archived products leave the storefront"
    );
    let deleted = app
        .query_as(&merch.access, "mutation($id: ID!) { productDelete(id: $id) { deletedProductId userErrors { code } } }", json!({ "id": id }))
        .await;
    assert_eq!(deleted["productDelete"]["deletedProductId"], json!(id));
    let again = app
        .query_as(&merch.access, "mutation($id: ID!) { productDelete(id: $id) { deletedProductId userErrors { code } } }", json!({ "id": id }))
        .await;
    assert_eq!(again["productDelete"]["userErrors"][0]["code"], "NOT_FOUND");

    let admin = accounts::staff_user(&app, "admin@example.com", Role::Admin).await;
    let audit = app
        .query_as(&admin.access, "{ auditEntries(first: 10, entityType: \"product\") { nodes { action before after } } auditVerify { ok } }", json!({}))
        .await;
    let actions: Vec<&str> = audit["auditEntries"]["nodes"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        actions,
        [
            "product.delete",
            "product.update",
            "product.update",
            "product.create"
        ]
    );
    let update_entry = &audit["auditEntries"]["nodes"][2];
    assert!(
        update_entry["before"]
            .as_str()
            .unwrap_or("")
            .contains("\"Merino Tee\"")
    );
    assert!(
        update_entry["after"]
            .as_str()
            .unwrap_or("")
            .contains("\"Merino Tee II\"")
    );
    assert_eq!(audit["auditVerify"]["ok"], true);
}

#[tokio::test]
async fn prices_set_by_sku_reach_the_storefront_and_are_audited() {
    let (app, merch) = setup().await;
    let read = "{ product(handle: \"pocket-journal-0\") { variants { sku price { amount } compareAtPrice { amount } } } }";
    app.query(read, json!({})).await; // warm the response cache
    let set = "mutation($p: [SkuPriceInput!]!) { pricesSet(prices: $p) { updatedCount userErrors { field code message } } }";
    let ok = app
        .query_as(&merch.access, set, json!({ "p": [{ "sku": "EMP-00000-01", "channel": "default", "amount": "12.34", "compareAtAmount": "20" }] }))
        .await;
    assert_eq!(
        ok["pricesSet"],
        json!({ "updatedCount": 1, "userErrors": [] })
    );
    let now = app.query(read, json!({})).await;
    assert_eq!(now["product"]["variants"][0]["price"]["amount"], "12.34");
    assert_eq!(
        now["product"]["variants"][0]["compareAtPrice"]["amount"],
        "20.00"
    );
    let same = app
        .query_as(&merch.access, set, json!({ "p": [{ "sku": "EMP-00000-01", "channel": "default", "amount": "12.34", "compareAtAmount": "20" }] }))
        .await;
    assert_eq!(same["pricesSet"]["updatedCount"], 0);
    let bad = app
        .query_as(
            &merch.access,
            set,
            json!({ "p": [
                { "sku": "EMP-00000-01", "channel": "eu", "amount": "9", "currencyCode": "USD" },
                { "sku": "NOPE", "channel": "default", "amount": "9" },
                { "sku": "EMP-00000-02", "channel": "default", "amount": "9" }
            ] }),
        )
        .await;
    let codes: Vec<&str> = bad["pricesSet"]["userErrors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["code"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(codes, ["INVALID", "NOT_FOUND"]);
    assert_eq!(bad["pricesSet"]["updatedCount"], 0, "all or none");
    let admin = accounts::staff_user(&app, "admin@example.com", Role::Admin).await;
    let audit = app
        .query_as(&admin.access, "{ auditEntries(first: 5, entityType: \"variant_price\") { nodes { action before after } } }", json!({}))
        .await;
    assert_eq!(
        audit["auditEntries"]["nodes"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(
        audit["auditEntries"]["nodes"][0]["after"]
            .as_str()
            .unwrap_or("")
            .contains("1234")
    );
}

#[tokio::test]
async fn prices_in_a_new_product_also_need_prices_write() {
    let app = TestApp::spawn_with(Options {
        products: Some(2),
        ..Default::default()
    })
    .await;
    let (catalog_only, _) = accounts::partner_token(&app, &["catalog:write"], None).await;
    let (_, body) = app
        .post_as(&catalog_only, CREATE, json!({ "i": tee() }))
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN");
    let mut unpriced = tee();
    for v in unpriced["variants"].as_array_mut().into_iter().flatten() {
        v["prices"] = json!([]);
    }
    let created = app
        .query_as(&catalog_only, CREATE, json!({ "i": unpriced }))
        .await;
    assert_eq!(created["productCreate"]["userErrors"], json!([]));
}

#[tokio::test]
async fn the_database_holds_one_price_per_slot_for_everyone_too() {
    use sea_orm::ConnectionTrait;
    let (app, _) = setup().await;
    // A second base price (everyone, from 1) for a variant and channel that
    // have one: the unique index refuses it, NULL group or not.
    let dup = "INSERT INTO variant_price (variant_id, channel_id, customer_group_id, min_quantity, amount_minor, compare_at_minor) \
               SELECT variant_id, channel_id, customer_group_id, min_quantity, amount_minor + 1, NULL \
               FROM variant_price WHERE customer_group_id IS NULL AND min_quantity = 1 LIMIT 1";
    assert!(app.db.execute_unprepared(dup).await.is_err());
    // Another tier of the same slot family is fine.
    let tier = "INSERT INTO variant_price (variant_id, channel_id, customer_group_id, min_quantity, amount_minor, compare_at_minor) \
                SELECT variant_id, channel_id, customer_group_id, 977, amount_minor, NULL \
                FROM variant_price WHERE customer_group_id IS NULL AND min_quantity = 1 LIMIT 1";
    assert!(app.db.execute_unprepared(tier).await.is_ok());
}
