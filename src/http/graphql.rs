//! POST and GET /api/graphql, with the CSRF rules of SERVER.md: a browser can
//! send a cross-site form only as text/plain, urlencoded or multipart without
//! custom headers, so JSON is required, multipart needs a header that a form
//! cannot set, and GET never runs a mutation.

use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use async_graphql::{
    BatchRequest, ParseRequestError,
    http::{MultipartOptions, receive_batch_body},
};
use async_graphql_axum::GraphQLProtocol;
use axum::{
    Extension, Router,
    body::Body,
    extract::{FromRequestParts, RawQuery, State, ws::WebSocketUpgrade},
    http::{HeaderMap, Method, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures_util::{StreamExt, TryStreamExt};
use tokio_util::{compat::TokioAsyncReadCompatExt, io::StreamReader};

use super::{
    connection_limits, etag,
    graphql_over_http::{self, ResponseMedia},
    response_cache, subscriptions,
};
use crate::{
    app::AppState,
    error::{self, Error},
    graphql::{
        self, Operation, Operations,
        mutation_accounting::{MAX_MUTATION_FIELDS, reuses_an_upload},
        persisted::{self, Refusal},
    },
    policy::ApiMode,
    rate_limit::{self, RequestCharge},
    viewer::Viewer,
};

/// More queries in one batch than the editor ever sends.
const MAX_BATCH: usize = 10;
/// Headers that a cross-site HTML form cannot send; one of them (or
/// Authorization) must come with a multipart request.
const PREFLIGHT_HEADERS: [&str; 4] = [
    "authorization",
    "x-requested-with",
    "apollo-require-preflight",
    "graphql-preflight",
];

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/graphql", get(query_or_subscribe).post(execute_post))
}

/// The largest JSON body that is read before its request is charged: a
/// client over its limit can make the server read and parse this much before
/// its 429, no more. Queries are far smaller; an autosave of a large notebook
/// is charged one request before its body is read and the rest after.
const READ_BEFORE_CHARGE_BYTES: u64 = 256 * 1024;

/// Whether the handler charges the rate limit for this request itself, once
/// it has read it: JSON POSTs that declare a small body (bounded and timed)
/// and GETs that run a query. Their whole cost is then one charge, sent with
/// the response cache's check (see `rate_limit::RequestCharge`). Larger or
/// undeclared bodies, multipart bodies (uploads) and WebSocket upgrades are
/// charged before they are read.
pub(super) fn charges_itself(request: &axum::extract::Request) -> bool {
    if request.uri().path() != "/api/graphql" {
        return false;
    }
    let headers = request.headers();
    match *request.method() {
        Method::GET => !headers.contains_key(header::UPGRADE),
        Method::POST => {
            matches!(classify(headers), Ok(Payload::Json))
                && declared_length(headers).is_some_and(|length| length <= READ_BEFORE_CHARGE_BYTES)
        }
        _ => false,
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// GET runs a query, or upgrades to a WebSocket for subscriptions.
async fn query_or_subscribe(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Extension(charge): Extension<RequestCharge>,
    request: axum::extract::Request,
) -> Result<Response, Error> {
    let (mut parts, _) = request.into_parts();
    if !parts.headers.contains_key(header::UPGRADE) {
        let query = RawQuery(parts.uri.query().map(str::to_string));
        return query_over_get(&state, viewer, &charge, &parts.headers, query).await;
    }
    let client = charge.client().clone();
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &state)
        .await
        .map_err(|rejection| Error::bad_input(rejection.body_text()))?;
    let protocol = GraphQLProtocol::from_request_parts(&mut parts, &state)
        .await
        .map_err(|_| {
            Error::bad_input("Ask for the graphql-transport-ws protocol (Sec-WebSocket-Protocol)")
        })?;
    subscriptions::upgrade(state, viewer, client, &mut parts, protocol, upgrade).await
}

enum Payload {
    Json,
    Multipart,
}

fn too_large(max_file_bytes: usize) -> Error {
    Error::PayloadTooLarge(format!(
        "The request is too large: files may be at most {} MiB",
        max_file_bytes / (1024 * 1024)
    ))
}

fn classify(headers: &HeaderMap) -> Result<Payload, Error> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime_guess::mime::Mime>().ok());
    let Some(content_type) = content_type else {
        return Err(Error::UnsupportedMediaType(
            "Send GraphQL requests as application/json (or multipart/form-data for uploads)".into(),
        ));
    };
    match (
        content_type.type_().as_str(),
        content_type.subtype().as_str(),
    ) {
        ("application", "json") | ("application", "graphql-response+json") => Ok(Payload::Json),
        ("multipart", "form-data") => Ok(Payload::Multipart),
        _ => Err(Error::UnsupportedMediaType(format!(
            "{} is not accepted: send application/json, or multipart/form-data for uploads",
            content_type.essence_str()
        ))),
    }
}

async fn execute_post(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Extension(charge): Extension<RequestCharge>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    let media = ResponseMedia::negotiate(&headers)?;
    let answer = answer_post(&state, viewer, &charge, &headers, body, media).await;
    Ok(media.label(answer.into_response()))
}

