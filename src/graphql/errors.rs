//! Turns every error of a GraphQL response into SERVER.md's shape, once: a code in
//! `extensions.code` and a message for people. Errors are told apart by what they
//! are, never by their words: the domain's errors, and this server's own refusals
//! ([`refusal`]), carry an [`Error`] as their source; the limits that async-graphql
//! checks itself are recognised by [`LibraryLimits`]; what remains comes from
//! validation and argument coercion, which have neither code nor type:
//! BAD_USER_INPUT.

use std::sync::Arc;

use async_graphql::{ErrorExtensionValues, Pos, ServerError, Value, parser};

use super::{hidden_schema, library_limits::LibraryLimits};
use crate::error::{Error, RETRY_AFTER_SECONDS};

/// Marks an error that a retry may cure: the HTTP layer answers 503 with
/// Retry-After when a response carries one.
pub const RETRY_AFTER: &str = "retryAfter";

/// A refusal of this server's own (a limit, a query that does not parse), typed
/// like the domain's errors so that [`present`] knows it by its source.
pub(super) fn refusal(error: Error, locations: impl IntoIterator<Item = Pos>) -> ServerError {
    ServerError {
        message: error.to_string(),
        source: Some(Arc::new(error)),
        locations: locations.into_iter().collect(),
        path: Vec::new(),
        extensions: None,
    }
}

/// A query text that the parser refused: nested past the parser's own limit, or
/// not GraphQL.
pub(super) fn unparsable(error: parser::Error) -> ServerError {
    let locations: Vec<Pos> = error.positions().collect();
    let error = match error {
        parser::Error::RecursionLimitExceeded => {
            Error::QueryTooComplex("The query is nested too deeply to be read".into())
        }
        other => Error::bad_input(other.to_string()),
    };
    refusal(error, locations)
}

/// Gives an error of a response its code, and a message for people. When the
/// schema is hidden from the client, validation errors say nothing of it.
pub(super) fn present(error: &mut ServerError, library: &LibraryLimits, schema_hidden: bool) {
    let domain = error
        .source::<Error>()
        .or_else(|| error.source::<Arc<Error>>().map(Arc::as_ref));
    let retry = matches!(domain, Some(Error::Unavailable(_)));
    let (code, message) = match (domain, library.message_for(error)) {
        (Some(domain), _) => (domain.code(), Some(domain.public_message())),
        (None, Some(limit)) => ("QUERY_TOO_COMPLEX", Some(limit)),
        (None, None) if schema_hidden => {
            error.locations.clear();
            ("BAD_USER_INPUT", Some(hidden_schema::INVALID.to_string()))
        }
        (None, None) => ("BAD_USER_INPUT", None),
    };
    if let Some(message) = message {
        error.message = message;
    }
    let extensions = error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    extensions.set("code", Value::from(code));
    if retry {
        extensions.set(RETRY_AFTER, Value::from(RETRY_AFTER_SECONDS));
    }
}

/// A domain error as a response's error, for refusals made outside the schema
/// (such as a subscription over a connection's limit).
pub async fn server_error(error: Error) -> ServerError {
    let mut error = refusal(error, []);
    present(&mut error, LibraryLimits::learned().await, false);
    error
}
