//! POST /token/ and POST /token/refresh/: JWTs for the editor and for scripts.

use axum::{
    Extension, Json, Router,
    body::Bytes,
    extract::{Request, State},
    http::HeaderMap,
    middleware::{self, Next},
    response::Response,
    routing::post,
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_sessions::Session;

use super::is_same_origin;
use crate::{
    app::AppState,
    auth::{
        jwt::{self, TokenPair, TokenType},
        refresh_revocation,
    },
    error::Error,
    rate_limit::{self, ClientKey},
    users,
    viewer::{AuthMethod, Viewer},
};

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/token/", post(obtain))
        .route("/token/refresh/", post(refresh))
        .route_layer(middleware::from_fn_with_state(state, limit_token_requests))
}

/// /token/ and /token/refresh/ have an allowance of their own, much smaller
/// than other requests', to blunt credential stuffing and runaway scripts; the
/// X-RateLimit headers of their answers describe that allowance.
async fn limit_token_requests(
    State(state): State<AppState>,
    Extension(client): Extension<ClientKey>,
    request: Request,
    next: Next,
) -> Response {
    match state.token_rate_limit.charge(&client, 1).await {
        Ok(allowance) => rate_limit::with_allowance(next.run(request).await, allowance),
        Err((error, allowance)) => rate_limit::refused(error, allowance),
    }
}

/// A browser that is signed in (session cookie or OpenIDC proxy) trades its
/// session for a token pair. Being cookie-authenticated, it must come from this
/// site's own pages.
async fn obtain(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    session: Session,
    headers: HeaderMap,
) -> Result<Json<TokenPair>, Error> {
    let user = match &viewer.user {
        Some(user) if viewer.is_browser_identity() => user,
        _ => {
            return Err(Error::Unauthenticated(
                "POST /token/ needs a signed-in browser session: sign in at /login/".into(),
            ));
        }
    };
    if !is_same_origin(&headers, &state.config.server_uri) {
        return Err(Error::Forbidden(
            "Tokens are only handed to this site's own pages (the Origin header does not match)"
                .into(),
        ));
    }
    // A session's refresh tokens die with it; the proxy's sign-out is its own.
    let family = match viewer.via {
        AuthMethod::Session => Some(
            refresh_revocation::family_of(&session)
                .await
                .map_err(|err| Error::Internal(format!("session store: {err}")))?,
        ),
        _ => None,
    };
    Ok(Json(jwt::issue_pair(
        &state.config.secret_key,
        user.id,
        family,
        Utc::now(),
    )))
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh: String,
}

/// A refresh token buys a new access token.
async fn refresh(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, Error> {
    let request: RefreshRequest = serde_json::from_slice(&body)
        .map_err(|_| Error::bad_input("Send {\"refresh\": \"...\"} as JSON"))?;
    let claims = jwt::verify(
        &state.config.secret_key,
        &request.refresh,
        TokenType::Refresh,
    )
    .map_err(|err| Error::Unauthenticated(err.to_string()))?;
    if let Some(family) = &claims.family
        && refresh_revocation::is_revoked(&state.db, family).await?
    {
        return Err(Error::Unauthenticated(jwt::JwtError::Revoked.to_string()));
    }
    let user = users::by_id(&state.db, claims.user_id)
        .await?
        .ok_or_else(|| Error::Unauthenticated("The token's user no longer exists".into()))?;
    let access = jwt::issue(
        &state.config.secret_key,
        user.id,
        TokenType::Access,
        Utc::now(),
    );
    Ok(Json(json!({ "access": access })))
}
