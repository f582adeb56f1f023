//! The authorization matrix: every root operation of the schema has an
//! entry saying what it needs, and is run as every kind of principal. A new
//! operation without an entry fails `every_operation_has_an_entry`.
//!
//! Subscriptions are in the matrix too: they run over the WebSocket, where
//! an allowed subscription is one that starts listening.
//!
//! Also: customers never reach another customer's data, whatever the path.

use std::collections::BTreeSet;

use emporium::domain::identity::permission::{Permission, Role};
use serde_json::{Value, json};

use crate::{
    accounts::{self, Login},
    authz_paths::role_grants,
    harness::{Options, TestApp},
    subscriptions::{Event, Ws, listening},
};

mod ops;

use ops::{OPS, Op};

/// What an operation needs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Needs {
    /// Anyone, signed in or not.
    Public,
    /// A signed-in customer (staff and partners are refused).
    Customer,
    /// A signed-in staff user.
    Staff,
    /// A permission (staff role or partner scope).
    Perm(Permission),
    /// A signed-in customer (their own objects), or the permission.
    CustomerOr(Permission),
}

/// What the root field `field` needs, from the matrix ([`ops::OPS`]).
pub(crate) fn root_needs(field: &str) -> Option<Needs> {
    OPS.iter().find(|o| o.field == field).map(|o| o.needs)
}

use Needs::*;
use Permission::*;

/// Operations whose document asks for a missing object and whose documented
/// answer to that is an error with this code (an allowed caller gets it).
const ANSWERS_WITH_ERROR: &[(&str, &str)] = &[("orderUpdated", "NOT_FOUND")];

/// A kind of caller, and what the matrix expects of it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    CustomerA,
    CustomerB,
    Staff(Role),
    /// A partner token holding the operation's scope.
    PartnerWith,
    /// A partner token holding some other scope.
    PartnerWithout,
}

fn expected(needs: Needs, who: Who) -> Option<&'static str> {
    let deny = |who: Who| {
        if who == Who::Anonymous {
            Some("UNAUTHENTICATED")
        } else {
            Some("FORBIDDEN")
        }
    };
    match (needs, who) {
        (Public, _) => None,
        (Customer, Who::CustomerA | Who::CustomerB) => None,
        (Customer, w) => deny(w),
        (Staff, Who::Staff(_)) => None,
        (Staff, w) => deny(w),
        (Perm(p), Who::Staff(role)) if role_grants(role).contains(&p) => None,
        (Perm(p), Who::PartnerWith) if p.is_scope() => None,
        (Perm(_), w) => deny(w),
        (CustomerOr(_), Who::CustomerA | Who::CustomerB) => None,
        (CustomerOr(p), w) => expected(Perm(p), w),
    }
}

/// The partner scope used for "without the scope": any other scope.
fn other_scope(p: Option<Permission>) -> &'static str {
    if p == Some(CatalogRead) {
        "orders:read"
    } else {
        "catalog:read"
    }
}

