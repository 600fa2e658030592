//! Turns every error of a GraphQL response into SERVER.md's shape, once: a code in
//! `extensions.code` and a message for people. Domain errors carry their own code;
//! internal ones are logged and replaced by a generic message; errors from parsing,
//! validation and argument coercion (which have no code) are BAD_USER_INPUT.

use std::sync::Arc;

use async_graphql::{ErrorExtensionValues, ServerError, Value};

use super::limits::{MAX_COMPLEXITY, MAX_DEPTH};
use crate::error::{Error, RETRY_AFTER_SECONDS};

/// Gives an error of a response its code, and a message for people.
pub(super) fn present(error: &mut ServerError) {
    let domain = error
        .source::<Error>()
        .or_else(|| error.source::<Arc<Error>>().map(Arc::as_ref));
    let retry = matches!(domain, Some(Error::Unavailable(_)));
    let (code, message) = match domain {
        Some(domain) => (domain.code(), Some(domain.public_message())),
        None if has_code(error) => return,
        None => match limit_message(&error.message) {
            Some(message) => ("QUERY_TOO_COMPLEX", Some(message)),
            None => ("BAD_USER_INPUT", None),
        },
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

/// Marks an error that a retry may cure: the HTTP layer answers 503 with
/// Retry-After when a response carries one.
pub const RETRY_AFTER: &str = "retryAfter";

/// The parser's and the schema's depth and complexity limits report themselves
/// only in words, and without the limit: say which limit, and its value.
fn limit_message(message: &str) -> Option<String> {
    if message.starts_with("Query is too complex") {
        Some(format!(
            "The query is too complex: its cost is over the limit of {MAX_COMPLEXITY} \
             (a connection costs its page size times its fields)"
        ))
    } else if message.starts_with("Query is nested too deep")
        || message.starts_with("The recursion depth")
    {
        Some(format!(
            "The query is nested more than {MAX_DEPTH} levels deep"
        ))
    } else {
        None
    }
}

fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|extensions| extensions.get("code").is_some())
}

/// A domain error as a response's error, for refusals made outside the schema
/// (such as a subscription over a connection's limit).
pub fn server_error(error: Error) -> ServerError {
    let mut error = async_graphql::Error::from(error).into_server_error(Default::default());
    present(&mut error);
    error
}
