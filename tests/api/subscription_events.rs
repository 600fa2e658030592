//! What notebookChanged and fileUpdateOperationChanged deliver: files added,
//! replaced and removed and a new title, each as it happens; a fetch's
//! statuses in order, from a worker that publishes and does not listen.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use iodide_server::{
    cache::RedisConnection,
    config::Config,
    events::{Event, Events},
    worker::Worker,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{
    common::{
        TestApp, TestUser,
        clock::TestClock,
        request::RequestHelper,
        source_server::SourceServer,
        ws::{Heard, WsClient},
    },
    subscriptions::token,
};

const NOTEBOOK_CHANGED: &str = "subscription($id: ID!) {
    notebookChanged(id: $id) { title files { filename size } }
}";

async fn save_titled(app: &TestApp, owner: &TestUser, id: &str, title: &str) {
    app.gql(
        Some(owner),
        "mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id } }",
        json!({ "input": { "notebookId": id, "title": title, "content": title } }),
    )
    .await
    .data();
}

const SOURCES_CHANGED: &str = "subscription($id: ID!) {
    notebookChanged(id: $id) { title fileSources { filename url } }
}";

#[tokio::test]
async fn file_sources_added_changed_and_removed_each_arrive() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Sources", "").await;
    let mut client = watching(&app, &alice, &id, SOURCES_CHANGED).await;
    let created = alice
        .gql(
            "mutation($input: CreateFileSourceInput!) { createFileSource(input: $input) { id } }",
            json!({ "input": { "notebookId": id, "filename": "a.csv", "url": "https://example.org/a.csv" } }),
        )
        .await;
    let source = created.data()["createFileSource"]["id"].clone();
    assert_eq!(
        next_notebook(&mut client).await["fileSources"],
        json!([{ "filename": "a.csv", "url": "https://example.org/a.csv" }])
    );

    alice
        .gql(
            "mutation($input: UpdateFileSourceInput!) { updateFileSource(input: $input) { id } }",
            json!({ "input": { "id": source, "filename": "b.csv" } }),
        )
        .await
        .data();
    assert_eq!(
        next_notebook(&mut client).await["fileSources"],
        json!([{ "filename": "b.csv", "url": "https://example.org/a.csv" }])
    );

    alice
        .gql(
            "mutation($id: ID!) { deleteFileSource(id: $id) }",
            json!({ "id": source }),
        )
        .await
        .data();
    assert_eq!(next_notebook(&mut client).await["fileSources"], json!([]));
}

const FORK_CHANGED: &str = "subscription($id: ID!) {
    notebookChanged(id: $id) { title forkedFrom { id } }
}";

