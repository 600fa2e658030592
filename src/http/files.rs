//! GET /notebooks/{id}/files/{filename}: a file's raw bytes.

use axum::{
    Extension, Router,
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

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
    let content_type = files::content_type(&file.filename);
    let disposition = disposition(&content_type, &file.filename);
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_SECURITY_POLICY, SANDBOX.to_string()),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        file.content,
    )
        .into_response())
}

/// Types that a browser would run or render as a document of the editor's
/// origin are downloaded instead; images, text, CSV and JSON are shown.
fn runs_or_renders(content_type: &str) -> bool {
    matches!(
        content_type,
        "text/html"
            | "application/xhtml+xml"
            | "text/xml"
            | "application/xml"
            | "text/javascript"
            | "application/javascript"
            | "application/ecmascript"
            | "text/ecmascript"
    ) || content_type.ends_with("+xml")
}

fn disposition(content_type: &str, filename: &str) -> String {
    let kind = if runs_or_renders(content_type) {
        "attachment"
    } else {
        "inline"
    };
    let encoded = utf8_percent_encode(filename, NON_ALPHANUMERIC);
    format!("{kind}; filename*=UTF-8''{encoded}")
}
