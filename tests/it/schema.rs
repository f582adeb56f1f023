//! The committed `schema.graphql` is the public contract: it must equal the SDL
//! the server serves, and GraphiQL's introspection must pass the limits.

use serde_json::json;

use crate::harness::{Options, TestApp};

#[test]
fn committed_schema_matches_served_sdl() {
    let committed = include_str!("../../schema.graphql");
    let served = emporium::graphql::sdl();
    assert!(
        committed == served,
        "schema.graphql is out of date; regenerate it with `cargo run -- schema > schema.graphql`"
    );
}

#[test]
fn every_type_of_the_schema_is_described() {
    let sdl = emporium::graphql::sdl();
    let lines: Vec<&str> = sdl.lines().collect();
    let kinds = [
        "type ",
        "input ",
        "enum ",
        "interface ",
        "union ",
        "scalar ",
    ];
    let bare: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            kinds.iter().any(|k| l.starts_with(k)) && (*i == 0 || lines[i - 1] != "\"\"\"")
        })
        .map(|(_, l)| *l)
        .collect();
    assert!(bare.is_empty(), "types without a description: {bare:?}");
}

/// The query GraphiQL sends on load (trimmed of descriptions of directives only).
pub const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}
"#;

#[tokio::test]
async fn graphiql_introspection_passes_the_default_limits() {
    let app = TestApp::spawn_with(Options {
        products: Some(0),
        ..Default::default()
    })
    .await;
    let data = app.query(INTROSPECTION, json!({})).await;
    let types = data["__schema"]["types"].as_array().map_or(0, Vec::len);
    assert!(types > 20, "introspection returned {types} types");
}
