//! The example operations GraphiQL opens with stay valid: every operation
//! of every `examples/queries/*.graphql` runs as an admin without a parse
//! or validation error.

use async_graphql::parser::{parse_query, types::DocumentOperations};
use emporium::{domain::identity::permission::Role, http::graphiql::EXAMPLES};
use serde_json::json;

use crate::{
    accounts,
    harness::{Options, TestApp},
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
        let names: Vec<Option<String>> = match &doc.operations {
            DocumentOperations::Single(_) => vec![None],
            DocumentOperations::Multiple(ops) => ops.keys().map(|k| Some(k.to_string())).collect(),
        };
        for name in names {
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
