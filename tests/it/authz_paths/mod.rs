//! The authorization matrix over nested paths, generated from the schema.
//!
//! The root-operation matrix (`authz.rs`) says what each root field needs.
//! Protected data is also reached *through* objects: a customer record leads
//! to their orders, an order to its payments, a variant to its stock. Here
//! every field that leads to a protected type has an entry in [`EDGES`] (or
//! [`NODE_KINDS`] for the `Node` interface) saying what crossing it needs:
//! the rule its guard states where the field is defined. The test then walks
//! the served schema from the query root to every such field by every simple
//! path, builds a document for each path and runs it as every kind of
//! caller: anonymous, the customer who owns the data, another customer,
//! each staff role, and partner tokens holding all, all but one, or none of
//! the permissions on the path.
//!
//! - Allowed cells must answer with no error at all and with data at the end
//!   of the path (the fixture holds at least one object of every kind).
//! - Refused cells must answer UNAUTHENTICATED or FORBIDDEN and no data at
//!   the end of the path.
//! - Hidden cells (a lookup by ID of something the caller may not see) must
//!   answer null with no error, exactly like a missing object.
//!
//! What a staff role grants is written out by hand in [`role_grants`], not
//! taken from the code under test. A field of any object type that returns
//! a protected type without an entry fails
//! `every_field_into_protected_data_has_an_entry`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use emporium::domain::identity::permission::{Permission, Role};
use serde_json::{Value, json};

use crate::{
    accounts::{self, Login},
    authz::{Needs, gid, root_needs},
    cart::{address, line, new_cart, place_order, ship, signed_in},
    harness::{Options, TestApp},
};

mod rules;
mod walk;

pub(crate) use rules::role_grants;
use rules::{Rule::*, *};
use walk::*;

// ---------------------------------------------------------------------------
// Who asks, and what they should get.

