use serde_json::json;

use crate::common::{TestApp, request::RequestHelper};

const SAVE: &str = "mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id title content isDraft notebook { title } } }";
const HISTORY: &str =
    "query($id: ID!) { notebook(id: $id) { title revisionCount latestRevision { id content } } }";

#[tokio::test]
async fn the_owner_saves_revisions_and_the_title_follows() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let alice = app.user("alice").await;
    let (id, first) = alice.create_notebook("One", "a").await;
    let saved = alice.gql(SAVE,
            json!({ "input": { "notebookId": id, "title": "Two", "content": "b", "parentRevisionId": first } }),
        )
        .await;
    let revision = &saved.data()["createRevision"];
    assert_eq!(revision["title"], "Two");
    assert_eq!(revision["isDraft"], true);
    assert_eq!(revision["notebook"]["title"], "Two");

    let empty = alice
        .gql(
            SAVE,
            json!({ "input": { "notebookId": id, "title": "Two", "content": "" } }),
        )
        .await;
    assert_eq!(empty.data()["createRevision"]["content"], "");
    let history = anon.gql(HISTORY, json!({ "id": id })).await;
    assert_eq!(history.data()["notebook"]["revisionCount"], 3);
}

#[tokio::test]
async fn a_stale_parent_is_a_conflict_and_saves_nothing() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let alice = app.user("alice").await;
    let (id, first) = alice.create_notebook("Doc", "v1").await;
    let tab_a = alice.gql(SAVE, json!({ "input": { "notebookId": id, "title": "Doc", "content": "from tab A", "parentRevisionId": first } }))
        .await;
    let latest = tab_a.data()["createRevision"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let tab_b = alice.gql(SAVE, json!({ "input": { "notebookId": id, "title": "Doc", "content": "from tab B", "parentRevisionId": first } }))
        .await;
    assert_eq!(tab_b.code(), "CONFLICT");
    assert!(tab_b.message().contains(&latest), "{}", tab_b.message());

    let history = anon.gql(HISTORY, json!({ "id": id })).await;
    let notebook = &history.data()["notebook"];
    assert_eq!(notebook["revisionCount"], 2);
    assert_eq!(
        notebook["latestRevision"],
        json!({ "id": latest, "content": "from tab A" })
    );
}

#[tokio::test]
async fn an_unchanged_revision_is_rejected() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let alice = app.user("alice").await;
    let (id, first) = alice.create_notebook("Same", "same").await;
    let response = alice.gql(SAVE, json!({ "input": { "notebookId": id, "title": "Same", "content": "same", "parentRevisionId": first } }))
        .await;
    assert_eq!(response.code(), "BAD_USER_INPUT");
    let history = anon.gql(HISTORY, json!({ "id": id })).await;
    assert_eq!(history.data()["notebook"]["revisionCount"], 1);
}

#[tokio::test]
async fn saving_to_a_missing_notebook_is_not_found() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let response = alice
        .gql(
            SAVE,
            json!({ "input": { "notebookId": "424242", "title": "x", "content": "y" } }),
        )
        .await;
    assert_eq!(response.code(), "NOT_FOUND");
}

#[tokio::test]
async fn deleting_revisions_keeps_the_title_and_the_last_one() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let alice = app.user("alice").await;
    let (id, first) = alice.create_notebook("Old title", "a").await;
    let saved = alice
        .gql(
            SAVE,
            json!({ "input": { "notebookId": id, "title": "New title", "content": "b" } }),
        )
        .await;
    let second = saved.data()["createRevision"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let deleted = alice
        .gql(
            "mutation($id: ID!) { deleteRevision(id: $id) }",
            json!({ "id": second }),
        )
        .await;
    assert_eq!(deleted.data()["deleteRevision"], second.as_str());
    let history = anon.gql(HISTORY, json!({ "id": id })).await;
    assert_eq!(history.data()["notebook"]["title"], "Old title");
    assert_eq!(
        history.data()["notebook"]["latestRevision"]["id"],
        first.as_str()
    );

    let last = alice
        .gql(
            "mutation($id: ID!) { deleteRevision(id: $id) }",
            json!({ "id": first }),
        )
        .await;
    assert_eq!(last.code(), "BAD_USER_INPUT");
    let history = anon.gql(HISTORY, json!({ "id": id })).await;
    assert_eq!(history.data()["notebook"]["revisionCount"], 1);
}

#[tokio::test]
async fn concurrent_saves_from_one_parent_keep_exactly_one() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let alice = app.user("alice").await;
    let (id, first) = alice.create_notebook("Race", "v1").await;
    let saves = (0..6).map(|n| {
        alice.gql(SAVE,
            json!({ "input": { "notebookId": id, "title": "Race", "content": format!("tab {n}"), "parentRevisionId": first } }),
        )
    });
    let responses = futures_util::future::join_all(saves).await;
    let saved = responses
        .iter()
        .filter(|r| r.body.get("errors").is_none())
        .count();
    let conflicts = responses
        .iter()
        .filter(|r| r.body.get("errors").is_some() && r.code() == "CONFLICT")
        .count();
    assert_eq!((saved, conflicts), (1, 5));
    let history = anon.gql(HISTORY, json!({ "id": id })).await;
    assert_eq!(history.data()["notebook"]["revisionCount"], 2);
}