struct World {
    app: TestApp,
    ids: Vec<(&'static str, String)>,
    logins: Vec<(Who, Login)>,
}

impl World {
    async fn new() -> Self {
        // Many (failed) logins from one address: the login throttle has its own tests.
        let app = TestApp::spawn_with(Options {
            products: Some(3),
            configure: Some(|c| {
                c.rate.login_ip = None;
                c.rate.login_email = None;
            }),
            ..Default::default()
        })
        .await;
        let a = accounts::customer(&app, "a@example.com").await;
        let b = accounts::customer(&app, "b@example.com").await;
        let created = app
            .query_as(
                &a.access,
                "mutation { customerAddressCreate(address: { address1: \"1 A St\", city: \"Ayton\", countryCode: \"GB\" }) { address { id } } }",
                json!({}),
            )
            .await;
        let address = created["customerAddressCreate"]["address"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut logins = vec![(Who::CustomerA, a.clone()), (Who::CustomerB, b)];
        for role in Role::ALL {
            let email = format!("{}@example.com", role.as_str());
            logins.push((
                Who::Staff(*role),
                accounts::staff_user(&app, &email, *role).await,
            ));
        }
        let victim = accounts::staff_user(&app, "victim@example.com", Role::Fulfillment).await;
        let (_, token_id) = accounts::partner_token(&app, &["orders:read"], None).await;
        let token = gid("ApiToken", token_id);
        let ids = vec![
            ("{address}", address),
            ("{missing_address}", gid("MailingAddress", 999_999)),
            ("{customer}", a.id.clone()),
            ("{victim}", victim.id),
            ("{token}", token),
            ("{product}", gid("Product", 1)),
            ("{variant}", gid("ProductVariant", 1)),
            ("{missing_product}", gid("Product", 999_999)),
            ("{missing_option}", gid("ProductOption", 999_999)),
            ("{missing_collection}", gid("Collection", 999_999)),
            ("{missing_channel}", gid("Channel", 999_999)),
            ("{missing_location}", gid("StockLocation", 999_999)),
            ("{missing_customer}", gid("Customer", 999_999)),
            ("{missing_order}", gid("Order", 999_999)),
            ("{missing_fulfillment}", gid("Fulfillment", 999_999)),
            ("{missing_refund}", gid("Refund", 999_999)),
            ("{missing_promotion}", gid("Promotion", 999_999)),
            (
                "{missing_webhook_subscription}",
                gid("WebhookSubscription", 999_999),
            ),
            (
                "{missing_webhook_delivery}",
                gid("WebhookDelivery", 999_999),
            ),
            ("{missing_shipping_zone}", gid("ShippingZone", 999_999)),
            ("{missing_shipping_method}", gid("ShippingMethod", 999_999)),
            ("{missing_tax_rate}", gid("TaxRate", 999_999)),
        ];
        Self { app, ids, logins }
    }

    fn doc(&self, op: &Op) -> String {
        let mut doc = op.doc.to_owned();
        for (k, v) in &self.ids {
            doc = doc.replace(k, v);
        }
        doc
    }

    /// A token for `who` facing an operation that needs `needs`.
    async fn token(&self, who: Who, needs: Needs, fresh: bool) -> Option<String> {
        let perm = match needs {
            Perm(p) | CustomerOr(p) => Some(p),
            _ => None,
        };
        match who {
            Who::Anonymous => None,
            Who::PartnerWith => {
                let scope = perm
                    .filter(|p| p.is_scope())
                    .map_or("orders:read", |p| p.as_str());
                Some(accounts::partner_token(&self.app, &[scope], None).await.0)
            }
            Who::PartnerWithout => Some(
                accounts::partner_token(&self.app, &[other_scope(perm)], None)
                    .await
                    .0,
            ),
            _ => {
                let login = self
                    .logins
                    .iter()
                    .find(|(w, _)| *w == who)
                    .map(|(_, l)| l.clone())?;
                if !fresh {
                    return Some(login.access);
                }
                // Operations that end the session get a login of their own.
                let email = match who {
                    Who::CustomerA => "a@example.com".to_owned(),
                    Who::CustomerB => "b@example.com".to_owned(),
                    Who::Staff(r) => format!("{}@example.com", r.as_str()),
                    _ => return None,
                };
                let _ = login;
                Some(match who {
                    Who::Staff(_) => accounts::staff_login(&self.app, &email).await.access,
                    _ => {
                        let (_, body) =
                            accounts::customer_login(&self.app, &email, accounts::PASSWORD).await;
                        body["data"]["customerLogin"]["tokens"]["accessToken"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned()
                    }
                })
            }
        }
    }
}

/// The global ID of row `id` of `kind`, made as the server makes them.
pub(crate) fn gid(kind: &str, id: i64) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD.encode(format!("gid://emporium/{kind}/{id}"))
}

fn auth_code(body: &Value) -> Option<String> {
    body["errors"].as_array()?.iter().find_map(|e| {
        let code = e["extensions"]["code"].as_str()?;
        matches!(code, "UNAUTHENTICATED" | "FORBIDDEN").then(|| code.to_owned())
    })
}

/// Subscribes with `doc` over the WebSocket: the error result if it is
/// refused, `{}` once it listens (the node's gauge of open subscriptions
/// goes up).
async fn subscription_outcome(app: &TestApp, token: Option<&str>, doc: &str) -> Value {
    listening(app, 0).await;
    let mut ws = Ws::connect(app, token).await;
    let id = ws.subscribe(doc, json!({})).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        tokio::select! {
            (i, e) = ws.event() => match e {
                Event::Next(p) if i == id && p.get("errors").is_some() => return p,
                Event::Error(p) if i == id => return json!({ "errors": p }),
                other => panic!("{doc}: unexpected {other:?}"),
            },
            () = tokio::time::sleep(std::time::Duration::from_millis(10)) => {
                if app.state.live.open_subscriptions() > 0 {
                    return json!({});
                }
                assert!(tokio::time::Instant::now() < deadline, "{doc}: no answer");
            }
        }
    }
}

#[tokio::test]
async fn every_operation_has_an_entry() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let data = app
        .query(
            "{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }",
            json!({}),
        )
        .await;
    let mut in_schema = BTreeSet::new();
    for root in ["queryType", "mutationType", "subscriptionType"] {
        for f in data["__schema"][root]["fields"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            in_schema.insert(f["name"].as_str().unwrap_or_default().to_owned());
        }
    }
    let in_table: BTreeSet<String> = OPS.iter().map(|o| o.field.to_owned()).collect();
    assert_eq!(OPS.len(), in_table.len(), "an operation is listed twice");
    let missing: Vec<_> = in_schema.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_schema).collect();
    assert!(
        missing.is_empty(),
        "operations without an entry in the authorization matrix: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "matrix entries for operations that no longer exist: {stale:?}"
    );
}

