//! Static files (GraphiQL's ~1 MB of JavaScript, the editor's scripts and
//! styles): sent with an ETag, answered with 304 when the browser already has
//! them, and gzip-compressed.
//!
//! Only responses that carry an ETag are compressed, and only static files
//! carry one: a response that holds a secret (a token, the GraphQL API's
//! answers, a page with a CSRF token) is never compressed, as a BREACH-style
//! attack on it would need.

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use tower_http::compression::{CompressionLayer, Predicate, predicate::SizeAbove};

/// Below this, gzip's header costs more than it saves.
const MIN_COMPRESSED_BYTES: u16 = 1024;

/// A weak validator (W/): the same file compressed or not is the same file to
/// a cache, which is what a weak ETag says.
pub fn etag_of_hash(sha256: &[u8]) -> HeaderValue {
    HeaderValue::from_str(&format!("W/\"{}\"", hex::encode(&sha256[..16])))
        .expect("hex digits make a valid header")
}

pub fn etag(bytes: &[u8]) -> HeaderValue {
    etag_of_hash(&Sha256::digest(bytes))
}

/// gzip for static files only (see the module's comment).
pub fn compression() -> CompressionLayer<impl Predicate> {
    let has_etag = |_: StatusCode, _: Version, headers: &HeaderMap, _: &axum::http::Extensions| {
        headers.contains_key(header::ETAG)
    };
    CompressionLayer::new().compress_when(SizeAbove::new(MIN_COMPRESSED_BYTES).and(has_etag))
}

/// 304 Not Modified for a GET whose If-None-Match names the response's ETag.
pub async fn not_modified(request: Request, next: Next) -> Response {
    let is_get = request.method() == Method::GET;
    let cached = request.headers().get(header::IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    let (Some(cached), Some(etag)) = (cached, response.headers().get(header::ETAG)) else {
        return response;
    };
    if !is_get || response.status() != StatusCode::OK || !matches(&cached, etag) {
        return response;
    }
    let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
    for name in [header::ETAG, header::CACHE_CONTROL, header::VARY] {
        if let Some(value) = response.headers().get(&name) {
            not_modified.headers_mut().insert(name, value.clone());
        }
    }
    not_modified
}

/// If-None-Match's weak comparison: any listed tag, W/ or not, or `*`.
fn matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let strip = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    let (Ok(listed), Ok(etag)) = (if_none_match.to_str(), etag.to_str()) else {
        return false;
    };
    let etag = strip(etag);
    listed
        .split(',')
        .any(|tag| tag.trim() == "*" || strip(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly() {
        let etag = etag(b"graphiql");
        let header = |value: &str| HeaderValue::from_str(value).unwrap();
        let strong = etag.to_str().unwrap().trim_start_matches("W/").to_string();
        assert!(matches(&etag, &etag));
        assert!(matches(&header(&format!("\"x\", {strong}")), &etag));
        assert!(matches(&header("*"), &etag));
        assert!(!matches(&header("W/\"other\""), &etag));
    }
}
