use iodide_server::users::NewUser;
use serde_json::json;

use crate::common::{Gql, TestApp};

#[tokio::test]
async fn anonymous_reads_are_unauthenticated_in_internal_mode() {
    let app = TestApp::builder().restrict_api().spawn().await;
    let alice = app.user("alice").await;
    let (id, revision) = app.notebook(&alice, "Private", "secret").await;
    app.upload(&alice, &id, "s.txt", b"secret".to_vec())
        .await
        .data();

    for (query, variables) in [
        ("{ notebooks { totalCount } }", json!({})),
        (
            "query($id: ID!) { notebook(id: $id) { title } }",
            json!({ "id": id }),
        ),
        (
            "query($id: ID!) { revision(id: $id) { content } }",
            json!({ "id": revision }),
        ),
        ("{ user(username: \"alice\") { username } }", json!({})),
        ("query { file(id: \"1\") { filename } }", json!({})),
        ("query { fileUpdateOperation(id: \"1\") { id } }", json!({})),
    ] {
        let response = app.gql(None, query, variables).await;
        assert_eq!(response.code(), "UNAUTHENTICATED", "{query}");
        assert_eq!(
            response.body["data"],
            json!(null),
            "{query}: {}",
            response.body
        );
    }
    let raw = Gql::read(
        app.client
            .get(app.url(&format!("/notebooks/{id}/files/s.txt")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(raw.status, 401);
    assert_eq!(raw.code(), "UNAUTHENTICATED");
    let anonymous_viewer = app.gql(None, "{ viewer { id } }", json!({})).await;
    assert_eq!(anonymous_viewer.data()["viewer"], json!(null));
}

#[tokio::test]
async fn signed_in_users_and_staff_read_in_internal_mode() {
    let app = TestApp::builder().restrict_api().spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let staff = app
        .user_with(NewUser {
            is_staff: true,
            ..NewUser::named("admin")
        })
        .await;
    let (id, _) = app.notebook(&alice, "Internal", "text").await;
    app.upload(&alice, &id, "s.txt", b"bytes".to_vec())
        .await
        .data();

    for reader in [&bob, &staff] {
        let response = app
            .gql(
                Some(reader),
                "query($id: ID!) { notebook(id: $id) { title viewerCanEdit } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(
            response.data()["notebook"],
            json!({ "title": "Internal", "viewerCanEdit": false })
        );
        let raw = app
            .client
            .get(app.url(&format!("/notebooks/{id}/files/s.txt")))
            .header("Authorization", format!("Token {}", reader.token))
            .send()
            .await
            .unwrap();
        assert_eq!(raw.text().await.unwrap(), "bytes");
    }
    let staff_write = app
        .gql(
            Some(&staff),
            "mutation($id: ID!) { deleteNotebook(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(staff_write.code(), "FORBIDDEN");
}

#[tokio::test]
async fn userinfo_needs_an_identity_in_internal_mode() {
    let app = TestApp::builder().restrict_api().spawn().await;
    let anonymous = Gql::read(app.client.get(app.url("/userinfo/")).send().await.unwrap()).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
    let client = crate::common::browser();
    app.sign_in(&client, "judy").await;
    let info: serde_json::Value = client
        .get(app.url("/userinfo/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "judy");
    let viewer = app
        .query_as(
            &client,
            |request| request,
            json!({ "query": "{ notebooks { totalCount } }" }),
        )
        .await;
    assert_eq!(viewer.data()["notebooks"]["totalCount"], 0);
}

#[tokio::test]
async fn anonymous_clients_of_a_private_server_may_not_read_the_schema() {
    let app = TestApp::builder().restrict_api().spawn().await;
    let alice = app.user("alice").await;
    let introspection = [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Notebook\") { fields { name } } }",
        "query { ...Docs } fragment Docs on Query { ... on Query { __schema { types { name } } } }",
    ];
    for query in introspection {
        let anonymous = app.gql(None, query, json!({})).await;
        assert_eq!(anonymous.code(), "UNAUTHENTICATED", "{query}");
        assert_eq!(anonymous.body["data"], json!(null), "{}", anonymous.body);
        let signed_in = app.gql(Some(&alice), query, json!({})).await;
        assert!(signed_in.data().is_object(), "{}", signed_in.body);
    }
    let public = TestApp::spawn().await;
    let anonymous = public.gql(None, introspection[0], json!({})).await;
    assert_eq!(anonymous.data()["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn validation_errors_name_nothing_of_the_schema_to_anonymous_clients() {
    let app = TestApp::builder().restrict_api().spawn().await;
    let alice = app.user("alice").await;
    let invalid = [
        "{ notebok(id: \"1\") { title } }",
        "{ notebook { title } }",
        "{ viewer { username emial } notebooks(frist: 1) { totalCount } }",
        "query($id: Int) { notebook(id: $id) { title } }",
    ];
    for query in invalid {
        let anonymous = app.gql(None, query, json!({})).await;
        assert_eq!(anonymous.code(), "BAD_USER_INPUT", "{query}");
        let errors = anonymous.body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{}", anonymous.body);
        assert_eq!(errors[0].get("locations"), None, "{}", anonymous.body);
        let message = anonymous.message();
        for name in [
            "notebo", "emial", "frist", "Query", "User", "title", "ID", "Int",
        ] {
            assert!(!message.contains(name), "{name} in {message:?}");
        }
        // A signed-in client learns what is wrong.
        let signed_in = app.gql(Some(&alice), query, json!({})).await;
        assert_eq!(signed_in.code(), "BAD_USER_INPUT", "{query}");
        assert_ne!(signed_in.message(), message, "{query}");
    }
}
