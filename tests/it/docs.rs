//! The operations the documentation shows stay valid: every GraphQL
//! document in `README.md` and `docs/*.md` (```graphql blocks, the `Q '...'`
//! helper's first argument and curl's `"query":"..."` bodies) parses and
//! validates against the served schema. Each is sent as an admin; an
//! operation may fail at run time for want of its variables or data, but
//! never with a parse or validation error.

use std::path::{Path, PathBuf};

use async_graphql::parser::{
    parse_query,
    types::{DocumentOperations, OperationType},
};
use emporium::domain::identity::permission::Role;
use serde_json::{Value, json};

use crate::{
    accounts,
    harness::{Options, TestApp},
    subscriptions::{Ws, listening},
};

/// Markdown files whose operations are checked.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap_or_else(|e| panic!("docs/: {e}"))
        .map(|e| e.unwrap_or_else(|e| panic!("docs/: {e}")).path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The fenced blocks of `text` with their info string.
fn fences(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let mut body = String::new();
        for inner in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                break;
            }
            body.push_str(inner);
            body.push('\n');
        }
        out.push((info.trim().to_owned(), body));
    }
    out
}

/// Splits a ```graphql block into its top-level definitions (a block may
/// show several anonymous queries one after the other).
fn definitions(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for line in block.lines() {
        let code = line.split('#').next().unwrap_or_default();
        if code.trim().is_empty() && depth == 0 {
            continue;
        }
        current.push_str(code);
        current.push('\n');
        for c in code.chars() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth
                        .checked_sub(1)
                        .unwrap_or_else(|| panic!("unbalanced: {code}"))
                }
                _ => {}
            }
        }
        if depth == 0 && code.contains('}') {
            out.push(std::mem::take(&mut current));
        }
    }
    assert!(current.trim().is_empty(), "unbalanced block: {current}");
    out
}

/// The documents in a shell block: `Q '...'` arguments and `"query":"..."`
/// JSON strings.
fn shell_documents(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = block;
    while let Some(at) = rest.find("Q '") {
        let after = &rest[at + 3..];
        let end = after
            .find('\'')
            .unwrap_or_else(|| panic!("no closing quote after Q '{after}"));
        // The helper's own definition (`Q() {`) holds no document.
        if !after[..end].contains("jq -n") {
            out.push(after[..end].to_owned());
        }
        rest = &after[end + 1..];
    }
    let mut rest = block;
    while let Some(at) = rest.find("\"query\":\"") {
        let after = &rest[at + "\"query\":".len()..];
        // A JSON string literal: read it with serde_json up to its end.
        let mut stream = serde_json::Deserializer::from_str(after).into_iter::<String>();
        let doc = match stream.next() {
            Some(Ok(doc)) => doc,
            other => panic!("no JSON string after \"query\": ({other:?}): {after}"),
        };
        let used = stream.byte_offset();
        out.push(doc);
        rest = &after[used..];
    }
    out
}

/// Every document a page shows, with where it came from.
fn documents(page: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(page).unwrap_or_else(|e| panic!("{page:?}: {e}"));
    let name = page
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (info, body) in fences(&text) {
        let docs = match info.as_str() {
            "graphql" => definitions(&body),
            "sh" | "bash" | "" => shell_documents(&body),
            _ => continue,
        };
        out.extend(docs.into_iter().map(|d| (name.clone(), d)));
    }
    out
}

#[test]
fn the_extractor_finds_documents_in_every_shape() {
    let md = "```graphql\n# a comment\nquery { a }\n\nquery {\n  b { c }\n}\n```\n\
              ```sh\nQ() { jq -n --arg q \"$1\" x; }\nV=$(Q '{ product { id } }' | jq)\n\
              curl -d '{\"query\":\"{ me { email name: \\\"x\\\" } }\"}'\n```\n";
    let dir = std::env::temp_dir().join(format!("emporium-docs-{}", std::process::id()));
    let io = |r: std::io::Result<()>| r.unwrap_or_else(|e| panic!("{dir:?}: {e}"));
    io(std::fs::create_dir_all(&dir));
    let page = dir.join("page.md");
    io(std::fs::write(&page, md));
    let docs: Vec<String> = documents(&page).into_iter().map(|(_, d)| d).collect();
    io(std::fs::remove_dir_all(&dir));
    assert_eq!(
        docs,
        vec![
            "query { a }\n".to_owned(),
            "query {\n  b { c }\n}\n".to_owned(),
            "{ product { id } }".to_owned(),
            "{ me { email name: \"x\" } }".to_owned(),
        ]
    );
}

#[tokio::test]
async fn every_operation_the_docs_show_validates_against_the_schema() {
    let app = TestApp::spawn_with(Options {
        products: Some(5),
        ..Default::default()
    })
    .await;
    let admin = accounts::staff_user(&app, "owner@example.com", Role::Admin).await;
    let auth = format!("Bearer {}", admin.access);
    let mut ws = Ws::connect(&app, Some(&admin.access)).await;
    let mut checked = 0;
    for page in pages() {
        for (name, doc) in documents(&page) {
            let parsed = parse_query(&doc).unwrap_or_else(|e| panic!("{name}: {e}\n{doc}"));
            let ty = match &parsed.operations {
                DocumentOperations::Single(op) => op.node.ty,
                DocumentOperations::Multiple(ops) => ops
                    .values()
                    .next()
                    .map(|op| op.node.ty)
                    .unwrap_or_else(|| panic!("{name}: no operation in {doc}")),
            };
            // Subscriptions are served over the WebSocket: one either starts
            // listening or ends with an error, which must not be a parse or
            // validation error.
            if ty == OperationType::Subscription {
                let open = app.state.live.open_subscriptions();
                let id = ws.subscribe(&doc, json!({})).await;
                tokio::select! {
                    () = listening(&app, open + 1) => {}
                    code = ws.error_code(&id) => assert!(
                        !matches!(code.as_str(), "GRAPHQL_PARSE_FAILED" | "GRAPHQL_VALIDATION_FAILED"),
                        "{name}: {code}\n{doc}"
                    ),
                }
                checked += 1;
                continue;
            }
            let res = app
                .post_json(
                    &json!({ "query": doc }),
                    &[("authorization", auth.as_str())],
                )
                .await;
            let body: Value = res
                .json()
                .await
                .unwrap_or_else(|e| panic!("{name}: not JSON: {e}\n{doc}"));
            for error in body["errors"].as_array().into_iter().flatten() {
                let code = error["extensions"]["code"].as_str().unwrap_or_default();
                assert!(
                    !matches!(code, "GRAPHQL_PARSE_FAILED" | "GRAPHQL_VALIDATION_FAILED"),
                    "{name}: {error}\n{doc}"
                );
            }
            checked += 1;
        }
    }
    // The pages show dozens of operations; finding few means the extractor
    // broke, not that the docs are fine.
    assert!(checked >= 30, "only {checked} documents found");
}
