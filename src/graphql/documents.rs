//! Parsed GraphQL documents, kept by their text. The editor sends the same few
//! documents over and over, and each is needed twice (once to tell a mutation
//! from a query, once to run it): parsing is a visible part of a cached notebook
//! read (docs/performance.md).

use std::sync::Arc;

use async_graphql::{ServerResult, parser::types::ExecutableDocument};

use super::{errors, limits};

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
    /// The document of this text, from here or parsed now. Text over the length
    /// limit is refused unread, and text that does not parse is not kept.
    pub fn get_or_parse(&self, query: &str) -> ServerResult<Arc<ExecutableDocument>> {
        limits::check_length(query)?;
        if let Some(document) = self.0.get(query) {
            return Ok(document);
        }
        let parsed = async_graphql::parser::parse_query(query).map_err(errors::unparsable)?;
        let document = Arc::new(parsed);
        self.0.insert(query.to_string(), document.clone());
        Ok(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn a_document_is_parsed_once_and_refusals_are_typed() {
        let documents = ParsedDocuments::default();
        let first = documents.get_or_parse("{ viewer { id } }").unwrap();
        let again = documents.get_or_parse("{ viewer { id } }").unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let code = |query: &str| {
            let refusal = documents.get_or_parse(query).unwrap_err();
            refusal.source::<Error>().map(Error::code)
        };
        assert_eq!(code("{ viewer { "), Some("BAD_USER_INPUT"));
        let too_long = format!(
            "{{ viewer {{ id }} }}{}",
            " ".repeat(limits::MAX_QUERY_CHARS)
        );
        assert_eq!(code(&too_long), Some("QUERY_TOO_COMPLEX"));
        let past_the_parser = format!("{}{}", "{ a ".repeat(100), "}".repeat(100));
        assert_eq!(code(&past_the_parser), Some("QUERY_TOO_COMPLEX"));
    }
}