async fn fork(app: &TestApp, owner: &TestUser, revision: &str) -> String {
    let forked = app
        .gql(
            Some(owner),
            "mutation($rev: ID!) { createNotebook(input: \
             { title: \"Fork\", content: \"fork\", forkedFrom: $rev }) { id } }",
            json!({ "rev": revision }),
        )
        .await;
    forked.data()["createNotebook"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A fork's `forkedFrom` becomes null when the revision it came from is
/// deleted, alone or with its notebook: the fork's subscribers hear it.
#[tokio::test]
async fn a_fork_hears_that_the_revision_it_came_from_was_deleted() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (original, first) = app.notebook(&alice, "Original", "v1").await;
    save_titled(&app, &alice, &original, "Original 2").await;

    let by_revision = fork(&app, &alice, &first).await;
    let mut client = watching(&app, &alice, &by_revision, FORK_CHANGED).await;
    app.gql(
        Some(&alice),
        "mutation($id: ID!) { deleteRevision(id: $id) }",
        json!({ "id": first }),
    )
    .await
    .data();
    assert_eq!(next_notebook(&mut client).await["forkedFrom"], Value::Null);

    let latest = app
        .gql(
            None,
            "query($id: ID!) { notebook(id: $id) { latestRevision { id } } }",
            json!({ "id": original }),
        )
        .await;
    let latest = latest.data()["notebook"]["latestRevision"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let by_notebook = fork(&app, &alice, &latest).await;
    let mut client = watching(&app, &alice, &by_notebook, FORK_CHANGED).await;
    app.gql(
        Some(&alice),
        "mutation($id: ID!) { deleteNotebook(id: $id) }",
        json!({ "id": original }),
    )
    .await
    .data();
    assert_eq!(next_notebook(&mut client).await["forkedFrom"], Value::Null);
}

/// Subscribes to `id`'s changes and waits until the subscription is surely
/// running: a save made for the purpose is heard.
async fn watching_notebook(app: &TestApp, owner: &TestUser, id: &str) -> WsClient {
    watching(app, owner, id, NOTEBOOK_CHANGED).await
}

/// As [`watching_notebook`], with `query` (which must select the title).
async fn watching(app: &TestApp, owner: &TestUser, id: &str, query: &str) -> WsClient {
    let mut client = WsClient::initialised(app, token(owner)).await;
    client.subscribe("1", query, json!({ "id": id })).await;
    for attempt in 1..=20 {
        let marker = format!("ready {attempt}");
        save_titled(app, owner, id, &marker).await;
        let heard = tokio::time::timeout(Duration::from_millis(500), client.next_data()).await;
        if let Ok(mut data) = heard {
            // Earlier markers may come first; drain up to ours.
            while data["notebookChanged"]["title"] != marker.as_str() {
                data = client.next_data().await;
            }
            return client;
        }
    }
    panic!("the subscription never started");
}

async fn next_notebook(client: &mut WsClient) -> Value {
    client.next_data().await["notebookChanged"].clone()
}

#[tokio::test]
async fn files_added_replaced_and_removed_and_a_new_title_each_arrive() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Live", "").await;
    let mut client = watching_notebook(&app, &alice, &id).await;

    let uploaded = alice.upload(&id, "data.txt", b"one".to_vec()).await;
    let file_id = uploaded.data()["uploadFile"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        next_notebook(&mut client).await["files"],
        json!([{ "filename": "data.txt", "size": 3 }])
    );

    let operations = json!({
        "query": "mutation($input: UpdateFileInput!) { updateFile(input: $input) { id } }",
        "variables": { "input": { "id": file_id, "file": null } }
    });
    let map = json!({ "0": ["variables.input.file"] });
    let replaced = alice
        .send_file(operations, map, "data.txt", b"three".to_vec())
        .await;
    assert_eq!(replaced.status(), 200, "{}", replaced.text().await.unwrap());
    assert_eq!(
        next_notebook(&mut client).await["files"],
        json!([{ "filename": "data.txt", "size": 5 }])
    );

    alice
        .gql(
            "mutation($id: ID!) { deleteFile(id: $id) }",
            json!({ "id": file_id }),
        )
        .await
        .data();
    assert_eq!(next_notebook(&mut client).await["files"], json!([]));

    alice
        .gql(
            "mutation($id: ID!) { updateNotebookTitle(id: $id, title: \"Renamed\") { id } }",
            json!({ "id": id }),
        )
        .await
        .data();
    assert_eq!(next_notebook(&mut client).await["title"], "Renamed");
}

const OPERATION_CHANGED: &str = "subscription($id: ID!) {
    fileUpdateOperationChanged(id: $id) { status failureReason }
}";

