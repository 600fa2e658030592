//! The worker against real file sources: a local web server, the real queue in
//! the database, and a clock the test moves.

use std::{sync::atomic::Ordering, time::Duration};

use chrono::{TimeDelta, Utc};
use iodide_server::{
    entity::file_update_operation,
    files::sources,
    worker::{Finished, Outcome, queue, schedule},
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::common::{
    TestApp, TestAppBuilder, TestUser, clock::TestClock, source_server::SourceServer,
};

/// Lets file sources reach the test's web server on 127.0.0.1, and only it:
/// 127.0.0.2 stands for the internal network.
fn fetching_from_loopback() -> TestAppBuilder {
    TestApp::builder().configure(|config| {
        config.fetch.allowed_networks = vec!["127.0.0.1/32".parse().unwrap()];
        config.fetch.timeout = Duration::from_secs(1);
    })
}

async fn create_source(
    app: &TestApp,
    owner: &TestUser,
    notebook_id: &str,
    filename: &str,
    url: &str,
    interval: Option<&str>,
) -> String {
    let created = app
        .gql(
            Some(owner),
            "mutation($input: CreateFileSourceInput!) { createFileSource(input: $input) { id } }",
            json!({ "input": { "notebookId": notebook_id, "filename": filename, "url": url, "updateInterval": interval } }),
        )
        .await;
    created.data()["createFileSource"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn refresh(app: &TestApp, owner: &TestUser, source_id: &str) -> String {
    let refreshed = app
        .gql(
            Some(owner),
            "mutation($id: ID!) { refreshFileSource(id: $id) { id status } }",
            json!({ "id": source_id }),
        )
        .await;
    assert_eq!(refreshed.data()["refreshFileSource"]["status"], "PENDING");
    refreshed.data()["refreshFileSource"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn operation(app: &TestApp, viewer: Option<&TestUser>, id: &str) -> Value {
    let response = app
        .gql(
            viewer,
            "query($id: ID!) { fileUpdateOperation(id: $id) { status failureReason startedAt endedAt } }",
            json!({ "id": id }),
        )
        .await;
    response.data()["fileUpdateOperation"].clone()
}

async fn raw_file(app: &TestApp, notebook_id: &str, filename: &str) -> (u16, String) {
    let response = app
        .client
        .get(app.url(&format!("/notebooks/{notebook_id}/files/{filename}")))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn finished(id: &str, outcome: Outcome) -> Finished {
    Finished {
        operation_id: id.parse().unwrap(),
        outcome,
    }
}

#[tokio::test]
async fn a_refreshed_source_fills_its_file_and_a_later_fetch_replaces_it() {
    let server = SourceServer::start().await;
    let app = fetching_from_loopback().spawn().await;
    let alice = app.user("alice").await;
    let (notebook, _) = app.notebook(&alice, "Data", "").await;
    let source = create_source(
        &app,
        &alice,
        &notebook,
        "data.csv",
        &server.url("/data.csv"),
        None,
    )
    .await;
    let first = refresh(&app, &alice, &source).await;

    let clock = TestClock::at(Utc::now());
    let pass = app.worker(&clock).run_pending().await.unwrap();
    assert_eq!(pass.fetched, [finished(&first, Outcome::Completed)]);
    let done = operation(&app, Some(&alice), &first).await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["failureReason"], Value::Null);
    assert!(
        done["startedAt"].is_string() && done["endedAt"].is_string(),
        "{done}"
    );
    assert_eq!(
        raw_file(&app, &notebook, "data.csv").await,
        (200, "a,b\n1,2\n".into())
    );

    app.gql(
        Some(&alice),
        "mutation($input: UpdateFileSourceInput!) { updateFileSource(input: $input) { id } }",
        json!({ "input": { "id": source, "url": server.url("/v2.csv") } }),
    )
    .await
    .data();
    let second = refresh(&app, &alice, &source).await;
    clock.set(Utc::now());
    let pass = app.worker(&clock).run_pending().await.unwrap();
    assert_eq!(pass.fetched, [finished(&second, Outcome::Completed)]);
    assert_eq!(
        raw_file(&app, &notebook, "data.csv").await,
        (200, "a,b\n3,4\n".into())
    );
    let files = app
        .gql(
            None,
            "query($id: ID!) { notebook(id: $id) { files { filename size } } }",
            json!({ "id": notebook }),
        )
        .await;
    assert_eq!(
        files.data()["notebook"]["files"],
        json!([{ "filename": "data.csv", "size": 8 }])
    );
}

#[tokio::test]
async fn failed_fetches_say_why_to_the_owner_and_never_reach_internal_addresses() {
    let server = SourceServer::start().await;
    let app = fetching_from_loopback().spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (notebook, _) = app.notebook(&alice, "Failures", "").await;
    let internal = format!("http://{}/secrets", server.internal);
    let cases = [
        (
            "missing.csv",
            server.url("/missing"),
            "The server answered 404 Not Found",
        ),
        ("huge.bin", server.url("/huge"), "File too large"),
        (
            "unannounced.bin",
            server.url("/huge-unannounced"),
            "File too large",
        ),
        (
            "slow.csv",
            server.url("/slow"),
            "did not send the file in time",
        ),
        (
            "redirected.csv",
            server.url("/to-internal"),
            "127.0.0.2 is a private, loopback or link-local address",
        ),
        (
            "internal.csv",
            internal,
            "127.0.0.2 is a private, loopback or link-local address",
        ),
        ("loop.csv", server.url("/loop"), "Too many redirects"),
    ];
    let mut operations = vec![];
    for (filename, url, _) in &cases {
        let source = create_source(&app, &alice, &notebook, filename, url, None).await;
        operations.push(refresh(&app, &alice, &source).await);
    }

    let clock = TestClock::at(Utc::now());
    let pass = app.worker(&clock).run_pending().await.unwrap();
    assert_eq!(pass.fetched.len(), cases.len());
    for ((filename, _, reason), id) in cases.iter().zip(&operations) {
        let failed = operation(&app, Some(&alice), id).await;
        assert_eq!(failed["status"], "FAILED", "{filename}: {failed}");
        let told = failed["failureReason"].as_str().unwrap();
        assert!(
            told.contains(reason),
            "{filename}: {told:?} should say {reason:?}"
        );
        assert_eq!(
            operation(&app, Some(&bob), id).await["failureReason"],
            Value::Null
        );
    }
    assert_eq!(server.internal_hits.load(Ordering::SeqCst), 0);
    let files = app
        .gql(
            None,
            "query($id: ID!) { notebook(id: $id) { files { filename } } }",
            json!({ "id": notebook }),
        )
        .await;
    assert_eq!(files.data()["notebook"]["files"], json!([]));
}

#[tokio::test]
async fn a_host_name_that_resolves_to_a_private_address_is_refused() {
    // No network allowed: the operator's default.
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (notebook, _) = app.notebook(&alice, "Local", "").await;
    let source = create_source(
        &app,
        &alice,
        &notebook,
        "x.csv",
        "http://localhost:1/x.csv",
        None,
    )
    .await;
    let id = refresh(&app, &alice, &source).await;
    app.worker(&TestClock::at(Utc::now()))
        .run_pending()
        .await
        .unwrap();
    let failed = operation(&app, Some(&alice), &id).await;
    assert_eq!(failed["status"], "FAILED");
    assert!(
        failed["failureReason"]
            .as_str()
            .unwrap()
            .starts_with("localhost is a private, loopback or link-local address"),
        "{failed}"
    );
}

#[tokio::test]
async fn a_job_whose_worker_was_killed_is_finished_by_another() {
    let server = SourceServer::start().await;
    let app = fetching_from_loopback()
        .configure(|config| config.fetch.timeout = Duration::from_secs(600))
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let (notebook, _) = app.notebook(&alice, "Held", "").await;
    let source = create_source(
        &app,
        &alice,
        &notebook,
        "held.csv",
        &server.url("/hold"),
        None,
    )
    .await;
    let id = refresh(&app, &alice, &source).await;

    let clock = TestClock::at(Utc::now());
    server.kill_while_held(app.worker(&clock)).await;
    assert_eq!(
        operation(&app, Some(&alice), &id).await["status"],
        "RUNNING"
    );

    let survivor = app.worker(&clock);
    let early = survivor.run_pending().await.unwrap();
    assert_eq!((early.reclaimed, early.fetched.len()), (0, 0), "{early:?}");

    clock.advance(
        TimeDelta::from_std(app.state.config.worker.job_timeout).unwrap() + TimeDelta::seconds(1),
    );
    let pass = survivor.run_pending().await.unwrap();
    assert_eq!(pass.reclaimed, 1);
    assert_eq!(pass.fetched, [finished(&id, Outcome::Completed)]);
    assert_eq!(
        raw_file(&app, &notebook, "held.csv").await,
        (200, "held,data\n".into())
    );
}

#[tokio::test]
async fn workers_claiming_at_once_never_take_the_same_job() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (notebook, _) = app.notebook(&alice, "Queue", "").await;
    let source = create_source(
        &app,
        &alice,
        &notebook,
        "q.csv",
        "https://example.org/q.csv",
        None,
    )
    .await;
    let viewer = app.viewer(&alice);
    let mut queued = vec![];
    for _ in 0..40 {
        let operation = sources::refresh(
            &app.state.db,
            &app.state.events,
            &viewer,
            source.parse().unwrap(),
        )
        .await
        .unwrap();
        queued.push(operation.id);
    }

    let now = Utc::now();
    let workers = (0..4).map(|_| {
        let db = app.state.db.clone();
        tokio::spawn(async move {
            let mut claimed = vec![];
            while let Some(job) = queue::claim_next(&db, now).await.unwrap() {
                claimed.push(job.operation.id);
            }
            claimed
        })
    });
    let mut claimed: Vec<i32> = vec![];
    for worker in workers.collect::<Vec<_>>() {
        claimed.extend(worker.await.unwrap());
    }
    claimed.sort_unstable();
    assert_eq!(claimed, queued, "each job claimed exactly once");
}

/// How many fetches of each source were ever queued.
async fn fetches_of(app: &TestApp, sources: &[&str]) -> Vec<u64> {
    let mut counts = vec![];
    for source in sources {
        let count = file_update_operation::Entity::find()
            .filter(file_update_operation::Column::FileSourceId.eq(source.parse::<i32>().unwrap()))
            .count(&app.state.db)
            .await
            .unwrap();
        counts.push(count);
    }
    counts
}

#[tokio::test]
async fn daily_and_weekly_sources_are_fetched_once_per_period_by_any_number_of_workers() {
    let server = SourceServer::start().await;
    let app = fetching_from_loopback().spawn().await;
    let alice = app.user("alice").await;
    let (notebook, _) = app.notebook(&alice, "Scheduled", "").await;
    let daily = create_source(
        &app,
        &alice,
        &notebook,
        "daily.csv",
        &server.url("/data.csv"),
        Some("DAILY"),
    )
    .await;
    let weekly = create_source(
        &app,
        &alice,
        &notebook,
        "weekly.csv",
        &server.url("/v2.csv"),
        Some("WEEKLY"),
    )
    .await;
    let on_demand = create_source(
        &app,
        &alice,
        &notebook,
        "manual.csv",
        &server.url("/data.csv"),
        None,
    )
    .await;
    let all = [daily.as_str(), weekly.as_str(), on_demand.as_str()];

    // Two workers scheduling at the same moment queue each fetch once.
    let clock = TestClock::at(Utc::now());
    let (a, b) = tokio::join!(
        schedule::queue_due_fetches(&app.state.db, clock.now()),
        schedule::queue_due_fetches(&app.state.db, clock.now()),
    );
    assert_eq!(a.unwrap().len() + b.unwrap().len(), 2);
    assert_eq!(fetches_of(&app, &all).await, [1, 1, 0]);
    let pass = app.worker(&clock).run_pending().await.unwrap();
    assert_eq!(pass.fetched.len(), 2);
    assert_eq!(raw_file(&app, &notebook, "daily.csv").await.0, 200);
    assert_eq!(raw_file(&app, &notebook, "weekly.csv").await.0, 200);

    clock.advance(TimeDelta::days(1) - TimeDelta::minutes(1));
    assert_eq!(app.worker(&clock).run_pending().await.unwrap().scheduled, 0);
    clock.advance(TimeDelta::minutes(2));
    assert_eq!(app.worker(&clock).run_pending().await.unwrap().scheduled, 1);
    assert_eq!(fetches_of(&app, &all).await, [2, 1, 0]);

    clock.advance(TimeDelta::days(6));
    assert_eq!(app.worker(&clock).run_pending().await.unwrap().scheduled, 2);
    assert_eq!(fetches_of(&app, &all).await, [3, 2, 0]);
}

#[tokio::test]
async fn the_worker_inside_the_web_process_fills_a_refreshed_source() {
    let server = SourceServer::start().await;
    let app = fetching_from_loopback().with_worker().spawn().await;
    let alice = app.user("alice").await;
    let (notebook, _) = app.notebook(&alice, "Embedded", "").await;
    let source = create_source(
        &app,
        &alice,
        &notebook,
        "data.csv",
        &server.url("/data.csv"),
        None,
    )
    .await;
    let id = refresh(&app, &alice, &source).await;

    // The worker polls on its own: wait for the outcome, within a generous bound.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = operation(&app, Some(&alice), &id).await["status"].clone();
        if status == "COMPLETED" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {status}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        raw_file(&app, &notebook, "data.csv").await,
        (200, "a,b\n1,2\n".into())
    );
}
