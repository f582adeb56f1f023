//! Merchandising administration over HTTP: price lists (tiers, customer
//! groups), variants of existing products in bulk, collections and their
//! order, product media, channels, stock locations and customer groups.
//! Each change reaches the storefront and leaves audit entries; each
//! mistake is a field-level user error that writes nothing.

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

const PRICES_SET: &str = "mutation($p: [SkuPriceInput!]!) { pricesSet(prices: $p) { updatedCount userErrors { field code message } } }";
const PRICES_DELETE: &str = "mutation($p: [SkuPriceDeleteInput!]!) { pricesDelete(prices: $p) { deletedCount userErrors { field code message } } }";
const PRICE_LIST: &str = "{ product(handle: \"merino-tee\") { variants { sku priceList { channel { code } customerGroup { code } minQuantity amount { amount currencyCode } compareAt { amount } } } } }";

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

const BULK_CREATE: &str = "mutation($p: ID!, $v: [ProductVariantCreateInput!]!) { productVariantsBulkCreate(productId: $p, variants: $v) { product { variants { sku } } userErrors { field code message } } }";
const BULK_UPDATE: &str = "mutation($p: ID!, $v: [ProductVariantUpdateInput!]!) { productVariantsBulkUpdate(productId: $p, variants: $v) { product { id } userErrors { field code message } } }";
const BULK_DELETE: &str = "mutation($p: ID!, $v: [ID!]!) { productVariantsBulkDelete(productId: $p, variantIds: $v) { product { id } userErrors { field code message } } }";

