//! Who may keep a subscription's WebSocket, and how many: credentials that
//! stop holding (a session signed out, a JWT expired), guessing credentials in
//! connection_init, connections per client, subscriptions per connection, and
//! the query limits, each performed over a real WebSocket.

use std::time::Duration;

use chrono::Utc;
use iodide_server::{
    auth::jwt::{self, TokenType},
    graphql::limits::{MAX_COMPLEXITY, MAX_DEPTH},
};
use serde_json::{Value, json};

use crate::{
    common::{
        TestApp,
        request::{CookieUser, RequestHelper},
        ws::{Heard, WsClient},
    },
    subscriptions::{REVISION_SAVED, token},
};

/// Rechecks credentials often, so that a test sees a connection end soon.
fn rechecking() -> crate::common::TestAppBuilder {
    TestApp::builder().configure(|config| config.live.recheck_interval = Duration::from_millis(200))
}

/// A WebSocket from the site's own page, with the browser's cookie and an
/// empty connection_init: the cookie is the identity.
async fn from_the_site(app: &TestApp, browser: &CookieUser) -> WsClient {
    let (origin, cookie) = (app.origin(), browser.cookie_header());
    let mut client = WsClient::connect(app, &[("origin", &origin), ("cookie", &cookie)])
        .await
        .unwrap();
    client.init_acked(json!({})).await;
    client
}

/// The payload of the next answer to subscription `id`, data or errors.
async fn answer(client: &mut WsClient, id: &str) -> Value {
    match client.next().await {
        Heard::Next(sid, payload) | Heard::Error(sid, payload) if sid == id => payload,
        other => panic!("expected an answer to {id}, got {other:?}"),
    }
}

/// The code of the first error that `payload` (a next or error message) holds.
fn code(payload: &Value) -> &str {
    let first = match payload.get("errors") {
        Some(errors) => &errors[0],
        None => &payload[0],
    };
    first["extensions"]["code"].as_str().unwrap_or_default()
}

fn message(payload: &Value) -> String {
    match payload.get("errors") {
        Some(errors) => errors[0]["message"].to_string(),
        None => payload[0]["message"].to_string(),
    }
}

#[tokio::test]
async fn a_session_that_signs_out_ends_the_connection_its_cookie_opened() {
    // Internal mode: the ack itself shows that the cookie was the identity.
    let app = rechecking().restrict_api().spawn().await;
    let carol = app.user("carol").await;
    let (id, _) = app.notebook(&carol, "Shared", "v0").await;
    let alice = app.signed_in("alice").await;
    let bob = app.signed_in("bob").await;
    let mut alices = from_the_site(&app, &alice).await;
    let mut bobs = from_the_site(&app, &bob).await;
    alices
        .subscribe("1", REVISION_SAVED, json!({ "id": id }))
        .await;

    let signed_out = alice.get("/logout/").send().await.unwrap();
    assert_eq!(signed_out.status(), 303);

    assert!(matches!(alices.next().await, Heard::Closed(4403, _)));
    // Bob's session holds: his connection still answers.
    bobs.subscribe("1", REVISION_SAVED, json!({ "id": "999" }))
        .await;
    assert_eq!(code(&answer(&mut bobs, "1").await), "NOT_FOUND");
}

#[tokio::test]
async fn an_expired_jwt_ends_its_connection() {
    let app = rechecking().spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Live", "v0").await;
    // Issued so that it expires in a second (verification allows 5 s more).
    let issued = Utc::now() - jwt::ACCESS_LIFETIME + chrono::Duration::seconds(1);
    let secret = &app.state.config.secret_key;
    let access = jwt::issue(secret, alice.model.id, TokenType::Access, issued);
    let bearer = json!({ "Authorization": format!("Bearer {access}") });
    let mut client = WsClient::initialised(&app, bearer).await;
    client
        .subscribe("1", REVISION_SAVED, json!({ "id": id }))
        .await;

    assert!(matches!(client.next().await, Heard::Closed(4403, _)));
}

