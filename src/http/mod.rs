//! The HTTP surface around the GraphQL API: the endpoint itself, GraphiQL, raw
//! files and the heartbeats.

pub mod connection_limits;
pub mod eval_frame;
pub mod failed_authentication;
mod files;
mod frontend;
mod graphiql;
mod graphql;
mod heartbeat;
pub mod hosts;
mod login;
mod pages;
pub mod rate_limit;
pub mod security;
pub mod token;

use axum::{
    Router,
    http::{HeaderMap, HeaderValue, header},
};
use tower_http::set_header::SetResponseHeaderLayer;
use url::Url;

use crate::{app::AppState, error::Error};

/// Every route. The editor's own routes may never be framed; the eval frame
/// sets its own policy; only the GraphQL endpoint answers CORS requests.
pub fn routes(state: &AppState) -> Router<AppState> {
    let config = &state.config;
    let editor = Router::new()
        .merge(graphql::routes().layer(security::cors(config)))
        .merge(graphiql::routes())
        .merge(files::routes())
        .merge(heartbeat::routes())
        .merge(login::routes())
        .merge(pages::routes())
        .merge(token::routes(state.clone()))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static(security::REFERRER_POLICY),
        ));
    editor
        .merge(eval_frame::routes())
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

/// Paths that load balancers check over plain http: never redirected or limited.
pub(crate) fn is_health_check(path: &str) -> bool {
    path.starts_with("/__") && path.ends_with("__")
}
