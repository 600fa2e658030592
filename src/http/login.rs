//! Browser sign-in: GitHub OAuth2 (or, in development mode without GitHub, a
//! form that signs in as any local username), the page that tells the editor's
//! window and closes, sign-out, and /userinfo/.

use axum::{
    Extension, Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    middleware,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use super::{
    is_same_origin,
    templates::{self, Link, Message, SignInForm, SignInUnavailable, SignedIn},
};
use crate::{
    app::AppState,
    auth::{github::PendingLogin, refresh_revocation, session},
    error::{Error, Result},
    policy, users,
    viewer::Viewer,
};

const PENDING_LOGIN: &str = "pending_login";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login/", get(start).post(development_sign_in))
        .route("/oauth/complete/github/", get(github_callback))
        .route("/login_success/", get(login_success))
        .route("/logout/", get(logout))
        .route_layer(middleware::from_fn(templates::errors_as_pages))
        .route("/login_success/notify.js", get(login_success_script))
        .route("/userinfo/", get(userinfo))
}

#[derive(Deserialize)]
struct NextParam {
    next: Option<String>,
}

/// `next` is honoured only for a path on this site: never another host, scheme
/// or protocol-relative URL.
fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?;
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    local.then(|| next.to_string())
}

fn after_sign_in(next: Option<String>) -> Redirect {
    Redirect::to(next.as_deref().unwrap_or("/login_success/"))
}

fn session_failed(err: impl std::fmt::Display) -> Error {
    Error::Internal(format!("session store: {err}"))
}

async fn start(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<NextParam>,
) -> Result<Response> {
    let next = safe_next(params.next.as_deref());
    if state.openidc.is_some() {
        // The proxy has already signed the person in.
        return Ok(after_sign_in(next).into_response());
    }
    if let Some(github) = &state.github {
        let (url, pending) = github.start(next);
        session
            .insert(PENDING_LOGIN, &pending)
            .await
            .map_err(session_failed)?;
        return Ok(Redirect::to(url.as_str()).into_response());
    }
    if state.config.dev_mode {
        return Ok(development_form(next.as_deref(), None, StatusCode::OK));
    }
    Ok(templates::page(
        StatusCode::SERVICE_UNAVAILABLE,
        &SignInUnavailable,
    ))
}

#[derive(Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn github_callback(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<CallbackParams>,
) -> Result<Response> {
    let Some(github) = &state.github else {
        return Err(Error::NotFound("Sign-in is not configured".into()));
    };
    // One use only: the pending login is gone whatever happens next.
    let pending = session
        .remove::<PendingLogin>(PENDING_LOGIN)
        .await
        .map_err(session_failed)?;
    if params.error.is_some() {
        return Ok(sign_in_failed(
            StatusCode::BAD_REQUEST,
            "GitHub did not grant access, so you are not signed in.",
        ));
    }
    let (Some(pending), Some(code), Some(returned_state)) = (pending, params.code, params.state)
    else {
        return Ok(sign_in_failed(
            StatusCode::BAD_REQUEST,
            "This sign-in link has expired or was already used.",
        ));
    };
    if returned_state != pending.state {
        return Ok(sign_in_failed(
            StatusCode::BAD_REQUEST,
            "This sign-in link does not belong to your browser.",
        ));
    }
    let profile = match github.finish(code, pending.pkce_verifier).await {
        Ok(profile) => profile,
        Err(err) => {
            tracing::warn!(%err, "GitHub sign-in failed");
            return Ok(sign_in_failed(
                StatusCode::BAD_GATEWAY,
                "GitHub could not confirm who you are. Please try again.",
            ));
        }
    };
    let profile = users::ExternalProfile {
        username: profile.login,
        full_name: profile.name,
        avatar: profile.avatar_url,
        email: profile.email,
    };
    let user = users::sign_in_external(&state.db, &state.cache, profile).await?;
    finish_sign_in(&session, user.id, pending.next).await
}

async fn finish_sign_in(session: &Session, user_id: i32, next: Option<String>) -> Result<Response> {
    session::sign_in(session, user_id)
        .await
        .map_err(session_failed)?;
    Ok(after_sign_in(next).into_response())
}

/// A page rather than an error: it offers to try again.
fn sign_in_failed(status: StatusCode, message: &str) -> Response {
    let page = Message {
        title: "Sign-in failed",
        message,
        link: Some(Link {
            href: "/login/".into(),
            text: "Try again",
        }),
    };
    templates::page(status, &page)
}

#[derive(Deserialize)]
struct DevelopmentSignIn {
    username: String,
    next: Option<String>,
}

/// Development mode only: sign in as any local username, created if needed.
async fn development_sign_in(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<DevelopmentSignIn>,
) -> Result<Response> {
    if !state.config.dev_mode || state.github.is_some() || state.openidc.is_some() {
        return Err(Error::NotFound(
            "Local sign-in is for development only.".into(),
        ));
    }
    if !is_same_origin(&headers, &state.config.server_uri) {
        return Err(Error::Forbidden("Cross-site sign-in refused".into()));
    }
    let next = safe_next(form.next.as_deref());
    let username = form.username.trim();
    match users::find_or_create(&state.db, username).await {
        Ok(user) => finish_sign_in(&session, user.id, next).await,
        Err(Error::BadInput(message)) => Ok(development_form(
            next.as_deref(),
            Some(&message),
            StatusCode::BAD_REQUEST,
        )),
        Err(err) => Err(err),
    }
}

fn development_form(next: Option<&str>, problem: Option<&str>, status: StatusCode) -> Response {
    templates::page(status, &SignInForm { problem, next })
}

async fn login_success() -> Response {
    templates::page(StatusCode::OK, &SignedIn)
}

/// Tells the editor window that opened the sign-in popup, on this origin only.
async fn login_success_script() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "text/javascript")],
        "if (window.opener) {\n  window.opener.postMessage({ type: 'login-success' }, window.location.origin);\n  window.close();\n} else {\n  window.location.replace('/');\n}\n",
    )
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<NextParam>,
) -> Result<Redirect> {
    let family = refresh_revocation::issued_family(&session)
        .await
        .map_err(session_failed)?;
    if let Some(family) = family {
        refresh_revocation::revoke(&state.db, family).await?;
    }
    session::sign_out(&session).await.map_err(session_failed)?;
    Ok(Redirect::to(
        safe_next(params.next.as_deref()).as_deref().unwrap_or("/"),
    ))
}

/// {"name", "avatar"} of the signed-in user, or {}.
async fn userinfo(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Json<serde_json::Value>> {
    policy::ensure_can_read(&viewer, state.mode())?;
    Ok(Json(match &viewer.user {
        Some(user) => json!({ "name": user.username, "avatar": user.avatar }),
        None => json!({}),
    }))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next(Some("/notebooks/1/")).as_deref(),
            Some("/notebooks/1/")
        );
        for outside in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil",
            "/\u{0}x",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(Some(outside)), None, "{outside}");
        }
    }
}