/// A kind of caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Who {
    Anonymous,
    /// Customer A, who owns the fixture's orders, addresses and cart.
    Owner,
    /// Customer B, with data of their own.
    Stranger,
    Staff(&'static str),
    /// A partner token with exactly these scopes.
    Partner(BTreeSet<&'static str>),
}

fn role_of(name: &str) -> Role {
    Role::ALL
        .iter()
        .copied()
        .find(|r| r.as_str() == name)
        .unwrap_or(Role::Admin)
}

impl Who {
    fn has(&self, p: Permission) -> bool {
        match self {
            Who::Staff(r) => role_grants(role_of(r)).contains(&p),
            Who::Partner(scopes) => scopes.contains(p.as_str()),
            _ => false,
        }
    }

    fn refusal(&self) -> Outcome {
        Outcome::Refused(if *self == Who::Anonymous {
            "UNAUTHENTICATED"
        } else {
            "FORBIDDEN"
        })
    }
}

/// What a cell of the matrix must answer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// Data at the end of the path, no error.
    Data,
    /// Null where the lookup was, no error.
    Hidden,
    /// No error, and nothing at the end of the path (a list of what the
    /// caller created, who created none).
    Empty,
    /// An error with this code and no data at the end of the path.
    Refused(&'static str),
}

fn expected(path: &Path, who: &Who) -> Outcome {
    let is_customer = matches!(who, Who::Owner | Who::Stranger);
    // Whose data the path is in, once a rule has said so.
    let mut owner: Option<Who> = None;
    for step in path {
        match step.rule() {
            Public | Part | Payload => {}
            Perm(p) => {
                if !who.has(p) {
                    return who.refusal();
                }
            }
            SignedInCustomer => {
                if !is_customer {
                    return who.refusal();
                }
                owner = Some(who.clone());
            }
            SignedInStaff => {
                if !matches!(who, Who::Staff(_)) {
                    return who.refusal();
                }
            }
            Lookup(p, of_owner) => {
                if p.is_some_and(|p| who.has(p)) {
                } else if of_owner && *who == Who::Owner {
                    owner = Some(Who::Owner);
                } else {
                    return Outcome::Hidden;
                }
            }
            OwnerOr(p) => {
                let own = is_customer && owner.as_ref() == Some(who);
                if !own && !who.has(p) {
                    return who.refusal();
                }
            }
            Creator(p) => {
                if !who.has(p) {
                    return who.refusal();
                }
                if *who != Who::Staff("admin") {
                    return Outcome::Empty;
                }
            }
        }
    }
    Outcome::Data
}

/// The permissions named on a path.
fn permissions_on(path: &Path) -> BTreeSet<Permission> {
    path.iter()
        .filter_map(|s| match s.rule() {
            Perm(p) | OwnerOr(p) | Creator(p) | Lookup(Some(p), _) => Some(p),
            _ => None,
        })
        .collect()
}

/// Everyone the path is run as: anonymous, both customers, every staff
/// role, and partners holding all of the path's permissions, all but one of
/// them, or only an unrelated scope.
fn callers(path: &Path) -> Vec<Who> {
    let mut whos = vec![Who::Anonymous, Who::Owner, Who::Stranger];
    whos.extend(Role::ALL.iter().map(|r| Who::Staff(r.as_str())));
    let perms: BTreeSet<&'static str> = permissions_on(path)
        .into_iter()
        .filter(|p| p.is_scope())
        .map(Permission::as_str)
        .collect();
    for left_out in &perms {
        let mut some = perms.clone();
        some.remove(left_out);
        whos.push(Who::Partner(some));
    }
    whos.push(Who::Partner(perms.clone()));
    let unrelated = if perms.contains("webhooks:write") {
        "catalog:write"
    } else {
        "webhooks:write"
    };
    whos.push(Who::Partner(BTreeSet::from([unrelated])));
    whos.dedup();
    whos
}

// ---------------------------------------------------------------------------
// The fixture: customer A with addresses, a paid order and an open cart;
// customer B with the same of their own; staff of every role; a webhook
// subscription that has deliveries; a stock movement.

struct World {
    app: TestApp,
    ids: Vec<(&'static str, String)>,
    owner: Login,
    stranger: Login,
    staff: HashMap<&'static str, Login>,
    partners: BTreeMap<BTreeSet<&'static str>, String>,
}

const BILLING: &str =
    "{ address1: \"2 Bill Rd\", city: \"Springfield\", provinceCode: \"OR\", countryCode: \"US\" }";

/// Places an order for `who` (signed in) with both addresses; returns its ID
/// and the open cart left behind.
async fn shopper(app: &TestApp, who: &Login, variant: &str) -> (String, String) {
    let me = signed_in(&who.access);
    app.query_as(
        &who.access,
        "mutation { customerAddressCreate(address: { address1: \"1 A St\", city: \"Ayton\", countryCode: \"GB\" }, setDefault: true) { userErrors { code } } }",
        json!({}),
    )
    .await;
    let cart = new_cart(app, me, json!({ "lines": [line(variant, 1)] })).await;
    let id = cart["id"].as_str().unwrap_or_default().to_owned();
    ship(app, me, &id, address(Some("OR"), "US"), "standard").await;
    app.query_as(
        &who.access,
        &format!("mutation($id: ID!) {{ cartBuyerIdentityUpdate(cartId: $id, buyerIdentity: {{ billingAddress: {BILLING} }}) {{ userErrors {{ code }} }} }}"),
        json!({ "id": id }),
    )
    .await;
    let order = place_order(app, me, &id).await;
    let open = new_cart(app, me, json!({ "lines": [line(variant, 1)] })).await;
    let open_id = open["id"].as_str().unwrap_or_default().to_owned();
    ship(app, me, &open_id, address(Some("OR"), "US"), "standard").await;
    app.query_as(
        &who.access,
        &format!("mutation($id: ID!) {{ cartBuyerIdentityUpdate(cartId: $id, buyerIdentity: {{ billingAddress: {BILLING} }}) {{ userErrors {{ code }} }} }}"),
        json!({ "id": open_id }),
    )
    .await;
    (order["id"].as_str().unwrap_or_default().to_owned(), open_id)
}

impl World {
    async fn new() -> Self {
        let app = TestApp::spawn_with(Options {
            products: Some(3),
            configure: Some(|c| {
                c.rate.anonymous = None;
                c.rate.customer = None;
                c.rate.staff = None;
                c.rate.partner = None;
                c.rate.login_ip = None;
                c.rate.login_email = None;
                c.webhooks.allow_private = true;
                c.response_cache_mb = 0;
            }),
            ..Default::default()
        })
        .await;
        let mut staff = HashMap::new();
        for role in Role::ALL {
            let email = format!("{}@example.com", role.as_str());
            staff.insert(
                role.as_str(),
                accounts::staff_user(&app, &email, *role).await,
            );
        }
        let admin = staff
            .get("admin")
            .map(|l| l.access.clone())
            .unwrap_or_default();
        // A subscription to order events, so placing orders makes deliveries.
        app.query_as(
            &admin,
            "mutation { webhookSubscriptionCreate(input: { url: \"http://127.0.0.1:9/hook\", topics: [\"order.created\"] }) { userErrors { code } } }",
            json!({}),
        )
        .await;
        // A product with a tracked variant, a price for a customer group and
        // a stock movement; its tax class has no rate where the shop taxes,
        // so there is a configuration warning to see.
        let created = app
            .query_as(
                &admin,
                "mutation { productCreate(input: { title: \"Guarded\", status: ACTIVE, variants: [{ sku: \"GUARDED-1\", taxClass: \"unrated\", prices: [{ channel: \"default\", amount: \"5.00\" }] }] }) { product { id handle variants { id } } userErrors { field code message } } }",
                json!({}),
            )
            .await;
        let product = created["productCreate"]["product"].clone();
        let variant = product["variants"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        app.query_as(
            &admin,
            "mutation { inventorySetQuantities(input: { quantities: [{ sku: \"GUARDED-1\", location: \"warehouse\", onHand: 50 }] }) { appliedCount } }",
            json!({}),
        )
        .await;
        app.query_as(
            &admin,
            "mutation { pricesSet(prices: [{ sku: \"GUARDED-1\", channel: \"default\", amount: \"4.00\", customerGroup: \"wholesale\" }]) { userErrors { code message } } }",
            json!({}),
        )
        .await;
        let collection = app
            .query_as(
                &admin,
                "mutation { collectionCreate(input: { title: \"Guarded things\", handle: \"guarded-things\" }) { collection { id } userErrors { code message } } }",
                json!({}),
            )
            .await;
        app.query_as(
            &admin,
            "mutation($c: ID!, $p: ID!) { collectionProductsAdd(collectionId: $c, productIds: [$p]) { userErrors { code message } } }",
            json!({ "c": collection["collectionCreate"]["collection"]["id"], "p": product["id"] }),
        )
        .await;
        app.query_as(
            &admin,
            "mutation($p: ID!) { productMediaAdd(productId: $p, media: [{ url: \"https://img.example.com/g.jpg\", alt: \"g\" }]) { product { media { id } } userErrors { code message } } }",
            json!({ "p": product["id"] }),
        )
        .await;
        let media = app
            .query_as(
                &admin,
                "query($p: ID!) { product(id: $p) { media { id } } }",
                json!({ "p": product["id"] }),
            )
            .await;

        // A movement for every variant, whichever page a path lands on.
        let skus = app
            .query_as(
                &admin,
                "{ catalogProducts(first: 50) { nodes { variants { sku } } } }",
                json!({}),
            )
            .await;
        for sku in skus["catalogProducts"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| p["variants"].as_array().into_iter().flatten())
            .filter_map(|v| v["sku"].as_str())
        {
            app.query_as(
                &admin,
                "mutation($s: String!) { inventoryAdjustQuantities(input: { reason: CORRECTION, changes: [{ sku: $s, location: \"warehouse\", delta: 1 }] }) { appliedCount } }",
                json!({ "s": sku }),
            )
            .await;
        }

        let owner = accounts::customer(&app, "a@example.com").await;
        let stranger = accounts::customer(&app, "b@example.com").await;
        for who in [&owner, &stranger] {
            app.query_as(
                &admin,
                "mutation($c: ID!) { storeCreditAdjust(customerId: $c, amount: \"5\", currencyCode: USD) { userErrors { code } } }",
                json!({ "c": who.id }),
            )
            .await;
        }
        let (order, cart) = shopper(&app, &owner, &variant).await;
        let (their_order, _) = shopper(&app, &stranger, &variant).await;
        // A fulfilment of each order, so that paths through
        // `Order.fulfillments` end in data.
        for o in [&order, &their_order] {
            let fulfilled = app
                .query_as(
                    &admin,
                    "mutation($o: ID!) { fulfillmentCreate(input: { orderId: $o, tracking: { carrier: \"UPS\", number: \"1Z999\" } }) { fulfillment { id } userErrors { code message } } }",
                    json!({ "o": o }),
                )
                .await;
            assert_eq!(
                fulfilled["fulfillmentCreate"]["userErrors"],
                json!([]),
                "{fulfilled}"
            );
        }
        let me = app
            .query_as(&owner.access, "{ me { addresses { id } } }", json!({}))
            .await;
        let victim = accounts::staff_user(&app, "victim@example.com", Role::Fulfillment).await;
        let (_, token_id) = accounts::partner_token(&app, &["orders:read"], None).await;
        let str_of = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let ids = vec![
            ("{customer}", owner.id.clone()),
            ("{address}", str_of(&me["me"]["addresses"][0]["id"])),
            ("{order}", order),
            ("{cart}", cart),
            ("{staff}", victim.id),
            ("{token}", gid("ApiToken", token_id)),
            ("{product}", str_of(&product["id"])),
            ("{variant}", variant),
            (
                "{collection}",
                str_of(&collection["collectionCreate"]["collection"]["id"]),
            ),
            ("{collection_handle}", "guarded-things".to_owned()),
            ("{media}", str_of(&media["product"]["media"][0]["id"])),
            ("{channel}", gid("Channel", 1)),
        ];
        Self {
            app,
            ids,
            owner,
            stranger,
            staff,
            partners: BTreeMap::new(),
        }
    }

    fn fill(&self, doc: &str) -> String {
        self.ids
            .iter()
            .fold(doc.to_owned(), |d, (k, v)| d.replace(k, v))
    }

    async fn token(&mut self, who: &Who) -> Option<String> {
        match who {
            Who::Anonymous => None,
            Who::Owner => Some(self.owner.access.clone()),
            Who::Stranger => Some(self.stranger.access.clone()),
            Who::Staff(r) => self.staff.get(r).map(|l| l.access.clone()),
            Who::Partner(scopes) => {
                if let Some(t) = self.partners.get(scopes) {
                    return Some(t.clone());
                }
                let list: Vec<&str> = scopes.iter().copied().collect();
                // A token needs at least one scope: an empty set is a token
                // whose only scope touches nothing on the path.
                let list = if list.is_empty() {
                    vec!["returns:read"]
                } else {
                    list
                };
                let (secret, _) = accounts::partner_token(&self.app, &list, None).await;
                self.partners.insert(scopes.clone(), secret.clone());
                Some(secret)
            }
        }
    }
}

fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["extensions"]["code"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[tokio::test]
async fn every_field_into_protected_data_has_an_entry() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let schema = Schema::of(&app).await;
    let mut missing = Vec::new();
    for (parent, fields) in &schema.fields {
        if Schema::is_plumbing(parent) || schema.kind(parent) != "OBJECT" {
            continue;
        }
        for f in fields {
            let (target, _) = schema.leads_to(f);
            if PROTECTED.contains(&target.as_str()) && edge_rule(parent, &f.name).is_none() {
                missing.push(format!("{parent}.{} -> {target}", f.name));
            }
        }
    }
    for t in schema.possible.get("Node").into_iter().flatten() {
        if node_kind(t).is_none() {
            missing.push(format!("node(id:) of {t}"));
        }
    }
    let stale: Vec<_> = EDGES
        .iter()
        .filter(|(p, f, _)| {
            !schema
                .fields
                .get(*p)
                .is_some_and(|fs| fs.iter().any(|x| x.name == *f))
        })
        .map(|(p, f, _)| format!("{p}.{f}"))
        .collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "fields that reach protected data without an entry in EDGES / NODE_KINDS \
         (state the rule with a guard on the field, then add the entry):\n{}",
        missing.join("\n")
    );
    assert!(
        stale.is_empty(),
        "entries for fields that no longer exist: {stale:?}"
    );
}

#[tokio::test]
async fn every_path_to_protected_data_holds_for_every_caller() {
    let mut world = World::new().await;
    let schema = Schema::of(&world.app).await;
    let paths = paths(&schema);
    assert!(
        paths.len() > 50,
        "the walk found only {} paths; is the schema read right?",
        paths.len()
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in &paths {
        let doc = match document(path) {
            Ok(d) => world.fill(&d),
            Err(why) => {
                failures.push(format!("{}: {why}", describe(path)));
                continue;
            }
        };
        for who in callers(path) {
            let token = world.token(&who).await;
            let (status, body) = match &token {
                Some(t) => world.app.post_as(t, &doc, json!({})).await,
                None => world.app.post(&doc, json!({})).await,
            };
            checked += 1;
            let want = expected(path, &who);
            let codes = error_codes(&body);
            let reached = reaches(&body["data"], path);
            let ok = status == 200
                && match want {
                    Outcome::Data => codes.is_empty() && reached,
                    Outcome::Hidden | Outcome::Empty => codes.is_empty() && !reached,
                    Outcome::Refused(code) => codes.iter().any(|c| c == code) && !reached,
                };
            if !ok {
                failures.push(format!(
                    "{} as {who:?}: expected {want:?}, got status {status}, codes {codes:?}, data reached: {reached}\n    {doc}\n    {body}",
                    describe(path)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks over {} paths failed:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );
}

/// The hole a review found: a token with `customers:read` only read every
/// customer's orders, addresses and payment references through
/// `Customer.orders`.
#[tokio::test]
async fn a_customers_scope_does_not_reach_their_orders() {
    let world = World::new().await;
    let app = &world.app;
    let (partner, _) = accounts::partner_token(app, &["customers:read"], None).await;
    let doc = "{ customers(first: 5) { nodes { orders(first: 5) { nodes { email shippingAddress { address1 } payments { reference } } } } } }";
    let (status, body) = app.post_as(&partner, doc, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        error_codes(&body).first().map(String::as_str),
        Some("FORBIDDEN"),
        "{body}"
    );
    let text = body.to_string();
    assert!(
        !text.contains("a@example.com")
            && !text.contains("1 Main St")
            && !text.contains("reference\":\""),
        "orders leaked: {body}"
    );
    // With `orders:read` as well, the same document answers.
    let (both, _) = accounts::partner_token(app, &["customers:read", "orders:read"], None).await;
    let data = app.query_as(&both, doc, json!({})).await;
    let orders: Vec<&Value> = data["customers"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["orders"]["nodes"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(orders.len(), 2, "{data}");
    // The customer themself still sees their own.
    let own = app
        .query_as(
            &world.owner.access,
            "{ me { orders(first: 5) { nodes { email payments { reference } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        own["me"]["orders"]["nodes"][0]["email"], "a@example.com",
        "{own}"
    );
}
