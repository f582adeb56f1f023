//! Fulfilments over real HTTP: shipping lines from a stock location (holds
//! turned into an on-hand decrease, movements recorded), splits across
//! locations, refused over-fulfilment, one winner for the last unit,
//! cancelling puts stock back, labels bought from a mocked EasyPost, and
//! tracking webhooks (replayed, badly signed, out of order) handled; the
//! customer sees the tracking.

use std::sync::{Mutex, PoisonError};

use emporium::{
    config::CarrierConfig,
    domain::{fulfillment::carriers::sign, identity::permission::Role},
};
use entity::{
    carrier_webhook_event, fulfillment, inventory_movement, order_event, stock_level,
    stock_location, variant,
};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header_exists, method, path},
};

use crate::{
    accounts::{self, Login},
    checkout::{codes, data},
    harness::{Options, TestApp},
};

mod carriers;

static CARRIERS: Mutex<Option<CarrierConfig>> = Mutex::new(None);
static SPAWNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const WEBHOOK_SECRET: &str = "whsec_easypost_tests";

const FULFILLMENT: &str = "id status trackingInfo { carrier number url } labelUrl location { code } lines { quantity orderLine { id sku } } createdAt deliveredAt";
const ORDER: &str = "id status fulfillmentStatus lines { id sku quantity quantityFulfilled }";

/// A shop, a fulfilment staff user and a signed-in customer.
struct Shop {
    app: TestApp,
    staff: String,
    customer: Login,
}

/// EasyPost at `mock`, shipping from a warehouse in Portland.
fn easypost(mock: &MockServer) -> CarrierConfig {
    CarrierConfig {
        easypost_api_key: Some("EZTK_tests".into()),
        easypost_base_url: Some(mock.uri()),
        easypost_webhook_secret: Some(WEBHOOK_SECRET.into()),
        ship_from: serde_json::from_value(json!({
            "company": "Emporium", "address1": "1 Dock Rd", "city": "Portland",
            "provinceCode": "OR", "countryCode": "US", "zip": "97201"
        }))
        .ok(),
        ..CarrierConfig::default()
    }
}

async fn shop_with(carriers: CarrierConfig, apart: bool) -> Shop {
    let app = {
        let _one_at_a_time = SPAWNING.lock().await;
        *CARRIERS.lock().unwrap_or_else(PoisonError::into_inner) = Some(carriers);
        TestApp::spawn_with(Options {
            products: Some(3),
            configure: Some(|c| {
                if let Some(carriers) = CARRIERS
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                {
                    c.carriers = carriers;
                }
                c.rate.anonymous = None;
                c.rate.customer = None;
                c.rate.staff = None;
                c.rate.partner = None;
            }),
            own_runtime: apart,
            ..Default::default()
        })
        .await
    };
    let staff = accounts::staff_user(&app, "ship@example.com", Role::Fulfillment)
        .await
        .access;
    let customer = accounts::customer(&app, "buyer@example.com").await;
    Shop {
        app,
        staff,
        customer,
    }
}

async fn shop() -> Shop {
    shop_with(CarrierConfig::default(), false).await
}

impl Shop {
    async fn admin(&self) -> String {
        accounts::staff_user(&self.app, "admin@example.com", Role::Admin)
            .await
            .access
    }