async fn answer_post(
    state: &AppState,
    viewer: Viewer,
    charge: &RequestCharge,
    headers: &HeaderMap,
    body: Body,
    media: ResponseMedia,
) -> Result<Response, Error> {
    let payload = classify(headers)?;
    if matches!(payload, Payload::Multipart)
        && !PREFLIGHT_HEADERS
            .iter()
            .any(|name| headers.contains_key(*name))
    {
        return Err(Error::bad_input(
            "Multipart requests need an X-Requested-With (or Authorization) header, \
             which a cross-site form cannot send",
        ));
    }
    let batch = match payload {
        Payload::Json => read_json(state, body).await?,
        Payload::Multipart => read_multipart(state, headers, body).await?,
    };
    if reuses_an_upload(&batch) {
        return Err(Error::bad_input(
            "One uploaded part may fill one variable only: send each file as a part of its own",
        ));
    }
    let batch = match with_persisted_queries(state, batch).await? {
        Ok(batch) => batch,
        Err(not_found) => return Ok(media.render(&not_found)),
    };
    let operations = state.graphql.prepare_batch(batch);
    let cost = cost_of(&operations)?;
    execute(state, viewer, charge, cost, operations, media).await
}

/// A request with files waits here, its files on disk, until fewer than
/// UPLOAD_CONCURRENCY others are running (the time limit starts after the
/// wait), for UPLOAD_WAIT_SECS at most.
async fn upload_permit<'a>(
    state: &'a AppState,
    operations: &Operations,
) -> Result<Option<tokio::sync::SemaphorePermit<'a>>, Error> {
    if !carries_files(operations) {
        return Ok(None);
    }
    let wait = state.config.upload_wait;
    match tokio::time::timeout(wait, state.uploads.acquire()).await {
        // The semaphore is never closed.
        Ok(permit) => Ok(permit.ok()),
        Err(_) => Err(Error::Busy(format!(
            "The server is busy storing other uploads (waited {} s): try again shortly",
            wait.as_secs()
        ))),
    }
}

fn carries_files(operations: &Operations) -> bool {
    operations
        .iter()
        .any(|operation| !operation.request().uploads.is_empty())
}

/// Reads the body as it streams in, stopping as soon as it passes the limit.
async fn read_json(state: &AppState, body: Body) -> Result<BatchRequest, Error> {
    let limit = state.config.max_body_bytes;
    let mut bytes = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| match connection_limits::is_body_timeout(&err) {
            true => Error::BodyTimedOut(state.config.connections.body_timeout),
            false => Error::bad_input("The request body could not be read"),
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large(state.config.max_file_bytes));
        }
        bytes.extend_from_slice(&chunk);
    }
    graphql_over_http::parse_json_body(&bytes)
}

/// Reads a multipart body (the GraphQL multipart request spec) as it streams
/// in, stopping as soon as it passes the limit.
async fn read_multipart(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<BatchRequest, Error> {
    let limit = state.config.max_body_bytes;
    if declared_length(headers).is_some_and(|length| length > limit as u64) {
        return Err(too_large(state.config.max_file_bytes));
    }
    let exceeded = Arc::new(AtomicBool::new(false));
    let flag = exceeded.clone();
    let timed_out = Arc::new(AtomicBool::new(false));
    let stalled = timed_out.clone();
    let mut seen = 0usize;
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(|err| {
            stalled.store(connection_limits::is_body_timeout(&err), Ordering::Relaxed);
            io::Error::other(err)
        })?;
        seen += chunk.len();
        if seen > limit {
            flag.store(true, Ordering::Relaxed);
            return Err(io::Error::other("request body too large"));
        }
        Ok(chunk)
    });
    let reader = StreamReader::new(stream.into_stream()).compat();
    // The body limit above bounds the whole request; this bounds each file.
    let options = MultipartOptions::default().max_file_size(state.config.max_file_bytes);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    match receive_batch_body(content_type, reader, options).await {
        Ok(batch) => Ok(batch),
        Err(_) if timed_out.load(Ordering::Relaxed) => {
            Err(Error::BodyTimedOut(state.config.connections.body_timeout))
        }
        Err(_) if exceeded.load(Ordering::Relaxed) => Err(too_large(state.config.max_file_bytes)),
        Err(ParseRequestError::PayloadTooLarge) => Err(too_large(state.config.max_file_bytes)),
        Err(err) => Err(Error::bad_input(format!(
            "The request is not a valid GraphQL request: {err}"
        ))),
    }
}

