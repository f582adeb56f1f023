//! Guardrails around every request: an alias limit (async-graphql has depth
//! and complexity limits but none for aliases), and a stable
//! `extensions.code` on every parse and validation error.

use std::sync::Arc;

use async_graphql::{
    ServerError, ServerResult, ValidationResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use super::error::{ErrorCode, has_code, set_code};

/// Installs the guardrails with the configured alias limit.
pub struct Guardrails {
    /// Most aliased fields allowed in one document.
    pub max_aliases: usize,
}

impl ExtensionFactory for Guardrails {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardrailsExtension {
            max_aliases: self.max_aliases,
        })
    }
}

struct GuardrailsExtension {
    max_aliases: usize,
}

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

#[async_trait::async_trait]
impl Extension for GuardrailsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await.map_err(|mut e| {
            set_code(&mut e, ErrorCode::GraphqlParseFailed);
            e
        })?;
        let aliases = aliases_in(&doc);
        if aliases > self.max_aliases {
            return Err(ErrorCode::TooComplex.server_error(format!(
                "the query has {aliases} aliases; at most {} are allowed",
                self.max_aliases
            )));
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for e in &mut errors {
                if !has_code(e) {
                    let limit =
                        e.message.contains("nested too deep") || e.message.contains("too complex");
                    let code = if limit {
                        ErrorCode::TooComplex
                    } else {
                        ErrorCode::GraphqlValidationFailed
                    };
                    set_code(e, code);
                }
            }
            errors
        })
    }
}
