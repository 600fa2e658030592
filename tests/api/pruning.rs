//! Pruning of draft revisions by the worker, on histories saved at chosen times
//! and pruned by a clock the test sets.

use chrono::{DateTime, TimeDelta, Utc};
use iodide_server::notebooks::{
    self, NewNotebook,
    revisions::{self, NewRevision},
};
use serde_json::json;

use crate::common::{TestApp, TestUser, clock::TestClock};

/// A minute boundary an hour ago: windows are whole minutes since the epoch.
fn minute_an_hour_ago() -> DateTime<Utc> {
    let now = Utc::now().timestamp();
    DateTime::from_timestamp(now - now.rem_euclid(60) - 3600, 0).unwrap()
}

fn seconds(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

/// A notebook whose revisions were saved at `start + offset`, with these
/// contents; returns its id and the revisions' ids.
async fn saved_at(
    app: &TestApp,
    owner: &TestUser,
    start: DateTime<Utc>,
    saves: &[(i64, &str)],
) -> (i32, Vec<i32>) {
    let viewer = app.viewer(owner);
    let (db, cache) = (&app.state.db, &app.state.cache);
    let (first_offset, first_content) = saves[0];
    let clock = TestClock::at(start + seconds(first_offset));
    let new = NewNotebook {
        title: "Doc".into(),
        content: first_content.into(),
        forked_from: None,
        owner: None,
    };
    let notebook = notebooks::create(db, cache, &clock.as_clock(), &viewer, new)
        .await
        .unwrap();
    let mut ids = vec![latest_id(app, notebook.id).await];
    for (offset, content) in &saves[1..] {
        let new = NewRevision {
            notebook_id: notebook.id,
            title: "Doc".into(),
            content: content.to_string(),
            parent_revision_id: None,
        };
        clock.set(start + seconds(*offset));
        let revision = revisions::create(
            db,
            &app.state.writes,
            cache,
            &clock.as_clock(),
            &app.state.events,
            &viewer,
            new,
        )
        .await
        .unwrap();
        ids.push(revision.id);
    }
    (notebook.id, ids)
}

async fn latest_id(app: &TestApp, notebook_id: i32) -> i32 {
    revisions::latest_for(&app.state.db, &[notebook_id])
        .await
        .unwrap()[&notebook_id]
        .id
}

/// The history as the API shows it, oldest first: (id, content, isDraft).
async fn history(app: &TestApp, notebook_id: i32) -> Vec<(i32, String, bool)> {
    let response = app
        .gql(
            None,
            "query($id: ID!) { notebook(id: $id) { revisions(first: 100) { nodes { id content isDraft } } } }",
            json!({ "id": notebook_id.to_string() }),
        )
        .await;
    let mut revisions: Vec<(i32, String, bool)> = response.data()["notebook"]["revisions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            (
                node["id"].as_str().unwrap().parse().unwrap(),
                node["content"].as_str().unwrap().to_string(),
                node["isDraft"].as_bool().unwrap(),
            )
        })
        .collect();
    revisions.reverse();
    revisions
}

fn revision(id: i32, content: &str, is_draft: bool) -> (i32, String, bool) {
    (id, content.to_string(), is_draft)
}

#[tokio::test]
async fn the_first_draft_of_each_minute_is_kept_once_older_than_a_minute() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let start = minute_an_hour_ago();
    let saves = [
        (0, "v1"),
        (10, "v2"),
        (30, "v3"),
        (65, "v4"),
        (70, "v5"),
        (200, "v6"),
    ];
    let (notebook, ids) = saved_at(&app, &alice, start, &saves).await;

    let clock = TestClock::at(start + seconds(230));
    let pass = app.worker(&clock).run_pending().await.unwrap();
    assert_eq!(pass.pruned, [notebook]);
    assert_eq!(
        history(&app, notebook).await,
        [
            revision(ids[0], "v1", false),
            revision(ids[3], "v4", false),
            // 30 s old: not touched yet.
            revision(ids[5], "v6", true),
        ]
    );

    // Nothing is due until the young draft is a minute old.
    clock.set(start + seconds(255));
    assert!(
        app.worker(&clock)
            .run_pending()
            .await
            .unwrap()
            .pruned
            .is_empty()
    );
    clock.set(start + seconds(262));
    assert_eq!(
        app.worker(&clock).run_pending().await.unwrap().pruned,
        [notebook]
    );
    assert_eq!(
        history(&app, notebook).await.last(),
        Some(&revision(ids[5], "v6", false))
    );
}

