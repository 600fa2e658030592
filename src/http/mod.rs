//! The HTTP surface around the GraphQL API: the endpoint itself, GraphiQL, raw
//! files and the heartbeats.

mod files;
mod graphiql;
mod graphql;
mod heartbeat;
mod login;
pub mod token;

use axum::{
    Router,
    http::{HeaderMap, header},
};
use url::Url;

use crate::{app::AppState, error::Error};

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(graphql::routes())
        .merge(graphiql::routes())
        .merge(files::routes())
        .merge(heartbeat::routes())
        .merge(login::routes())
        .merge(token::routes())
        .fallback(|| async { Error::NotFound("There is nothing at this address".into()) })
}

/// Whether a cookie-authenticated request comes from this site's own pages: its
/// Origin (or, failing that, its Referer) is SERVER_URI's origin.
pub(crate) fn is_same_origin(headers: &HeaderMap, server_uri: &Url) -> bool {
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| Url::parse(value).ok());
    claimed.is_some_and(|url| url.origin() == server_uri.origin())
}
