//! What an anonymous client of a private server learns of the schema: nothing.
//! The HTTP layer marks such a client's requests by disabling introspection; here
//! a request of theirs that asks for the schema is refused like any other read,
//! and validation errors tell them only that the query is not valid.

use std::collections::HashSet;

use async_graphql::{
    IntrospectionMode, Name, Request,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::error::Error;

/// The message of every validation error that such a client gets.
pub const INVALID: &str = "The query is not valid. This server is private: sign in or send a \
token to see its schema and what is wrong.";

pub fn is_hidden_from(request: &Request) -> bool {
    request.introspection_mode == IntrospectionMode::Disabled
}

/// The answer to such a client's introspection: the one to any other read.
pub fn refusal() -> Error {
    Error::Unauthenticated(
        "This server is private: sign in or send a token to read its schema".into(),
    )
}

/// Whether a document asks for the schema: `__schema` or `__type`, which only
/// the query root has, directly or through fragments.
pub fn asks_for_schema(document: &ExecutableDocument) -> bool {
    let mut fragments_seen = HashSet::new();
    document.operations.iter().any(|(_, operation)| {
        selects_schema(
            document,
            &operation.node.selection_set.node,
            &mut fragments_seen,
        )
    })
}

fn selects_schema<'a>(
    document: &'a ExecutableDocument,
    selections: &'a SelectionSet,
    fragments_seen: &mut HashSet<&'a Name>,
) -> bool {
    selections
        .items
        .iter()
        .any(|selection| match &selection.node {
            Selection::Field(field) => {
                matches!(field.node.name.node.as_str(), "__schema" | "__type")
            }
            Selection::InlineFragment(fragment) => {
                selects_schema(document, &fragment.node.selection_set.node, fragments_seen)
            }
            // Each fragment once: a cycle of spreads ends here (validation refuses it).
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                fragments_seen.insert(name)
                    && document.fragments.get(name).is_some_and(|fragment| {
                        selects_schema(document, &fragment.node.selection_set.node, fragments_seen)
                    })
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asks(query: &str) -> bool {
        asks_for_schema(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn the_schema_is_found_through_fragments_and_cycles_end() {
        assert!(asks("{ __schema { queryType { name } } }"));
        assert!(asks("{ __type(name: \"User\") { name } }"));
        assert!(asks("{ ... on Query { __schema { types { name } } } }"));
        assert!(asks(
            "query { ...A } fragment A on Query { ...B } fragment B on Query { __type(name: \"X\") { name } }"
        ));
        assert!(!asks("{ viewer { __typename id } __typename }"));
        assert!(!asks(
            "query { ...A } fragment A on Query { ...A viewer { id } }"
        ));
    }
}