#[tokio::test]
async fn a_draft_identical_to_the_revision_before_it_is_dropped() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let start = minute_an_hour_ago();
    // "B" goes with its window; then the second "A" repeats the first.
    let saves = [(0, "A"), (30, "B"), (70, "A"), (130, "C")];
    let (notebook, ids) = saved_at(&app, &alice, start, &saves).await;

    let clock = TestClock::at(start + seconds(1000));
    app.worker(&clock).run_pending().await.unwrap();
    assert_eq!(
        history(&app, notebook).await,
        [revision(ids[0], "A", false), revision(ids[3], "C", false)]
    );
}

#[tokio::test]
async fn the_latest_revision_and_revisions_forked_from_are_never_deleted() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let start = minute_an_hour_ago();
    let saves = [(0, "A"), (20, "B"), (40, "C")];
    let (notebook, ids) = saved_at(&app, &alice, start, &saves).await;
    let fork = NewNotebook {
        title: "Bob's copy".into(),
        content: "B".into(),
        forked_from: Some(ids[1]),
        owner: None,
    };
    let state = &app.state;
    let fork = notebooks::create(
        &state.db,
        &state.cache,
        &state.clock,
        &app.viewer(&bob),
        fork,
    )
    .await
    .unwrap();

    let clock = TestClock::at(start + seconds(1000));
    app.worker(&clock).run_pending().await.unwrap();
    assert_eq!(
        history(&app, notebook).await,
        [
            revision(ids[0], "A", false),
            revision(ids[1], "B", true),
            revision(ids[2], "C", true),
        ]
    );
    let forked = app
        .gql(
            None,
            "query($id: ID!) { notebook(id: $id) { forkedFrom { id } } }",
            json!({ "id": fork.id.to_string() }),
        )
        .await;
    assert_eq!(
        forked.data()["notebook"]["forkedFrom"]["id"],
        ids[1].to_string()
    );

    // The editor's next save names the latest revision as its parent.
    let saved = app
        .gql(
            Some(&alice),
            "mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id } }",
            json!({ "input": { "notebookId": notebook.to_string(), "title": "Doc", "content": "D", "parentRevisionId": ids[2].to_string() } }),
        )
        .await;
    saved.data();
}

#[tokio::test]
async fn saves_through_the_api_schedule_pruning_and_readers_see_its_result() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Live", "first").await;
    let read = "query($id: ID!) { notebook(id: $id) { latestRevision { content isDraft } } }";
    let before = app.gql(None, read, json!({ "id": id })).await;
    assert_eq!(before.data()["notebook"]["latestRevision"]["isDraft"], true);

    let clock = TestClock::at(Utc::now());
    assert!(
        app.worker(&clock)
            .run_pending()
            .await
            .unwrap()
            .pruned
            .is_empty()
    );
    clock.advance(seconds(120));
    let notebook: i32 = id.parse().unwrap();
    assert_eq!(
        app.worker(&clock).run_pending().await.unwrap().pruned,
        [notebook]
    );
    let after = app.gql(None, read, json!({ "id": id })).await;
    assert_eq!(
        after.data()["notebook"]["latestRevision"],
        json!({ "content": "first", "isDraft": false })
    );

    app.gql(
        Some(&alice),
        "mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id } }",
        json!({ "input": { "notebookId": id, "title": "Live", "content": "second" } }),
    )
    .await
    .data();
    clock.set(Utc::now() + seconds(120));
    assert_eq!(
        app.worker(&clock).run_pending().await.unwrap().pruned,
        [notebook]
    );
}