    /// A tracked product variant `sku` at `price`, with `stock` per location.
    async fn item(&self, admin: &str, sku: &str, price: &str, stock: &[(&str, i32)]) -> String {
        let created = data(
            &self.app,
            Some(admin),
            "mutation($i: ProductCreateInput!) { productCreate(input: $i) { product { variants { id } } userErrors { field code message } } }",
            json!({ "i": {
                "title": format!("Item {sku}"), "status": "ACTIVE",
                "variants": [{ "sku": sku, "trackInventory": true, "allowBackorder": false,
                    "weightGrams": 200, "prices": [{ "channel": "default", "amount": price }] }]
            } }),
        )
        .await;
        assert_eq!(
            created["productCreate"]["userErrors"],
            json!([]),
            "{created}"
        );
        let quantities: Vec<Value> = stock
            .iter()
            .map(|(loc, n)| json!({ "sku": sku, "location": loc, "onHand": n }))
            .collect();
        data(
            &self.app,
            Some(admin),
            "mutation($q: [InventorySetQuantityInput!]!) { inventorySetQuantities(input: { quantities: $q }) { appliedCount } }",
            json!({ "q": quantities }),
        )
        .await;
        created["productCreate"]["product"]["variants"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no variant id: {created}"))
            .to_owned()
    }

    /// The customer buys `lines` (variant ID, units) with the test
    /// gateway; returns the order.
    async fn buy(&self, lines: &[(&str, i32)]) -> Value {
        let auth = Some(self.customer.access.as_str());
        let lines: Vec<Value> = lines
            .iter()
            .map(|(v, q)| json!({ "merchandiseId": v, "quantity": q }))
            .collect();
        let created = data(
            &self.app,
            auth,
            "mutation($i: CartInput!) { cartCreate(input: $i) { cart { id } userErrors { field code message } } }",
            json!({ "i": {
                "lines": lines,
                "buyerIdentity": {
                    "email": "buyer@example.com",
                    "shippingAddress": {
                        "firstName": "Ada", "lastName": "Buyer", "address1": "1 Main St",
                        "city": "New York", "provinceCode": "NY", "countryCode": "US", "zip": "10001"
                    }
                }
            } }),
        )
        .await;
        let cart = created["cartCreate"]["cart"]["id"].clone();
        data(
            &self.app,
            auth,
            "mutation($c: ID!) { cartShippingMethodSelect(cartId: $c, shippingMethodCode: \"standard\") { userErrors { code } } }",
            json!({ "c": cart }),
        )
        .await;
        let done = data(
            &self.app,
            auth,
            &format!("mutation($c: ID!) {{ checkoutComplete(cartId: $c, payment: {{ gateway: \"test\", token: \"tok_visa\" }}) {{ order {{ {ORDER} }} userErrors {{ field code message }} }} }}"),
            json!({ "c": cart }),
        )
        .await;
        assert_eq!(done["checkoutComplete"]["userErrors"], json!([]), "{done}");
        done["checkoutComplete"]["order"].clone()
    }

    /// `fulfillmentCreate` as `token`; returns the payload.
    async fn fulfil(&self, token: &str, input: Value, key: Option<&str>) -> Value {
        let body = data(
            &self.app,
            Some(token),
            &format!("mutation($i: FulfillmentCreateInput!, $k: String) {{ fulfillmentCreate(input: $i, idempotencyKey: $k) {{ fulfillment {{ {FULFILLMENT} }} order {{ {ORDER} }} userErrors {{ field code message }} }} }}"),
            json!({ "i": input, "k": key }),
        )
        .await;
        body["fulfillmentCreate"].clone()
    }

    async fn cancel(&self, id: &Value) -> Value {
        data(
            &self.app,
            Some(&self.staff),
            &format!("mutation($id: ID!) {{ fulfillmentCancel(id: $id) {{ fulfillment {{ {FULFILLMENT} cancelledAt }} order {{ {ORDER} }} userErrors {{ field code message }} }} }}"),
            json!({ "id": id }),
        )
        .await["fulfillmentCancel"]
            .clone()
    }

    async fn location(&self, code: &str) -> stock_location::Model {
        stock_location::Entity::find()
            .filter(stock_location::Column::Code.eq(code))
            .one(&self.app.db)
            .await
            .unwrap_or_else(|e| panic!("location: {e}"))
            .unwrap_or_else(|| panic!("no location {code}"))
    }

    async fn location_gid(&self, code: &str) -> String {
        crate::authz::gid("StockLocation", self.location(code).await.id)
    }

    async fn variant_id(&self, sku: &str) -> i64 {
        variant::Entity::find()
            .filter(variant::Column::Sku.eq(sku))
            .one(&self.app.db)
            .await
            .unwrap_or_else(|e| panic!("variant: {e}"))
            .unwrap_or_else(|| panic!("no variant {sku}"))
            .id
    }

    /// `(on hand, reserved)` of `sku` at `code`.
    async fn level(&self, sku: &str, code: &str) -> (i32, i32) {
        let v = self.variant_id(sku).await;
        let l = self.location(code).await.id;
        stock_level::Entity::find()
            .filter(stock_level::Column::VariantId.eq(v))
            .filter(stock_level::Column::LocationId.eq(l))
            .one(&self.app.db)
            .await
            .unwrap_or_else(|e| panic!("level: {e}"))
            .map_or((0, 0), |l| (l.on_hand, l.reserved))
    }

    /// `(location code, delta, reason)` of `sku`'s movements with `reason`
    /// prefix `fulfil`, oldest first.
    async fn movements(&self, sku: &str) -> Vec<(String, i32, String)> {
        let v = self.variant_id(sku).await;
        let mut out = Vec::new();
        for m in inventory_movement::Entity::find()
            .filter(inventory_movement::Column::VariantId.eq(v))
            .order_by_asc(inventory_movement::Column::Id)
            .all(&self.app.db)
            .await
            .unwrap_or_else(|e| panic!("movements: {e}"))
        {
            if m.reason.starts_with("fulfil") {
                let code = stock_location::Entity::find_by_id(m.location_id)
                    .one(&self.app.db)
                    .await
                    .unwrap_or_else(|e| panic!("location: {e}"))
                    .map(|l| l.code)
                    .unwrap_or_default();
                out.push((code, m.delta, m.reason));
            }
        }
        out
    }

    async fn timeline(&self) -> Vec<String> {
        order_event::Entity::find()
            .order_by_asc(order_event::Column::Id)
            .all(&self.app.db)
            .await
            .unwrap_or_else(|e| panic!("timeline: {e}"))
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
}

fn line_id(order: &Value, sku: &str) -> Value {
    order["lines"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["sku"] == sku))
        .map(|l| l["id"].clone())
        .unwrap_or_else(|| panic!("no line {sku} in {order}"))
}

fn ok(payload: &Value) -> &Value {
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    payload
}

#[tokio::test]
async fn two_lines_from_one_location_with_tracking_then_the_last() {
    let s = shop().await;
    let admin = s.admin().await;
    let a = s.item(&admin, "FUL-A", "10.00", &[("warehouse", 10)]).await;
    let b = s.item(&admin, "FUL-B", "5.00", &[("warehouse", 10)]).await;
    let c = s.item(&admin, "FUL-C", "2.50", &[("warehouse", 10)]).await;
    let order = s.buy(&[(&a, 2), (&b, 1), (&c, 3)]).await;
    assert_eq!(s.level("FUL-A", "warehouse").await, (10, 2));
    assert_eq!(s.level("FUL-C", "warehouse").await, (10, 3));

    let first = s
        .fulfil(
            &s.staff,
            json!({
                "orderId": order["id"],
                "lines": [
                    { "orderLineId": line_id(&order, "FUL-A"), "quantity": 2 },
                    { "orderLineId": line_id(&order, "FUL-B"), "quantity": 1 },
                ],
                "tracking": { "carrier": "UPS", "number": "1Z0001", "url": "https://ups.example/1Z0001" },
            }),
            None,
        )
        .await;
    ok(&first);
    let f = &first["fulfillment"];
    assert_eq!(f["status"], "SHIPPED");
    assert_eq!(
        f["trackingInfo"],
        json!({ "carrier": "UPS", "number": "1Z0001", "url": "https://ups.example/1Z0001" })
    );
    assert_eq!(f["location"]["code"], "warehouse");
    assert_eq!(f["labelUrl"], Value::Null);
    assert_eq!(first["order"]["fulfillmentStatus"], "PARTIALLY_FULFILLED");
    // Holds became an on-hand decrease; the third line is still held.
    assert_eq!(s.level("FUL-A", "warehouse").await, (8, 0));
    assert_eq!(s.level("FUL-B", "warehouse").await, (9, 0));
    assert_eq!(s.level("FUL-C", "warehouse").await, (10, 3));
    assert_eq!(
        s.movements("FUL-A").await,
        vec![("warehouse".into(), -2, "fulfilled".into())]
    );

    // No lines: everything left.
    let last = s
        .fulfil(&s.staff, json!({ "orderId": order["id"] }), None)
        .await;
    ok(&last);
    assert_eq!(last["fulfillment"]["lines"][0]["quantity"], 3);
    assert_eq!(last["fulfillment"]["trackingInfo"], Value::Null);
    assert_eq!(last["order"]["fulfillmentStatus"], "FULFILLED");
    for l in last["order"]["lines"].as_array().into_iter().flatten() {
        assert_eq!(l["quantity"], l["quantityFulfilled"], "{l}");
    }
    assert_eq!(s.level("FUL-C", "warehouse").await, (7, 0));
    assert_eq!(
        s.movements("FUL-C").await,
        vec![("warehouse".into(), -3, "fulfilled".into())]
    );
    assert_eq!(s.timeline().await, vec!["fulfilled", "fulfilled"]);
    // Nothing left to ship.
    let again = s
        .fulfil(&s.staff, json!({ "orderId": order["id"] }), None)
        .await;
    assert_eq!(codes(&again), vec!["NOTHING_TO_FULFILL"]);
    assert_eq!(
        fulfillment::Entity::find()
            .count(&s.app.db)
            .await
            .unwrap_or_else(|e| panic!("count: {e}")),
        2
    );
}

#[tokio::test]
async fn a_split_across_two_locations() {
    let s = shop().await;
    let admin = s.admin().await;
    let a = s
        .item(&admin, "FUL-S", "10.00", &[("warehouse", 2), ("store", 5)])
        .await;
    let order = s.buy(&[(&a, 4)]).await;
    // The checkout held the units where most were available.
    assert_eq!(s.level("FUL-S", "store").await, (5, 4));
    assert_eq!(s.level("FUL-S", "warehouse").await, (2, 0));
    let line = line_id(&order, "FUL-S");

    // Two from the warehouse's free stock; the store's extra holds go.
    let from_warehouse = s
        .fulfil(
            &s.staff,
            json!({
                "orderId": order["id"],
                "locationId": s.location_gid("warehouse").await,
                "lines": [{ "orderLineId": line, "quantity": 2 }],
            }),
            None,
        )
        .await;
    ok(&from_warehouse);
    assert_eq!(
        from_warehouse["fulfillment"]["location"]["code"],
        "warehouse"
    );
    assert_eq!(s.level("FUL-S", "warehouse").await, (0, 0));
    assert_eq!(s.level("FUL-S", "store").await, (5, 2));

    // The warehouse has nothing left: refused with a typed code.
    let refused = s
        .fulfil(
            &s.staff,
            json!({
                "orderId": order["id"],
                "locationId": s.location_gid("warehouse").await,
            }),
            None,
        )
        .await;
    assert_eq!(codes(&refused), vec!["LOCATION_STOCK_INSUFFICIENT"]);

    // The rest from where it is held (the default).
    let from_store = s
        .fulfil(&s.staff, json!({ "orderId": order["id"] }), None)
        .await;
    ok(&from_store);
    assert_eq!(from_store["fulfillment"]["location"]["code"], "store");
    assert_eq!(from_store["order"]["fulfillmentStatus"], "FULFILLED");
    assert_eq!(s.level("FUL-S", "store").await, (3, 0));
    assert_eq!(
        s.movements("FUL-S").await,
        vec![
            ("warehouse".into(), -2, "fulfilled".into()),
            ("store".into(), -2, "fulfilled".into()),
        ]
    );
}

#[tokio::test]
async fn over_fulfilment_and_closed_orders_are_refused_and_write_nothing() {
    let s = shop().await;
    let admin = s.admin().await;
    let a = s.item(&admin, "FUL-O", "10.00", &[("warehouse", 5)]).await;
    let order = s.buy(&[(&a, 2)]).await;
    let line = line_id(&order, "FUL-O");
    let over = s
        .fulfil(
            &s.staff,
            json!({ "orderId": order["id"], "lines": [{ "orderLineId": line, "quantity": 3 }] }),
            None,
        )
        .await;
    assert_eq!(codes(&over), vec!["OVER_FULFILLMENT"]);
    assert_eq!(
        over["userErrors"][0]["field"],
        json!(["input", "lines", "0", "quantity"])
    );
    let zero = s
        .fulfil(
            &s.staff,
            json!({ "orderId": order["id"], "lines": [{ "orderLineId": line, "quantity": 0 }] }),
            None,
        )
        .await;
    assert_eq!(codes(&zero), vec!["INVALID"]);
    assert_eq!(s.level("FUL-O", "warehouse").await, (5, 2));
    assert!(s.timeline().await.is_empty());
    // Partners with `orders:fulfill` may fulfil; the row names them.
    let (partner, token_id) =
        accounts::partner_token(&s.app, &["orders:fulfill", "orders:read"], None).await;
    let done = s
        .fulfil(
            &partner,
            json!({ "orderId": order["id"], "lines": [{ "orderLineId": line, "quantity": 1 }] }),
            None,
        )
        .await;
    ok(&done);
    let row = fulfillment::Entity::find()
        .one(&s.app.db)
        .await
        .unwrap_or_else(|e| panic!("row: {e}"))
        .unwrap_or_else(|| panic!("no fulfillment"));
    assert_eq!(row.actor, format!("token:{token_id}"));
    let over = s
        .fulfil(
            &partner,
            json!({ "orderId": order["id"], "lines": [{ "orderLineId": line, "quantity": 2 }] }),
            None,
        )
        .await;
    assert_eq!(codes(&over), vec!["OVER_FULFILLMENT"]);
}

#[tokio::test]
async fn one_idempotency_key_makes_one_fulfilment() {
    let s = shop().await;
    let admin = s.admin().await;
    let a = s.item(&admin, "FUL-I", "10.00", &[("warehouse", 5)]).await;
    let order = s.buy(&[(&a, 2)]).await;
    let input = json!({ "orderId": order["id"], "tracking": { "number": "T1" } });
    let first = s.fulfil(&s.staff, input.clone(), Some("ship-1")).await;
    let again = s.fulfil(&s.staff, input, Some("ship-1")).await;
    assert_eq!(
        ok(&first)["fulfillment"]["id"],
        ok(&again)["fulfillment"]["id"]
    );
    assert_eq!(s.level("FUL-I", "warehouse").await, (3, 0));
    let other = s
        .fulfil(&s.staff, json!({ "orderId": order["id"] }), Some("ship-1"))
        .await;
    assert_eq!(codes(&other), vec!["IDEMPOTENCY_KEY_REUSED"]);
}

#[tokio::test]
async fn concurrent_fulfilments_of_the_last_unit_have_one_winner() {
    let s = shop_with(CarrierConfig::default(), true).await;
    let admin = s.admin().await;
    let a = s.item(&admin, "FUL-L", "10.00", &[("warehouse", 1)]).await;
    let order = s.buy(&[(&a, 1)]).await;
    let line = line_id(&order, "FUL-L");
    let input =
        json!({ "orderId": order["id"], "lines": [{ "orderLineId": line, "quantity": 1 }] });
    let answers = join_all((0..6).map(|_| s.fulfil(&s.staff, input.clone(), None))).await;
    let won = answers
        .iter()
        .filter(|p| p["userErrors"] == json!([]))
        .count();
    assert_eq!(won, 1, "{answers:?}");
    for p in answers.iter().filter(|p| p["userErrors"] != json!([])) {
        assert_eq!(codes(p), vec!["OVER_FULFILLMENT"], "{p}");
    }
    assert_eq!(s.level("FUL-L", "warehouse").await, (0, 0));
    assert_eq!(s.movements("FUL-L").await.len(), 1);
}

#[tokio::test]
async fn cancelling_a_fulfilment_puts_the_stock_back() {
    let s = shop().await;
    let admin = s.admin().await;
    let a = s.item(&admin, "FUL-X", "10.00", &[("warehouse", 5)]).await;
    let order = s.buy(&[(&a, 3)]).await;
    let done = s
        .fulfil(&s.staff, json!({ "orderId": order["id"] }), None)
        .await;
    ok(&done);
    assert_eq!(s.level("FUL-X", "warehouse").await, (2, 0));
    let cancelled = s.cancel(&done["fulfillment"]["id"]).await;
    ok(&cancelled);
    assert_eq!(cancelled["fulfillment"]["status"], "CANCELLED");
    assert!(cancelled["fulfillment"]["cancelledAt"].is_string());
    assert_eq!(cancelled["order"]["fulfillmentStatus"], "UNFULFILLED");
    assert_eq!(cancelled["order"]["lines"][0]["quantityFulfilled"], 0);
    // Back on hand, and held for the order again.
    assert_eq!(s.level("FUL-X", "warehouse").await, (5, 3));
    assert_eq!(
        s.movements("FUL-X").await,
        vec![
            ("warehouse".into(), -3, "fulfilled".into()),
            ("warehouse".into(), 3, "fulfillment_cancelled".into()),
        ]
    );
    let twice = s.cancel(&done["fulfillment"]["id"]).await;
    assert_eq!(codes(&twice), vec!["FULFILLMENT_CANCELLED"]);
    // Tracking of a cancelled fulfilment is refused too.
    let tracking = data(
        &s.app,
        Some(&s.staff),
        "mutation($id: ID!) { fulfillmentTrackingUpdate(id: $id, tracking: { number: \"X\" }) { userErrors { code } } }",
        json!({ "id": done["fulfillment"]["id"] }),
    )
    .await;
    assert_eq!(
        codes(&tracking["fulfillmentTrackingUpdate"]),
        vec!["FULFILLMENT_CANCELLED"]
    );
    // The order can be fulfilled again.
    let again = s
        .fulfil(&s.staff, json!({ "orderId": order["id"] }), None)
        .await;
    ok(&again);
    assert_eq!(s.level("FUL-X", "warehouse").await, (2, 0));
    assert_eq!(
        s.timeline().await,
        vec!["fulfilled", "fulfillment_cancelled", "fulfilled"]
    );
}

#[tokio::test]
async fn the_customer_sees_the_tracking_of_their_orders() {
    let s = shop().await;
    let admin = s.admin().await;
    let a = s.item(&admin, "FUL-T", "10.00", &[("warehouse", 5)]).await;
    let order = s.buy(&[(&a, 1)]).await;
    let done = s
        .fulfil(
            &s.staff,
            json!({ "orderId": order["id"], "tracking": { "carrier": "DHL", "number": "JD01" } }),
            None,
        )
        .await;
    ok(&done);
    let updated = data(
        &s.app,
        Some(&s.staff),
        "mutation($id: ID!) { fulfillmentTrackingUpdate(id: $id, tracking: { carrier: \"DHL\", number: \"JD02\", url: \"https://dhl.example/JD02\" }) { fulfillment { trackingInfo { number url } } userErrors { code } } }",
        json!({ "id": done["fulfillment"]["id"] }),
    )
    .await;
    assert_eq!(
        updated["fulfillmentTrackingUpdate"]["fulfillment"]["trackingInfo"],
        json!({ "number": "JD02", "url": "https://dhl.example/JD02" })
    );
    let mine = data(
        &s.app,
        Some(&s.customer.access),
        "{ me { orders(first: 5) { nodes { fulfillments { status labelUrl trackingInfo { carrier number url } lines { quantity orderLine { sku } } } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        mine["me"]["orders"]["nodes"][0]["fulfillments"],
        json!([{
            "status": "SHIPPED",
            "labelUrl": null,
            "trackingInfo": { "carrier": "DHL", "number": "JD02", "url": "https://dhl.example/JD02" },
            "lines": [{ "quantity": 1, "orderLine": { "sku": "FUL-T" } }],
        }])
    );
    let one = data(
        &s.app,
        Some(&s.customer.access),
        "query($id: ID!) { order(id: $id) { fulfillments { trackingInfo { number } } } }",
        json!({ "id": order["id"] }),
    )
    .await;
    assert_eq!(
        one["order"]["fulfillments"][0]["trackingInfo"]["number"],
        "JD02"
    );
    // Another customer sees nothing of it.
    let other = accounts::customer(&s.app, "other@example.com").await;
    let theirs = data(
        &s.app,
        Some(&other.access),
        "query($id: ID!) { order(id: $id) { id } }",
        json!({ "id": order["id"] }),
    )
    .await;
    assert_eq!(theirs["order"], Value::Null);
    assert_eq!(s.timeline().await, vec!["fulfilled", "tracking_updated"]);
}