#[tokio::test]
async fn revisions_list_newest_first_and_filter_by_ids() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let alice = app.user("alice").await;
    let (id, first) = alice.create_notebook("T", "0").await;
    let mut ids = vec![first];
    for n in 1..4 {
        let saved = alice
            .gql(
                SAVE,
                json!({ "input": { "notebookId": id, "title": "T", "content": n.to_string() } }),
            )
            .await;
        ids.push(
            saved.data()["createRevision"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let query = "query($id: ID!, $ids: [ID!]) { notebook(id: $id) { revisions(ids: $ids) { totalCount nodes { id content } } } }";
    let all = anon.gql(query, json!({ "id": id })).await;
    let listed: Vec<&str> = all.data()["notebook"]["revisions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [&ids[3], &ids[2], &ids[1], &ids[0]]);
    insta::assert_json_snapshot!(all.body, { ".**.id" => "[id]" });
    let some = anon
        .gql(query, json!({ "id": id, "ids": [ids[0], ids[2]] }))
        .await;
    assert_eq!(
        some.data()["notebook"]["revisions"],
        json!({ "totalCount": 2, "nodes": [{ "id": ids[2], "content": "2" }, { "id": ids[0], "content": "0" }] })
    );
}

#[tokio::test]
async fn each_mutation_in_a_document_sees_the_writes_before_it() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = alice.create_notebook("T", "0").await;
    let response = alice.gql("mutation($id: ID!) {
               a: createRevision(input: { notebookId: $id, title: \"T\", content: \"1\" }) { notebook { revisionCount latestRevision { content } } }
               b: createRevision(input: { notebookId: $id, title: \"T\", content: \"2\" }) { notebook { revisionCount latestRevision { content } } }
             }",
            json!({ "id": id }),
        )
        .await;
    insta::assert_json_snapshot!(response.body);
}

/// Read past the caches (a filtered list is never cached), so that a write
/// without its invalidation would show.
const STORED: &str = r#"{ notebooks(first: 1, owner: "alice") { nodes { title updatedAt } } }"#;

#[tokio::test]
async fn a_refused_save_leaves_the_notebook_as_it_was() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let (id, first) = alice.create_notebook("Kept", "v1").await;
    let before = anon.gql(STORED, json!({})).await;
    alice
        .gql(
            SAVE,
            json!({ "input": { "notebookId": id, "title": "Kept", "content": "v2" } }),
        )
        .await;
    let saved = anon.gql(STORED, json!({})).await;

    let not_the_owner = mallory
        .gql(
            SAVE,
            json!({ "input": { "notebookId": id, "title": "Hijacked", "content": "x" } }),
        )
        .await;
    assert_eq!(not_the_owner.code(), "FORBIDDEN");
    let stale = alice.gql(SAVE, json!({ "input": { "notebookId": id, "title": "Stale", "content": "x", "parentRevisionId": first } }))
        .await;
    assert_eq!(stale.code(), "CONFLICT");

    let after = anon.gql(STORED, json!({})).await;
    assert_ne!(before.data(), saved.data(), "a save moves the title's time");
    assert_eq!(after.data(), saved.data(), "refused saves change nothing");
}

/// Many editors autosaving at once (on SQLite they queue for the one writer):
/// every save is acknowledged with an id above that editor's previous one and
/// stored, and a refused save among them gets its own error, not the others'.
#[tokio::test]
async fn saves_from_many_concurrent_editors_are_all_stored_in_order() {
    const EDITORS: usize = 12;
    const SAVES: usize = 4;
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let mut editors = Vec::new();
    for n in 0..EDITORS {
        let user = app.user(&format!("editor{n}")).await;
        let (id, _) = user.create_notebook("Doc", "v0").await;
        editors.push((user, id));
    }
    let sessions = editors
        .iter()
        .enumerate()
        .map(|(n, (user, id))| async move {
            let mut ids = Vec::new();
            for save in 1..=SAVES {
                // Editor 0 saves what is already there every other time: refused.
                let content = match (n, save % 2) {
                    (0, 0) => format!("v{}", save - 1),
                    _ => format!("v{save}"),
                };
                let input =
                    json!({ "input": { "notebookId": id, "title": "Doc", "content": content } });
                let response = user.gql(SAVE, input).await;
                if n == 0 && save % 2 == 0 {
                    assert_eq!(response.code(), "BAD_USER_INPUT", "{}", response.body);
                    continue;
                }
                let saved = &response.data()["createRevision"];
                assert_eq!(saved["content"], content);
                ids.push(saved["id"].as_str().unwrap().parse::<i64>().unwrap());
            }
            ids
        });
    let acknowledged = futures_util::future::join_all(sessions).await;

    for (n, ((_, id), ids)) in editors.iter().zip(&acknowledged).enumerate() {
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
        let history = anon.gql(HISTORY, json!({ "id": id })).await;
        let notebook = &history.data()["notebook"];
        let expected_saves = if n == 0 { SAVES / 2 } else { SAVES };
        assert_eq!(notebook["revisionCount"], 1 + expected_saves as i64);
        assert_eq!(
            notebook["latestRevision"]["id"],
            ids.last().unwrap().to_string()
        );
    }
}
