//! Every route of the server, and [`build_app`], the one function that both
//! `main` and the tests call to get the whole application.

use axum::{
    Router,
    http::{HeaderValue, header},
};
use tower_http::set_header::SetResponseHeaderLayer;

use super::{
    eval_frame, files, graphiql, graphql, heartbeat, login, middleware, pages, security,
    static_assets, token,
};
use crate::{app::AppState, error::Error};

pub fn build_app(state: AppState) -> Router {
    middleware::apply(&state, routes(&state)).with_state(state)
}

/// The editor's own routes may never be framed; the eval frame sets its own
/// policy; only the GraphQL endpoint answers CORS requests; only static files
/// are compressed (see static_assets).
fn routes(state: &AppState) -> Router<AppState> {
    let editor = Router::new()
        .merge(graphql::routes().layer(security::cors(&state.config)))
        .merge(graphiql::routes())
        .merge(files::routes())
        .merge(heartbeat::routes())
        .merge(login::routes())
        .merge(pages::routes())
        .merge(token::routes(state.clone()))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ));
    editor
        .merge(eval_frame::routes())
        .fallback(|| async { Error::NotFound("There is nothing at this address".into()) })
        .layer(axum::middleware::from_fn(static_assets::not_modified))
        .layer(static_assets::compression())
}
