use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sea_orm::DatabaseConnection;
use tower_sessions::Session;

use super::{
    AuthMethod, TokenUsers, Viewer, api_token,
    jwt::{self, TokenType},
    openidc::OpenIdc,
    session,
};
use crate::{
    cache::Cache,
    error::{AuthScheme, Error, Result},
    users,
};

/// What the identity layer reads, and nothing more: the users, the key that
/// signs JWTs, and the sign-in proxy's settings when the server sits behind one.
pub struct Authenticator {
    pub db: DatabaseConnection,
    /// API tokens' users, when the cache is shared (see api_token).
    pub cache: Cache,
    /// API tokens' users, kept while the SQLite file is unchanged.
    pub token_users: TokenUsers,
    pub secret_key: String,
    pub openidc: Option<OpenIdc>,
}

/// Credentials were sent and are not good: 401, never a weaker identity.
fn refused(message: impl Into<String>) -> Error {
    Error::InvalidCredentials {
        scheme: AuthScheme::Bearer,
        message: message.into(),
    }
}

/// Marks a response whose request was refused for its credential, so that the
/// failure is charged to the client's address (http::failed_authentication).
#[derive(Clone, Copy, Debug)]
pub struct CredentialRefused;

/// Middleware: resolves the request's identity into a [`Viewer`] extension.
pub async fn identify(
    State(authenticator): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    // A CORS preflight never carries credentials; the request it announces will.
    let preflight = request.method() == Method::OPTIONS;
    let session = request.extensions().get::<Session>().cloned();
    let resolved = match &authenticator.openidc {
        Some(_) if preflight => Ok(Viewer::anonymous()),
        _ => {
            authenticator
                .resolve(request.uri().path(), request.headers(), session)
                .await
        }
    };
    match resolved {
        Ok(viewer) => {
            request.extensions_mut().insert(viewer);
            next.run(request).await
        }
        Err(error) => {
            let credential = matches!(error, Error::InvalidCredentials { .. });
            let mut response = error.into_response();
            if credential {
                response.extensions_mut().insert(CredentialRefused);
            }
            response
        }
    }
}

impl Authenticator {
    async fn resolve(
        &self,
        path: &str,
        headers: &HeaderMap,
        session: Option<Session>,
    ) -> Result<Viewer> {
        let proxy_user = match &self.openidc {
            // A client's own copy beside the proxy's: which one is the proxy's
            // cannot be told, so neither is believed.
            Some(openidc) if headers.get_all(openidc.header.as_str()).iter().count() > 1 => {
                return Err(Error::bad_input(format!(
                    "The {} header may appear only once",
                    openidc.header
                )));
            }
            Some(openidc) if !openidc.whitelist.allows(path) => {
                Some(proxy_username(openidc, headers)?)
            }
            _ => None,
        };
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            return self.via_authorization(value).await;
        }
        if self.openidc.is_some() && proxy_user.is_none() {
            // A whitelisted path: the header is ignored, a credential is required.
            return Err(Error::Unauthenticated(
                "This address needs an API token or a JWT (Authorization header)".into(),
            ));
        }
        if let Some(username) = proxy_user {
            return self.via_proxy(username).await;
        }
        if self.openidc.is_none()
            && let Some(session) = session
        {
            return self.via_session(&session).await;
        }
        Ok(Viewer::anonymous())
    }

    /// The identity that an Authorization value proves, as sent in a
    /// subscription's connection_init rather than a header.
    pub async fn by_authorization(&self, value: &str) -> Result<Viewer> {
        let value = HeaderValue::from_str(value)
            .map_err(|_| refused("The Authorization value is malformed: it is not ASCII"))?;
        self.via_authorization(&value).await
    }

    /// Whether session `id` is still signed in as `user_id`, for a connection
    /// that the session's cookie opened: not after /logout/, its expiry or the
    /// user's deletion.
    pub async fn session_holds(&self, id: &session::Id, user_id: i32) -> Result<bool> {
        let signed_in = session::signed_in_user(&self.db, id).await.map_err(|err| {
            Error::Unavailable(sea_orm::DbErr::Custom(format!("session store: {err}")))
        })?;
        if signed_in != Some(user_id) {
            return Ok(false);
        }
        Ok(users::by_id(&self.db, user_id).await?.is_some())
    }

    async fn via_authorization(&self, value: &HeaderValue) -> Result<Viewer> {
        let value = value
            .to_str()
            .map_err(|_| refused("The Authorization header is malformed: it is not ASCII"))?;
        let (scheme, credentials) = value.trim().split_once(' ').ok_or_else(|| {
            refused("The Authorization header is malformed: expected \"SCHEME CREDENTIALS\"")
        })?;
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("token") {
            api_token::authenticate(&self.db, &self.cache, &self.token_users, credentials).await
        } else if scheme.eq_ignore_ascii_case("bearer") {
            let claims = jwt::verify(&self.secret_key, credentials, TokenType::Access)
                .map_err(|err| refused(err.to_string()))?;
            let user = users::by_id(&self.db, claims.user_id)
                .await?
                .ok_or_else(|| refused("The token's user no longer exists"))?;
            Ok(Viewer::user(user, AuthMethod::Jwt))
        } else {
            let scheme: String = scheme.chars().take(20).collect();
            Err(refused(format!(
                "The {scheme} authorization scheme is not supported; use \"Token KEY\" or \"Bearer ACCESS\""
            )))
        }
    }

    async fn via_proxy(&self, username: String) -> Result<Viewer> {
        let user = users::find_or_create(&self.db, &username)
            .await
            .map_err(|err| match err {
                Error::BadInput(_) => refused(format!(
                    "The sign-in proxy's {username} header does not name a valid user"
                )),
                other => other,
            })?;
        Ok(Viewer::user(user, AuthMethod::Proxy))
    }

    /// The session's user. A session whose user was deleted is simply anonymous.
    async fn via_session(&self, session: &Session) -> Result<Viewer> {
        let user_id = session::user_id(session)
            .await
            // The session store is the database: when it fails, it is away.
            .map_err(|err| {
                Error::Unavailable(sea_orm::DbErr::Custom(format!("session store: {err}")))
            })?;
        let Some(user_id) = user_id else {
            return Ok(Viewer::anonymous());
        };
        Ok(match users::by_id(&self.db, user_id).await? {
            Some(user) => Viewer::user(user, AuthMethod::Session),
            None => Viewer::anonymous(),
        })
    }
}

fn proxy_username(openidc: &OpenIdc, headers: &HeaderMap) -> Result<String> {
    let missing = || {
        refused(format!(
            "This address is only reachable through the sign-in proxy (no {} header)",
            openidc.header
        ))
    };
    let value = headers.get(openidc.header.as_str()).ok_or_else(missing)?;
    let value = value
        .to_str()
        .map_err(|_| {
            refused(format!(
                "The sign-in proxy's {} header does not name a valid user",
                openidc.header
            ))
        })?
        .trim();
    if value.is_empty() {
        return Err(missing());
    }
    Ok(value.to_string())
}
