//! Reads of a public server answered from `cache::ResponseCache`: which
//! requests may be, and the `X-Cache` header (`hit` when the answer was served
//! from it, `miss` when it could have been but was run) that lets clients and
//! tests tell.
//!
//! Whoever asks, signed in or not: an answer that asked who the viewer is
//! (private fields, what the viewer may edit, a guard of a private server) is
//! the viewer's own and is not kept (`graphql::context::viewer` notes it), so
//! what is kept is the same for everyone. A private server's answers are never
//! kept. Only one query (no batch, no files, no mutation) is kept, and only an
//! answer without errors whose every read went through the entity cache; which
//! fields read what is not listed here but noted as they run (see
//! `graphql::Recording`).

use async_graphql::BatchResponse;
use axum::{
    body::{Body, to_bytes},
    http::{HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use super::graphql_over_http::ResponseMedia;
use crate::{
    app::AppState,
    cache::ResponseKey,
    error::Error,
    graphql::{Operations, Recording},
    policy,
    rate_limit::RequestCharge,
};

const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// A request whose answer may come from, and go to, the response cache.
pub struct Cacheable {
    key: ResponseKey,
}

/// A cacheable request that was not answered from the cache: it runs with its
/// reads recorded, and its answer may be kept.
pub struct Missed {
    key: ResponseKey,
    pub recording: Recording,
}

pub fn cacheable(
    state: &AppState,
    operations: &Operations,
    media: ResponseMedia,
) -> Option<Cacheable> {
    // A private server's guards ask who the viewer is on every field: nothing
    // of it would be kept anyway.
    if !policy::anyone_may_read(state.mode()) {
        return None;
    }
    let Operations::Single(operation) = operations else {
        return None;
    };
    let request = operation.request();
    if !request.uploads.is_empty() || operation.changes_state() {
        return None;
    }
    let key = ResponseKey {
        query: request.query.clone(),
        operation_name: request.operation_name.clone(),
        variables: serde_json::to_string(&request.variables).ok()?,
        media: match media {
            ResponseMedia::GraphqlResponseJson => "graphql-response+json",
            ResponseMedia::Json => "json",
        },
    };
    Some(Cacheable { key })
}

fn hit(body: bytes::Bytes, media: ResponseMedia) -> Response {
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert(X_CACHE, HeaderValue::from_static("hit"));
    media.label(response)
}

impl Cacheable {
    /// Charges the request's `cost` and answers it from the kept answer if
    /// nothing that it was built from has changed. With Redis, the charge and
    /// the check of the generations go in one round trip.
    pub async fn pay_and_look_up(
        &self,
        state: &AppState,
        charge: &RequestCharge,
        cost: u32,
        media: ResponseMedia,
    ) -> Result<Option<Response>, Error> {
        let Some(kept) = state.responses.candidate(&self.key) else {
            charge.pay(cost).await?;
            return Ok(None);
        };
        let keys = kept.keys();
        let reply = match state.cache.generations_command(keys) {
            Some(command) => {
                let (paid, reply) = charge.pay_along(cost, command).await;
                paid?;
                reply
            }
            None => {
                charge.pay(cost).await?;
                None
            }
        };
        let now = match reply {
            Some(reply) => state.cache.generations_from(reply),
            None => state.cache.generations(keys).await,
        };
        let body = state.responses.current(&self.key, &kept, now);
        Ok(body.map(|body| hit(body, media)))
    }

    /// To run it: its reads are recorded from here on (only on a miss, which a
    /// hit then does not pay for).
    pub fn missed(self, state: &AppState) -> Missed {
        Missed {
            key: self.key,
            recording: Recording::new(&state.db, state.statements.clone(), &state.cache),
        }
    }
}

impl Missed {
    /// Keeps `answer` (the rendering of `graphql`) when it has no errors and
    /// rests on cache keys alone.
    pub async fn keep(
        self,
        state: &AppState,
        graphql: &BatchResponse,
        answer: Response,
    ) -> Response {
        let (mut parts, body) = answer.into_parts();
        parts
            .headers
            .insert(X_CACHE, HeaderValue::from_static("miss"));
        let without_errors = match graphql {
            BatchResponse::Single(one) => one.errors.is_empty(),
            BatchResponse::Batch(_) => false,
        };
        let read = self.recording.reads.covering_keys();
        let (true, StatusCode::OK, Some(read)) = (without_errors, parts.status, read) else {
            return Response::from_parts(parts, body);
        };
        // The body is already whole in memory: collecting it waits for nothing.
        let Ok(bytes) = to_bytes(body, usize::MAX).await else {
            return Error::Internal("an answer's body could not be read".into()).into_response();
        };
        // Kept as a copy of its own size: the writer reserves several times the
        // answer's length (see `graphql_over_http::to_json`), which the cache's
        // weigher would not count.
        let kept = Bytes::copy_from_slice(&bytes);
        state.responses.insert(self.key, kept, read, &state.cache);
        Response::from_parts(parts, Body::from(bytes))
    }
}
