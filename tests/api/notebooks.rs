use iodide_server::users::NewUser;
use serde_json::json;

use crate::common::TestApp;

const NOTEBOOK: &str = "query($id: ID!) {
  notebook(id: $id) {
    id title revisionCount viewerCanEdit
    owner { username }
    forkedFrom { id }
    latestRevision { id title content isDraft }
    files { filename }
  }
}";

#[tokio::test]
async fn anyone_reads_a_notebook_with_its_revisions_and_files() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, revision) = app.notebook(&alice, "Hello", "print('hi')").await;
    app.upload(&alice, &id, "data.csv", b"a,b\n1,2\n".to_vec())
        .await
        .data();

    let response = app.gql(None, NOTEBOOK, json!({ "id": id })).await;
    let notebook = &response.data()["notebook"];
    assert_eq!(notebook["title"], "Hello");
    assert_eq!(notebook["owner"]["username"], "alice");
    assert_eq!(notebook["revisionCount"], 1);
    assert_eq!(notebook["viewerCanEdit"], false);
    assert_eq!(notebook["latestRevision"]["id"], revision.as_str());
    assert_eq!(notebook["latestRevision"]["content"], "print('hi')");
    assert_eq!(notebook["latestRevision"]["isDraft"], true);
    assert_eq!(notebook["files"], json!([{ "filename": "data.csv" }]));

    let response = app
        .gql(
            None,
            "query($id: ID!) { revision(id: $id) { title notebook { id } } }",
            json!({ "id": revision }),
        )
        .await;
    assert_eq!(
        response.data()["revision"],
        json!({ "title": "Hello", "notebook": { "id": id } })
    );

    let owner_view = app.gql(Some(&alice), NOTEBOOK, json!({ "id": id })).await;
    assert_eq!(owner_view.data()["notebook"]["viewerCanEdit"], true);
}

#[tokio::test]
async fn a_missing_notebook_is_null_and_a_bad_id_is_bad_input() {
    let app = TestApp::spawn().await;
    let response = app.gql(None, NOTEBOOK, json!({ "id": "999" })).await;
    assert_eq!(response.data()["notebook"], json!(null));
    let response = app.gql(None, NOTEBOOK, json!({ "id": "abc" })).await;
    assert_eq!(response.code(), "BAD_USER_INPUT");
    assert!(
        response.message().contains("not a valid notebook id"),
        "{}",
        response.message()
    );
}

#[tokio::test]
async fn anonymous_users_cannot_create_notebooks() {
    let app = TestApp::spawn().await;
    let response = app
        .gql(
            None,
            "mutation { createNotebook(input: { title: \"x\", content: \"\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(response.code(), "UNAUTHENTICATED");
    let list = app
        .gql(None, "{ notebooks { totalCount } }", json!({}))
        .await;
    assert_eq!(list.data()["notebooks"]["totalCount"], 0);
}

#[tokio::test]
async fn others_cannot_write_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let (id, revision) = app.notebook(&alice, "Mine", "original").await;

    let attempts = [
        (
            "mutation($id: ID!) { updateNotebookTitle(id: $id, title: \"Stolen\") { id } }",
            json!({ "id": id }),
        ),
        (
            "mutation($id: ID!) { deleteNotebook(id: $id) }",
            json!({ "id": id }),
        ),
        (
            "mutation($id: ID!) { createRevision(input: { notebookId: $id, title: \"Mine\", content: \"evil\" }) { id } }",
            json!({ "id": id }),
        ),
        (
            "mutation($id: ID!) { deleteRevision(id: $id) }",
            json!({ "id": revision }),
        ),
        (
            "mutation($id: ID!) { createFileSource(input: { notebookId: $id, filename: \"f\", url: \"https://example.org/\" }) { id } }",
            json!({ "id": id }),
        ),
    ];
    for (query, variables) in attempts {
        let response = app.gql(Some(&mallory), query, variables).await;
        assert_eq!(response.code(), "FORBIDDEN", "{query}");
    }
    let upload = app.upload(&mallory, &id, "x.txt", b"x".to_vec()).await;
    assert_eq!(upload.code(), "FORBIDDEN");

    let response = app.gql(None, NOTEBOOK, json!({ "id": id })).await;
    let notebook = &response.data()["notebook"];
    assert_eq!(notebook["title"], "Mine");
    assert_eq!(notebook["revisionCount"], 1);
    assert_eq!(notebook["latestRevision"]["content"], "original");
    assert_eq!(notebook["files"], json!([]));
}

