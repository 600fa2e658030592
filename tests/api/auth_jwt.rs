use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{Duration, Utc};
use iodide_server::auth::jwt::{self, TokenType};
use serde_json::{Value, json};

use crate::common::{Gql, TestApp, browser, request::RequestHelper};

async fn viewer_with_bearer(app: &TestApp, token: &str) -> Gql {
    let query = json!({ "query": "{ viewer { username } }" });
    app.with_jwt(token).gql_body(query).await
}

fn assert_refused(response: &Gql) {
    assert_eq!(response.status, 401, "{}", response.body);
    assert!(
        response.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(response.code(), "UNAUTHENTICATED");
}

async fn obtain(app: &TestApp, client: &reqwest::Client) -> reqwest::Response {
    client
        .post(app.url("/token/"))
        .header("Origin", app.origin())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_session_trades_for_tokens_that_identify_the_user() {
    let app = TestApp::spawn().await;
    let client = browser();
    let anonymous = Gql::read(obtain(&app, &client).await).await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.headers.contains_key("www-authenticate"));

    app.sign_in(&client, "dana").await;
    let pair: Value = obtain(&app, &client).await.json().await.unwrap();
    let access = pair["access"].as_str().unwrap();
    let refresh = pair["refresh"].as_str().unwrap();
    assert_eq!(
        viewer_with_bearer(&app, access).await.data()["viewer"],
        json!({ "username": "dana" })
    );

    let refreshed: Value = reqwest::Client::new()
        .post(app.url("/token/refresh/"))
        .json(&json!({ "refresh": refresh }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_access = refreshed["access"].as_str().unwrap();
    assert_ne!(new_access, access);
    assert_eq!(
        viewer_with_bearer(&app, new_access).await.data()["viewer"],
        json!({ "username": "dana" })
    );

    let claims = jwt::verify(&app.state.config.secret_key, access, TokenType::Access).unwrap();
    assert_eq!(claims.exp - claims.iat, 300);
    assert!(!claims.jti.is_empty());
    let refresh_claims =
        jwt::verify(&app.state.config.secret_key, refresh, TokenType::Refresh).unwrap();
    assert_eq!(refresh_claims.exp - refresh_claims.iat, 86_400);
}

#[tokio::test]
async fn tokens_are_only_handed_to_this_sites_pages() {
    let app = TestApp::spawn().await;
    let client = browser();
    app.sign_in(&client, "dana").await;
    for origin in [Some("https://evil.example"), None] {
        let mut request = client.post(app.url("/token/"));
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let response = Gql::read(request.send().await.unwrap()).await;
        assert_eq!(response.status, 403, "{origin:?}");
        assert_eq!(response.code(), "FORBIDDEN");
    }
    let by_token = app.user("scripted").await;
    let response = reqwest::Client::new()
        .post(app.url("/token/"))
        .header("Origin", app.origin())
        .header("Authorization", format!("Token {}", by_token.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "an API token does not mint JWTs");
}

#[tokio::test]
async fn expired_forged_and_misused_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let dana = app.user("dana").await;
    let secret = app.state.config.secret_key.clone();
    let id = dana.model.id;

    let expired = jwt::issue(
        &secret,
        id,
        TokenType::Access,
        Utc::now() - Duration::minutes(6),
    );
    assert_refused(&viewer_with_bearer(&app, &expired).await);
    let refresh = jwt::issue(&secret, id, TokenType::Refresh, Utc::now());
    assert_refused(&viewer_with_bearer(&app, &refresh).await);
    let other_key = jwt::issue(
        "a different secret key entirely",
        id,
        TokenType::Access,
        Utc::now(),
    );
    assert_refused(&viewer_with_bearer(&app, &other_key).await);
    let ghost = jwt::issue(&secret, 424242, TokenType::Access, Utc::now());
    assert_refused(&viewer_with_bearer(&app, &ghost).await);

    let claims = json!({ "token_type": "access", "user_id": id, "jti": "x", "iat": Utc::now().timestamp(), "exp": Utc::now().timestamp() + 300 });
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned = format!(
        "{}.{}.",
        encode(&json!({ "alg": "none", "typ": "JWT" })),
        encode(&claims)
    );
    assert_refused(&viewer_with_bearer(&app, &unsigned).await);
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    assert_refused(&viewer_with_bearer(&app, &hs512).await);
    for garbage in ["", "abc", "a.b.c", &"x".repeat(5000)] {
        assert_refused(&viewer_with_bearer(&app, garbage).await);
    }

    let access_as_refresh = jwt::issue(&secret, id, TokenType::Access, Utc::now());
    let response = reqwest::Client::new()
        .post(app.url("/token/refresh/"))
        .json(&json!({ "refresh": access_as_refresh }))
        .send()
        .await
        .unwrap();
    assert_refused(&Gql::read(response).await);
    let malformed = reqwest::Client::new()
        .post(app.url("/token/refresh/"))
        .body("refresh=x")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
}

#[tokio::test]
async fn the_authorization_header_comes_first_even_with_a_valid_cookie() {
    let app = TestApp::spawn().await;
    let client = browser();
    app.sign_in(&client, "dana").await;
    let response = app
        .query_as(
            &client,
            |request| request.bearer_auth("not-a-token"),
            json!({ "query": "{ viewer { username } }" }),
        )
        .await;
    assert_refused(&response);

    let erin = app.user("erin").await;
    let response = app
        .query_as(
            &client,
            |request| request.header("Authorization", format!("Token {}", erin.token)),
            json!({ "query": "{ viewer { username } }" }),
        )
        .await;
    assert_eq!(response.data()["viewer"]["username"], "erin");
    let cookie_only = app
        .query_as(
            &client,
            |request| request,
            json!({ "query": "{ viewer { username } }" }),
        )
        .await;
    assert_eq!(cookie_only.data()["viewer"]["username"], "dana");
}

#[tokio::test]
async fn token_requests_are_rate_limited_per_client() {
    let app = TestApp::builder()
        .configure(|c| c.token_requests_per_minute = 3)
        .spawn()
        .await;
    let client = browser();
    app.sign_in(&client, "dana").await;
    for left in (0..3).rev() {
        let granted = obtain(&app, &client).await;
        assert_eq!(granted.status(), 200);
        // The headers describe the /token/ allowance, not the general one.
        assert_eq!(granted.headers()["x-ratelimit-limit"], "3");
        assert_eq!(
            granted.headers()["x-ratelimit-remaining"],
            left.to_string().as_str()
        );
    }
    let limited = Gql::read(obtain(&app, &client).await).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.code(), "RATE_LIMITED");
    assert_eq!(limited.headers["x-ratelimit-limit"], "3");
    assert_eq!(limited.headers["x-ratelimit-remaining"], "0");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");

    let other = browser();
    app.sign_in(&other, "erin").await;
    assert_eq!(
        obtain(&app, &other).await.status(),
        200,
        "another client has its own allowance"
    );
}

#[tokio::test]
async fn the_development_form_signs_in_only_from_this_site() {
    let app = TestApp::spawn().await;
    let form = app.client.get(app.url("/login/")).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("Development mode"));

    let cross_site = app
        .client
        .post(app.url("/login/"))
        .header("Origin", "https://evil.example")
        .form(&[("username", "victim")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let bad_name = app
        .client
        .post(app.url("/login/"))
        .header("Origin", app.origin())
        .form(&[("username", "no spaces")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_name.status(), 400);

    let client = browser();
    app.sign_in(&client, "frank").await;
    let info: Value = client
        .get(app.url("/userinfo/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info, json!({ "name": "frank", "avatar": null }));
}

async fn refresh_on(app: &TestApp, refresh: &str) -> Gql {
    let response = reqwest::Client::new()
        .post(app.url("/token/refresh/"))
        .json(&json!({ "refresh": refresh }))
        .send()
        .await
        .unwrap();
    Gql::read(response).await
}

/// Two web processes on one database (and one Redis when TEST_REDIS_URL is
/// set): signing out on one revokes the session's refresh tokens on both.
#[tokio::test]
async fn signing_out_revokes_the_sessions_refresh_tokens_on_every_instance() {
    let app = TestApp::spawn().await;
    let other_instance = app.second_instance().await;
    let (leaving, staying) = (browser(), browser());
    app.sign_in(&leaving, "erin").await;
    app.sign_in(&staying, "erin").await;
    let pair: Value = obtain(&app, &leaving).await.json().await.unwrap();
    let refresh = pair["refresh"].as_str().unwrap();
    let kept: Value = obtain(&app, &staying).await.json().await.unwrap();
    assert_eq!(refresh_on(&other_instance, refresh).await.status, 200);

    let logout = leaving.get(app.url("/logout/")).send().await.unwrap();
    assert_eq!(logout.status(), 303);
    let refused = refresh_on(&other_instance, refresh).await;
    assert_refused(&refused);
    assert!(refused.message().contains("revoked"), "{}", refused.body);
    assert_refused(&refresh_on(&app, refresh).await);
    let other_session = refresh_on(&other_instance, kept["refresh"].as_str().unwrap()).await;
    assert_eq!(
        other_session.status, 200,
        "another session's tokens live on"
    );
}