/// A file source on `server`'s `path`, refreshed: the pending operation's id.
async fn refreshed_source(
    app: &TestApp,
    owner: &TestUser,
    server: &SourceServer,
    path: &str,
) -> String {
    let (notebook, _) = app.notebook(owner, "Data", "").await;
    let created = owner
        .gql(
            "mutation($input: CreateFileSourceInput!) { createFileSource(input: $input) { id } }",
            json!({ "input": { "notebookId": notebook, "filename": "data.csv", "url": server.url(path) } }),
        )
        .await;
    let source = created.data()["createFileSource"]["id"].clone();
    let refreshed = owner
        .gql(
            "mutation($id: ID!) { refreshFileSource(id: $id) { id } }",
            json!({ "id": source }),
        )
        .await;
    refreshed.data()["refreshFileSource"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A Redis connection of a process of its own, as the worker opens one.
fn worker_redis(config: &Config) -> Option<RedisConnection> {
    RedisConnection::from_config(&config.cache).unwrap()
}

/// A worker as `iodide-server worker` runs it: its own events, publishing
/// only, so that what it tells crosses Redis or NOTIFY to the app's
/// subscribers. On SQLite (one process) it shares the app's events.
fn separate_worker(app: &TestApp, clock: &TestClock) -> Worker {
    let config = &app.state.config;
    let crosses = config.cache.redis_url.is_some() || config.database.url.starts_with("postgres");
    let events = if crosses {
        Events::publishing_only(config, &app.state.db, worker_redis(config)).unwrap()
    } else {
        app.state.events.clone()
    };
    Worker::new(app.state.db.clone(), app.state.cache.clone(), config)
        .unwrap()
        .with_clock(clock.as_clock())
        .with_events(events)
}

/// The statuses that subscription "1" delivers until it completes.
async fn statuses(client: &mut WsClient) -> Vec<(String, Value)> {
    let mut heard = Vec::new();
    loop {
        match client.next().await {
            Heard::Next(_, payload) => {
                let operation = &payload["data"]["fileUpdateOperationChanged"];
                assert!(payload.get("errors").is_none(), "{payload}");
                heard.push((
                    operation["status"].as_str().unwrap().to_string(),
                    operation["failureReason"].clone(),
                ));
            }
            Heard::Complete(_) => return heard,
            other => panic!("expected statuses, got {other:?}"),
        }
    }
}

fn fetching_from_loopback() -> crate::common::TestAppBuilder {
    TestApp::builder().configure(|config| {
        config.fetch.allowed_networks = vec!["127.0.0.1/32".parse().unwrap()];
        config.fetch.timeout = Duration::from_secs(1);
    })
}

/// As [`fetching_from_loopback`], with a held fetch that outlasts the test's
/// steps, however slow the machine.
fn holding_fetches() -> crate::common::TestAppBuilder {
    fetching_from_loopback().configure(|config| config.fetch.timeout = Duration::from_secs(600))
}

/// `owner`'s subscription to the fetch of `path` that they just asked for,
/// once it has sent the fetch's first status, PENDING: it is then surely
/// running. Returns the fetch's id too.
async fn watching_fetch(
    app: &TestApp,
    owner: &TestUser,
    server: &SourceServer,
    path: &str,
) -> (String, WsClient) {
    let operation = refreshed_source(app, owner, server, path).await;
    let mut client = WsClient::initialised(app, token(owner)).await;
    client
        .subscribe("1", OPERATION_CHANGED, json!({ "id": operation }))
        .await;
    assert_eq!(status(client.next().await), "PENDING");
    (operation, client)
}

#[tokio::test]
async fn a_fetch_by_the_worker_arrives_as_pending_running_then_completed_or_failed() {
    let server = SourceServer::start().await;
    let app = fetching_from_loopback().spawn().await;
    let alice = app.user("alice").await;
    let clock = TestClock::at(Utc::now());
    let worker = separate_worker(&app, &clock);

    for (path, ended, reason) in [
        ("/data.csv", "COMPLETED", false),
        ("/missing", "FAILED", true),
    ] {
        let (_, mut client) = watching_fetch(&app, &alice, &server, path).await;

        clock.set(Utc::now());
        worker.run_pending().await.unwrap();

        let heard = statuses(&mut client).await;
        let names: Vec<&str> = heard.iter().map(|(status, _)| status.as_str()).collect();
        assert_eq!(names, ["RUNNING", ended], "{path}");
        assert_eq!(heard[1].1.is_string(), reason, "{path}: {heard:?}");
    }
}

#[tokio::test]
async fn a_fetch_that_ended_before_its_start_was_read_still_arrives_as_running_first() {
    let server = SourceServer::start().await;
    let app = fetching_from_loopback().spawn().await;
    let alice = app.user("alice").await;
    let (operation, mut client) = watching_fetch(&app, &alice, &server, "/missing").await;

    // The fetch starts and fails unheard (a worker whose events reach nobody);
    // then the start's event arrives, as when the read it causes comes after
    // the end.
    let clock = TestClock::at(Utc::now());
    let config = &app.state.config;
    Worker::new(app.state.db.clone(), app.state.cache.clone(), config)
        .unwrap()
        .with_clock(clock.as_clock())
        .run_pending()
        .await
        .unwrap();
    let operation_id = operation.parse().unwrap();
    app.state
        .events
        .publish(Event::OperationChanged { operation_id })
        .await;

    let heard = statuses(&mut client).await;
    assert_eq!(heard.len(), 2, "{heard:?}");
    assert_eq!(heard[0], ("RUNNING".to_string(), Value::Null));
    assert_eq!(heard[1].0, "FAILED");
    assert!(heard[1].1.is_string(), "{heard:?}");
}

#[tokio::test]
async fn a_fetch_handed_back_by_a_worker_shutting_down_arrives_as_pending_again() {
    let server = SourceServer::start().await;
    let app = holding_fetches().spawn().await;
    let alice = app.user("alice").await;
    let (_, mut client) = watching_fetch(&app, &alice, &server, "/hold").await;
    let mut heard = vec!["PENDING".to_string()];
    let clock = TestClock::at(Utc::now());
    let worker = separate_worker(&app, &clock);
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { worker.run(shutdown).await }
    });

    heard.push(status(client.next().await));
    shutdown.cancel();
    running.await.unwrap();
    heard.push(status(client.next().await));

    assert_eq!(heard, ["PENDING", "RUNNING", "PENDING"]);
}