#[tokio::test]
async fn variants_are_added_changed_and_removed_in_bulk() {
    let shop = shop().await;
    let tee = shop.tee().await;
    let bad = shop
        .run(
            BULK_CREATE,
            json!({ "p": tee, "v": [
                { "sku": "TEE-L", "optionValues": ["XL"] },
                { "sku": "TEE-L", "optionValues": ["S"] },
                { "sku": "EMP-00000-01", "optionValues": ["L"], "prices": [{ "channel": "default", "amount": "-3" }] }
            ] }),
        )
        .await;
    assert_eq!(
        errors(&bad["productVariantsBulkCreate"]),
        pairs(&[
            ("variants.0.optionValues", "INVALID"),
            ("variants.1.sku", "TAKEN"),
            ("variants.1.optionValues", "TAKEN"),
            ("variants.2.prices.0", "INVALID"),
            ("variants.2.sku", "TAKEN"),
        ]),
        "{bad}"
    );
    assert!(
        bad.to_string()
            .contains("`XL` is not a value of option `Size`")
    );
    let added = shop
        .run(
            BULK_CREATE,
            json!({ "p": tee, "v": [{ "sku": "TEE-L", "optionValues": ["L"], "prices": [{ "channel": "default", "amount": "32" }] }] }),
        )
        .await;
    assert_eq!(
        added["productVariantsBulkCreate"],
        json!({ "product": { "variants": [{ "sku": "TEE-S" }, { "sku": "TEE-M" }, { "sku": "TEE-L" }] }, "userErrors": [] })
    );
    let storefront = shop.storefront_tee("default").await;
    assert_eq!(
        storefront["variants"][2],
        json!({ "id": storefront["variants"][2]["id"], "sku": "TEE-L", "title": "L", "price": { "amount": "32.00" }, "selectedOptions": [{ "value": "L" }], })
    );
    let ids: Vec<String> = storefront["variants"]
        .as_array()
        .map(|a| a.iter().map(|v| text(&v["id"])).collect())
        .unwrap_or_default();
    let other = text(
        &shop
            .app
            .query(
                "{ product(handle: \"pocket-journal-0\") { variants { id } } }",
                json!({}),
            )
            .await["product"]["variants"][0]["id"],
    );

    let bad = shop
        .run(
            BULK_UPDATE,
            json!({ "p": tee, "v": [
                { "id": ids[2], "sku": "TEE-S" },
                { "id": ids[1], "optionValues": ["S"] },
                { "id": other, "title": "Stolen" }
            ] }),
        )
        .await;
    assert_eq!(
        errors(&bad["productVariantsBulkUpdate"]),
        pairs(&[
            ("variants.0.sku", "TAKEN"),
            ("variants.2.id", "NOT_FOUND"),
            ("variants.1.optionValues", "TAKEN"),
        ]),
        "{bad}"
    );
    // Swapping sizes of two variants in one call is fine.
    let ok = shop
        .run(
            BULK_UPDATE,
            json!({ "p": tee, "v": [
                { "id": ids[0], "optionValues": ["M"], "sku": "TEE-M2", "barcode": "4006381333931" },
                { "id": ids[1], "optionValues": ["S"], "prices": [{ "channel": "default", "amount": "31" }] }
            ] }),
        )
        .await;
    assert_eq!(
        ok["productVariantsBulkUpdate"]["userErrors"],
        json!([]),
        "{ok}"
    );
    let storefront = shop.storefront_tee("default").await;
    let seen: Vec<(String, String, String)> = storefront["variants"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| {
                    (
                        text(&v["sku"]),
                        text(&v["title"]),
                        text(&v["price"]["amount"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        seen,
        [
            ("TEE-M2".into(), "M".into(), "30.00".into()),
            ("TEE-M".into(), "S".into(), "31.00".into()),
            ("TEE-L".into(), "L".into(), "32.00".into())
        ]
    );

    let bad = shop
        .run(BULK_DELETE, json!({ "p": tee, "v": [ids[0], other] }))
        .await;
    assert_eq!(
        errors(&bad["productVariantsBulkDelete"]),
        pairs(&[("variantIds.1", "NOT_FOUND")])
    );
    let all = shop.run(BULK_DELETE, json!({ "p": tee, "v": ids })).await;
    assert_eq!(
        errors(&all["productVariantsBulkDelete"]),
        pairs(&[("variantIds", "INVALID")])
    );
    let one = shop
        .run(BULK_DELETE, json!({ "p": tee, "v": [ids[2]] }))
        .await;
    assert_eq!(one["productVariantsBulkDelete"]["userErrors"], json!([]));
    assert_eq!(
        shop.storefront_tee("default").await["variants"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let audit = shop.audit("variant").await;
    assert_eq!(
        audit,
        [
            "variant.delete",
            "variant.update",
            "variant.update",
            "variant.create"
        ]
    );
}

const COLLECTION: &str =
    "{ collection(handle: \"capsule\") { title products(first: 10) { nodes { handle } } } }";

fn handles(v: &Value) -> Vec<String> {
    v["collection"]["products"]["nodes"]
        .as_array()
        .map(|a| a.iter().map(|n| text(&n["handle"])).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn collections_keep_the_merchandisers_order() {
    let shop = shop().await;
    let listed = shop
        .app
        .query("{ products(first: 3) { nodes { id handle } } }", json!({}))
        .await;
    let nodes = listed["products"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ids: Vec<String> = nodes.iter().map(|n| text(&n["id"])).collect();
    let names: Vec<String> = nodes.iter().map(|n| text(&n["handle"])).collect();
    assert_eq!(ids.len(), 3);

    let created = shop
        .run(
            "mutation { collectionCreate(input: { title: \"Capsule\", description: \"Few things.\" }) { collection { id handle } userErrors { field code } } }",
            json!({}),
        )
        .await;
    let c = &created["collectionCreate"];
    assert_eq!(c["collection"]["handle"], "capsule");
    let cid = text(&c["collection"]["id"]);
    let taken = shop
        .run(
            "mutation { collectionCreate(input: { title: \"Summer\" }) { userErrors { field code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        errors(&taken["collectionCreate"]),
        pairs(&[("input.handle", "TAKEN")])
    );

    let add = "mutation($c: ID!, $p: [ID!]!, $at: Int) { collectionProductsAdd(collectionId: $c, productIds: $p, position: $at) { collection { handle } userErrors { field code } } }";
    let r = shop
        .run(add, json!({ "c": cid, "p": [ids[0], ids[1]] }))
        .await;
    assert_eq!(r["collectionProductsAdd"]["userErrors"], json!([]));
    let r = shop
        .run(add, json!({ "c": cid, "p": [ids[2]], "at": 0 }))
        .await;
    assert_eq!(r["collectionProductsAdd"]["userErrors"], json!([]));
    assert_eq!(
        handles(&shop.app.query(COLLECTION, json!({})).await),
        [names[2].clone(), names[0].clone(), names[1].clone()]
    );
    let missing = "Z2lkOi8vZW1wb3JpdW0vUHJvZHVjdC85OTk5OTk"; // Product 999999
    let r = shop.run(add, json!({ "c": cid, "p": [missing] })).await;
    assert_eq!(
        errors(&r["collectionProductsAdd"]),
        pairs(&[("productIds.0", "NOT_FOUND")])
    );

    let reorder = "mutation($c: ID!, $p: [ID!]!) { collectionProductsReorder(collectionId: $c, productIds: $p) { collection { handle } userErrors { field code } } }";
    let r = shop
        .run(reorder, json!({ "c": cid, "p": [ids[1], ids[0]] }))
        .await;
    assert_eq!(
        errors(&r["collectionProductsReorder"]),
        pairs(&[("productIds", "INVALID")]),
        "a reorder with a missing id"
    );
    let r = shop
        .run(reorder, json!({ "c": cid, "p": [ids[1], ids[0], ids[2]] }))
        .await;
    assert_eq!(r["collectionProductsReorder"]["userErrors"], json!([]));
    assert_eq!(
        handles(&shop.app.query(COLLECTION, json!({})).await),
        [names[1].clone(), names[0].clone(), names[2].clone()]
    );

    let remove = "mutation($c: ID!, $p: [ID!]!) { collectionProductsRemove(collectionId: $c, productIds: $p) { collection { handle } userErrors { field code } } }";
    let r = shop.run(remove, json!({ "c": cid, "p": [ids[0]] })).await;
    assert_eq!(r["collectionProductsRemove"]["userErrors"], json!([]));
    assert_eq!(
        handles(&shop.app.query(COLLECTION, json!({})).await),
        [names[1].clone(), names[2].clone()]
    );
    let r = shop.run(remove, json!({ "c": cid, "p": [ids[0]] })).await;
    assert_eq!(
        errors(&r["collectionProductsRemove"]),
        pairs(&[("productIds.0", "NOT_FOUND")])
    );

    let r = shop
        .run(
            "mutation($c: ID!) { collectionUpdate(id: $c, input: { title: \"Capsule Wardrobe\" }) { collection { title } userErrors { code } } }",
            json!({ "c": cid }),
        )
        .await;
    assert_eq!(
        r["collectionUpdate"]["collection"]["title"],
        "Capsule Wardrobe"
    );
    assert_eq!(
        shop.app.query(COLLECTION, json!({})).await["collection"]["title"],
        "Capsule Wardrobe"
    );
    let delete = "mutation($c: ID!) { collectionDelete(id: $c) { deletedCollectionId userErrors { field code } } }";
    let r = shop.run(delete, json!({ "c": cid })).await;
    assert_eq!(r["collectionDelete"]["deletedCollectionId"], json!(cid));
    assert_eq!(
        shop.app.query(COLLECTION, json!({})).await["collection"],
        Value::Null
    );
    let r = shop.run(delete, json!({ "c": cid })).await;
    assert_eq!(
        errors(&r["collectionDelete"]),
        pairs(&[("id", "NOT_FOUND")])
    );
    assert_eq!(
        shop.audit("collection").await,
        [
            "collection.delete",
            "collection.update",
            "collection.products_remove",
            "collection.products_reorder",
            "collection.products_add",
            "collection.products_add",
            "collection.create"
        ]
    );
}

#[tokio::test]
async fn product_media_is_added_reordered_and_deleted() {
    let shop = shop().await;
    let tee = shop.tee().await;
    let add = "mutation($p: ID!, $m: [ProductMediaInput!]!) { productMediaAdd(productId: $p, media: $m) { product { media { id } } userErrors { field code } } }";
    let bad = shop
        .run(
            add,
            json!({ "p": tee, "m": [{ "url": "ftp://cdn.example.com/a.jpg" }, { "url": "https://cdn.example.com/b.jpg" }, { "url": "javascript:alert(1)" }] }),
        )
        .await;
    assert_eq!(
        errors(&bad["productMediaAdd"]),
        pairs(&[("media.0.url", "INVALID"), ("media.2.url", "INVALID")])
    );
    assert_eq!(shop.storefront_tee("default").await["media"], json!([]));
    let ok = shop
        .run(
            add,
            json!({ "p": tee, "m": [{ "url": "https://cdn.example.com/front.jpg", "alt": "Front" }, { "url": "https://cdn.example.com/back.jpg" }] }),
        )
        .await;
    assert_eq!(ok["productMediaAdd"]["userErrors"], json!([]));
    let media = shop.storefront_tee("default").await["media"].clone();
    let ids: Vec<String> = media
        .as_array()
        .map(|a| a.iter().map(|m| text(&m["id"])).collect())
        .unwrap_or_default();
    assert_eq!(media[0]["alt"], "Front");
    assert_eq!(media[1]["position"], 2);

    let reorder = "mutation($p: ID!, $m: [ID!]!) { productMediaReorder(productId: $p, mediaIds: $m) { userErrors { field code } } }";
    let r = shop.run(reorder, json!({ "p": tee, "m": [ids[1]] })).await;
    assert_eq!(
        errors(&r["productMediaReorder"]),
        pairs(&[("mediaIds", "INVALID")])
    );
    let r = shop
        .run(reorder, json!({ "p": tee, "m": [ids[1], ids[0]] }))
        .await;
    assert_eq!(r["productMediaReorder"]["userErrors"], json!([]));
    let urls: Vec<String> = shop.storefront_tee("default").await["media"]
        .as_array()
        .map(|a| a.iter().map(|m| text(&m["url"])).collect())
        .unwrap_or_default();
    assert_eq!(
        urls,
        [
            "https://cdn.example.com/back.jpg",
            "https://cdn.example.com/front.jpg"
        ]
    );
    let seeded = text(
        &shop
            .app
            .query(
                "{ product(handle: \"pocket-journal-0\") { media { id } } }",
                json!({}),
            )
            .await["product"]["media"][0]["id"],
    );
    let delete = "mutation($p: ID!, $m: [ID!]!) { productMediaDelete(productId: $p, mediaIds: $m) { userErrors { field code } } }";
    let r = shop.run(delete, json!({ "p": tee, "m": [seeded] })).await;
    assert_eq!(
        errors(&r["productMediaDelete"]),
        pairs(&[("mediaIds.0", "NOT_FOUND")])
    );
    let r = shop.run(delete, json!({ "p": tee, "m": [ids[1]] })).await;
    assert_eq!(r["productMediaDelete"]["userErrors"], json!([]));
    let left = shop.storefront_tee("default").await["media"].clone();
    assert_eq!(
        left,
        json!([{ "id": ids[0], "url": "https://cdn.example.com/front.jpg", "alt": "Front", "position": 1 }])
    );
    let audit = shop.audit("product").await;
    assert_eq!(
        audit[..3],
        ["media.delete", "media.reorder", "media.add"],
        "{audit:?}"
    );
}

#[tokio::test]
async fn channels_and_stock_locations_are_managed() {
    let shop = shop().await;
    shop.tee().await;
    let create = "mutation($c: String!, $n: String!, $cur: String!) { channelCreate(code: $c, name: $n, currencyCode: $cur, pricesIncludeTax: true) { channel { id code currencyCode pricesIncludeTax } userErrors { field code } } }";
    let bad = shop
        .run(create, json!({ "c": "Bad Code", "n": "", "cur": "XYZ" }))
        .await;
    assert_eq!(
        errors(&bad["channelCreate"]),
        pairs(&[
            ("code", "INVALID"),
            ("name", "BLANK"),
            ("currencyCode", "INVALID")
        ])
    );
    let taken = shop
        .run(create, json!({ "c": "eu", "n": "Again", "cur": "EUR" }))
        .await;
    assert_eq!(errors(&taken["channelCreate"]), pairs(&[("code", "TAKEN")]));
    let uk = shop
        .run(create, json!({ "c": "uk", "n": "UK Store", "cur": "gbp" }))
        .await;
    let channel = &uk["channelCreate"]["channel"];
    assert_eq!(
        (channel["code"].clone(), channel["currencyCode"].clone()),
        (json!("uk"), json!("GBP"))
    );
    let uk_id = text(&channel["id"]);
    let update = "mutation($id: ID!, $cur: String) { channelUpdate(id: $id, currencyCode: $cur, name: \"Renamed\") { channel { name currencyCode } userErrors { field code } } }";
    let r = shop.run(update, json!({ "id": uk_id, "cur": "CHF" })).await;
    assert_eq!(
        r["channelUpdate"]["channel"],
        json!({ "name": "Renamed", "currencyCode": "CHF" })
    );
    let eu_id = text(
        &shop
            .app
            .query("{ channel(code: \"eu\") { id } }", json!({}))
            .await["channel"]["id"],
    );
    let r = shop.run(update, json!({ "id": eu_id, "cur": "USD" })).await;
    assert_eq!(
        errors(&r["channelUpdate"]),
        pairs(&[("currencyCode", "INVALID")]),
        "the EU channel has prices"
    );
    let priced = shop
        .run(
            PRICES_SET,
            json!({ "p": [{ "sku": "TEE-S", "channel": "uk", "amount": "24.50", "currencyCode": "CHF" }] }),
        )
        .await;
    assert_eq!(priced["pricesSet"]["userErrors"], json!([]));
    assert_eq!(
        shop.app
            .query("{ product(handle: \"merino-tee\", channel: \"uk\") { variants { price { amount currencyCode } } } }", json!({}))
            .await["product"]["variants"][0]["price"],
        json!({ "amount": "24.50", "currencyCode": "CHF" })
    );
    let r = shop.run(update, json!({ "id": uk_id, "cur": "GBP" })).await;
    assert_eq!(
        errors(&r["channelUpdate"]),
        pairs(&[("currencyCode", "INVALID")]),
        "prices exist in CHF now"
    );

    let loc = "mutation($c: String!, $n: String!) { stockLocationCreate(code: $c, name: $n) { stockLocation { id code name } userErrors { field code } } }";
    let r = shop
        .run(loc, json!({ "c": "warehouse", "n": "Again" }))
        .await;
    assert_eq!(
        errors(&r["stockLocationCreate"]),
        pairs(&[("code", "TAKEN")])
    );
    let r = shop.run(loc, json!({ "c": "popup", "n": "Pop-up" })).await;
    let popup = text(&r["stockLocationCreate"]["stockLocation"]["id"]);
    let r = shop
        .run(
            "mutation($id: ID!) { stockLocationUpdate(id: $id, name: \"Pop-up Shop\") { stockLocation { code name } userErrors { code } } }",
            json!({ "id": popup }),
        )
        .await;
    assert_eq!(
        r["stockLocationUpdate"]["stockLocation"],
        json!({ "code": "popup", "name": "Pop-up Shop" })
    );
    let listed = shop.run("{ stockLocations { id code } }", json!({})).await;
    let warehouse = listed["stockLocations"]
        .as_array()
        .and_then(|a| a.iter().find(|l| l["code"] == "warehouse"))
        .map(|l| text(&l["id"]))
        .unwrap_or_default();
    let delete = "mutation($id: ID!) { stockLocationDelete(id: $id) { deletedStockLocationId userErrors { field code } } }";
    let r = shop.run(delete, json!({ "id": warehouse })).await;
    assert_eq!(
        errors(&r["stockLocationDelete"]),
        pairs(&[("id", "INVALID")]),
        "the warehouse holds stock"
    );
    let r = shop.run(delete, json!({ "id": popup })).await;
    assert_eq!(
        r["stockLocationDelete"]["deletedStockLocationId"],
        json!(popup)
    );
    let codes: Vec<String> =
        shop.run("{ stockLocations { code } }", json!({})).await["stockLocations"]
            .as_array()
            .map(|a| a.iter().map(|l| text(&l["code"])).collect())
            .unwrap_or_default();
    assert_eq!(codes, ["store", "warehouse"]);
    assert_eq!(
        shop.audit("channel").await,
        ["channel.update", "channel.create"]
    );
    assert_eq!(
        shop.audit("stock_location").await,
        [
            "stock_location.delete",
            "stock_location.update",
            "stock_location.create"
        ]
    );
}

const OPTIONS_CREATE: &str = "mutation($p: ID!, $o: [ProductOptionInput!]!) { productOptionsCreate(productId: $p, options: $o) { product { options { name values } } userErrors { field code message } } }";
const OPTION_UPDATE: &str = "mutation($p: ID!, $o: ID!, $n: String, $v: [String!]) { productOptionUpdate(productId: $p, optionId: $o, name: $n, values: $v) { product { options { name values } } userErrors { field code message } } }";
const OPTIONS_DELETE: &str = "mutation($p: ID!, $o: [ID!]!) { productOptionsDelete(productId: $p, optionIds: $o) { product { options { name } } userErrors { field code message } } }";
const TEE_OPTIONS: &str = "{ product(handle: \"merino-tee\") { options { id name values } variants { id sku title selectedOptions { name value } } } }";

impl Shop {
    /// The storefront's options of the tee, and its variants as
    /// `(sku, title, "name=value" ...)`.
    async fn tee_options(&self) -> (Value, Vec<(String, String, Vec<String>)>) {
        let p = self.app.query(TEE_OPTIONS, json!({})).await["product"].clone();
        let variants = p["variants"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| {
                        let selected = v["selectedOptions"]
                            .as_array()
                            .map(|s| {
                                s.iter()
                                    .map(|o| format!("{}={}", text(&o["name"]), text(&o["value"])))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (text(&v["sku"]), text(&v["title"]), selected)
                    })
                    .collect()
            })
            .unwrap_or_default();
        (p, variants)
    }
}

fn variant_row(sku: &str, title: &str, selected: &[&str]) -> (String, String, Vec<String>) {
    (
        sku.into(),
        title.into(),
        selected.iter().map(|s| (*s).to_owned()).collect(),
    )
}

#[tokio::test]
async fn options_are_added_changed_and_removed() {
    let shop = shop().await;
    let tee = shop.tee().await;
    let (before, _) = shop.tee_options().await;
    let size = text(&before["options"][0]["id"]);
    let medium = text(&before["variants"][1]["id"]);
    // A title someone wrote stays; generated ones follow the values.
    let renamed = shop
        .run(
            BULK_UPDATE,
            json!({ "p": tee, "v": [{ "id": medium, "title": "Medium" }] }),
        )
        .await;
    assert_eq!(
        renamed["productVariantsBulkUpdate"]["userErrors"],
        json!([])
    );

    let added = shop
        .run(
            OPTIONS_CREATE,
            json!({ "p": tee, "o": [{ "name": " Color ", "values": ["Navy", "Sand"] }] }),
        )
        .await;
    assert_eq!(
        added["productOptionsCreate"],
        json!({ "product": { "options": [
            { "name": "Size", "values": ["S", "M", "L"] },
            { "name": "Color", "values": ["Navy", "Sand"] }
        ] }, "userErrors": [] }),
    );
    let (p, variants) = shop.tee_options().await;
    assert_eq!(
        variants,
        [
            variant_row("TEE-S", "S / Navy", &["Size=S", "Color=Navy"]),
            variant_row("TEE-M", "Medium", &["Size=M", "Color=Navy"]),
        ]
    );
    let color = text(&p["options"][1]["id"]);
    assert_ne!(color, size);

    // Rename the option, reorder its values, add one (`navy` names Navy).
    let changed = shop
        .run(
            OPTION_UPDATE,
            json!({ "p": tee, "o": color, "n": "Colour", "v": ["Sand", "navy", "Olive"] }),
        )
        .await;
    assert_eq!(
        changed["productOptionUpdate"],
        json!({ "product": { "options": [
            { "name": "Size", "values": ["S", "M", "L"] },
            { "name": "Colour", "values": ["Sand", "Navy", "Olive"] }
        ] }, "userErrors": [] }),
    );
    let (_, variants) = shop.tee_options().await;
    assert_eq!(
        variants[0],
        variant_row("TEE-S", "S / Navy", &["Size=S", "Colour=Navy"])
    );
    // L is unused and goes; M is used by TEE-M and stays.
    let refused = shop
        .run(OPTION_UPDATE, json!({ "p": tee, "o": size, "v": ["S"] }))
        .await;
    assert_eq!(
        errors(&refused["productOptionUpdate"]),
        pairs(&[("values", "INVALID")]),
        "{refused}"
    );
    assert!(refused.to_string().contains("`M` is left out"), "{refused}");
    let dropped = shop
        .run(
            OPTION_UPDATE,
            json!({ "p": tee, "o": size, "v": ["M", "S"] }),
        )
        .await;
    assert_eq!(
        dropped["productOptionUpdate"]["product"]["options"][0],
        json!({ "name": "Size", "values": ["M", "S"] }),
        "{dropped}"
    );
    assert_eq!(
        shop.tee_options().await.0["options"][0]["values"],
        json!(["M", "S"])
    );

    // Without Colour, TEE-S (S / Navy) and TEE-S-SAND (S / Sand) collide.
    let sand = shop
        .run(
            BULK_CREATE,
            json!({ "p": tee, "v": [{ "sku": "TEE-S-SAND", "optionValues": ["S", "Sand"] }] }),
        )
        .await;
    assert_eq!(sand["productVariantsBulkCreate"]["userErrors"], json!([]));
    let clash = shop
        .run(OPTIONS_DELETE, json!({ "p": tee, "o": [color] }))
        .await;
    assert_eq!(
        errors(&clash["productOptionsDelete"]),
        pairs(&[("optionIds", "TAKEN")]),
        "{clash}"
    );
    assert!(
        clash.to_string().contains("`TEE-S` and `TEE-S-SAND`"),
        "{clash}"
    );
    // Without Size, TEE-S and TEE-M (both Navy) collide.
    let clash = shop
        .run(OPTIONS_DELETE, json!({ "p": tee, "o": [size] }))
        .await;
    assert_eq!(
        errors(&clash["productOptionsDelete"]),
        pairs(&[("optionIds", "TAKEN")])
    );
    let (p, _) = shop.tee_options().await;
    let sand_id = text(&p["variants"][2]["id"]);
    let gone = shop
        .run(BULK_DELETE, json!({ "p": tee, "v": [sand_id] }))
        .await;
    assert_eq!(gone["productVariantsBulkDelete"]["userErrors"], json!([]));
    let deleted = shop
        .run(OPTIONS_DELETE, json!({ "p": tee, "o": [color] }))
        .await;
    assert_eq!(
        deleted["productOptionsDelete"],
        json!({ "product": { "options": [{ "name": "Size" }] }, "userErrors": [] }),
    );
    let (p, variants) = shop.tee_options().await;
    assert_eq!(
        p["options"],
        json!([{ "id": size, "name": "Size", "values": ["M", "S"] }])
    );
    assert_eq!(
        variants,
        [
            variant_row("TEE-S", "S", &["Size=S"]),
            variant_row("TEE-M", "Medium", &["Size=M"]),
        ]
    );

    assert_eq!(
        shop.audit("product_option").await,
        [
            "product_option.delete",
            "product_option.update",
            "product_option.update",
            "product_option.create"
        ]
    );
    // Each variant's new values are audited with the option change.
    assert_eq!(
        shop.audit("variant")
            .await
            .iter()
            .filter(|a| *a == "variant.update")
            .count(),
        // The title, two variants given Color, two losing it.
        5
    );
}

#[tokio::test]
async fn option_mistakes_are_field_errors_that_write_nothing() {
    let shop = shop().await;
    let tee = shop.tee().await;
    let (before, variants_before) = shop.tee_options().await;
    let size = text(&before["options"][0]["id"]);

    let too_many = shop
        .run(
            OPTIONS_CREATE,
            json!({ "p": tee, "o": [
                { "name": "Color", "values": ["Navy"] },
                { "name": "Fit", "values": ["Slim"] },
                { "name": "Sleeve", "values": ["Short"] }
            ] }),
        )
        .await;
    assert_eq!(
        errors(&too_many["productOptionsCreate"]),
        pairs(&[("options", "INVALID")])
    );
    let bad = shop
        .run(
            OPTIONS_CREATE,
            json!({ "p": tee, "o": [
                { "name": "size", "values": ["XL"] },
                { "name": " ", "values": ["A", "a", ""] },
                { "name": "Color", "values": [] }
            ] }),
        )
        .await;
    assert_eq!(
        errors(&bad["productOptionsCreate"]),
        pairs(&[
            ("options", "INVALID"),
            ("options.0.name", "TAKEN"),
            ("options.1.name", "BLANK"),
            ("options.1.values.1", "TAKEN"),
            ("options.1.values.2", "BLANK"),
            ("options.2.values", "BLANK"),
        ]),
        "{bad}"
    );
    let cap = shop
        .run(
            "mutation($i: ProductCreateInput!) { productCreate(input: $i) { product { id options { id } } userErrors { message } } }",
            json!({ "i": {
                "title": "Wool Cap", "options": [{ "name": "Color", "values": ["Grey"] }],
                "variants": [{ "sku": "CAP-GREY", "optionValues": ["Grey"] }]
            } }),
        )
        .await;
    let cap_color = text(&cap["productCreate"]["product"]["options"][0]["id"]);
    let foreign = shop
        .run(
            OPTION_UPDATE,
            json!({ "p": tee, "o": cap_color, "n": "Colour" }),
        )
        .await;
    assert_eq!(
        errors(&foreign["productOptionUpdate"]),
        pairs(&[("optionId", "NOT_FOUND")])
    );
    let foreign = shop
        .run(OPTIONS_DELETE, json!({ "p": tee, "o": [size, cap_color] }))
        .await;
    assert_eq!(
        errors(&foreign["productOptionsDelete"]),
        pairs(&[("optionIds.1", "NOT_FOUND")])
    );
    let dup = shop
        .run(
            OPTION_UPDATE,
            json!({ "p": tee, "o": size, "n": "", "v": ["S", "M", "s"] }),
        )
        .await;
    assert_eq!(
        errors(&dup["productOptionUpdate"]),
        pairs(&[("name", "BLANK"), ("values.2", "TAKEN")])
    );
    // The only option of a product of two variants cannot go.
    let last = shop
        .run(OPTIONS_DELETE, json!({ "p": tee, "o": [size] }))
        .await;
    assert_eq!(
        errors(&last["productOptionsDelete"]),
        pairs(&[("optionIds", "TAKEN")])
    );
    // A product that does not exist, and an ID of the wrong kind.
    let gone = shop
        .run(
            OPTIONS_DELETE,
            json!({ "p": crate::authz::gid("Product", 999_999), "o": [size] }),
        )
        .await;
    assert_eq!(
        errors(&gone["productOptionsDelete"]),
        pairs(&[("productId", "NOT_FOUND")])
    );
    let (status, body) = shop
        .app
        .post_as(
            &shop.merch.access,
            OPTIONS_DELETE,
            json!({ "p": tee, "o": [tee] }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(crate::harness::first_code(&body), "BAD_USER_INPUT");

    assert_eq!(shop.tee_options().await, (before, variants_before));
    assert_eq!(shop.audit("product_option").await, Vec::<String>::new());
}
