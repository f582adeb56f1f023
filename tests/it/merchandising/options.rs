//! Product options: added, changed and removed, and their mistakes.

use super::*;

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
