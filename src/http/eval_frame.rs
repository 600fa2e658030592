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

use super::{frontend, security};
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

/// Whether the request is addressed to a separate eval origin.
fn is_for_eval_host(state: &AppState, request: &Request) -> bool {
    let Some(eval) = &state.config.eval_frame_origin else {
        return false;
    };
    if eval.origin() == state.config.server_uri.origin() {
        return false;
    }
    let Some(host) = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let expected = match eval.port() {
        Some(port) => format!("{}:{port}", eval.host_str().unwrap_or_default()),
        None => eval.host_str().unwrap_or_default().to_string(),
    };
    host.eq_ignore_ascii_case(&expected)
}

/// Middleware, outermost: on the eval host, only the eval frame, with cookies and
/// credentials stripped both ways.
pub async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if !is_for_eval_host(&state, &request) {
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