fn status(heard: Heard) -> String {
    match heard {
        Heard::Next(_, payload) => payload["data"]["fileUpdateOperationChanged"]["status"]
            .as_str()
            .unwrap_or_else(|| panic!("{payload}"))
            .to_string(),
        other => panic!("expected a status, got {other:?}"),
    }
}

#[tokio::test]
async fn a_fetch_abandoned_by_a_dead_worker_arrives_as_failed_when_out_of_attempts() {
    use iodide_server::{entity::file_update_operation, worker::queue::MAX_ATTEMPTS};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

    let server = SourceServer::start().await;
    let app = holding_fetches().spawn().await;
    let alice = app.user("alice").await;
    let (operation, mut client) = watching_fetch(&app, &alice, &server, "/hold").await;

    // A worker dies in the middle of the fetch, for the last time allowed.
    let clock = TestClock::at(Utc::now());
    server.kill_while_held(separate_worker(&app, &clock)).await;
    assert_eq!(status(client.next().await), "RUNNING");
    let operation_id: i32 = operation.parse().unwrap();
    file_update_operation::Entity::update_many()
        .col_expr(
            file_update_operation::Column::Attempts,
            Expr::value(MAX_ATTEMPTS),
        )
        .filter(file_update_operation::Column::Id.eq(operation_id))
        .exec(&app.state.db)
        .await
        .unwrap();

    // Another worker finds it abandoned once the job timeout has passed.
    let job_timeout = app.state.config.worker.job_timeout;
    clock
        .advance(chrono::TimeDelta::from_std(job_timeout).unwrap() + chrono::TimeDelta::seconds(1));
    separate_worker(&app, &clock).run_pending().await.unwrap();

    let heard = statuses(&mut client).await;
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert_eq!(heard[0].0, "FAILED");
    assert!(heard[0].1.is_string(), "{heard:?}");
}

#[tokio::test]
async fn a_subscription_to_a_fetch_that_has_ended_gets_its_outcome_and_completes() {
    let server = SourceServer::start().await;
    let app = fetching_from_loopback().spawn().await;
    let alice = app.user("alice").await;
    let operation = refreshed_source(&app, &alice, &server, "/data.csv").await;
    let clock = TestClock::at(Utc::now());
    app.worker(&clock).run_pending().await.unwrap();

    let mut client = WsClient::initialised(&app, token(&alice)).await;
    client
        .subscribe("1", OPERATION_CHANGED, json!({ "id": operation }))
        .await;

    let heard = statuses(&mut client).await;
    assert_eq!(heard, [("COMPLETED".to_string(), Value::Null)]);
}

#[tokio::test]
async fn the_worker_publishes_without_subscribing_to_redis() {
    // The SQLite run has no Redis; .ci/run runs this file again with it.
    let Some(url) = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        return;
    };
    let app = TestApp::spawn().await;
    let config = &app.state.config;
    let channel = format!("{}events", config.cache.key_prefix);
    let redis = redis::Client::open(url).unwrap();
    let mut redis = redis.get_multiplexed_async_connection().await.unwrap();

    // The web app listens (from a task that may not have subscribed yet).
    let mut listening = 0;
    for _ in 0..100 {
        listening = subscribers(&mut redis, &channel).await;
        if listening == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(listening, 1, "the web app subscribes");

    let worker_events =
        Events::publishing_only(config, &app.state.db, worker_redis(config)).unwrap();
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Live", "").await;
    let mut client = WsClient::initialised(&app, token(&alice)).await;
    client
        .subscribe("1", NOTEBOOK_CHANGED, json!({ "id": id }))
        .await;
    // What the worker publishes arrives (the subscription may start late: retry).
    let notebook_id: i32 = id.parse().unwrap();
    let mut heard = None;
    for _ in 0..20 {
        worker_events
            .publish(iodide_server::files::files_changed(notebook_id))
            .await;
        if let Ok(data) = tokio::time::timeout(Duration::from_millis(500), client.next_data()).await
        {
            heard = Some(data);
            break;
        }
    }
    assert_eq!(heard.unwrap()["notebookChanged"]["title"], "Live");
    assert_eq!(
        subscribers(&mut redis, &channel).await,
        1,
        "only the web app subscribes"
    );
}

/// How many connections are subscribed to `channel` (PUBSUB NUMSUB).
async fn subscribers(redis: &mut redis::aio::MultiplexedConnection, channel: &str) -> u64 {
    let counts: HashMap<String, u64> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(redis)
        .await
        .unwrap();
    counts[channel]
}
