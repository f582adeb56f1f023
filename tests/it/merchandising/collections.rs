//! Collections and their order, and product media.

use super::*;

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
