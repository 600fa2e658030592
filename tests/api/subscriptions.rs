//! Subscriptions over real WebSockets (graphql-transport-ws): delivery in
//! order, from other instances through Redis and PostgreSQL NOTIFY, the read
//! rules, Origin checks, and credentials that stop holding.

use std::{process::Command, time::Duration};

use iodide_server::auth::api_token;
use serde_json::{Value, json};

use crate::common::{
    TestApp, TestUser,
    ws::{Heard, WsClient},
};

pub const REVISION_SAVED: &str = "subscription($id: ID!) {
    revisionSaved(notebookId: $id) { id content notebook { title } }
}";

pub async fn save(app: &TestApp, owner: &TestUser, id: &str, content: &str) -> String {
    let response = app
        .gql(
            Some(owner),
            "mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id } }",
            json!({ "input": { "notebookId": id, "title": "Live", "content": content } }),
        )
        .await;
    response.data()["createRevision"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn token(user: &TestUser) -> Value {
    json!({ "Authorization": format!("Token {}", user.token) })
}

/// Subscribes to `id`'s saves and waits until the subscription is surely
/// running: a save made for the purpose is heard.
pub async fn watching(app: &TestApp, owner: &TestUser, id: &str) -> WsClient {
    watching_with(app, owner, id, REVISION_SAVED).await
}

/// As [`watching`], with `query` (a revisionSaved that selects the content).
pub async fn watching_with(app: &TestApp, owner: &TestUser, id: &str, query: &str) -> WsClient {
    let mut client = WsClient::initialised(app, token(owner)).await;
    client.subscribe("1", query, json!({ "id": id })).await;
    // The subscription starts asynchronously: save until one is heard.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let marker = format!("ready {attempt}");
        save(app, owner, id, &marker).await;
        let heard = tokio::time::timeout(Duration::from_millis(500), client.next_data()).await;
        if let Ok(data) = heard {
            // Later markers may follow; drain up to ours.
            let mut content = data["revisionSaved"]["content"]
                .as_str()
                .unwrap()
                .to_string();
            while content != marker {
                content = client.next_data().await["revisionSaved"]["content"]
                    .as_str()
                    .unwrap()
                    .to_string();
            }
            return client;
        }
        assert!(attempt < 20, "the subscription never started");
    }
}

async fn contents(client: &mut WsClient, count: usize) -> Vec<String> {
    let mut heard = Vec::new();
    for _ in 0..count {
        let data = client.next_data().await;
        heard.push(
            data["revisionSaved"]["content"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    heard
}

fn numbered(count: usize) -> Vec<String> {
    (1..=count).map(|n| format!("v{n}")).collect()
}

#[tokio::test]
async fn every_save_arrives_once_and_in_order_under_a_burst() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Live", "v0").await;
    let mut client = watching(&app, &alice, &id).await;

    let expected = numbered(25);
    for content in &expected {
        save(&app, &alice, &id, content).await;
    }

    assert_eq!(contents(&mut client, expected.len()).await, expected);
}

#[tokio::test]
async fn a_deleted_notebook_completes_its_subscriptions_and_a_missing_one_is_not_found() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Live", "v0").await;
    let mut client = watching(&app, &alice, &id).await;

    let deleted = app
        .gql(
            Some(&alice),
            "mutation($id: ID!) { deleteNotebook(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted.data()["deleteNotebook"], id.as_str());
    assert_eq!(client.next().await, Heard::Complete("1".into()));

    client
        .subscribe("2", REVISION_SAVED, json!({ "id": id }))
        .await;
    match client.next().await {
        Heard::Next(sid, payload) => {
            assert_eq!(sid, "2");
            assert_eq!(payload["errors"][0]["extensions"]["code"], "NOT_FOUND");
        }
        Heard::Error(sid, errors) => {
            assert_eq!(sid, "2");
            assert_eq!(errors[0]["extensions"]["code"], "NOT_FOUND");
        }
        other => panic!("expected NOT_FOUND, got {other:?}"),
    }
}

#[tokio::test]
async fn an_internal_server_refuses_anonymous_connections_and_serves_a_token() {
    let app = TestApp::builder().restrict_api().spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Private", "v0").await;

    let mut anonymous = WsClient::connect(&app, &[]).await.unwrap();
    anonymous.init(json!({})).await;
    assert!(matches!(anonymous.next().await, Heard::Closed(4403, _)));

    let mut client = watching(&app, &alice, &id).await;
    save(&app, &alice, &id, "secret").await;
    assert_eq!(contents(&mut client, 1).await, ["secret"]);
}

#[tokio::test]
async fn a_cross_site_origin_is_refused_and_the_site_and_scripts_are_served() {
    let app = TestApp::spawn().await;
    let refused = WsClient::connect(&app, &[("origin", "https://evil.example")]).await;
    assert_eq!(refused.err(), Some(403));

    let origin = app.origin();
    let mut own = WsClient::connect(&app, &[("origin", origin.as_str())])
        .await
        .unwrap();
    own.init(json!({})).await;
    let mut script = WsClient::connect(&app, &[]).await.unwrap();
    script.init(json!({})).await;
    for client in [&mut own, &mut script] {
        assert_eq!(client.next().await, Heard::Ack);
        client
            .subscribe("1", REVISION_SAVED, json!({ "id": "999" }))
            .await;
        // Served (initialised): the answer is about the notebook.
        match client.next().await {
            Heard::Next(_, payload) | Heard::Error(_, payload) => {
                assert!(payload.to_string().contains("NOT_FOUND"), "{payload}")
            }
            other => panic!("expected NOT_FOUND, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_connection_without_connection_init_is_closed() {
    let app = TestApp::builder()
        .configure(|config| config.live.init_timeout = Duration::from_millis(300))
        .spawn()
        .await;
    let mut client = WsClient::connect(&app, &[]).await.unwrap();
    assert!(matches!(client.next().await, Heard::Closed(4408, _)));
}

#[tokio::test]
async fn a_revoked_token_ends_its_connection() {
    let app = TestApp::builder()
        .configure(|config| config.live.recheck_interval = Duration::from_millis(200))
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Live", "v0").await;
    let mut client = watching(&app, &alice, &id).await;

    api_token::revoke(&app.state.db, &app.state.cache, &alice.token)
        .await
        .unwrap();

    assert!(matches!(client.next().await, Heard::Closed(4403, _)));
}

#[tokio::test]
async fn saves_on_another_instance_arrive_through_redis() {
    // The SQLite run has neither; .ci/run runs this file again with both set
    // (and fails when PostgreSQL or Redis is unreachable there).
    if std::env::var("TEST_REDIS_URL")
        .unwrap_or_default()
        .is_empty()
    {
        return;
    }
    let first = TestApp::spawn().await;
    saves_on_a_second_instance_reach_the_first(first).await;
}

#[tokio::test]
async fn saves_on_another_instance_arrive_through_postgres_notify() {
    // The SQLite run has neither; .ci/run runs this file again with both set
    // (and fails when PostgreSQL or Redis is unreachable there).
    if std::env::var("TEST_DATABASE_URL")
        .unwrap_or_default()
        .is_empty()
    {
        return;
    }
    let first = TestApp::builder()
        .configure(|config| config.cache.redis_url = None)
        .spawn()
        .await;
    saves_on_a_second_instance_reach_the_first(first).await;
}

/// Ten saves on a second instance of `first` reach a subscriber of `first`,
/// each once and in order.
async fn saves_on_a_second_instance_reach_the_first(first: TestApp) {
    let second = first.second_instance().await;
    let alice = first.user("alice").await;
    let (id, _) = first.notebook(&alice, "Live", "v0").await;
    let mut client = watching(&first, &alice, &id).await;

    let expected = numbered(10);
    for content in &expected {
        save(&second, &alice, &id, content).await;
    }

    assert_eq!(contents(&mut client, expected.len()).await, expected);
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_and_completed() {
    let app = TestApp::builder()
        .configure(|config| config.live.events_buffer = 2)
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Live", "v0").await;
    // A client that reads nothing yet, through a small receive buffer: the
    // server's writes stall, and with them its reading of events.
    let mut client = WsClient::connect_to(app.address, &[], Some(4096))
        .await
        .unwrap();
    client.init_acked(token(&alice)).await;
    client
        .subscribe("1", REVISION_SAVED, json!({ "id": id }))
        .await;
    let large = "x".repeat(256 * 1024);
    for n in 0..60 {
        save(&app, &alice, &id, &format!("{n} {large}")).await;
    }

    let mut delivered = 0;
    let told = loop {
        match client.next().await {
            Heard::Next(_, payload) if payload.get("errors").is_none() => delivered += 1,
            Heard::Next(_, payload) => break payload["errors"][0].clone(),
            other => panic!("expected revisions then an error, got {other:?}"),
        }
    };
    assert!(
        delivered < 60,
        "every save was delivered: nothing fell behind"
    );
    assert_eq!(told["extensions"]["code"], "CONFLICT");
    assert!(
        told["message"].as_str().unwrap().contains("fell behind"),
        "{told}"
    );
    assert_eq!(client.next().await, Heard::Complete("1".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_subscriptions_with_going_away() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Live", "v0").await;
    let (mut server, port) = app.start_binary();
    let address: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut client = loop {
        if std::net::TcpStream::connect(address).is_ok() {
            break WsClient::connect_to(address, &[], None).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    client.init_acked(token(&alice)).await;
    client
        .subscribe("1", REVISION_SAVED, json!({ "id": id }))
        .await;

    let terminated = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());

    assert!(matches!(client.next().await, Heard::Closed(1001, _)));
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "the server exits cleanly: {status}");
}
