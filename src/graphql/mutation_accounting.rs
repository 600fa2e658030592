//! What a request will write, counted before anything runs: every mutation
//! field is charged (an alias or a batch operation is one more write), a request
//! holds at most [`MAX_MUTATION_FIELDS`], and one uploaded part fills one
//! variable only (a part mapped to many variables would be stored many times
//! from one copy sent).

use std::collections::HashSet;

use async_graphql::{
    BatchRequest, Request,
    parser::types::{
        DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
        SelectionSet,
    },
};

/// More writes than the editor ever sends in one request.
pub const MAX_MUTATION_FIELDS: usize = 10;

/// Top-level fields of the mutation that `request` would run, through
/// fragments; 0 for a query or a document that does not parse.
pub fn count_mutation_fields(document: &ExecutableDocument, request: &Request) -> usize {
    let Some(operation) = selected_operation(document, request.operation_name.as_deref()) else {
        return 0;
    };
    if operation.ty != OperationType::Mutation {
        return 0;
    }
    let mut visited = HashSet::new();
    count_fields(document, &operation.selection_set.node, &mut visited)
}

/// The operation async-graphql would run; with no name and several
/// operations, none runs.
fn selected_operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .iter()
            .find(|(op_name, _)| op_name.as_str() == name)
            .map(|(_, operation)| &operation.node),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Each fragment is counted once (validation refuses a fragment cycle later,
/// and spreading the same fragment twice merges into the same fields).
fn count_fields<'a>(
    document: &'a ExecutableDocument,
    selection_set: &'a SelectionSet,
    visited: &mut HashSet<&'a str>,
) -> usize {
    selection_set
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => usize::from(field.node.name.node != "__typename"),
            Selection::InlineFragment(fragment) => {
                count_fields(document, &fragment.node.selection_set.node, visited)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                match document.fragments.get(&spread.node.fragment_name.node) {
                    Some(fragment) if visited.insert(name) => {
                        count_fields(document, &fragment.node.selection_set.node, visited)
                    }
                    _ => 0,
                }
            }
        })
        .sum()
}

/// Whether two variables of the request (or of its batch) hold the same
/// uploaded part: async-graphql gives each variable a handle to the part's one
/// temporary file.
pub fn reuses_an_upload(batch: &BatchRequest) -> bool {
    let requests: Vec<&Request> = match batch {
        BatchRequest::Single(request) => vec![request],
        BatchRequest::Batch(requests) => requests.iter().collect(),
    };
    let mut files = HashSet::new();
    requests
        .iter()
        .flat_map(|request| &request.uploads)
        .any(|upload| !files.insert(file_identity(&upload.content)))
}

#[cfg(unix)]
fn file_identity(file: &std::fs::File) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let metadata = file.metadata().ok()?;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(query: &str, operation: Option<&str>) -> usize {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let mut request = Request::new(query);
        if let Some(name) = operation {
            request = request.operation_name(name);
        }
        count_mutation_fields(&document, &request)
    }

    #[test]
    fn aliases_fragments_and_operations_are_counted() {
        assert_eq!(count("{ a: viewer { id } b: viewer { id } }", None), 0);
        assert_eq!(count("mutation { a: x b: x c: x __typename }", None), 3);
        assert_eq!(
            count(
                "mutation { ...F ... on Mutation { y z } } fragment F on Mutation { a b ...F }",
                None
            ),
            4
        );
        let two = "query Q { a } mutation M { a b }";
        assert_eq!(count(two, Some("M")), 2);
        assert_eq!(count(two, Some("Q")), 0);
        assert_eq!(count(two, None), 0);
    }
}
