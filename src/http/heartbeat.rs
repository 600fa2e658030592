//! Dockerflow-style health endpoints for load balancers and operators.

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::{app::AppState, cache::CacheHealth, db};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/__heartbeat__", get(heartbeat))
        .route(
            "/__lbheartbeat__",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/__version__", get(version))
}

/// Whether the process can do its work: the database answers (else 503). A
/// failing cache is reported as "degraded" with a 200: requests still succeed
/// from the database, and every instance shares one Redis, so a 503 would have
/// a load balancer take all of them out of service for a cache outage.
async fn heartbeat(State(state): State<AppState>) -> Response {
    let (database, cache) = tokio::join!(db::ping(&state.db), state.cache.health());
    let cache = match cache {
        CacheHealth::Ok => "ok",
        CacheHealth::Degraded => "degraded",
    };
    let backend = state.cache.backend();
    match database {
        Ok(()) => Json(json!({
            "status": if cache == "ok" { "ok" } else { "degraded" },
            "checks": { "database": "ok", "cache": cache },
            "cache_backend": backend,
        }))
        .into_response(),
        Err(err) => {
            tracing::warn!(%err, "heartbeat: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "error",
                    "checks": { "database": "unreachable", "cache": cache },
                    "cache_backend": backend,
                })),
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