#[tokio::test]
async fn the_authorization_matrix_holds() {
    let world = World::new().await;
    let mut whos = vec![Who::Anonymous, Who::CustomerA, Who::CustomerB];
    whos.extend(Role::ALL.iter().map(|r| Who::Staff(*r)));
    whos.extend([Who::PartnerWith, Who::PartnerWithout]);
    let mut failures = Vec::new();
    let mut checked = 0;
    for op in OPS {
        let ends_session = matches!(op.field, "customerLogout" | "staffLogout");
        for &who in &whos {
            let token = world.token(who, op.needs, ends_session).await;
            let doc = world.doc(op);
            let (status, body) = if doc.starts_with("subscription") {
                (
                    200,
                    subscription_outcome(&world.app, token.as_deref(), &doc).await,
                )
            } else {
                match &token {
                    Some(t) => world.app.post_as(t, &doc, json!({})).await,
                    None => world.app.post(&doc, json!({})).await,
                }
            };
            let got = auth_code(&body);
            let want = expected(op.needs, who).map(str::to_owned);
            checked += 1;
            // An allowed cell must succeed: any error at all (an internal
            // one included) fails it, not only an authorization code, but
            // the documented answer to a missing object.
            let errors = body["errors"].as_array().is_some_and(|es| {
                es.iter().any(|e| {
                    !ANSWERS_WITH_ERROR
                        .contains(&(op.field, e["extensions"]["code"].as_str().unwrap_or("")))
                })
            });
            if status != 200 || got != want || (want.is_none() && errors) {
                failures.push(format!(
                    "{} as {who:?}: expected {want:?}, got {got:?} (status {status}): {body}",
                    op.field
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_customer_never_sees_another_customers_data() {
    let world = World::new().await;
    let app = &world.app;
    let login = |w: Who| {
        world
            .logins
            .iter()
            .find(|(x, _)| *x == w)
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| panic!("no login"))
    };
    let (a, b) = (login(Who::CustomerA), login(Who::CustomerB));
    let address = world.ids[0].1.clone();
    let node = "query($id: ID!) { node(id: $id) { id ... on MailingAddress { address1 city } ... on Customer { email } } }";

    // The owner sees the address; the other customer gets exactly what a
    // missing address gives, on every path.
    let own = app
        .query_as(&a.access, node, json!({ "id": address }))
        .await;
    assert_eq!(own["node"]["city"], "Ayton");
    let missing = gid("MailingAddress", 999_999);
    for id in [&address, &missing] {
        let other = app.query_as(&b.access, node, json!({ "id": id })).await;
        assert_eq!(other["node"], Value::Null);
    }
    let nodes = app
        .query_as(
            &b.access,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [address, a.id] }),
        )
        .await;
    assert_eq!(nodes["nodes"], json!([null, null]));
    let anon = app.query(node, json!({ "id": a.id })).await;
    assert_eq!(anon["node"], Value::Null);

    let update = app
        .query_as(
            &b.access,
            "mutation($id: ID!) { customerAddressUpdate(id: $id, address: { city: \"Hijacked\" }) { address { city } userErrors { code } } }",
            json!({ "id": address }),
        )
        .await;
    assert_eq!(
        update["customerAddressUpdate"],
        json!({ "address": null, "userErrors": [{ "code": "NOT_FOUND" }] })
    );
    let delete = app
        .query_as(&b.access, "mutation($id: ID!) { customerAddressDelete(id: $id) { deletedAddressId userErrors { code } } }", json!({ "id": address }))
        .await;
    assert_eq!(
        delete["customerAddressDelete"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    let default = app
        .query_as(&b.access, "mutation($id: ID!) { customerDefaultAddressUpdate(addressId: $id) { customer { id } userErrors { code } } }", json!({ "id": address }))
        .await;
    assert_eq!(
        default["customerDefaultAddressUpdate"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    let (_, body) = app
        .post_as(
            &b.access,
            "query($id: ID!) { customer(id: $id) { email } }",
            json!({ "id": a.id }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(body["data"], Value::Null);

    // Nothing changed for the owner.
    let me = app
        .query_as(
            &a.access,
            "{ me { addresses { city } defaultAddress { city } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["me"],
        json!({ "addresses": [{ "city": "Ayton" }], "defaultAddress": { "city": "Ayton" } })
    );
    let b_me = app
        .query_as(&b.access, "{ me { email addresses { id } } }", json!({}))
        .await;
    assert_eq!(
        b_me["me"],
        json!({ "email": "b@example.com", "addresses": [] })
    );

    // Support staff (customers:read) may look; a partner without the scope may not.
    let support = login(Who::Staff(Role::Support));
    let seen = app
        .query_as(&support.access, node, json!({ "id": address }))
        .await;
    assert_eq!(seen["node"]["city"], "Ayton");
    let (partner, _) = accounts::partner_token(app, &["catalog:read"], None).await;
    let hidden = app.query_as(&partner, node, json!({ "id": address })).await;
    assert_eq!(hidden["node"], Value::Null);
}

#[tokio::test]
async fn a_customer_never_reaches_another_customers_carts_or_orders() {
    use crate::cart::{
        GUEST, address, checkout, gql, line, mutate, new_cart, place_order, product, read, ship,
        shop_with, signed_in, usd,
    };
    let (app, admin) = shop_with(None).await;
    let (_, v) = product(
        &app,
        &admin,
        "PRIVATE-1",
        json!({ "prices": [usd("5.00")] }),
    )
    .await;
    let a = accounts::customer(&app, "a@example.com").await;
    let b = accounts::customer(&app, "b@example.com").await;
    let (as_a, as_b) = (signed_in(&a.access), signed_in(&b.access));

    // A checks out one cart and keeps another open.
    let done = new_cart(&app, as_a, json!({ "lines": [line(&v, 1)] })).await;
    let done_id = done["id"].as_str().unwrap_or_default().to_owned();
    ship(&app, as_a, &done_id, address(Some("OR"), "US"), "standard").await;
    let order = place_order(&app, as_a, &done_id).await;
    let order_id = order["id"].as_str().unwrap_or_default().to_owned();
    let open = new_cart(&app, as_a, json!({ "lines": [line(&v, 2)] })).await;
    let open_id = open["id"].as_str().unwrap_or_default().to_owned();

    // B, or anyone without a login, gets what an unknown cart gives, for
    // the open cart and the checked-out one alike (no hint it exists).
    for id in [&open_id, &done_id] {
        assert_eq!(read(&app, as_b, id).await, Value::Null);
        assert_eq!(read(&app, GUEST, id).await, Value::Null);
        for (name, vars) in [
            ("cartLinesAdd", json!({ "lines": [line(&v, 1)] })),
            ("cartLinesUpdate", json!({ "lines": [] })),
            ("cartLinesRemove", json!({ "lineIds": [] })),
            (
                "cartBuyerIdentityUpdate",
                json!({ "buyerIdentity": { "email": "b@example.com" } }),
            ),
            (
                "cartDiscountCodesUpdate",
                json!({ "discountCodes": ["SAVE10"] }),
            ),
            ("cartGiftCardCodesUpdate", json!({ "giftCardCodes": [] })),
            (
                "cartShippingMethodSelect",
                json!({ "shippingMethodCode": "express" }),
            ),
        ] {
            let mut vars = vars;
            vars["cartId"] = json!(id);
            for who in [as_b, GUEST] {
                let refused = mutate(&app, who, name, vars.clone()).await;
                assert_eq!(refused["cart"], Value::Null, "{name}");
                assert_eq!(refused["userErrors"][0]["code"], "NOT_FOUND", "{name}");
            }
        }
        for who in [as_b, GUEST] {
            let refused = checkout(&app, who, id).await;
            assert_eq!(refused["userErrors"][0]["code"], "NOT_FOUND");
        }
    }
    // Nothing changed for A.
    assert_eq!(read(&app, as_a, &open_id).await, open);

    // A's order: by ID, as a node, and in the lists.
    let order_query = "query($id: ID!) { order(id: $id) { id } node(id: $id) { id } }";
    let own = gql(&app, as_a, order_query, json!({ "id": order_id })).await;
    assert_eq!(own["order"]["id"], json!(order_id));
    assert_eq!(own["node"]["id"], json!(order_id));
    for who in [as_b, GUEST] {
        let other = gql(&app, who, order_query, json!({ "id": order_id })).await;
        assert_eq!(other, json!({ "order": null, "node": null }));
    }
    let orders = "{ me { orders(first: 10) { nodes { id } } } }";
    let mine = gql(&app, as_a, orders, json!({})).await;
    assert_eq!(
        mine["me"]["orders"],
        json!({ "nodes": [{ "id": order_id }] })
    );
    let theirs = gql(&app, as_b, orders, json!({})).await;
    assert_eq!(theirs["me"]["orders"], json!({ "nodes": [] }));

    // A guest cart is a bearer token: anyone holding its ID may read and
    // change it, signed in or not (until a signed-in customer takes it over).
    let guest = new_cart(&app, GUEST, json!({ "lines": [line(&v, 1)] })).await;
    let guest_id = guest["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(read(&app, as_b, &guest_id).await, guest);
    assert_eq!(read(&app, as_a, &guest_id).await, guest);
}
