use iodide_server::config::OpenIdcConfig;
use regex::Regex;
use serde_json::{Value, json};

use crate::common::{Gql, TestApp, browser};

async fn app_behind_proxy(header: &str) -> TestApp {
    let header = header.to_string();
    TestApp::builder()
        .configure(move |c| {
            c.openidc = Some(OpenIdcConfig {
                header,
                whitelist: vec![Regex::new("^(?:^/api/)").unwrap()],
            })
        })
        .spawn()
        .await
}

async fn get(app: &TestApp, path: &str, proxy_user: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(app.url(path));
    if let Some(user) = proxy_user {
        request = request.header("X-Forwarded-User", user);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_proxy_header_is_required_off_the_whitelist_and_creates_the_user() {
    let app = app_behind_proxy("X-Forwarded-User").await;
    let refused = Gql::read(get(&app, "/userinfo/", None).await).await;
    assert_eq!(refused.status, 401);
    assert!(refused.message().contains("X-Forwarded-User"));

    let info: Value = get(&app, "/userinfo/", Some("carol@example.org"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "carol@example.org");
    assert!(
        iodide_server::users::find_by_username(&app.state.db, "carol@example.org")
            .await
            .unwrap()
            .is_some()
    );

    let invalid = get(&app, "/userinfo/", Some("not a user name")).await;
    assert_eq!(invalid.status(), 401);
    for path in [
        "/graphiql",
        "/__version__",
        "/login/",
        "/notebooks/1/files/x",
    ] {
        assert_eq!(get(&app, path, None).await.status(), 401, "{path}");
    }
}

#[tokio::test]
async fn the_whitelist_ignores_the_header_and_needs_a_token() {
    let app = app_behind_proxy("X-Forwarded-User").await;
    let query = json!({ "query": "{ viewer { username } }" });
    let anonymous = app
        .query_as(&reqwest::Client::new(), |request| request, query.clone())
        .await;
    assert_eq!(anonymous.status, 401, "whitelisted paths need a credential");
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
    let with_header = app
        .query_as(
            &reqwest::Client::new(),
            |request| request.header("X-Forwarded-User", "mallory"),
            query.clone(),
        )
        .await;
    assert_eq!(with_header.status, 401, "the header alone is ignored here");
    assert!(
        iodide_server::users::find_by_username(&app.state.db, "mallory")
            .await
            .unwrap()
            .is_none()
    );

    let grace = app.user("grace").await;
    let with_token = app
        .query_as(
            &reqwest::Client::new(),
            |request| request.header("Authorization", format!("Token {}", grace.token)),
            query,
        )
        .await;
    assert_eq!(with_token.data()["viewer"]["username"], "grace");
}

/// A proxy that appends its header after the client's own would let the
/// client's copy win: two copies are refused outright.
#[tokio::test]
async fn a_repeated_identity_header_is_refused() {
    let app = app_behind_proxy("X-Forwarded-User").await;
    for path in ["/userinfo/", "/api/graphql?query={viewer{id}}"] {
        let response = reqwest::Client::new()
            .get(app.url(path))
            .header("X-Forwarded-User", "admin")
            .header("X-Forwarded-User", "carol")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
    }
    assert!(
        iodide_server::users::find_by_username(&app.state.db, "admin")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn query_strings_and_encoded_paths_do_not_bypass_the_proxy() {
    let app = app_behind_proxy("X-Forwarded-User").await;
    for path in [
        "/userinfo/?next=/api/",
        "/userinfo/?/api/",
        "/%61pi/../userinfo/",
        "/api/../userinfo/",
        "/api/%2e%2e/userinfo/",
        "/api/..%2fuserinfo/",
    ] {
        let response = get(&app, path, None).await;
        assert_eq!(response.status(), 401, "{path}");
    }
}

#[tokio::test]
async fn the_proxy_identity_trades_for_tokens() {
    let app = app_behind_proxy("X-Remote-User").await;
    let response = reqwest::Client::new()
        .post(app.url("/token/"))
        .header("X-Remote-User", "heidi")
        .header("Origin", app.origin())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let pair: Value = response.json().await.unwrap();
    let viewer = app
        .query_as(
            &reqwest::Client::new(),
            |request| request.bearer_auth(pair["access"].as_str().unwrap()),
            json!({ "query": "{ viewer { username } }" }),
        )
        .await;
    assert_eq!(viewer.data()["viewer"]["username"], "heidi");
    let default_header = get(&app, "/userinfo/", Some("heidi")).await;
    assert_eq!(
        default_header.status(),
        401,
        "only the configured header counts"
    );
}

#[tokio::test]
async fn sessions_are_not_used_behind_the_proxy() {
    let app = app_behind_proxy("X-Forwarded-User").await;
    let client = browser();
    let login = client
        .post(app.url("/login/"))
        .header("Origin", app.origin())
        .header("X-Forwarded-User", "ivan")
        .form(&[("username", "root")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 404);
    let info: Value = client
        .get(app.url("/userinfo/"))
        .header("X-Forwarded-User", "ivan")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "ivan");
}
