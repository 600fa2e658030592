use iodide_server::{auth::api_token, cache::Cache, users};
use serde_json::json;

use crate::common::{Gql, TestApp};

async fn viewer_with(app: &TestApp, authorization: &str) -> Gql {
    let query = json!({ "query": "{ viewer { username } }" });
    app.query_as(
        &app.client,
        |request| request.header("Authorization", authorization),
        query,
    )
    .await
}

fn assert_refused(response: &Gql) {
    assert_eq!(response.status, 401, "{}", response.body);
    let challenge = response.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Token") || challenge.starts_with("Bearer"),
        "{challenge}"
    );
    assert_eq!(response.code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_valid_token_identifies_its_user() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    assert!(alice.token.starts_with("iod_"));
    let response = viewer_with(&app, &format!("Token {}", alice.token)).await;
    assert_eq!(response.data()["viewer"], json!({ "username": "alice" }));
    let lower = viewer_with(&app, &format!("token {}", alice.token)).await;
    assert_eq!(lower.data()["viewer"], json!({ "username": "alice" }));
}

#[tokio::test]
async fn bad_tokens_are_refused_never_anonymous() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut wrong = alice.token.clone();
    wrong.replace_range(10..11, if &wrong[10..11] == "a" { "b" } else { "a" });
    let token_challenge = viewer_with(&app, &format!("Token {wrong}")).await;
    assert!(
        token_challenge.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Token")
    );
    for header in [
        format!("Token {wrong}"),
        "Token iod_short".to_string(),
        "Token ".to_string(),
        "Token".to_string(),
        "Bearer not-a-jwt".to_string(),
        "Basic YWxpY2U6cGFzc3dvcmQ=".to_string(),
    ] {
        let response = viewer_with(&app, &header).await;
        assert_refused(&response);
    }
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header(
            "Authorization",
            reqwest::header::HeaderValue::from_bytes(b"Token \xff\xfe").unwrap(),
        )
        .json(&json!({ "query": "{ viewer { username } }" }))
        .send()
        .await
        .unwrap();
    assert_refused(&Gql::read(response).await);
}

#[tokio::test]
async fn a_revoked_token_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let second = api_token::create(&app.state.db, "alice").await.unwrap();
    api_token::revoke(&app.state.db, &app.state.cache, &alice.token)
        .await
        .unwrap();
    assert_refused(&viewer_with(&app, &format!("Token {}", alice.token)).await);

    let response = viewer_with(&app, &format!("Token {second}")).await;
    assert_eq!(response.data()["viewer"]["username"], "alice");
    api_token::revoke(&app.state.db, &app.state.cache, &second[..12])
        .await
        .unwrap();
    assert_refused(&viewer_with(&app, &format!("Token {second}")).await);
}

#[tokio::test]
async fn a_token_revoked_from_the_command_line_is_refused_at_once_by_every_instance() {
    let Some((first, second, _redis)) = TestApp::builder().spawn_two_sharing_redis().await else {
        return;
    };
    let alice = first.user("alice").await;
    let bearer = format!("Token {}", alice.token);
    for app in [&first, &second] {
        let response = viewer_with(app, &bearer).await;
        assert_eq!(response.data()["viewer"]["username"], "alice");
    }
    // Cached: the token costs no SQL on either instance now.
    let before = first.statements() + second.statements();
    viewer_with(&first, &bearer).await.data();
    viewer_with(&second, &bearer).await.data();
    assert_eq!(first.statements() + second.statements(), before);

    // As `iodide-server token revoke` does: its own connection to the cache.
    let command_line = Cache::from_config(&first.state.config.cache).unwrap();
    api_token::revoke(&first.state.db, &command_line, &alice.token)
        .await
        .unwrap();

    assert_refused(&viewer_with(&second, &bearer).await);
    assert_refused(&viewer_with(&first, &bearer).await);
}

async fn is_staff(app: &TestApp, authorization: &str) -> bool {
    let query = json!({ "query": "{ viewer { isStaff } }" });
    let response = app
        .query_as(
            &app.client,
            |request| request.header("Authorization", authorization),
            query,
        )
        .await;
    response.data()["viewer"]["isStaff"].as_bool().unwrap()
}

#[tokio::test]
async fn a_cached_token_carries_its_users_new_grants() {
    let Some((first, second, _redis)) = TestApp::builder().spawn_two_sharing_redis().await else {
        return;
    };
    let alice = first.user("alice").await;
    let bearer = format!("Token {}", alice.token);
    assert!(!is_staff(&second, &bearer).await);

    let command_line = Cache::from_config(&first.state.config.cache).unwrap();
    users::grant(&first.state.db, &command_line, "alice", Some(true), None)
        .await
        .unwrap();

    assert!(is_staff(&second, &bearer).await);
}
