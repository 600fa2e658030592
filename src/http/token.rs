//! POST /token/ and POST /token/refresh/: JWTs for the editor and for scripts.

use std::{net::SocketAddr, num::NonZeroU32};

use axum::{
    Extension, Json, Router,
    body::Bytes,
    extract::{ConnectInfo, State},
    http::HeaderMap,
    routing::post,
};
use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{is_same_origin, rate_limit::client_key};
use crate::{
    app::AppState,
    auth::{
        AuthError, Viewer,
        jwt::{self, TokenPair, TokenType},
    },
    error::Error,
    users,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/token/", post(obtain))
        .route("/token/refresh/", post(refresh))
}

/// How many tokens one client may get per minute, to blunt credential stuffing
/// and runaway scripts.
pub struct TokenRateLimit(DefaultKeyedRateLimiter<String>);

impl TokenRateLimit {
    pub fn per_minute(requests: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(requests.max(1)).expect("at least one"));
        TokenRateLimit(RateLimiter::keyed(quota))
    }

    /// Forgets clients whose allowance is full again, so that the table of
    /// clients does not grow without bound.
    pub fn forget_idle(&self) {
        self.0.retain_recent();
        self.0.shrink_to_fit();
    }

    fn check(&self, client: String) -> Result<(), Error> {
        self.0.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            Error::RateLimited(wait.as_secs().max(1))
        })
    }
}

/// A browser that is signed in (session cookie or OpenIDC proxy) trades its
/// session for a token pair. Being cookie-authenticated, it must come from this
/// site's own pages.
async fn obtain(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Result<Json<TokenPair>, Error> {
    state
        .token_rate_limit
        .check(client_key(&viewer, peer.as_ref().map(|p| &p.0)))?;
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
    Ok(Json(jwt::issue_pair(
        &state.config.secret_key,
        user.id,
        Utc::now(),
    )))
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh: String,
}

/// A refresh token buys a new access token.
async fn refresh(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    state
        .token_rate_limit
        .check(client_key(&viewer, peer.as_ref().map(|p| &p.0)))?;
    let request: RefreshRequest = serde_json::from_slice(&body)
        .map_err(|_| Error::bad_input("Send {\"refresh\": \"...\"} as JSON"))?;
    let claims = jwt::verify(
        &state.config.secret_key,
        &request.refresh,
        TokenType::Refresh,
    )
    .map_err(AuthError::from)?;
    let user = users::by_id(&state.db, claims.user_id)
        .await?
        .ok_or(AuthError::UnknownUser)?;
    let access = jwt::issue(
        &state.config.secret_key,
        user.id,
        TokenType::Access,
        Utc::now(),
    );
    Ok(Json(json!({ "access": access })))
}
