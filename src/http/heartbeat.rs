//! Dockerflow-style health endpoints for load balancers and operators.

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::{app::AppState, db};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/__heartbeat__", get(heartbeat))
        .route(
            "/__lbheartbeat__",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/__version__", get(version))
}

/// Whether the process can do its work: the database answers.
async fn heartbeat(State(state): State<AppState>) -> Response {
    match db::ping(&state.db).await {
        Ok(()) => Json(json!({ "status": "ok", "checks": { "database": "ok" } })).into_response(),
        Err(err) => {
            tracing::warn!(%err, "heartbeat: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "error", "checks": { "database": "unreachable" } })),
            )
                .into_response()
        }
    }
}

async fn version() -> Json<serde_json::Value> {
    Json(json!({
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "commit": env!("IODIDE_BUILD_COMMIT"),
    }))
}
