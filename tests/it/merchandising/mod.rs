//! Merchandising administration over HTTP: price lists (tiers, customer
//! groups), variants of existing products in bulk, collections and their
//! order, product media, channels, stock locations and customer groups.
//! Each change reaches the storefront and leaves audit entries; each
//! mistake is a field-level user error that writes nothing.

mod collections;
mod options;
mod places;
mod prices;
mod variants;

use emporium::domain::identity::permission::Role;
use serde_json::{Value, json};

use crate::{
    accounts::{self, Login},
    harness::{Options, TestApp},
};

struct Shop {
    app: TestApp,
    merch: Login,
    admin: Login,
}

/// A shop of 5 seeded products, a merchandiser and an admin.
async fn shop() -> Shop {
    let app = TestApp::spawn_with(Options {
        products: Some(5),
        ..Default::default()
    })
    .await;
    let merch = accounts::staff_user(&app, "merch@example.com", Role::Merchandiser).await;
    let admin = accounts::staff_user(&app, "admin@example.com", Role::Admin).await;
    Shop { app, merch, admin }
}

impl Shop {
    async fn run(&self, doc: &str, vars: Value) -> Value {
        self.app.query_as(&self.merch.access, doc, vars).await
    }

    /// Creates the "Merino Tee" (sizes S, M, L; variants S and M priced in
    /// both channels) and returns its ID.
    async fn tee(&self) -> String {
        let created = self
            .run(
                "mutation($i: ProductCreateInput!) { productCreate(input: $i) { product { id } userErrors { message } } }",
                json!({ "i": {
                    "title": "Merino Tee", "status": "ACTIVE",
                    "options": [{ "name": "Size", "values": ["S", "M", "L"] }],
                    "variants": [
                        { "sku": "TEE-S", "optionValues": ["S"], "prices": [{ "channel": "default", "amount": "30" }, { "channel": "eu", "amount": "28" }] },
                        { "sku": "TEE-M", "optionValues": ["M"], "prices": [{ "channel": "default", "amount": "30" }] }
                    ]
                } }),
            )
            .await;
        let p = &created["productCreate"];
        assert_eq!(p["userErrors"], json!([]), "{created}");
        text(&p["product"]["id"])
    }

    /// The storefront's view of the tee.
    async fn storefront_tee(&self, channel: &str) -> Value {
        let doc = format!(
            "{{ product(handle: \"merino-tee\", channel: \"{channel}\") {{ variants {{ id sku title price {{ amount }} selectedOptions {{ value }} }} media {{ id url alt position }} }} }}"
        );
        self.app.query(&doc, json!({})).await["product"].clone()
    }

    /// Audit actions for an entity type, newest first.
    async fn audit(&self, entity_type: &str) -> Vec<String> {
        let data = self
            .app
            .query_as(
                &self.admin.access,
                "query($t: String!) { auditEntries(first: 50, entityType: $t) { nodes { action } } auditVerify { ok } }",
                json!({ "t": entity_type }),
            )
            .await;
        assert_eq!(data["auditVerify"]["ok"], true);
        data["auditEntries"]["nodes"]
            .as_array()
            .map(|a| a.iter().map(|e| text(&e["action"])).collect())
            .unwrap_or_default()
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// `(field joined by dots, code)` of each user error of `payload`.
fn errors(payload: &Value) -> Vec<(String, String)> {
    payload["userErrors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let field = e["field"]
                        .as_array()
                        .map(|f| f.iter().map(text).collect::<Vec<_>>().join("."))
                        .unwrap_or_default();
                    (field, text(&e["code"]))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
        .collect()
}

const COLLECTION: &str =
    "{ collection(handle: \"capsule\") { title products(first: 10) { nodes { handle } } } }";
const OPTIONS_CREATE: &str = "mutation($p: ID!, $o: [ProductOptionInput!]!) { productOptionsCreate(productId: $p, options: $o) { product { options { name values } } userErrors { field code message } } }";
const OPTION_UPDATE: &str = "mutation($p: ID!, $o: ID!, $n: String, $v: [String!]) { productOptionUpdate(productId: $p, optionId: $o, name: $n, values: $v) { product { options { name values } } userErrors { field code message } } }";
const OPTIONS_DELETE: &str = "mutation($p: ID!, $o: [ID!]!) { productOptionsDelete(productId: $p, optionIds: $o) { product { options { name } } userErrors { field code message } } }";
const TEE_OPTIONS: &str = "{ product(handle: \"merino-tee\") { options { id name values } variants { id sku title selectedOptions { name value } } } }";
const PRICES_SET: &str = "mutation($p: [SkuPriceInput!]!) { pricesSet(prices: $p) { updatedCount userErrors { field code message } } }";
const PRICES_DELETE: &str = "mutation($p: [SkuPriceDeleteInput!]!) { pricesDelete(prices: $p) { deletedCount userErrors { field code message } } }";
const PRICE_LIST: &str = "{ product(handle: \"merino-tee\") { variants { sku priceList { channel { code } customerGroup { code } minQuantity amount { amount currencyCode } compareAt { amount } } } } }";
const BULK_CREATE: &str = "mutation($p: ID!, $v: [ProductVariantCreateInput!]!) { productVariantsBulkCreate(productId: $p, variants: $v) { product { variants { sku } } userErrors { field code message } } }";
const BULK_UPDATE: &str = "mutation($p: ID!, $v: [ProductVariantUpdateInput!]!) { productVariantsBulkUpdate(productId: $p, variants: $v) { product { id } userErrors { field code message } } }";
const BULK_DELETE: &str = "mutation($p: ID!, $v: [ID!]!) { productVariantsBulkDelete(productId: $p, variantIds: $v) { product { id } userErrors { field code message } } }";
