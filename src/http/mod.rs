//! The HTTP surface around the GraphQL API: the router and the layers around
//! it, the endpoint itself, GraphiQL, the pages, sign-in, raw files and the
//! heartbeats.

mod connection_limits;
mod etag;
mod eval_frame;
mod failed_authentication;
mod files;
mod frontend;
mod graphiql;
mod graphql;
mod graphql_over_http;
mod heartbeat;
mod hosts;
mod login;
mod middleware;
mod pages;
mod response_cache;
mod router;
mod security;
mod static_assets;
mod subscriptions;
mod templates;
mod token;

pub use connection_limits::serve;
pub use router::build_app;

use axum::http::{HeaderMap, header};
use url::Url;

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

/// Paths that load balancers check over plain http: never redirected or limited.
pub(crate) fn is_health_check(path: &str) -> bool {
    path.starts_with("/__") && path.ends_with("__")
}
