//! Faults survived with nothing lost: a database restart in the middle of a stream
//! of autosaves, and SIGTERM in the middle of one.

use std::{
    process::Command,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};

use crate::common::{TestApp, postgres_cluster::PostgresCluster};

const SAVE: &str =
    "mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id } }";

/// A save that the server refused: its status and Retry-After.
type Refusal = (u16, Option<String>);

/// Saves revisions one after another until told to stop, keeping the content of
/// every save that the server acknowledged.
struct Autosaver {
    acknowledged: Arc<Mutex<Vec<String>>>,
    unavailable: Arc<Mutex<Vec<Refusal>>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Autosaver {
    fn start(url: String, token: String, notebook_id: String) -> Autosaver {
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let unavailable = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (saved, refused) = (acknowledged.clone(), unavailable.clone());
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !*stopped.borrow() {
                n += 1;
                let content = format!("save {n}");
                let input =
                    json!({ "notebookId": notebook_id, "title": "Autosave", "content": content });
                let response = client
                    .post(&url)
                    .header("Authorization", format!("Token {token}"))
                    .json(&json!({ "query": SAVE, "variables": { "input": input } }))
                    .timeout(Duration::from_secs(15))
                    .send()
                    .await;
                match response {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let retry = response
                            .headers()
                            .get("retry-after")
                            .map(|v| v.to_str().unwrap().to_string());
                        let body: Value = response.json().await.unwrap_or(Value::Null);
                        if body["data"]["createRevision"]["id"].is_string() {
                            saved.lock().unwrap().push(content);
                        } else {
                            refused.lock().unwrap().push((status, retry));
                        }
                    }
                    Err(_) => refused.lock().unwrap().push((0, None)),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Autosaver {
            acknowledged,
            unavailable,
            stop,
            task,
        }
    }

    fn saved(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }

    async fn finish(self) -> (Vec<String>, Vec<Refusal>) {
        let _ = self.stop.send(true);
        self.task.await.unwrap();
        let saved = self.acknowledged.lock().unwrap().clone();
        let refused = self.unavailable.lock().unwrap().clone();
        (saved, refused)
    }
}

async fn wait_until(mut condition: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting");
}

/// Every content in `saved` is a revision of the notebook.
async fn assert_all_stored(app: &TestApp, notebook_id: &str, saved: &[String]) {
    let mut stored = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app
            .gql(
                None,
                "query($id: ID!, $after: String) { notebook(id: $id) { revisions(first: 100, after: $after) { nodes { content } pageInfo { hasNextPage endCursor } } } }",
                json!({ "id": notebook_id, "after": after }),
            )
            .await;
        let revisions = page.data()["notebook"]["revisions"].clone();
        stored.extend(
            revisions["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["content"].as_str().unwrap().to_string()),
        );
        if revisions["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = revisions["pageInfo"]["endCursor"]
            .as_str()
            .map(String::from);
    }
    for content in saved {
        assert!(
            stored.contains(content),
            "{content:?} was acknowledged but is not stored"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_loses_no_acknowledged_save() {
    let Some(cluster) = PostgresCluster::start() else {
        return;
    };
    let app = TestApp::builder()
        .database_url(cluster.url())
        .configure(|c| c.database.acquire_timeout = Duration::from_secs(1))
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Autosave", "first").await;
    let autosaver = Autosaver::start(app.url("/api/graphql"), alice.token.clone(), id.clone());
    wait_until(async || autosaver.saved() >= 10).await;

    cluster.stop();
    let heartbeat = app
        .client
        .get(app.url("/__heartbeat__"))
        .send()
        .await
        .unwrap();
    assert_eq!(heartbeat.status(), 503);
    let down: Value = heartbeat.json().await.unwrap();
    assert_eq!(down["checks"]["database"], "unreachable");
    let saved_before_restart = autosaver.saved();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.start_again();

    wait_until(async || autosaver.saved() >= saved_before_restart + 10).await;
    let (saved, refused) = autosaver.finish().await;
    assert!(!refused.is_empty(), "some saves should have met the outage");
    for (status, retry_after) in &refused {
        assert_eq!(*status, 503, "an outage is 503, not {status}");
        assert!(retry_after.is_some(), "with Retry-After");
    }
    assert_all_stored(&app, &id, &saved).await;
    let heartbeat = app
        .client
        .get(app.url("/__heartbeat__"))
        .send()
        .await
        .unwrap();
    assert_eq!(heartbeat.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_saves_and_exits() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Autosave", "first").await;
    let (mut server, port) = app.start_binary();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_until(async || {
        client
            .get(format!("{base}/__lbheartbeat__"))
            .send()
            .await
            .is_ok()
    })
    .await;

    let autosaver = Autosaver::start(
        format!("{base}/api/graphql"),
        alice.token.clone(),
        id.clone(),
    );
    wait_until(async || autosaver.saved() >= 10).await;
    let started = std::time::Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    let stopped_after = started.elapsed();
    let (saved, _refused) = autosaver.finish().await;

    assert!(
        status.success(),
        "the server exits cleanly on SIGTERM: {status}"
    );
    assert!(
        stopped_after < Duration::from_secs(25),
        "it took {stopped_after:?}"
    );
    assert_all_stored(&app, &id, &saved).await;
}
