//! What one request may ask of the server: query text size, aliases, depth,
//! nesting, complexity (connections cost by their page size) and, for a batch, the
//! complexity summed over its operations. (Directives need no limit of their own:
//! validation refuses repeated and unknown ones, which leaves two per field.) Each
//! refusal says which limit and its value, with the code QUERY_TOO_COMPLEX. Depth,
//! nesting and a single operation's complexity are checked by async-graphql
//! ([`super::library_limits`]); the rest here.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use async_graphql::{
    ServerError, ServerResult, ValidationResult, async_trait,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use super::{ParsedDocuments, errors};
use crate::{error::Error, pagination::DEFAULT_PAGE_SIZE};

/// Characters of query text; the editor's largest query is a few hundred.
pub const MAX_QUERY_CHARS: usize = 20_000;
pub const MAX_ALIASES: usize = 30;
/// Fields within fields.
pub const MAX_DEPTH: usize = 16;
/// Selection sets within selection sets, fragments included.
pub const MAX_NESTING: usize = 32;
/// One page of 100 notebooks with their owners, latest revisions and files
/// costs about 1,500.
pub const MAX_COMPLEXITY: usize = 5_000;

/// The cost multiplier of a connection: the page size that it asks for.
pub fn page_cost(first: Option<i32>, last: Option<i32>) -> usize {
    first
        .or(last)
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, crate::pagination::MAX_PAGE_SIZE) as usize
}

/// A list argument holds at most as many items as a page (200,000 ids used
/// to reach the database's limit on bound variables as an INTERNAL error).
pub fn check_list_length(name: &str, length: usize) -> Result<(), crate::error::Error> {
    let max = crate::pagination::MAX_PAGE_SIZE as usize;
    if length > max {
        return Err(crate::error::Error::bad_input(format!(
            "{name} may hold at most {max} items, got {length}"
        )));
    }
    Ok(())
}

/// Complexity already spent by the operations of one HTTP request (a batch).
#[derive(Clone, Default)]
pub struct BatchBudget(Arc<AtomicUsize>);

/// Sums the complexity of a batch's operations, which only validation knows:
/// the one extension, installed only in the schema that runs batches.
pub struct BatchComplexity;

impl ExtensionFactory for BatchComplexity {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(BatchComplexity)
    }
}

fn too_complex(message: String) -> ServerError {
    errors::refusal(Error::QueryTooComplex(message), [])
}

/// Refuses query text over the length limit, before anything reads it.
pub fn check_length(query: &str) -> ServerResult<()> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(too_complex(format!(
            "The query is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    Ok(())
}

/// The parsed document of a query within the text limits.
pub fn check_document(
    documents: &ParsedDocuments,
    query: &str,
) -> ServerResult<ExecutableDocument> {
    let document = documents.get_or_parse(query)?;
    check_aliases(&document)?;
    Ok(ExecutableDocument::clone(&document))
}

/// Refuses a document with more aliases than the limit.
pub fn check_aliases(document: &ExecutableDocument) -> ServerResult<()> {
    let aliases = count_aliases(document);
    if aliases > MAX_ALIASES {
        return Err(too_complex(format!(
            "The query uses {aliases} aliases; the limit is {MAX_ALIASES}"
        )));
    }
    Ok(())
}

#[async_trait::async_trait]
impl Extension for BatchComplexity {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if let Some(budget) = ctx.data_opt::<BatchBudget>() {
            let spent =
                budget.0.fetch_add(result.complexity, Ordering::Relaxed) + result.complexity;
            if spent > MAX_COMPLEXITY {
                return Err(vec![too_complex(format!(
                    "The batch's operations together have a complexity of {spent}; the limit is {MAX_COMPLEXITY}"
                ))]);
            }
        }
        Ok(result)
    }
}

/// Aliases in every operation and fragment of the document.
fn count_aliases(document: &ExecutableDocument) -> usize {
    let operations = document
        .operations
        .iter()
        .map(|(_, operation)| count_in(&operation.node.selection_set.node))
        .sum::<usize>();
    let fragments = document
        .fragments
        .values()
        .map(|fragment| count_in(&fragment.node.selection_set.node))
        .sum::<usize>();
    operations + fragments
}

fn count_in(selection_set: &SelectionSet) -> usize {
    selection_set
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + count_in(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_in(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}