#[tokio::test]
async fn guessing_tokens_in_connection_init_is_charged_then_refused_without_a_lookup() {
    let app = TestApp::builder()
        .configure(|config| config.rate_limit_per_minute = 6)
        .spawn()
        .await;
    // Signed in first: the sign-in costs the address one request.
    let alice = app.signed_in("alice").await;

    // Each guess costs the address two requests, the upgrade and the refused
    // credential: 5 left make two guesses looked up, then the third upgrade
    // takes the last request and its guess is refused unlooked-up (4429).
    let mut looked_up = 0;
    loop {
        let mut client = WsClient::connect(&app, &[]).await.unwrap();
        client
            .init(json!({ "Authorization": format!("Token guess{looked_up}") }))
            .await;
        match client.next().await {
            Heard::Closed(4403, _) => looked_up += 1,
            Heard::Closed(4429, reason) => {
                assert!(reason.contains("Too many requests"), "{reason}");
                break;
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(looked_up <= 2, "more guesses were looked up than allowed");
    }
    let refused = WsClient::refused(&app, &[]).await;
    assert_eq!(refused.status, 429);
    assert!(refused.retry_after.is_some(), "{refused:?}");

    // A signed-in browser at the same address is charged as its user, but a
    // credential it sends is still its address's: refused before any lookup.
    let mut client = from_the_site_uninitialised(&app, &alice).await;
    let before = app.statements();
    client
        .init(json!({ "Authorization": "Token one-more-guess" }))
        .await;
    assert!(matches!(client.next().await, Heard::Closed(4429, _)));
    assert_eq!(app.statements(), before, "no SQL for a refused guess");
}

async fn from_the_site_uninitialised(app: &TestApp, browser: &CookieUser) -> WsClient {
    let (origin, cookie) = (app.origin(), browser.cookie_header());
    WsClient::connect(app, &[("origin", &origin), ("cookie", &cookie)])
        .await
        .unwrap()
}

#[tokio::test]
async fn a_client_holds_at_most_its_connections_and_closing_one_frees_a_place() {
    let app = TestApp::builder()
        .configure(|config| config.live.connections_per_client = 2)
        .spawn()
        .await;
    let first = WsClient::connect(&app, &[]).await.unwrap();
    let _second = WsClient::connect(&app, &[]).await.unwrap();

    let refused = WsClient::refused(&app, &[]).await;
    assert_eq!(refused.status, 429);
    assert!(refused.retry_after.is_some(), "{refused:?}");

    first.close().await;
    // The place is given back when the server's side of the connection ends,
    // just after the close handshake.
    let mut third = None;
    for _ in 0..100 {
        match WsClient::connect(&app, &[]).await {
            Ok(client) => {
                third = Some(client);
                break;
            }
            Err(status) => assert_eq!(status, 429),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut third = third.expect("closing a connection frees its place");
    third.init_acked(json!({})).await;
}

#[tokio::test]
async fn a_connection_runs_at_most_its_subscriptions_and_completing_one_frees_a_place() {
    let app = TestApp::builder()
        .configure(|config| config.live.subscriptions_per_connection = 2)
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Live", "v0").await;
    let mut client = WsClient::initialised(&app, token(&alice)).await;
    for sid in ["1", "2", "3"] {
        client
            .subscribe(sid, REVISION_SAVED, json!({ "id": id }))
            .await;
    }

    // They start in no set order: whichever comes third is refused.
    let refused = match client.next().await {
        Heard::Next(sid, payload) | Heard::Error(sid, payload) => {
            assert_eq!(code(&payload), "BAD_USER_INPUT", "{payload}");
            assert!(message(&payload).contains("at most 2"), "{payload}");
            sid
        }
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(client.next().await, Heard::Complete(refused.clone()));
    let running = ["1", "2", "3"]
        .into_iter()
        .find(|sid| *sid != refused)
        .unwrap();
    client.complete(running).await;
    assert_eq!(client.next().await, Heard::Complete(running.into()));
    // The freed place is taken: the answer is about the notebook, not the limit.
    client
        .subscribe("4", REVISION_SAVED, json!({ "id": "999" }))
        .await;
    assert_eq!(code(&answer(&mut client, "4").await), "NOT_FOUND");
}

#[tokio::test]
async fn subscriptions_have_the_depth_and_complexity_limits_of_queries() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Live", "v0").await;
    let mut client = WsClient::initialised(&app, token(&alice)).await;
    // Two levels per link, the subscription field and `id`: 18 levels.
    let deep = format!(
        "subscription($id: ID!) {{ notebookChanged(id: $id) {{ {} id {} }} }}",
        "latestRevision { notebook { ".repeat(8),
        "} } ".repeat(8)
    );
    let costly = "subscription($id: ID!) { notebookChanged(id: $id) {
        revisions(first: 100) { nodes { notebook { revisions(first: 100) { nodes { id } } } } }
    } }";

    for (sid, query, limit) in [
        ("1", deep.as_str(), MAX_DEPTH),
        ("2", costly, MAX_COMPLEXITY),
    ] {
        client.subscribe(sid, query, json!({ "id": id })).await;
        let payload = answer(&mut client, sid).await;
        assert_eq!(code(&payload), "QUERY_TOO_COMPLEX", "{payload}");
        assert!(message(&payload).contains(&limit.to_string()), "{payload}");
        // Refused at once: it ends, with nothing running.
        assert_eq!(client.next().await, Heard::Complete(sid.into()));
    }
}

#[tokio::test]
async fn a_client_that_answers_no_pings_is_closed_and_its_place_given_back() {
    let app = TestApp::builder()
        .configure(|config| {
            config.live.keepalive = Duration::from_millis(100);
            config.live.connections_per_client = 1;
        })
        .spawn()
        .await;
    let mut silent = WsClient::connect(&app, &[]).await.unwrap();
    silent.init(json!({})).await;

    // It reads nothing, so it answers none of the pings (as a peer that is
    // gone without closing): after two unanswered, its place is free again.
    let mut admitted = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        match WsClient::connect(&app, &[]).await {
            Ok(client) => {
                admitted = Some(client);
                break;
            }
            Err(status) => assert_eq!(status, 429),
        }
    }
    let mut admitted = admitted.expect("the silent connection's place is given back");
    // One that reads answers the pings and stays, over several of them.
    admitted.init_acked(json!({})).await;
    let quiet = tokio::time::timeout(Duration::from_millis(500), admitted.next()).await;
    assert!(quiet.is_err(), "nothing to hear but pings: {quiet:?}");
    admitted
        .subscribe("1", REVISION_SAVED, json!({ "id": "999" }))
        .await;
    assert_eq!(code(&answer(&mut admitted, "1").await), "NOT_FOUND");
    drop(silent);
}

#[tokio::test]
async fn each_subscription_start_is_charged_to_the_rate_limit() {
    let app = TestApp::builder()
        .configure(|config| config.rate_limit_per_minute = 4)
        .spawn()
        .await;
    // The upgrade costs one request of the four.
    let mut client = WsClient::initialised(&app, json!({})).await;
    for sid in ["1", "2", "3"] {
        client
            .subscribe(sid, REVISION_SAVED, json!({ "id": "999" }))
            .await;
        assert_eq!(code(&answer(&mut client, sid).await), "NOT_FOUND");
        assert_eq!(client.next().await, Heard::Complete(sid.into()));
    }
    client
        .subscribe("4", REVISION_SAVED, json!({ "id": "999" }))
        .await;
    assert_eq!(code(&answer(&mut client, "4").await), "RATE_LIMITED");
}
