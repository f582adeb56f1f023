//! Request limits that async-graphql does not enforce itself (aliases), and
//! the stable `extensions.code` of errors raised by async-graphql's parser,
//! validator and executor rather than by our resolvers.
//!
//! These run in the HTTP layer around `Schema::execute`, on the document
//! parsed once there, instead of as async-graphql extensions: any extension
//! makes every field resolve through an extra boxed future, which costs a
//! large share of a product page (see `cost` for the one place that needs
//! an extension, and how it stays off the executing schema).

use async_graphql::{
    ServerError,
    parser::types::{
        DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
    },
};

use super::error::{ErrorCode, has_code, set_code};

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => count_aliases(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Counts aliased fields in all operations and fragments of a document.
pub fn aliases_in(doc: &ExecutableDocument) -> usize {
    let ops: usize = doc
        .operations
        .iter()
        .map(|(_, op)| count_aliases(&op.node.selection_set.node))
        .sum();
    let frags: usize = doc
        .fragments
        .values()
        .map(|f| count_aliases(&f.node.selection_set.node))
        .sum();
    ops + frags
}

fn selects_any(set: &SelectionSet, names: &[&str]) -> bool {
    set.items.iter().any(|s| match &s.node {
        Selection::Field(f) => {
            names.contains(&f.node.name.node.as_str())
                || selects_any(&f.node.selection_set.node, names)
        }
        Selection::InlineFragment(f) => selects_any(&f.node.selection_set.node, names),
        Selection::FragmentSpread(_) => false,
    })
}

/// Whether any operation or fragment of the document asks for the schema
/// (`__schema` or `__type`; `__typename` is not introspection of the schema).
pub fn introspects(doc: &ExecutableDocument) -> bool {
    const NAMES: &[&str] = &["__schema", "__type"];
    doc.operations
        .iter()
        .any(|(_, op)| selects_any(&op.node.selection_set.node, NAMES))
        || doc
            .fragments
            .values()
            .any(|f| selects_any(&f.node.selection_set.node, NAMES))
}

/// Refuses a document with more than `max` aliases.
pub fn check_aliases(doc: &ExecutableDocument, max: usize) -> Result<(), ServerError> {
    let aliases = aliases_in(doc);
    if aliases > max {
        return Err(ErrorCode::TooComplex.server_error(format!(
            "the query has {aliases} aliases; at most {max} are allowed"
        )));
    }
    Ok(())
}

/// The type of the operation that would run, if the document says which.
fn selected(doc: &ExecutableDocument, operation_name: Option<&str>) -> Option<OperationType> {
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    }
}

/// Whether the operation that would run writes (mutation or subscription).
/// Without a name, a document with several operations counts as writing if
/// any of them does, so an ambiguous request is never taken for a read.
pub fn writes(doc: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    match selected(doc, operation_name) {
        Some(t) => t != OperationType::Query,
        None => doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty != OperationType::Query),
    }
}

/// Whether the operation that would run is a subscription.
pub fn subscribes(doc: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    selected(doc, operation_name) == Some(OperationType::Subscription)
}

/// Gives an error raised by async-graphql itself its code: without a path it
/// is a request error from validation (TOO_COMPLEX for the limits), with a
/// path it is an input value the executor could not coerce.
pub fn classify(e: &mut ServerError) {
    if has_code(e) {
        return;
    }
    let code = if !e.path.is_empty() {
        ErrorCode::BadUserInput
    } else if [
        "nested too deep",
        "too complex",
        "recursion depth",
        "number of directives",
    ]
    .iter()
    .any(|m| e.message.contains(m))
    {
        ErrorCode::TooComplex
    } else {
        ErrorCode::GraphqlValidationFailed
    };
    set_code(e, code);
}

/// Whether an error means the operation never executed (a request error).
/// RATE_LIMITED and BAD_REQUEST are one when the whole operation was refused
/// (no path), and field errors when one resolver raised them (a throttled
/// login).
pub fn is_request_error(e: &ServerError) -> bool {
    let code = e.extensions.as_ref().and_then(|x| x.get("code"));
    matches!(code, Some(async_graphql::Value::String(s))
        if s == ErrorCode::GraphqlParseFailed.as_str()
            || s == ErrorCode::GraphqlValidationFailed.as_str()
            || s == ErrorCode::TooComplex.as_str()
            || ((s == ErrorCode::RateLimited.as_str() || s == ErrorCode::BadRequest.as_str())
                && e.path.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn doc(q: &str) -> ExecutableDocument {
        parse_query(q).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        assert_eq!(
            aliases_in(&doc("{ a: x b: y { c: z } ...F } fragment F on Q { d: w }")),
            4
        );
        assert!(check_aliases(&doc("{ a: x b: y }"), 1).is_err());
    }

    #[test]
    fn introspection_is_recognised() {
        assert!(introspects(&doc("{ __schema { types { name } } }")));
        assert!(introspects(&doc(
            "{ ...F } fragment F on Query { __type(name: \"X\") { name } }"
        )));
        assert!(introspects(&doc("{ a { ... on B { __schema { x } } } }")));
        assert!(!introspects(&doc(
            "{ __typename products { nodes { id } } }"
        )));
    }

    #[test]
    fn writes_are_recognised() {
        assert!(writes(&doc("mutation { x }"), None));
        assert!(writes(&doc("subscription { x }"), None));
        assert!(!writes(&doc("{ x }"), None));
        let two = doc("query A { x } mutation B { y }");
        assert!(writes(&two, Some("B")));
        assert!(!writes(&two, Some("A")));
        assert!(writes(&two, None));
    }
}
