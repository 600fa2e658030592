//! Cacheable reads over GET /api/graphql: an ETag on every 200 answer (a hash
//! of its media type and body, so any change to the data changes it), 304 on a
//! matching If-None-Match, and a Cache-Control that never lets a shared cache
//! keep an answer that depends on who asks.

use axum::{
    body::{Body, to_bytes},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};
use sha2::{Digest, Sha256};

/// Revalidated each time (`no-cache`); `private` when the answer is the
/// viewer's own (signed in, or any answer of a server in internal mode).
const PERSONAL: &str = "private, no-cache";
const ANONYMOUS: &str = "public, no-cache";
/// Which request headers change the answer.
const VARY: &str = "Accept, Authorization, Cookie";

/// The answer with its validators, or 304 when the client's copy is current.
/// Answers other than 200 are never stored.
pub async fn revalidated(response: Response, request: &HeaderMap, personal: bool) -> Response {
    if response.status() != StatusCode::OK {
        return no_store(response);
    }
    let (mut parts, body) = response.into_parts();
    // The body is already whole in memory: collecting it waits for nothing.
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return no_store(Response::from_parts(parts, Body::empty()));
    };
    let tag = entity_tag(parts.headers.get(header::CONTENT_TYPE), &bytes);
    let headers = &mut parts.headers;
    headers.insert(header::ETAG, tag.clone());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if personal { PERSONAL } else { ANONYMOUS }),
    );
    headers.insert(header::VARY, HeaderValue::from_static(VARY));
    if matches(request, &tag) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_TYPE);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn entity_tag(content_type: Option<&HeaderValue>, body: &[u8]) -> HeaderValue {
    let mut hasher = Sha256::new();
    hasher.update(content_type.map_or(&b""[..], HeaderValue::as_bytes));
    hasher.update([0]);
    hasher.update(body);
    let digest = hex::encode(hasher.finalize());
    HeaderValue::from_str(&format!("\"{}\"", &digest[..32])).expect("hex is a valid header")
}

/// Whether If-None-Match names this tag (weakly, as RFC 9110 compares for GET)
/// or is `*`.
fn matches(request: &HeaderMap, tag: &HeaderValue) -> bool {
    let tag = tag.to_str().unwrap_or_default();
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|candidate| candidate.trim().trim_start_matches("W/"))
        .any(|candidate| candidate == "*" || candidate == tag)
}
