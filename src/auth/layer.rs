use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{Viewer, api_token};
use crate::{app::AppState, error::Error};

/// Why credentials were refused. Always a 401 with a `WWW-Authenticate` header.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("The Authorization header is malformed: {0}")]
    Malformed(&'static str),
    #[error("The {0} authorization scheme is not supported; use \"Token KEY\"")]
    UnsupportedScheme(String),
    #[error("The API token is invalid or has been revoked")]
    InvalidApiToken,
    #[error("Authentication is temporarily unavailable")]
    Unavailable(#[from] sea_orm::DbErr),
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        if let AuthError::Unavailable(err) = self {
            return Error::Database(err).into_response();
        }
        let body = Error::body("UNAUTHENTICATED", &self.to_string());
        let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Token realm=\"iodide\", error=\"invalid_token\""),
        );
        response
    }
}

/// Middleware: resolves the request's identity into a [`Viewer`] extension.
pub async fn identify(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AuthError> {
    let viewer = match request.headers().get(header::AUTHORIZATION) {
        None => Viewer::anonymous(),
        Some(value) => from_authorization(&state, value).await?,
    };
    request.extensions_mut().insert(viewer);
    Ok(next.run(request).await)
}

async fn from_authorization(state: &AppState, value: &HeaderValue) -> Result<Viewer, AuthError> {
    let value = value
        .to_str()
        .map_err(|_| AuthError::Malformed("it is not ASCII"))?;
    let (scheme, credentials) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthError::Malformed("expected \"SCHEME CREDENTIALS\""))?;
    if scheme.eq_ignore_ascii_case("token") {
        api_token::authenticate(&state.db, credentials.trim()).await
    } else {
        Err(AuthError::UnsupportedScheme(
            scheme.chars().take(20).collect(),
        ))
    }
}
