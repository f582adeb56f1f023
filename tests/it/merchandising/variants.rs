//! Variants of existing products, in bulk.

use super::*;

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
