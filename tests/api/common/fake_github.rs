//! A stand-in for GitHub's OAuth2 and user endpoints on a loopback port.

use std::sync::{Arc, Mutex};

use axum::{
    Form, Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use iodide_server::config::GithubConfig;
use serde_json::{Value, json};

pub const GOOD_CODE: &str = "good-code";
const ACCESS_TOKEN: &str = "gho_fake_access_token";

#[derive(Clone)]
pub struct FakeGithub {
    pub base: String,
    state: Arc<Mutex<Behaviour>>,
}

struct Behaviour {
    user: Value,
    token_endpoint_fails: bool,
    pkce_verifiers: Vec<String>,
}

impl FakeGithub {
    pub async fn start() -> FakeGithub {
        let state = Arc::new(Mutex::new(Behaviour {
            user: json!({ "login": "octocat", "name": "The Octocat", "avatar_url": "https://avatars.example/1", "email": "octo@example.org" }),
            token_endpoint_fails: false,
            pkce_verifiers: vec![],
        }));
        let app = Router::new()
            .route("/login/oauth/access_token", post(token))
            .route("/user", get(user))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeGithub { base, state }
    }

    pub fn config(&self) -> GithubConfig {
        GithubConfig {
            client_id: "client-id".into(),
            client_secret: "client-secret".into(),
            authorize_url: format!("{}/login/oauth/authorize", self.base)
                .parse()
                .unwrap(),
            token_url: format!("{}/login/oauth/access_token", self.base)
                .parse()
                .unwrap(),
            api_url: format!("{}/", self.base).parse().unwrap(),
        }
    }

    pub fn set_user(&self, user: Value) {
        self.state.lock().unwrap().user = user;
    }

    pub fn fail_token_endpoint(&self) {
        self.state.lock().unwrap().token_endpoint_fails = true;
    }

    /// The PKCE verifiers that the server presented, in order.
    pub fn pkce_verifiers(&self) -> Vec<String> {
        self.state.lock().unwrap().pkce_verifiers.clone()
    }
}

async fn token(
    State(state): State<Arc<Mutex<Behaviour>>>,
    headers: HeaderMap,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().unwrap();
    if state.token_endpoint_fails {
        return (StatusCode::INTERNAL_SERVER_ERROR, "upstream trouble").into_response();
    }
    let authenticated = headers.get("authorization").is_some()
        || form.get("client_secret").map(String::as_str) == Some("client-secret");
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if !authenticated
        || form.get("code").map(String::as_str) != Some(GOOD_CODE)
        || verifier.len() < 43
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "bad_verification_code" })),
        )
            .into_response();
    }
    state.pkce_verifiers.push(verifier);
    Json(json!({ "access_token": ACCESS_TOKEN, "token_type": "bearer", "scope": "user:email" }))
        .into_response()
}

async fn user(State(state): State<Arc<Mutex<Behaviour>>>, headers: HeaderMap) -> Response {
    let expected = format!("Bearer {ACCESS_TOKEN}");
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(state.lock().unwrap().user.clone()).into_response()
}
