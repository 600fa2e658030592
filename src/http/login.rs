//! Browser sign-in: GitHub OAuth2 (or, in development mode without GitHub, a
//! form that signs in as any local username), the page that tells the editor's
//! window and closes, sign-out, and /userinfo/.

use axum::{
    Extension, Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use super::is_same_origin;
use crate::{
    app::AppState,
    auth::{Viewer, github::PendingLogin, refresh_revocation, session},
    error::Error,
    policy, users,
};

const PENDING_LOGIN: &str = "pending_login";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login/", get(start).post(development_sign_in))
        .route("/oauth/complete/github/", get(github_callback))
        .route("/login_success/", get(login_success))
        .route("/login_success/notify.js", get(login_success_script))
        .route("/logout/", get(logout))
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

fn session_failed(err: impl std::fmt::Display) -> Response {
    Error::Internal(format!("session store: {err}")).into_response()
}

async fn start(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<NextParam>,
) -> Response {
    let next = safe_next(params.next.as_deref());
    if state.openidc.is_some() {
        // The proxy has already signed the person in.
        return after_sign_in(next).into_response();
    }
    if let Some(github) = &state.github {
        let (url, pending) = github.start(next);
        if let Err(err) = session.insert(PENDING_LOGIN, &pending).await {
            return session_failed(err);
        }
        return Redirect::to(url.as_str()).into_response();
    }
    if state.config.dev_mode {
        return development_form(next.as_deref(), None, StatusCode::OK);
    }
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is not configured",
        "<p>This server has no sign-in provider. Its operator can set \
         <code>GITHUB_CLIENT_ID</code> and <code>GITHUB_CLIENT_SECRET</code>.</p>",
    )
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
) -> Response {
    let Some(github) = &state.github else {
        return page(StatusCode::NOT_FOUND, "Sign-in is not configured", "");
    };
    // One use only: the pending login is gone whatever happens next.
    let pending = match session.remove::<PendingLogin>(PENDING_LOGIN).await {
        Ok(pending) => pending,
        Err(err) => return session_failed(err),
    };
    if params.error.is_some() {
        return sign_in_failed(
            StatusCode::BAD_REQUEST,
            "GitHub did not grant access, so you are not signed in.",
        );
    }
    let (Some(pending), Some(code), Some(returned_state)) = (pending, params.code, params.state)
    else {
        return sign_in_failed(
            StatusCode::BAD_REQUEST,
            "This sign-in link has expired or was already used.",
        );
    };
    if returned_state != pending.state {
        return sign_in_failed(
            StatusCode::BAD_REQUEST,
            "This sign-in link does not belong to your browser.",
        );
    }
    let profile = match github.finish(code, pending.pkce_verifier).await {
        Ok(profile) => profile,
        Err(err) => {
            tracing::warn!(%err, "GitHub sign-in failed");
            return sign_in_failed(
                StatusCode::BAD_GATEWAY,
                "GitHub could not confirm who you are. Please try again.",
            );
        }
    };
    let profile = users::ExternalProfile {
        username: profile.login,
        full_name: profile.name,
        avatar: profile.avatar_url,
        email: profile.email,
    };
    match users::sign_in_external(&state.db, &state.cache, profile).await {
        Ok(user) => finish_sign_in(&session, user.id, pending.next).await,
        Err(err) => err.into_response(),
    }
}

async fn finish_sign_in(session: &Session, user_id: i32, next: Option<String>) -> Response {
    match session::sign_in(session, user_id).await {
        Ok(()) => after_sign_in(next).into_response(),
        Err(err) => session_failed(err),
    }
}

fn sign_in_failed(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<p>{}</p><p><a href=\"/login/\">Try again</a></p>",
        html_escape::encode_text(message)
    );
    page(status, "Sign-in failed", &body)
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
) -> Response {
    if !state.config.dev_mode || state.github.is_some() || state.openidc.is_some() {
        return page(
            StatusCode::NOT_FOUND,
            "Not available",
            "<p>Local sign-in is for development only.</p>",
        );
    }
    if !is_same_origin(&headers, &state.config.server_uri) {
        return Error::Forbidden("Cross-site sign-in refused".into()).into_response();
    }
    let next = safe_next(form.next.as_deref());
    let username = form.username.trim();
    match users::find_or_create(&state.db, username).await {
        Ok(user) => finish_sign_in(&session, user.id, next).await,
        Err(Error::BadInput(message)) => {
            development_form(next.as_deref(), Some(&message), StatusCode::BAD_REQUEST)
        }
        Err(err) => err.into_response(),
    }
}

fn development_form(next: Option<&str>, problem: Option<&str>, status: StatusCode) -> Response {
    let problem = problem
        .map(|p| format!("<p class=\"problem\">{}</p>", html_escape::encode_text(p)))
        .unwrap_or_default();
    let next = next
        .map(|n| {
            format!(
                "<input type=\"hidden\" name=\"next\" value=\"{}\">",
                html_escape::encode_double_quoted_attribute(n)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<p>Development mode: sign in as any local user. This form does not exist in production.</p>\
         {problem}<form method=\"post\" action=\"/login/\">{next}\
         <label>Username <input name=\"username\" autofocus required maxlength=\"150\"></label> \
         <button type=\"submit\">Sign in</button></form>"
    );
    page(status, "Sign in", &body)
}

async fn login_success() -> Response {
    page(
        StatusCode::OK,
        "Signed in",
        "<p>You are signed in. You can close this window.</p>\
         <script src=\"/login_success/notify.js\"></script>",
    )
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
) -> Response {
    match refresh_revocation::issued_family(&session).await {
        Ok(Some(family)) => {
            if let Err(err) = refresh_revocation::revoke(&state.db, family).await {
                return Error::from(err).into_response();
            }
        }
        Ok(None) => {}
        Err(err) => return session_failed(err),
    }
    if let Err(err) = session::sign_out(&session).await {
        return session_failed(err);
    }
    Redirect::to(safe_next(params.next.as_deref()).as_deref().unwrap_or("/")).into_response()
}

/// {"name", "avatar"} of the signed-in user, or {}.
async fn userinfo(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Json<serde_json::Value>, Error> {
    policy::ensure_can_read(&viewer, state.mode())?;
    Ok(Json(match &viewer.user {
        Some(user) => json!({ "name": user.username, "avatar": user.avatar }),
        None => json!({}),
    }))
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let title = html_escape::encode_text(title);
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Iodide</title></head><body><h1>{title}</h1>{body}</body></html>"
    );
    (status, Html(html)).into_response()
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
