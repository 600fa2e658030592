use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tower_sessions::Session;

use super::{
    AuthMethod, Viewer, api_token,
    jwt::{self, JwtError, TokenType},
    openidc::OpenIdc,
    session,
};
use crate::{app::AppState, error::Error, users};

/// Why credentials were refused. Always a 401 with a `WWW-Authenticate` header.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("The Authorization header is malformed: {0}")]
    Malformed(&'static str),
    #[error(
        "The {0} authorization scheme is not supported; use \"Token KEY\" or \"Bearer ACCESS\""
    )]
    UnsupportedScheme(String),
    #[error("The API token is invalid or has been revoked")]
    InvalidApiToken,
    #[error("{0}")]
    Jwt(#[from] JwtError),
    #[error("The token's user no longer exists")]
    UnknownUser,
    #[error("This address is only reachable through the sign-in proxy (no {0} header)")]
    ProxyHeaderMissing(String),
    #[error("The sign-in proxy's {0} header does not name a valid user")]
    ProxyHeaderInvalid(String),
    #[error("This address needs an API token or a JWT (Authorization header)")]
    CredentialRequired,
    /// A client's own copy beside the proxy's: which one is the proxy's cannot
    /// be told, so neither is believed.
    #[error("The {0} header may appear only once")]
    ProxyHeaderRepeated(String),
    /// Identity could not be checked (the database or the session store failed).
    #[error("Authentication is temporarily unavailable")]
    Unavailable(Error),
}

impl From<sea_orm::DbErr> for AuthError {
    fn from(err: sea_orm::DbErr) -> Self {
        AuthError::Unavailable(err.into())
    }
}

impl From<Error> for AuthError {
    fn from(err: Error) -> Self {
        AuthError::Unavailable(err)
    }
}

/// For routes that report every failure as the domain's [`Error`].
impl From<AuthError> for Error {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unavailable(err) => err,
            refused => Error::Unauthenticated(refused.to_string()),
        }
    }
}

impl AuthError {
    fn challenge(&self) -> &'static str {
        match self {
            AuthError::InvalidApiToken => "Token realm=\"iodide\", error=\"invalid_token\"",
            _ => "Bearer realm=\"iodide\", error=\"invalid_token\"",
        }
    }
}

/// Marks a response whose request was refused for its credential, so that the
/// failure is charged to the client's address (http::failed_authentication).
#[derive(Clone, Copy, Debug)]
pub struct CredentialRefused;

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        if let AuthError::Unavailable(err) = self {
            return err.into_response();
        }
        if let AuthError::ProxyHeaderRepeated(_) = self {
            let body = Error::body("BAD_USER_INPUT", &self.to_string());
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
        let body = Error::body("UNAUTHENTICATED", &self.to_string());
        let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(self.challenge()),
        );
        response.extensions_mut().insert(CredentialRefused);
        response
    }
}

/// Middleware: resolves the request's identity into a [`Viewer`] extension.
pub async fn identify(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AuthError> {
    let session = request.extensions().get::<Session>().cloned();
    // A CORS preflight never carries credentials; the request it announces will.
    if state.openidc.is_some() && request.method() == axum::http::Method::OPTIONS {
        request.extensions_mut().insert(Viewer::anonymous());
        return Ok(next.run(request).await);
    }
    let viewer = resolve(&state, request.uri().path(), request.headers(), session).await?;
    request.extensions_mut().insert(viewer);
    Ok(next.run(request).await)
}

async fn resolve(
    state: &AppState,
    path: &str,
    headers: &HeaderMap,
    session: Option<Session>,
) -> Result<Viewer, AuthError> {
    let proxy_user = match &state.openidc {
        Some(openidc) if headers.get_all(openidc.header.as_str()).iter().count() > 1 => {
            return Err(AuthError::ProxyHeaderRepeated(openidc.header.clone()));
        }
        Some(openidc) if !openidc.whitelist.allows(path) => Some(proxy_username(openidc, headers)?),
        _ => None,
    };
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        return from_authorization(state, value).await;
    }
    if state.openidc.is_some() && proxy_user.is_none() {
        // A whitelisted path: the header is ignored, a credential is required.
        return Err(AuthError::CredentialRequired);
    }
    if let Some(username) = proxy_user {
        let user = users::find_or_create(&state.db, &username)
            .await
            .map_err(|err| match err {
                Error::BadInput(_) => AuthError::ProxyHeaderInvalid(username.clone()),
                other => other.into(),
            })?;
        return Ok(Viewer::user(user, AuthMethod::Proxy));
    }
    if state.openidc.is_none()
        && let Some(session) = session
    {
        return from_session(state, &session).await;
    }
    Ok(Viewer::anonymous())
}

fn proxy_username(openidc: &OpenIdc, headers: &HeaderMap) -> Result<String, AuthError> {
    let missing = || AuthError::ProxyHeaderMissing(openidc.header.clone());
    let value = headers.get(openidc.header.as_str()).ok_or_else(missing)?;
    let value = value
        .to_str()
        .map_err(|_| AuthError::ProxyHeaderInvalid(openidc.header.clone()))?
        .trim();
    if value.is_empty() {
        return Err(missing());
    }
    Ok(value.to_string())
}

async fn from_authorization(state: &AppState, value: &HeaderValue) -> Result<Viewer, AuthError> {
    let value = value
        .to_str()
        .map_err(|_| AuthError::Malformed("it is not ASCII"))?;
    let (scheme, credentials) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthError::Malformed("expected \"SCHEME CREDENTIALS\""))?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("token") {
        api_token::authenticate(&state.db, credentials).await
    } else if scheme.eq_ignore_ascii_case("bearer") {
        let claims = jwt::verify(&state.config.secret_key, credentials, TokenType::Access)?;
        let user = users::by_id(&state.db, claims.user_id)
            .await?
            .ok_or(AuthError::UnknownUser)?;
        Ok(Viewer::user(user, AuthMethod::Jwt))
    } else {
        Err(AuthError::UnsupportedScheme(
            scheme.chars().take(20).collect(),
        ))
    }
}

/// The session's user. A session whose user was deleted is simply anonymous.
async fn from_session(state: &AppState, session: &Session) -> Result<Viewer, AuthError> {
    let user_id = session::user_id(session)
        .await
        // The session store is the database: when it fails, it is away.
        .map_err(|err| {
            Error::Unavailable(sea_orm::DbErr::Custom(format!("session store: {err}")))
        })?;
    let Some(user_id) = user_id else {
        return Ok(Viewer::anonymous());
    };
    Ok(match users::by_id(&state.db, user_id).await? {
        Some(user) => Viewer::user(user, AuthMethod::Session),
        None => Viewer::anonymous(),
    })
}
