//! The editor's pages: one HTML shell per page with the data that the SPA in
//! frontend-stub/ needs, embedded as JSON that no notebook text can break out of.

use axum::{
    Extension, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    frontend, is_same_origin, security,
    templates::{self, ConfirmNewNotebook, Shell},
};
use crate::{
    app::AppState,
    entity::{notebook, revision, user},
    error::{Error, Result},
    notebooks::{self, NewNotebook, revisions},
    policy, users,
    viewer::Viewer,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(notebook_list))
        .route("/notebooks/{id}/", get(notebook_page))
        .route("/notebooks/{id}/revisions/", get(revisions_page))
        .route("/new", get(new_notebook).post(new_notebook_confirmed))
        .route_layer(middleware::from_fn(templates::errors_as_pages))
        .route("/static/{*path}", get(static_file))
}

async fn static_file(Path(path): Path<String>) -> Result<Response> {
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
    fn render(self) -> Result<Response> {
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
        let data = embeddable_json(&data);
        let shell = Shell {
            title: &self.title,
            analytics,
            data: &data,
        };
        let mut response = templates::page(StatusCode::OK, &shell);
        if let Ok(policy) = HeaderValue::from_str(&security::editor_page_csp(config)) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, policy);
        }
        response.headers_mut().insert(
            security::CROSS_ORIGIN_OPENER_POLICY,
            HeaderValue::from_static(security::OPENER_POLICY),
        );
        Ok(response)
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

/// Pages need an identity in internal mode: the error page invites sign-in and
/// comes back here.
fn readable(state: &AppState, viewer: &Viewer) -> Result<()> {
    policy::ensure_can_read(viewer, state.mode())
}

async fn notebook_list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
) -> Result<Response> {
    readable(&state, &viewer)?;
    Page {
        state: &state,
        viewer: &viewer,
        headers: &headers,
        title: "Notebooks".into(),
        data: json!({ "page": "notebooks" }),
    }
    .render()
}

#[derive(Deserialize)]
struct RevisionParam {
    revision: Option<String>,
}

/// The notebook, its latest revision and its owner.
async fn load_notebook(
    state: &AppState,
    id: &str,
) -> Result<(notebook::Model, revision::Model, Value)> {
    let not_found = || Error::NotFound(format!("There is no notebook {id}."));
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
) -> Result<Response> {
    readable(&state, &viewer)?;
    let (notebook, latest, owner) = load_notebook(&state, &id).await?;
    let shown = match params.revision.as_deref() {
        None => latest.clone(),
        Some(wanted) => {
            let missing = || Error::NotFound(format!("Notebook {id} has no revision {wanted}."));
            let revision_id: i32 = wanted.parse().map_err(|_| missing())?;
            revisions::get(&state.db, revision_id)
                .await?
                .filter(|revision| revision.notebook_id == notebook.id)
                .ok_or_else(missing)?
        }
    };
    Page {
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
    .render()
}

async fn revisions_page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    readable(&state, &viewer)?;
    let (notebook, latest, owner) = load_notebook(&state, &id).await?;
    Page {
        state: &state,
        viewer: &viewer,
        headers: &headers,
        title: format!("History of {}", notebook.title),
        data: json!({ "page": "revisions", "notebook": notebook_json(&notebook, owner, &viewer, &latest) }),
    }
    .render()
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
) -> Result<Response> {
    if viewer.user.is_none() {
        readable(&state, &viewer)?;
        return Page {
            state: &state,
            viewer: &viewer,
            headers: &headers,
            title: "Try Iodide".into(),
            data: json!({ "page": "try" }),
        }
        .render();
    }
    if cross_site(&headers) {
        return Ok(templates::page(StatusCode::OK, &ConfirmNewNotebook));
    }
    create_and_open(&state, &viewer).await
}

async fn new_notebook_confirmed(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
) -> Result<Response> {
    if !is_same_origin(&headers, &state.config.server_uri) {
        return Err(Error::Forbidden("Cross-site request refused".into()));
    }
    create_and_open(&state, &viewer).await
}

async fn create_and_open(state: &AppState, viewer: &Viewer) -> Result<Response> {
    let new = NewNotebook {
        title: "Untitled notebook".into(),
        content: String::new(),
        forked_from: None,
        owner: None,
    };
    let notebook = notebooks::create(&state.db, &state.cache, &state.clock, viewer, new).await?;
    Ok(Redirect::to(&format!("/notebooks/{}/", notebook.id)).into_response())
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
