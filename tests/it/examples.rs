//! The example operations GraphiQL opens with stay valid: every operation
//! of every `examples/queries/*.graphql` runs as an admin without a parse
//! or validation error. Subscriptions run over the WebSocket and must yield
//! a result when the stock of the demo catalog's first variant changes.

use async_graphql::parser::{
    parse_query,
    types::{DocumentOperations, OperationType},
};
use emporium::{domain::identity::permission::Role, http::graphiql::EXAMPLES};
use serde_json::json;

use crate::{
    accounts,
    harness::{Options, TestApp},
    subscriptions::{Ws, listening},
};

#[tokio::test]
async fn every_example_operation_validates_against_the_schema() {
    let app = TestApp::spawn_with(Options {
        products: Some(5),
        ..Default::default()
    })
    .await;
    let admin = accounts::staff_user(&app, "owner@example.com", Role::Admin).await;
    let mut ran = 0;
    for (file, text) in EXAMPLES {
        let doc = parse_query(*text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let ops: Vec<(Option<String>, OperationType)> = match &doc.operations {
            DocumentOperations::Single(op) => vec![(None, op.node.ty)],
            DocumentOperations::Multiple(ops) => ops
                .iter()
                .map(|(k, op)| (Some(k.to_string()), op.node.ty))
                .collect(),
        };
        for (name, ty) in ops {
            if ty == OperationType::Subscription {
                subscription_yields(&app, &admin.access, file, text).await;
                ran += 1;
                continue;
            }
            let auth = format!("Bearer {}", admin.access);
            let res = app
                .post_json(
                    &json!({ "query": text, "operationName": name }),
                    &[("authorization", auth.as_str())],
                )
                .await;
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            assert_eq!(status, 200, "{file} {name:?}: {body}");
            assert!(body.get("errors").is_none(), "{file} {name:?}: {body}");
            ran += 1;
        }
    }
    assert!(ran >= EXAMPLES.len());
}

/// Subscribes with `text` and changes the stock of `EMP-00000-01`: the
/// subscription must answer with data and no error.
async fn subscription_yields(app: &TestApp, admin: &str, file: &str, text: &str) {
    let mut ws = Ws::connect(app, Some(admin)).await;
    let id = ws.subscribe(text, json!({})).await;
    listening(app, 1).await;
    let changed = app
        .query_as(
            admin,
            "mutation { inventoryAdjustQuantities(input: { changes: [{ sku: \"EMP-00000-01\", location: \"warehouse\", delta: 1 }], reason: RECEIVED }) { userErrors { code message } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        changed["inventoryAdjustQuantities"]["userErrors"],
        json!([]),
        "{changed}"
    );
    let got = ws.next_of(&id).await;
    assert!(got.get("errors").is_none(), "{file}: {got}");
    assert!(got["data"].is_object(), "{file}: {got}");
}
