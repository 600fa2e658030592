//! Parsed GraphQL documents, kept by their text. The editor sends the same few
//! documents over and over, and each is needed twice (once to tell a mutation
//! from a query, once to run it): parsing is a visible part of a cached notebook
//! read (docs/performance.md).

use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;

use super::limits::MAX_QUERY_CHARS;

/// Query text kept, in bytes: thousands of distinct documents.
const CAPACITY_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct ParsedDocuments(moka::sync::Cache<String, Arc<ExecutableDocument>>);

impl Default for ParsedDocuments {
    fn default() -> Self {
        ParsedDocuments(
            moka::sync::Cache::builder()
                .weigher(|text: &String, _| u32::try_from(text.len()).unwrap_or(u32::MAX))
                .max_capacity(CAPACITY_BYTES)
                .build(),
        )
    }
}

impl ParsedDocuments {
    /// The document of this text, from here or parsed now; None for text over
    /// the length limit or that does not parse, which the executor refuses with
    /// the usual error.
    pub fn get_or_parse(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        if query.chars().count() > MAX_QUERY_CHARS {
            return None;
        }
        if let Some(document) = self.0.get(query) {
            return Some(document);
        }
        let document = Arc::new(async_graphql::parser::parse_query(query).ok()?);
        self.0.insert(query.to_string(), document.clone());
        Some(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_refusals_are_left_to_the_executor() {
        let documents = ParsedDocuments::default();
        let first = documents.get_or_parse("{ viewer { id } }").unwrap();
        let again = documents.get_or_parse("{ viewer { id } }").unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert!(documents.get_or_parse("{ viewer { ").is_none());
        let too_long = format!("{{ viewer {{ id }} }}{}", " ".repeat(MAX_QUERY_CHARS));
        assert!(documents.get_or_parse(&too_long).is_none());
    }
}
