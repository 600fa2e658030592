//! The HTTP surface around the GraphQL API: the router and the layers around
//! it, the endpoint itself, GraphiQL, the pages, sign-in, raw files and the
//! heartbeats.

mod etag;
mod eval_frame;
mod files;
mod frontend;
mod graphiql;
mod graphql;
mod graphql_over_http;
mod heartbeat;
mod login;
mod middleware;
mod pages;
mod router;
mod security;
mod static_assets;
mod templates;
mod token;

pub use router::build_app;

use axum::{
    Router,
    http::{HeaderMap, header},
    serve::ListenerExt,
};
use url::Url;

/// Serves the app on `listener` until `shutdown` completes, with each request
/// knowing its peer's address (for per-client limits).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Responses go out as soon as they are written, not after the client's
    // delayed ACK (Nagle's algorithm would hold the tail of a large body).
    let listener = listener.tap_io(|stream| {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "TCP_NODELAY not set");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
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