async fn query_over_get(
    state: &AppState,
    viewer: Viewer,
    charge: &RequestCharge,
    headers: &HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Error> {
    let media = ResponseMedia::negotiate(headers)?;
    // Who asks changes the answer: signed in, or anyone on a private server.
    let personal = viewer.user.is_some() || state.mode() == ApiMode::Internal;
    let query = query.as_deref().unwrap_or_default();
    let answer = answer_get(state, viewer, charge, query, media).await;
    let answer = media.label(answer.into_response());
    Ok(etag::revalidated(answer, headers, personal).await)
}

async fn answer_get(
    state: &AppState,
    viewer: Viewer,
    charge: &RequestCharge,
    query: &str,
    media: ResponseMedia,
) -> Result<Response, Error> {
    let request = graphql_over_http::parse_query_string(query)?;
    let request = match state.persisted.resolve(request).await {
        Ok(request) => request,
        Err(Refusal::NotFound) => return Ok(media.render(&persisted::not_found(None))),
        Err(Refusal::Invalid(error)) => return Err(error),
    };
    let operation = state.graphql.prepare(request);
    if operation.changes_state() {
        return Err(Error::MethodNotAllowed {
            allow: "POST",
            message: "Mutations must be sent with POST".into(),
        });
    }
    let operations = Operations::Single(operation);
    execute(state, viewer, charge, 1, operations, media).await
}

/// The batch with the queries that its persisted-query hashes stand for; the
/// answer to give instead when one is unknown here.
async fn with_persisted_queries(
    state: &AppState,
    batch: BatchRequest,
) -> Result<Result<BatchRequest, async_graphql::BatchResponse>, Error> {
    let operations = match &batch {
        BatchRequest::Single(_) => None,
        BatchRequest::Batch(requests) => Some(requests.len()),
    };
    match state.persisted.resolve_batch(batch).await {
        Ok(batch) => Ok(Ok(batch)),
        Err(Refusal::NotFound) => Ok(Err(persisted::not_found(operations))),
        Err(Refusal::Invalid(error)) => Err(error),
    }
}

/// What the request costs the rate limit: one, or every mutation field's
/// cost; QUERY_TOO_COMPLEX past the limit of mutation fields.
fn cost_of(operations: &Operations) -> Result<u32, Error> {
    let fields: usize = operations.iter().map(Operation::mutation_fields).sum();
    if fields > MAX_MUTATION_FIELDS {
        return Err(Error::QueryTooComplex(format!(
            "The request holds {fields} mutation fields; the limit is {MAX_MUTATION_FIELDS} \
             (aliases and batch operations included). Nothing was run."
        )));
    }
    // At most 10 x 5: within any allowance that the clamp in charge() would cut.
    Ok((fields as u32 * rate_limit::MUTATION_COST).max(1))
}

/// Charges the request's `cost` before anything runs (with the response
/// cache's check in the same round trip when it may be answered from there),
/// then answers it.
async fn execute(
    state: &AppState,
    viewer: Viewer,
    charge: &RequestCharge,
    cost: u32,
    operations: Operations,
    media: ResponseMedia,
) -> Result<Response, Error> {
    let cacheable = response_cache::cacheable(state, &operations, media);
    match &cacheable {
        Some(cacheable) => {
            if let Some(kept) = cacheable
                .pay_and_look_up(state, charge, cost, media)
                .await?
            {
                return Ok(kept);
            }
        }
        None => charge.pay(cost).await?,
    }
    let _permit = upload_permit(state, &operations).await?;
    let missed = cacheable.map(|cacheable| cacheable.missed(state));
    let recording = missed.as_ref().map(|missed| &missed.recording);
    // Anonymous visitors of a private server learn nothing, not even the schema.
    let hide_schema = viewer.user.is_none() && state.mode() == ApiMode::Internal;
    let with_data = |operation: Operation| {
        let writes = operation.changes_state();
        operation.map_request(|request| {
            let request = if hide_schema {
                request.disable_introspection()
            } else {
                request
            };
            graphql::request_data(request, viewer.clone(), &state.db, writes, recording)
        })
    };
    let batch = match operations {
        Operations::Single(operation) => Operations::Single(with_data(operation)),
        Operations::Batch(operations) if operations.len() > MAX_BATCH => {
            return Err(Error::bad_input(format!(
                "A batch may hold at most {MAX_BATCH} operations"
            )));
        }
        Operations::Batch(operations) => {
            Operations::Batch(operations.into_iter().map(with_data).collect())
        }
    };
    let limit = state.config.graphql_time_limit;
    let response = tokio::time::timeout(limit, state.graphql.execute(batch))
        .await
        .map_err(|_| Error::TookTooLong(limit))?;
    let retry = retry_after(&response);
    let mut answer = media.render(&response);
    if let Some(seconds) = retry {
        error::retry_later(&mut answer, seconds);
    }
    Ok(match missed {
        Some(missed) => missed.keep(state, &response, answer).await,
        None => answer,
    })
}

/// The retry delay that an error of the response asks for, if any.
fn retry_after(response: &async_graphql::BatchResponse) -> Option<u64> {
    let responses: Vec<&async_graphql::Response> = match response {
        async_graphql::BatchResponse::Single(one) => vec![one],
        async_graphql::BatchResponse::Batch(many) => many.iter().collect(),
    };
    responses
        .into_iter()
        .flat_map(|response| &response.errors)
        .filter_map(|error| error.extensions.as_ref()?.get(graphql::RETRY_AFTER))
        .find_map(|value| match value {
            async_graphql::Value::Number(seconds) => seconds.as_u64(),
            _ => None,
        })
}
