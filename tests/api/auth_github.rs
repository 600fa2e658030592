use serde_json::json;
use url::Url;

use crate::common::{
    TestApp, browser,
    fake_github::{FakeGithub, GOOD_CODE},
};

async fn app_with_github() -> (TestApp, FakeGithub) {
    let github = FakeGithub::start().await;
    let config = github.config();
    let app = TestApp::builder()
        .configure(move |c| c.github = Some(config))
        .spawn()
        .await;
    (app, github)
}

/// Starts a sign-in and returns the `state` that GitHub would send back.
async fn start_login(app: &TestApp, client: &reqwest::Client, next: Option<&str>) -> String {
    start_login_with_cookie(app, client, next).await.0
}

/// Also returns the session cookie that the start of the sign-in set.
async fn start_login_with_cookie(
    app: &TestApp,
    client: &reqwest::Client,
    next: Option<&str>,
) -> (String, String) {
    let path = match next {
        Some(next) => format!("/login/?next={next}"),
        None => "/login/".into(),
    };
    let response = client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.path(), "/login/oauth/authorize");
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "client-id");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], app.url("/oauth/complete/github/"));
    assert!(query["code_challenge"].len() >= 43);
    (
        query["state"].clone(),
        session_cookie(&response).expect("a session cookie"),
    )
}

async fn callback(app: &TestApp, client: &reqwest::Client, query: &str) -> reqwest::Response {
    client
        .get(app.url(&format!("/oauth/complete/github/?{query}")))
        .send()
        .await
        .unwrap()
}

