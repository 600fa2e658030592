//! The HTTP surface around the GraphQL API: the endpoint itself, GraphiQL, raw
//! files and the heartbeats.

mod files;
mod graphiql;
mod graphql;
mod heartbeat;

use axum::Router;

use crate::{app::AppState, error::Error};

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(graphql::routes())
        .merge(graphiql::routes())
        .merge(files::routes())
        .merge(heartbeat::routes())
        .fallback(|| async { Error::NotFound("There is nothing at this address".into()) })
}
