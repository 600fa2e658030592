use iodide_server::users::NewUser;
use serde_json::json;

use crate::common::{TestApp, request::RequestHelper};

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
    let anon = app.anonymous();
    let alice = app.user("alice").await;
    let (id, revision) = alice.create_notebook("Hello", "print('hi')").await;
    alice
        .upload(&id, "data.csv", b"a,b\n1,2\n".to_vec())
        .await
        .data();

    let response = anon.gql(NOTEBOOK, json!({ "id": id })).await;
    let notebook = &response.data()["notebook"];
    assert_eq!(notebook["id"], id.as_str());
    assert_eq!(notebook["latestRevision"]["id"], revision.as_str());
    insta::assert_json_snapshot!(response.body, { ".**.id" => "[id]" });

    let response = anon
        .gql(
            "query($id: ID!) { revision(id: $id) { title notebook { id } } }",
            json!({ "id": revision }),
        )
        .await;
    assert_eq!(
        response.data()["revision"],
        json!({ "title": "Hello", "notebook": { "id": id } })
    );

    let owner_view = alice.gql(NOTEBOOK, json!({ "id": id })).await;
    assert_eq!(owner_view.data()["notebook"]["viewerCanEdit"], true);
}

#[tokio::test]
async fn a_missing_notebook_is_null_and_a_bad_id_is_bad_input() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let response = anon.gql(NOTEBOOK, json!({ "id": "999" })).await;
    assert_eq!(response.data()["notebook"], json!(null));
    let response = anon.gql(NOTEBOOK, json!({ "id": "abc" })).await;
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
    let anon = app.anonymous();
    let response = anon
        .gql(
            "mutation { createNotebook(input: { title: \"x\", content: \"\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(response.code(), "UNAUTHENTICATED");
    let list = anon.gql("{ notebooks { totalCount } }", json!({})).await;
    assert_eq!(list.data()["notebooks"]["totalCount"], 0);
}

