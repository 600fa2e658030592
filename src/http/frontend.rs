//! The files of frontend-stub/ (the editor's scripts and styles, the eval frame),
//! built into the binary so that a deploy is one file; in debug builds they are
//! read from disk, so edits show without a rebuild.

use axum::{
    http::header,
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;

use crate::error::Error;

#[derive(RustEmbed)]
#[folder = "frontend-stub/"]
#[exclude = "tests/*"]
#[exclude = "node_modules/*"]
#[exclude = "*.md"]
struct FrontendStub;

/// A file of frontend-stub/, with its content type.
pub fn asset(path: &str) -> Result<Response, Error> {
    let file = FrontendStub::get(path)
        .ok_or_else(|| Error::NotFound(format!("There is no file {path:?}")))?;
    let content_type = mime_guess::from_path(path).first_or_octet_stream();
    Ok((
        [
            (header::CONTENT_TYPE, content_type.essence_str().to_string()),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        file.data,
    )
        .into_response())
}