async fn userinfo(app: &TestApp, client: &reqwest::Client) -> serde_json::Value {
    client
        .get(app.url("/userinfo/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|cookie| cookie.starts_with("iodide_session="))
}

#[tokio::test]
async fn signing_in_with_github_creates_the_user_and_a_fresh_session() {
    let (app, github) = app_with_github().await;
    let client = browser();
    let (state, pre_login_cookie) =
        start_login_with_cookie(&app, &client, Some("/notebooks/7/")).await;
    let response = callback(&app, &client, &format!("code={GOOD_CODE}&state={state}")).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/notebooks/7/");
    let cookie = session_cookie(&response).expect("a session cookie");
    assert_eq!(github.pkce_verifiers().len(), 1);

    assert_eq!(
        userinfo(&app, &client).await,
        json!({ "name": "octocat", "avatar": "https://avatars.example/1" })
    );
    let viewer = client
        .post(app.url("/api/graphql"))
        .json(&json!({ "query": "{ viewer { username fullName avatar email } }" }))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        viewer["data"]["viewer"],
        json!({ "username": "octocat", "fullName": "The Octocat", "avatar": "https://avatars.example/1", "email": "octo@example.org" })
    );

    // The id planted before sign-in is worthless after it (no session fixation).
    assert_ne!(pre_login_cookie.split(';').next(), cookie.split(';').next());
    let planted = reqwest::Client::new()
        .get(app.url("/userinfo/"))
        .header("Cookie", pre_login_cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        planted.json::<serde_json::Value>().await.unwrap(),
        json!({})
    );
}

#[tokio::test]
async fn a_second_sign_in_updates_the_profile() {
    let (app, github) = app_with_github().await;
    let mut notebook_id = None;
    for (name, avatar) in [
        ("First Name", "https://avatars.example/a"),
        ("Second Name", "https://avatars.example/b"),
    ] {
        github.set_user(
            json!({ "login": "octocat", "name": name, "avatar_url": avatar, "email": null }),
        );
        let client = browser();
        let state = start_login(&app, &client, None).await;
        let response = callback(&app, &client, &format!("code={GOOD_CODE}&state={state}")).await;
        assert_eq!(response.headers()["location"], "/login_success/");
        let id = match &notebook_id {
            Some(id) => id,
            None => notebook_id.insert(create_notebook(&app, &client).await),
        };
        // Read (and so cache) the notebook and the front page as this profile.
        assert_eq!(owners_shown(&app, id).await, [name, name]);
    }
    let user = app
        .gql(
            None,
            "{ user(username: \"octocat\") { fullName avatar } }",
            json!({}),
        )
        .await;
    assert_eq!(
        user.data()["user"],
        json!({ "fullName": "Second Name", "avatar": "https://avatars.example/b" })
    );
}

async fn create_notebook(app: &TestApp, client: &reqwest::Client) -> String {
    let query = "mutation { createNotebook(input: { title: \"Mine\", content: \"\" }) { id } }";
    let created = app
        .query_as(client, |request| request, json!({ "query": query }))
        .await;
    created.data()["createNotebook"]["id"]
        .as_str()
        .expect("a notebook is created")
        .to_string()
}

/// The owner's full name as the notebook and the front page show it.
async fn owners_shown(app: &TestApp, id: &str) -> [String; 2] {
    let read = app
        .gql(
            None,
            "query($id: ID!) { notebook(id: $id) { owner { fullName } } notebooks(first: 1) { nodes { owner { fullName } } } }",
            json!({ "id": id }),
        )
        .await;
    let data = read.data();
    [
        data["notebook"]["owner"]["fullName"]
            .as_str()
            .unwrap()
            .to_string(),
        data["notebooks"]["nodes"][0]["owner"]["fullName"]
            .as_str()
            .unwrap()
            .to_string(),
    ]
}

#[tokio::test]
async fn a_wrong_or_replayed_state_signs_nobody_in() {
    let (app, _github) = app_with_github().await;
    let client = browser();
    let state = start_login(&app, &client, None).await;
    let wrong = callback(
        &app,
        &client,
        &format!("code={GOOD_CODE}&state=not-{state}"),
    )
    .await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(userinfo(&app, &client).await, json!({}));
    // The pending login was used up by the failed attempt too.
    let retry = callback(&app, &client, &format!("code={GOOD_CODE}&state={state}")).await;
    assert_eq!(retry.status(), 400);

    let state = start_login(&app, &client, None).await;
    let ok = callback(&app, &client, &format!("code={GOOD_CODE}&state={state}")).await;
    assert_eq!(ok.status(), 303);
    let replay = callback(&app, &client, &format!("code={GOOD_CODE}&state={state}")).await;
    assert_eq!(replay.status(), 400);

    let stranger = browser();
    let stolen = callback(&app, &stranger, &format!("code={GOOD_CODE}&state={state}")).await;
    assert_eq!(stolen.status(), 400);
    assert_eq!(userinfo(&app, &stranger).await, json!({}));
}

#[tokio::test]
async fn denied_consent_and_provider_errors_are_explained() {
    let (app, github) = app_with_github().await;
    let client = browser();
    let state = start_login(&app, &client, None).await;
    let denied = callback(&app, &client, &format!("error=access_denied&state={state}")).await;
    assert_eq!(denied.status(), 400);
    assert!(
        denied
            .text()
            .await
            .unwrap()
            .contains("did not grant access")
    );

    let state = start_login(&app, &client, None).await;
    let bad_code = callback(&app, &client, &format!("code=forged&state={state}")).await;
    assert_eq!(bad_code.status(), 502);

    github.fail_token_endpoint();
    let state = start_login(&app, &client, None).await;
    let broken = callback(&app, &client, &format!("code={GOOD_CODE}&state={state}")).await;
    assert_eq!(broken.status(), 502);
    let page = broken.text().await.unwrap();
    assert!(
        page.contains("could not confirm who you are") && !page.contains("upstream trouble"),
        "{page}"
    );
    assert_eq!(userinfo(&app, &client).await, json!({}));
}

#[tokio::test]
async fn next_is_honoured_only_on_this_site() {
    let (app, _github) = app_with_github().await;
    let client = browser();
    let state = start_login(&app, &client, Some("https://evil.example/")).await;
    let response = callback(&app, &client, &format!("code={GOOD_CODE}&state={state}")).await;
    assert_eq!(response.headers()["location"], "/login_success/");
}

#[tokio::test]
async fn the_session_cookie_is_host_only_httponly_and_lax() {
    let (app, _github) = app_with_github().await;
    let client = browser();
    let response = client.get(app.url("/login/")).send().await.unwrap();
    let cookie = session_cookie(&response).unwrap().to_lowercase();
    assert!(cookie.contains("httponly"), "{cookie}");
    assert!(cookie.contains("samesite=lax"), "{cookie}");
    assert!(cookie.contains("path=/"), "{cookie}");
    assert!(!cookie.contains("domain="), "{cookie}");
    assert!(!cookie.contains("secure"), "{cookie}");
    assert!(
        cookie.contains("max-age=") || cookie.contains("expires="),
        "{cookie}"
    );

    let github = FakeGithub::start().await;
    let config = github.config();
    let https = TestApp::builder()
        .configure(move |c| {
            c.github = Some(config);
            c.server_uri = "https://notebooks.example/".parse().unwrap();
        })
        .spawn()
        .await;
    let response = browser().get(https.url("/login/")).send().await.unwrap();
    assert!(
        session_cookie(&response)
            .unwrap()
            .to_lowercase()
            .contains("secure")
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let (app, _github) = app_with_github().await;
    let client = browser();
    let state = start_login(&app, &client, None).await;
    callback(&app, &client, &format!("code={GOOD_CODE}&state={state}")).await;
    assert_eq!(userinfo(&app, &client).await["name"], "octocat");
    let logout = client.get(app.url("/logout/")).send().await.unwrap();
    assert_eq!(logout.status(), 303);
    assert_eq!(userinfo(&app, &client).await, json!({}));
}

#[tokio::test]
async fn login_explains_when_it_is_not_configured() {
    let app = TestApp::builder()
        .configure(|c| c.dev_mode = false)
        .spawn()
        .await;
    let response = app.client.get(app.url("/login/")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.text().await.unwrap().contains("GITHUB_CLIENT_ID"));
    let form = app
        .client
        .post(app.url("/login/"))
        .header("Origin", app.origin())
        .form(&[("username", "mallory")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 404);
    assert!(
        iodide_server::users::find_by_username(&app.state.db, "mallory")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_worker_deletes_expired_sessions_only() {
    let app = TestApp::spawn().await;
    let client = browser();
    app.sign_in(&client, "sam").await;
    let count = || async {
        use sea_orm::{EntityTrait, PaginatorTrait};
        iodide_server::entity::session::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 1);

    let clock = crate::common::clock::TestClock::at(chrono::Utc::now());
    let pass = app.worker(&clock).run_pending().await.unwrap();
    assert_eq!(pass.expired_sessions, 0);
    assert_eq!(count().await, 1, "a live session stays");

    clock.advance(chrono::TimeDelta::days(15));
    let pass = app.worker(&clock).run_pending().await.unwrap();
    assert_eq!(pass.expired_sessions, 1);
    assert_eq!(count().await, 0);
}