#[tokio::test]
async fn others_cannot_write_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let (id, revision) = alice.create_notebook("Mine", "original").await;

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
        let response = mallory.gql(query, variables).await;
        assert_eq!(response.code(), "FORBIDDEN", "{query}");
    }
    let upload = mallory.upload(&id, "x.txt", b"x".to_vec()).await;
    assert_eq!(upload.code(), "FORBIDDEN");

    let response = anon.gql(NOTEBOOK, json!({ "id": id })).await;
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
    let (id, _) = alice.create_notebook("Draft", "text").await;
    let response = alice.gql("mutation($id: ID!) { updateNotebookTitle(id: $id, title: \"Final\") { title revisionCount latestRevision { title content } } }",
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

    let blank = alice
        .gql(
            "mutation($id: ID!) { updateNotebookTitle(id: $id, title: \"  \") { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(blank.code(), "BAD_USER_INPUT");
    let long = alice
        .gql(
            "mutation($id: ID!, $t: String!) { updateNotebookTitle(id: $id, title: $t) { id } }",
            json!({ "id": id, "t": "x".repeat(256) }),
        )
        .await;
    assert_eq!(long.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn deleting_a_notebook_deletes_its_content_and_unlinks_its_forks() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (id, revision) = alice.create_notebook("Original", "content").await;
    let file = alice.upload(&id, "data.txt", b"bytes".to_vec()).await;
    let file_id = file.data()["uploadFile"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let fork = bob.gql("mutation($rev: ID!) { createNotebook(input: { title: \"Fork\", content: \"content\", forkedFrom: $rev }) { id forkedFrom { id } owner { username } } }",
            json!({ "rev": revision }),
        )
        .await;
    let fork = fork.data()["createNotebook"].clone();
    assert_eq!(fork["forkedFrom"]["id"], revision.as_str());
    assert_eq!(fork["owner"]["username"], "bob");

    let deleted = alice
        .gql(
            "mutation($id: ID!) { deleteNotebook(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted.data()["deleteNotebook"], id.as_str());

    let gone = anon.gql("query($id: ID!, $rev: ID!, $file: ID!) { notebook(id: $id) { id } revision(id: $rev) { id } file(id: $file) { id } }",
            json!({ "id": id, "rev": revision, "file": file_id }),
        )
        .await;
    assert_eq!(
        gone.data(),
        &json!({ "notebook": null, "revision": null, "file": null })
    );
    let raw = anon
        .get(&format!("/notebooks/{id}/files/data.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 404);

    let fork_now = anon.gql(NOTEBOOK, json!({ "id": fork["id"] })).await;
    assert_eq!(fork_now.data()["notebook"]["forkedFrom"], json!(null));
    assert_eq!(fork_now.data()["notebook"]["title"], "Fork");
}

#[tokio::test]
async fn forking_a_missing_revision_is_not_found() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let response = alice.gql("mutation { createNotebook(input: { title: \"F\", content: \"\", forkedFrom: \"999\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(response.code(), "NOT_FOUND");
}

#[tokio::test]
async fn private_user_fields_are_for_the_user_and_staff() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
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

    let responses = [
        (anon.gql(query, json!({})).await, false),
        (bob.gql(query, json!({})).await, false),
        (alice.gql(query, json!({})).await, true),
        (staff.gql(query, json!({})).await, true),
    ];
    for (response, visible) in responses {
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
    let me = alice.gql("{ viewer { username email } }", json!({})).await;
    assert_eq!(
        me.data()["viewer"],
        json!({ "username": "alice", "email": "alice@example.org" })
    );
    let anonymous = anon.gql("{ viewer { username } }", json!({})).await;
    assert_eq!(anonymous.data()["viewer"], json!(null));
}

#[tokio::test]
async fn creating_on_behalf_of_others_needs_the_grant() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let service = app
        .user_with(NewUser {
            can_create_on_behalf_of_others: true,
            ..NewUser::named("service")
        })
        .await;
    let plain = app.user("plain").await;
    let create = "mutation($owner: String!) { createNotebook(input: { title: \"For you\", content: \"\", owner: $owner }) { owner { username } viewerCanEdit } }";

    let refused = plain.gql(create, json!({ "owner": "newcomer" })).await;
    assert_eq!(refused.code(), "FORBIDDEN");
    let nobody = anon
        .gql("{ user(username: \"newcomer\") { id } }", json!({}))
        .await;
    assert_eq!(nobody.data()["user"], json!(null));

    let created = service.gql(create, json!({ "owner": "newcomer" })).await;
    assert_eq!(
        created.data()["createNotebook"],
        json!({ "owner": { "username": "newcomer" }, "viewerCanEdit": false })
    );
    let again = service.gql(create, json!({ "owner": "newcomer" })).await;
    assert_eq!(
        again.data()["createNotebook"]["owner"]["username"],
        "newcomer"
    );
    let listed = anon
        .gql(
            "{ notebooks(owner: \"newcomer\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(listed.data()["notebooks"]["totalCount"], 2);

    let bad_name = service
        .gql(create, json!({ "owner": "no spaces/allowed" }))
        .await;
    assert_eq!(bad_name.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn notebooks_filter_by_owner_and_search() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    alice.create_notebook("Climate data", "").await;
    alice.create_notebook("Recipes", "").await;
    bob.create_notebook("climate models", "").await;
    bob.create_notebook("100% done_ish", "").await;

    let titles = |response: &crate::common::Gql| -> Vec<String> {
        response.data()["notebooks"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["title"].as_str().unwrap().to_string())
            .collect()
    };
    let query = "query($owner: String, $search: String) { notebooks(owner: $owner, search: $search) { nodes { title } } }";
    let mine = anon.gql(query, json!({ "owner": "alice" })).await;
    assert_eq!(titles(&mine), ["Recipes", "Climate data"]);
    let climate = anon.gql(query, json!({ "search": "CLIMATE" })).await;
    assert_eq!(titles(&climate), ["climate models", "Climate data"]);
    let literal = anon.gql(query, json!({ "search": "0% d" })).await;
    assert_eq!(titles(&literal), ["100% done_ish"]);
    let wildcard = anon.gql(query, json!({ "search": "_" })).await;
    assert_eq!(titles(&wildcard), ["100% done_ish"]);
    let nobody = anon.gql(query, json!({ "owner": "nobody" })).await;
    assert!(titles(&nobody).is_empty());
    let user_list = anon
        .gql(
            "{ user(username: \"bob\") { notebooks { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(user_list.data()["user"]["notebooks"]["totalCount"], 2);
}
