//! The files of frontend-stub/ (the editor's scripts and styles, the eval frame),
//! built into the binary so that a deploy is one file; in debug builds they are
//! read from disk, so edits show without a rebuild.

use axum::{
    http::header,
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;

use super::static_assets::etag_of_hash;
use crate::error::Error;

#[derive(RustEmbed)]
#[folder = "frontend-stub/"]
#[exclude = "tests/*"]
#[exclude = "node_modules/*"]
#[exclude = "*.md"]
struct FrontendStub;

/// A file of frontend-stub/, with its content type.
pub fn asset(path: &str) -> Result<Response, Error> {
    let missing = || Error::NotFound(format!("There is no file {path:?}"));
    if !is_plain_path(path) {
        return Err(missing());
    }
    let file = FrontendStub::get(path).ok_or_else(missing)?;
    let content_type = mime_guess::from_path(path).first_or_octet_stream();
    Ok((
        [
            (header::CONTENT_TYPE, content_type.essence_str().to_string()),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        [(header::ETAG, etag_of_hash(&file.metadata.sha256_hash()))],
        file.data,
    )
        .into_response())
}

/// Only plain names between the slashes: debug builds read from disk, where
/// "static/../tests/..." would otherwise reach the excluded folders, and an
/// eval-frame path must not reach the editor's files.
fn is_plain_path(path: &str) -> bool {
    !path.contains('\\')
        && path
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."))
}

#[cfg(test)]
mod tests {
    use super::is_plain_path;

    #[test]
    fn paths_stay_inside_their_folder() {
        assert!(is_plain_path("static/views/notebook.js"));
        for path in [
            "static/../tests/harness.js",
            "eval-frame/../static/app.js",
            "static/./app.js",
            "static//app.js",
            "static/..\\tests",
        ] {
            assert!(!is_plain_path(path), "{path}");
        }
    }
}