#[tokio::test]
async fn the_owner_renames_and_the_title_follows_the_latest_revision() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Draft", "text").await;
    let response = app
        .gql(
            Some(&alice),
            "mutation($id: ID!) { updateNotebookTitle(id: $id, title: \"Final\") { title revisionCount latestRevision { title content } } }",
            json!({ "id": id }),
        )
        .await;
    let notebook = &response.data()["updateNotebookTitle"];
    assert_eq!(notebook["title"], "Final");
    assert_eq!(notebook["revisionCount"], 2);
    assert_eq!(
        notebook["latestRevision"],
        json!({ "title": "Final", "content": "text" })
    );

    let blank = app
        .gql(
            Some(&alice),
            "mutation($id: ID!) { updateNotebookTitle(id: $id, title: \"  \") { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(blank.code(), "BAD_USER_INPUT");
    let long = app
        .gql(
            Some(&alice),
            "mutation($id: ID!, $t: String!) { updateNotebookTitle(id: $id, title: $t) { id } }",
            json!({ "id": id, "t": "x".repeat(256) }),
        )
        .await;
    assert_eq!(long.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn deleting_a_notebook_deletes_its_content_and_unlinks_its_forks() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (id, revision) = app.notebook(&alice, "Original", "content").await;
    let file = app.upload(&alice, &id, "data.txt", b"bytes".to_vec()).await;
    let file_id = file.data()["uploadFile"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let fork = app
        .gql(
            Some(&bob),
            "mutation($rev: ID!) { createNotebook(input: { title: \"Fork\", content: \"content\", forkedFrom: $rev }) { id forkedFrom { id } owner { username } } }",
            json!({ "rev": revision }),
        )
        .await;
    let fork = fork.data()["createNotebook"].clone();
    assert_eq!(fork["forkedFrom"]["id"], revision.as_str());
    assert_eq!(fork["owner"]["username"], "bob");

    let deleted = app
        .gql(
            Some(&alice),
            "mutation($id: ID!) { deleteNotebook(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted.data()["deleteNotebook"], id.as_str());

    let gone = app
        .gql(
            None,
            "query($id: ID!, $rev: ID!, $file: ID!) { notebook(id: $id) { id } revision(id: $rev) { id } file(id: $file) { id } }",
            json!({ "id": id, "rev": revision, "file": file_id }),
        )
        .await;
    assert_eq!(
        gone.data(),
        &json!({ "notebook": null, "revision": null, "file": null })
    );
    let raw = app
        .client
        .get(app.url(&format!("/notebooks/{id}/files/data.txt")))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 404);

    let fork_now = app.gql(None, NOTEBOOK, json!({ "id": fork["id"] })).await;
    assert_eq!(fork_now.data()["notebook"]["forkedFrom"], json!(null));
    assert_eq!(fork_now.data()["notebook"]["title"], "Fork");
}

#[tokio::test]
async fn forking_a_missing_revision_is_not_found() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let response = app
        .gql(
            Some(&alice),
            "mutation { createNotebook(input: { title: \"F\", content: \"\", forkedFrom: \"999\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(response.code(), "NOT_FOUND");
}

#[tokio::test]
async fn private_user_fields_are_for_the_user_and_staff() {
    let app = TestApp::spawn().await;
    let alice = app
        .user_with(NewUser {
            email: Some("alice@example.org".into()),
            can_create_on_behalf_of_others: true,
            ..NewUser::named("alice")
        })
        .await;
    let bob = app.user("bob").await;
    let staff = app
        .user_with(NewUser {
            is_staff: true,
            ..NewUser::named("root")
        })
        .await;
    let query =
        "{ user(username: \"alice\") { username email canCreateOnBehalfOfOthers isStaff } }";

    for (viewer, visible) in [
        (None, false),
        (Some(&bob), false),
        (Some(&alice), true),
        (Some(&staff), true),
    ] {
        let response = app.gql(viewer, query, json!({})).await;
        let user = &response.data()["user"];
        assert_eq!(user["username"], "alice");
        assert_eq!(user["isStaff"], false);
        if visible {
            assert_eq!(user["email"], "alice@example.org");
            assert_eq!(user["canCreateOnBehalfOfOthers"], true);
        } else {
            assert_eq!(user["email"], json!(null));
            assert_eq!(user["canCreateOnBehalfOfOthers"], json!(null));
        }
    }
    let me = app
        .gql(Some(&alice), "{ viewer { username email } }", json!({}))
        .await;
    assert_eq!(
        me.data()["viewer"],
        json!({ "username": "alice", "email": "alice@example.org" })
    );
    let anonymous = app.gql(None, "{ viewer { username } }", json!({})).await;
    assert_eq!(anonymous.data()["viewer"], json!(null));
}

#[tokio::test]
async fn creating_on_behalf_of_others_needs_the_grant() {
    let app = TestApp::spawn().await;
    let service = app
        .user_with(NewUser {
            can_create_on_behalf_of_others: true,
            ..NewUser::named("service")
        })
        .await;
    let plain = app.user("plain").await;
    let create = "mutation($owner: String!) { createNotebook(input: { title: \"For you\", content: \"\", owner: $owner }) { owner { username } viewerCanEdit } }";

    let refused = app
        .gql(Some(&plain), create, json!({ "owner": "newcomer" }))
        .await;
    assert_eq!(refused.code(), "FORBIDDEN");
    let nobody = app
        .gql(None, "{ user(username: \"newcomer\") { id } }", json!({}))
        .await;
    assert_eq!(nobody.data()["user"], json!(null));

    let created = app
        .gql(Some(&service), create, json!({ "owner": "newcomer" }))
        .await;
    assert_eq!(
        created.data()["createNotebook"],
        json!({ "owner": { "username": "newcomer" }, "viewerCanEdit": false })
    );
    let again = app
        .gql(Some(&service), create, json!({ "owner": "newcomer" }))
        .await;
    assert_eq!(
        again.data()["createNotebook"]["owner"]["username"],
        "newcomer"
    );
    let listed = app
        .gql(
            None,
            "{ notebooks(owner: \"newcomer\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(listed.data()["notebooks"]["totalCount"], 2);

    let bad_name = app
        .gql(
            Some(&service),
            create,
            json!({ "owner": "no spaces/allowed" }),
        )
        .await;
    assert_eq!(bad_name.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn notebooks_filter_by_owner_and_search() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.notebook(&alice, "Climate data", "").await;
    app.notebook(&alice, "Recipes", "").await;
    app.notebook(&bob, "climate models", "").await;
    app.notebook(&bob, "100% done_ish", "").await;

    let titles = |response: &crate::common::Gql| -> Vec<String> {
        response.data()["notebooks"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["title"].as_str().unwrap().to_string())
            .collect()
    };
    let query = "query($owner: String, $search: String) { notebooks(owner: $owner, search: $search) { nodes { title } } }";
    let mine = app.gql(None, query, json!({ "owner": "alice" })).await;
    assert_eq!(titles(&mine), ["Recipes", "Climate data"]);
    let climate = app.gql(None, query, json!({ "search": "CLIMATE" })).await;
    assert_eq!(titles(&climate), ["climate models", "Climate data"]);
    let literal = app.gql(None, query, json!({ "search": "0% d" })).await;
    assert_eq!(titles(&literal), ["100% done_ish"]);
    let wildcard = app.gql(None, query, json!({ "search": "_" })).await;
    assert_eq!(titles(&wildcard), ["100% done_ish"]);
    let nobody = app.gql(None, query, json!({ "owner": "nobody" })).await;
    assert!(titles(&nobody).is_empty());
    let user_list = app
        .gql(
            None,
            "{ user(username: \"bob\") { notebooks { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(user_list.data()["user"]["notebooks"]["totalCount"], 2);
}
