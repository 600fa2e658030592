//! GET /notebooks/{id}/files/{filename}: a file's raw bytes.

use axum::{
    Extension, Router,
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{app::AppState, error::Error, files, policy, viewer::Viewer};

pub fn routes() -> Router<AppState> {
    Router::new().route("/notebooks/{id}/files/{filename}", get(raw_file))
}

/// A user's file is served from the editor's origin, so it is sandboxed: an HTML
/// file opened directly cannot run script with the viewer's session.
const SANDBOX: &str = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'";

async fn raw_file(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((notebook_id, filename)): Path<(String, String)>,
) -> Result<Response, Error> {
    policy::ensure_can_read(&viewer, state.mode())?;
    let missing = || Error::NotFound(format!("Notebook {notebook_id} has no file {filename:?}"));
    let id: i32 = notebook_id.parse().map_err(|_| missing())?;
    let file = files::read(&state.db, id, &filename)
        .await?
        .ok_or_else(missing)?;
    Ok((
        [
            (header::CONTENT_TYPE, files::content_type(&file.filename)),
            (header::CONTENT_SECURITY_POLICY, SANDBOX.to_string()),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        file.content,
    )
        .into_response())
}
