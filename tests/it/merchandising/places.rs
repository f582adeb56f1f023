//! Channels and stock locations.

use super::*;

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
