//! The editor's pages: one HTML shell per page with the data that the SPA in
//! frontend-stub/ needs, embedded as JSON that no notebook text can break out of.

use axum::{
    Extension, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{frontend, is_same_origin, security};
use crate::{
    app::AppState,
    auth::Viewer,
    entity::{notebook, revision, user},
    error::Error,
    notebooks::{self, NewNotebook, revisions},
    policy, users,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(notebook_list))
        .route("/notebooks/{id}/", get(notebook_page))
        .route("/notebooks/{id}/revisions/", get(revisions_page))
        .route("/new", get(new_notebook).post(new_notebook_confirmed))
        .route("/static/{*path}", get(static_file))
}

async fn static_file(Path(path): Path<String>) -> Result<Response, Error> {
    frontend::asset(&format!("static/{path}"))
}

/// What every page carries, plus the page's own data.
struct Page<'a> {
    state: &'a AppState,
    viewer: &'a Viewer,
    headers: &'a HeaderMap,
    title: String,
    data: Value,
}

impl Page<'_> {
    fn render(self) -> Response {
        let config = &self.state.config;
        let analytics = config
            .ga_tracking_id
            .as_deref()
            .filter(|_| !do_not_track(self.headers));
        let mut data = self.data;
        data["viewer"] = self
            .viewer
            .user
            .as_ref()
            .map(viewer_json)
            .unwrap_or(Value::Null);
        data["editorOrigin"] = json!(security::editor_origin(config));
        data["evalFrameOrigin"] = json!(security::eval_origin(config));
        data["gaTrackingId"] = json!(analytics);
        let analytics_tags = analytics
            .map(|id| {
                format!(
                    "<script async src=\"https://www.googletagmanager.com/gtag/js?id={}\"></script>\
                     <script defer src=\"/static/analytics.js\"></script>",
                    html_escape::encode_double_quoted_attribute(id)
                )
            })
            .unwrap_or_default();
        let html = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · Iodide</title><link rel=\"stylesheet\" href=\"/static/style.css\">\
             {analytics_tags}</head><body><div id=\"app\"></div>\
             <script type=\"application/json\" id=\"page-data\">{data}</script>\
             <script type=\"module\" src=\"/static/app.js\"></script></body></html>\n",
            title = html_escape::encode_text(&self.title),
            data = embeddable_json(&data),
        );
        let mut response = Html(html).into_response();
        if let Ok(policy) = HeaderValue::from_str(&security::editor_page_csp(config)) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, policy);
        }
        response.headers_mut().insert(
            security::CROSS_ORIGIN_OPENER_POLICY,
            HeaderValue::from_static(security::OPENER_POLICY),
        );
        response
    }
}

/// JSON that is safe inside a <script> element: no "<" (so no "</script>" or
/// "<!--"), and no line separators that old parsers choke on.
fn embeddable_json(data: &Value) -> String {
    data.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn do_not_track(headers: &HeaderMap) -> bool {
    headers.get("dnt").and_then(|v| v.to_str().ok()) == Some("1")
}

fn viewer_json(user: &user::Model) -> Value {
    json!({ "id": user.id.to_string(), "username": user.username, "avatar": user.avatar })
}

/// Why a page cannot be shown: each becomes a small HTML page of its own.
enum PageError {
    /// Internal mode without an identity: invite sign-in, then come back here.
    SignIn {
        next: String,
        reason: String,
    },
    Missing(String),
    Failed(Error),
}

impl From<Error> for PageError {
    fn from(err: Error) -> Self {
        PageError::Failed(err)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, body) = match self {
            PageError::SignIn { next, reason } => (
                StatusCode::UNAUTHORIZED,
                "Sign in to continue",
                format!(
                    "<p>{}</p><p><a href=\"/login/?next={}\">Sign in</a></p>",
                    html_escape::encode_text(&reason),
                    html_escape::encode_double_quoted_attribute(&next)
                ),
            ),
            PageError::Missing(what) => (
                StatusCode::NOT_FOUND,
                "Not found",
                format!(
                    "<p>{}</p><p><a href=\"/\">All notebooks</a></p>",
                    html_escape::encode_text(&what)
                ),
            ),
            PageError::Failed(err) => return err.into_response(),
        };
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{title} · Iodide</title></head><body><h1>{title}</h1>{body}</body></html>"
        );
        (status, Html(html)).into_response()
    }
}

/// Pages need an identity in internal mode.
fn readable(state: &AppState, viewer: &Viewer, path: &str) -> Result<(), PageError> {
    policy::ensure_can_read(viewer, state.mode()).map_err(|err| PageError::SignIn {
        next: path.to_string(),
        reason: err.to_string(),
    })
}

async fn notebook_list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    readable(&state, &viewer, "/")?;
    Ok(Page {
        state: &state,
        viewer: &viewer,
        headers: &headers,
        title: "Notebooks".into(),
        data: json!({ "page": "notebooks" }),
    }
    .render())
}

#[derive(Deserialize)]
struct RevisionParam {
    revision: Option<String>,
}

