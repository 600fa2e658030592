//! The one error type of the domain, and its one mapping to GraphQL error codes and
//! HTTP statuses. Internal details are logged here and never sent to clients.

use std::time::Duration;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::DbErr;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No identity where one is needed: sign in, or send a token.
    #[error("{0}")]
    Unauthenticated(String),
    /// Credentials were sent and refused: never a fallback to a weaker identity.
    #[error("{message}")]
    InvalidCredentials { scheme: AuthScheme, message: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The client accepts no media type that the answer could take.
    #[error("{0}")]
    NotAcceptable(String),
    /// The method is not the one the route takes (`allow`).
    #[error("{message}")]
    MethodNotAllowed {
        allow: &'static str,
        message: String,
    },
    #[error("{0}")]
    QueryTooComplex(String),
    /// A request that ran past the time limit was stopped; its transaction, if
    /// any, was rolled back.
    #[error("The request took longer than the limit of {} ms and was stopped", .0.as_millis())]
    TookTooLong(Duration),
    #[error("Too many requests: try again in {0} seconds")]
    RateLimited(u64),
    /// The server is busy with work of the same kind (uploads): try again in
    /// RETRY_AFTER_SECONDS.
    #[error("{0}")]
    Busy(String),
    /// A request body stopped arriving and was cut off.
    #[error("The request body stopped arriving for {} s and was cut off", .0.as_secs())]
    BodyTimedOut(Duration),
    /// Details stay in the logs; the client sees a generic message.
    #[error("database error: {0}")]
    Database(DbErr),
    /// The database cannot be reached: worth retrying shortly.
    #[error("database unavailable: {0}")]
    Unavailable(DbErr),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The scheme that a client whose credentials were refused should retry with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthScheme {
    Token,
    Bearer,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How long a client should wait before retrying while the database is away.
pub const RETRY_AFTER_SECONDS: u64 = 5;

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if is_connection_failure(&err) {
            Error::Unavailable(err)
        } else if sqlstate(&err).as_deref() == Some(CHARACTER_NOT_IN_REPERTOIRE) {
            // Writes refuse U+0000 before the database; this is a read that
            // compares with it (a search, a name), which SQLite would answer.
            Error::bad_input(
                "The request's text contains the character U+0000 (NUL), which cannot be stored \
                 or searched for",
            )
        } else {
            Error::Database(err)
        }
    }
}

/// PostgreSQL's answer to U+0000 in a text parameter: the only character that
/// valid UTF-8 can carry and a UTF-8 database cannot hold.
const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";

fn sqlstate(err: &DbErr) -> Option<String> {
    use sea_orm::{RuntimeErr, sqlx};
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            match inner.as_ref() {
                sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether the error says the database could not be reached, as opposed to a
/// statement that failed: no connection, a broken one, or a server shutting down
/// (SQLSTATE classes 08, connection exception, and 57, operator intervention).
fn is_connection_failure(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            matches!(
                inner.as_ref(),
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
            ) || sqlstate(err).is_some_and(|code| code.starts_with("08") || code.starts_with("57"))
        }
        _ => false,
    }
}

impl Error {
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Error::NotFound(format!("{what} does not exist"))
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Error::BadInput(message.into())
    }

    /// The `extensions.code` of SERVER.md.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthenticated(_) | Error::InvalidCredentials { .. } => "UNAUTHENTICATED",
            Error::Forbidden(_) => "FORBIDDEN",
            Error::NotFound(_) => "NOT_FOUND",
            Error::BadInput(_)
            | Error::UnsupportedMediaType(_)
            | Error::NotAcceptable(_)
            | Error::MethodNotAllowed { .. }
            | Error::BodyTimedOut(_) => "BAD_USER_INPUT",
            Error::Conflict(_) => "CONFLICT",
            Error::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            Error::QueryTooComplex(_) | Error::TookTooLong(_) => "QUERY_TOO_COMPLEX",
            Error::RateLimited(_) | Error::Busy(_) => "RATE_LIMITED",
            Error::Database(_) | Error::Unavailable(_) | Error::Internal(_) => "INTERNAL",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthenticated(_) | Error::InvalidCredentials { .. } => {
                StatusCode::UNAUTHORIZED
            }
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadInput(_) | Error::QueryTooComplex(_) => StatusCode::BAD_REQUEST,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::BodyTimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            Error::Database(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Error::Unavailable(_) | Error::TookTooLong(_) | Error::Busy(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// What the client may read. Internal errors are logged once, here.
    pub fn public_message(&self) -> String {
        match self {
            Error::Database(_) | Error::Internal(_) => {
                tracing::error!(error = %self, "request failed");
                "Something went wrong on the server. It has been logged; please try again."
                    .to_string()
            }
            Error::Unavailable(_) => {
                tracing::warn!(error = %self, "the database is unreachable");
                format!(
                    "The server cannot reach its database right now; try again in {RETRY_AFTER_SECONDS} seconds."
                )
            }
            other => other.to_string(),
        }
    }

    /// The GraphQL-shaped body that every HTTP error of this server carries, so that
    /// a client reads REST and GraphQL failures the same way.
    fn body(code: &str, message: &str) -> serde_json::Value {
        json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
    }

    /// Whether a database error is a unique-constraint violation.
    pub fn is_unique_violation(err: &DbErr) -> bool {
        matches!(
            err.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        )
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let message = self.public_message();
        let status = self.status();
        let body = Error::body(self.code(), &message);
        let mut response = (status, axum::Json(body)).into_response();
        self.tell_how_to_retry(&mut response);
        // Kept for the routes that show errors to people as pages.
        response.extensions_mut().insert(Shown { status, message });
        response
    }
}

impl Error {
    /// The one place that tells a client how to try again: with which
    /// credentials, after how long, or with which method.
    fn tell_how_to_retry(&self, response: &mut Response) {
        let headers = response.headers_mut();
        match self {
            Error::Unauthenticated(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"iodide\""),
                );
            }
            Error::InvalidCredentials { scheme, .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(scheme.challenge()),
                );
            }
            Error::MethodNotAllowed { allow, .. } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            Error::RateLimited(seconds) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
            Error::Unavailable(_) | Error::Busy(_) => retry_later(response, RETRY_AFTER_SECONDS),
            _ => {}
        }
    }
}

impl AuthScheme {
    fn challenge(self) -> &'static str {
        match self {
            AuthScheme::Token => "Token realm=\"iodide\", error=\"invalid_token\"",
            AuthScheme::Bearer => "Bearer realm=\"iodide\", error=\"invalid_token\"",
        }
    }
}

/// 503 with Retry-After: the database is away; clients and load balancers
/// should come back after `seconds`. Also for GraphQL responses whose errors
/// say so.
pub fn retry_later(response: &mut Response, seconds: u64) {
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
}

/// What an error response said, for the routes that show it as a page.
#[derive(Clone, Debug)]
pub struct Shown {
    pub status: StatusCode,
    pub message: String,
}
