//! The eval frame: the page where a notebook's code runs, loaded by the editor in
//! a sandboxed iframe. Served from EVAL_FRAME_ORIGIN; when that differs from the
//! editor's origin, a request for the eval host gets the eval frame and nothing
//! else, and never a cookie, so that notebook code cannot act as the user.

use axum::{
    Router,
    extract::{Path, Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};

use super::{frontend, hosts::Site, security};
use crate::{app::AppState, error::Error};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/eval-frame/", get(frame))
        .route("/eval-frame/{*path}", get(file))
}

async fn frame(State(state): State<AppState>) -> Result<Response, Error> {
    with_frame_policy(&state, frontend::asset("eval-frame/index.html")?)
}

async fn file(State(state): State<AppState>, Path(path): Path<String>) -> Result<Response, Error> {
    with_frame_policy(&state, frontend::asset(&format!("eval-frame/{path}"))?)
}

fn with_frame_policy(state: &AppState, mut response: Response) -> Result<Response, Error> {
    let policy = HeaderValue::from_str(&security::eval_frame_csp(&state.config))
        .map_err(|err| Error::Internal(err.to_string()))?;
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, policy);
    Ok(response)
}

/// Whether the request is addressed to a separate eval origin (as
/// hosts::check_host found it, which runs first).
fn is_for_eval_host(request: &Request) -> bool {
    request.extensions().get::<Site>() == Some(&Site::EvalFrame)
}

/// Middleware, just inside the host check: on the eval host, only the eval frame, with cookies and
/// credentials stripped both ways.
pub async fn gate(mut request: Request, next: Next) -> Response {
    if !is_for_eval_host(&request) {
        return next.run(request).await;
    }
    if !request.uri().path().starts_with("/eval-frame/") {
        return Error::Forbidden("This origin serves only the eval frame".into()).into_response();
    }
    let headers = request.headers_mut();
    headers.remove(header::COOKIE);
    headers.remove(header::AUTHORIZATION);
    let mut response = next.run(request).await;
    response.headers_mut().remove(header::SET_COOKIE);
    response
}