/// The notebook, its latest revision and its owner.
async fn load_notebook(
    state: &AppState,
    id: &str,
) -> Result<(notebook::Model, revision::Model, Value), PageError> {
    let not_found = || PageError::Missing(format!("There is no notebook {id}."));
    let id: i32 = id.parse().map_err(|_| not_found())?;
    let notebook = notebooks::get(&state.db, id).await?.ok_or_else(not_found)?;
    let latest = revisions::latest_for(&state.db, &[id])
        .await?
        .remove(&id)
        .ok_or_else(not_found)?;
    let owner = users::by_id(&state.db, notebook.owner_id).await?;
    let owner = owner.as_ref().map(viewer_json).unwrap_or(Value::Null);
    Ok((notebook, latest, owner))
}

fn notebook_json(
    notebook: &notebook::Model,
    owner: Value,
    viewer: &Viewer,
    latest: &revision::Model,
) -> Value {
    json!({
        "id": notebook.id.to_string(),
        "title": notebook.title,
        "owner": owner,
        "forkedFrom": notebook.forked_from_id.map(|id| id.to_string()),
        "latestRevisionId": latest.id.to_string(),
        "viewerCanEdit": policy::can_edit_notebook(viewer, notebook),
    })
}

fn revision_json(revision: &revision::Model) -> Value {
    json!({
        "id": revision.id.to_string(),
        "title": revision.title,
        "content": revision.content,
        "createdAt": revision.created_at.to_rfc3339(),
        "isDraft": revision.is_draft,
    })
}

async fn notebook_page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<RevisionParam>,
) -> Result<Response, PageError> {
    readable(&state, &viewer, &format!("/notebooks/{id}/"))?;
    let (notebook, latest, owner) = load_notebook(&state, &id).await?;
    let shown = match params.revision.as_deref() {
        None => latest.clone(),
        Some(wanted) => {
            let missing = || PageError::Missing(format!("Notebook {id} has no revision {wanted}."));
            let revision_id: i32 = wanted.parse().map_err(|_| missing())?;
            revisions::get(&state.db, revision_id)
                .await?
                .filter(|revision| revision.notebook_id == notebook.id)
                .ok_or_else(missing)?
        }
    };
    Ok(Page {
        state: &state,
        viewer: &viewer,
        headers: &headers,
        title: shown.title.clone(),
        data: json!({
            "page": "notebook",
            "notebook": notebook_json(&notebook, owner, &viewer, &latest),
            "revision": revision_json(&shown),
            "isLatest": shown.id == latest.id,
        }),
    }
    .render())
}

async fn revisions_page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    readable(&state, &viewer, &format!("/notebooks/{id}/revisions/"))?;
    let (notebook, latest, owner) = load_notebook(&state, &id).await?;
    Ok(Page {
        state: &state,
        viewer: &viewer,
        headers: &headers,
        title: format!("History of {}", notebook.title),
        data: json!({ "page": "revisions", "notebook": notebook_json(&notebook, owner, &viewer, &latest) }),
    }
    .render())
}

/// Whether a navigation started on another site (a link or form elsewhere).
fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site" || site == "same-site")
}

/// /new: a signed-in user gets a new notebook and is sent to it; anyone else
/// gets a page to try the editor without saving. A link from another site only
/// gets a button, so that no site can fill someone's account with notebooks.
async fn new_notebook(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if viewer.user.is_none() {
        readable(&state, &viewer, "/new")?;
        return Ok(Page {
            state: &state,
            viewer: &viewer,
            headers: &headers,
            title: "Try Iodide".into(),
            data: json!({ "page": "try" }),
        }
        .render());
    }
    if cross_site(&headers) {
        let body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>New notebook · Iodide</title></head>\
                    <body><h1>New notebook</h1><form method=\"post\" action=\"/new\"><button type=\"submit\">Create a notebook</button></form></body></html>";
        return Ok(Html(body).into_response());
    }
    Ok(create_and_open(&state, &viewer).await)
}

async fn new_notebook_confirmed(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
) -> Response {
    if !is_same_origin(&headers, &state.config.server_uri) {
        return Error::Forbidden("Cross-site request refused".into()).into_response();
    }
    create_and_open(&state, &viewer).await
}

async fn create_and_open(state: &AppState, viewer: &Viewer) -> Response {
    let new = NewNotebook {
        title: "Untitled notebook".into(),
        content: String::new(),
        forked_from: None,
        owner: None,
    };
    match notebooks::create(&state.db, &state.cache, viewer, new).await {
        Ok(notebook) => Redirect::to(&format!("/notebooks/{}/", notebook.id)).into_response(),
        Err(err) => err.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_script() {
        let data = json!({ "content": "</script><script>alert(1)</script><!-- \u{2028}" });
        let embedded = embeddable_json(&data);
        assert!(!embedded.contains('<') && !embedded.contains('\u{2028}'));
        assert_eq!(serde_json::from_str::<Value>(&embedded).unwrap(), data);
    }
}
