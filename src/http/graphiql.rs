//! GET /graphiql: the GraphiQL playground, its assets built into the binary so
//! that it works without a CDN or internet access (see assets/graphiql/LICENSES.md).

use std::sync::LazyLock;

use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};

use super::static_assets;
use crate::{app::AppState, error::Error};

/// GraphiQL's CSS embeds its fonts and icons as data: URLs, and CodeMirror sets a
/// few inline styles; no script runs but ours.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   font-src 'self' data:; img-src 'self' data:; connect-src 'self'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ASSETS: [(&str, &str, &[u8]); 5] = [
    (
        "graphiql.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "graphiql-init.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/graphiql-init.js"),
    ),
];

const INDEX: &str = include_str!("../../assets/graphiql/index.html");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/graphiql", get(page))
        .route("/graphiql/", get(page))
        .route("/graphiql/assets/{file}", get(asset))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        INDEX,
    )
        .into_response()
}

/// Hashed once: graphiql.min.js alone is 1 MB.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|(_, _, bytes)| static_assets::etag(bytes))
        .collect()
});

async fn asset(Path(file): Path<String>) -> Result<Response, Error> {
    let index = ASSETS
        .iter()
        .position(|(name, _, _)| *name == file)
        .ok_or_else(|| Error::NotFound(format!("GraphiQL has no asset {file:?}")))?;
    let (_, content_type, bytes) = ASSETS[index];
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
            (header::ETAG, ETAGS[index].clone()),
        ],
        bytes,
    )
        .into_response())
}
