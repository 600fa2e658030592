//! The response cache: an anonymous read of a public server is answered from
//! the bytes of the last answer (`X-Cache: hit`) while nothing it read has
//! changed; every write is seen by the next read, on this instance and on
//! another; and no answer that could differ between requests is ever kept.

use chrono::Utc;
use iodide_server::{
    auth::jwt::{self, TokenType},
    users,
};
use serde_json::{Value, json};

use crate::common::{Gql, TestApp, TestUser, request::RequestHelper};

const OPEN: &str = "query Open($id: ID!) { notebook(id: $id) { id title \
    owner { username } latestRevision { id title content } } }";
const FRONT_PAGE: &str = "{ notebooks(first: 50) { edges { cursor node { id title \
    owner { username } latestRevision { title } } } pageInfo { hasNextPage } } }";

fn x_cache(response: &Gql) -> Option<&str> {
    response
        .headers
        .get("x-cache")
        .map(|value| value.to_str().unwrap())
}

/// Asks three times as nobody: the first fills the entity cache (an answer
/// read from the database is not kept), the second is kept, the third is the
/// second's bytes, from the response cache.
async fn from_cache(app: &TestApp, query: &str, variables: Value) -> Value {
    let first = app.gql(None, query, variables.clone()).await;
    app.gql(None, query, variables.clone()).await;
    let again = app.gql(None, query, variables).await;
    assert_eq!(x_cache(&again), Some("hit"), "{query}: {}", again.body);
    assert_eq!(again.body, first.body);
    again.data().clone()
}

/// Asks `times` times as nobody: never from the cache, always the same answer.
async fn never_from_cache(app: &TestApp, query: &str, variables: Value) -> Value {
    let first = app.gql(None, query, variables.clone()).await;
    for _ in 0..3 {
        let again = app.gql(None, query, variables.clone()).await;
        assert_ne!(x_cache(&again), Some("hit"), "{query}: {}", again.body);
        assert_eq!(again.body, first.body);
    }
    first.body
}

/// Asks as `user`, then as nobody, three times each: neither answer is ever
/// from the cache, and `user`'s is never served to nobody.
async fn never_from_cache_as(app: &TestApp, user: &TestUser, query: &str, variables: Value) {
    let own = user.gql(query, variables.clone()).await;
    let anonymous = app.gql(None, query, variables.clone()).await;
    for _ in 0..3 {
        let again = user.gql(query, variables.clone()).await;
        assert_ne!(x_cache(&again), Some("hit"), "{query}: {}", again.body);
        assert_eq!(again.body, own.body);
        let again = app.gql(None, query, variables.clone()).await;
        assert_ne!(x_cache(&again), Some("hit"), "{query}: {}", again.body);
        assert_eq!(again.body, anonymous.body);
    }
}

async fn open(app: &TestApp, id: &str) -> Gql {
    app.gql(None, OPEN, json!({ "id": id })).await
}

fn titles(page: &Gql) -> Vec<String> {
    page.data()["notebooks"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["title"].as_str().unwrap().to_string())
        .collect()
}

/// Sends a request with `owner`'s token to `app` (a TestUser's own helpers
/// talk to the instance that created it).
async fn as_owner_on(app: &TestApp, owner: &TestUser, query: &str, variables: Value) -> Gql {
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header("Authorization", format!("Token {}", owner.token))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    Gql::read(response).await
}

async fn save(app: &TestApp, owner: &TestUser, id: &str, title: &str, content: &str) {
    as_owner_on(
        app,
        owner,
        "mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id } }",
        json!({ "input": { "notebookId": id, "title": title, "content": content } }),
    )
    .await
    .data();
}

#[tokio::test]
async fn a_repeated_anonymous_read_is_served_from_the_cache() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Cached", "text").await;

    let notebook = from_cache(&app, OPEN, json!({ "id": id })).await;
    assert_eq!(notebook["notebook"]["latestRevision"]["content"], "text");
    let statements = app.statements();
    assert_eq!(x_cache(&open(&app, &id).await), Some("hit"));
    assert_eq!(app.statements(), statements);

    let page = from_cache(&app, FRONT_PAGE, json!({})).await;
    assert_eq!(page["notebooks"]["edges"][0]["node"]["title"], "Cached");
    from_cache(
        &app,
        "{ user(username: \"alice\") { username isStaff } }",
        json!({}),
    )
    .await;

    // Over GET too, with its ETag; the media type is part of the question.
    let get = || async {
        let response = app
            .client
            .get(app.url("/api/graphql"))
            .header("Accept", "application/graphql-response+json")
            .query(&[
                ("query", OPEN),
                ("variables", &json!({ "id": id }).to_string()),
            ])
            .send()
            .await
            .unwrap();
        Gql::read(response).await
    };
    let first = get().await;
    assert_eq!(x_cache(&first), Some("miss"));
    let again = get().await;
    assert_eq!(x_cache(&again), Some("hit"));
    assert_eq!(again.headers["etag"], first.headers["etag"]);
    assert_eq!(
        again.headers["content-type"],
        "application/graphql-response+json; charset=utf-8"
    );
    assert_eq!(again.body, first.body);
}

#[tokio::test]
async fn every_write_is_seen_by_the_next_read() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "First", "one").await;
    from_cache(&app, OPEN, json!({ "id": id })).await;
    from_cache(&app, FRONT_PAGE, json!({})).await;

    save(&app, &alice, &id, "First", "two").await;
    let saved = open(&app, &id).await;
    assert_ne!(x_cache(&saved), Some("hit"));
    assert_eq!(saved.data()["notebook"]["latestRevision"]["content"], "two");
    from_cache(&app, OPEN, json!({ "id": id })).await;

    let rename = "mutation($id: ID!) { updateNotebookTitle(id: $id, title: \"Renamed\") { id } }";
    alice.gql(rename, json!({ "id": id })).await.data();
    assert_eq!(open(&app, &id).await.data()["notebook"]["title"], "Renamed");
    assert_eq!(
        titles(&app.gql(None, FRONT_PAGE, json!({})).await),
        ["Renamed"]
    );
    from_cache(&app, FRONT_PAGE, json!({})).await;

    let (second, _) = app.notebook(&alice, "Second", "").await;
    assert_eq!(
        titles(&app.gql(None, FRONT_PAGE, json!({})).await),
        ["Second", "Renamed"]
    );
    from_cache(&app, FRONT_PAGE, json!({})).await;

    alice
        .gql(
            "mutation($id: ID!) { deleteNotebook(id: $id) }",
            json!({ "id": second }),
        )
        .await
        .data();
    assert_eq!(
        titles(&app.gql(None, FRONT_PAGE, json!({})).await),
        ["Renamed"]
    );

    // A profile change, made past the API as the command line does.
    from_cache(&app, OPEN, json!({ "id": id })).await;
    users::grant(&app.state.db, &app.state.cache, "alice", Some(true), None)
        .await
        .unwrap();
    let user = "{ user(username: \"alice\") { isStaff } }";
    assert_eq!(
        app.gql(None, user, json!({})).await.data()["user"]["isStaff"],
        true
    );

    // Files are read from the database, which no cache key covers: never kept,
    // so an upload is seen at once.
    let files = "query($id: ID!) { notebook(id: $id) { files { filename } } }";
    let before = never_from_cache(&app, files, json!({ "id": id })).await;
    assert_eq!(before["data"]["notebook"]["files"], json!([]));
    app.upload(&alice, &id, "data.csv", b"a,b".to_vec())
        .await
        .data();
    let after = app.gql(None, files, json!({ "id": id })).await;
    assert_eq!(
        after.data()["notebook"]["files"],
        json!([{ "filename": "data.csv" }])
    );
}

#[tokio::test]
async fn a_write_on_another_instance_is_seen_through_redis() {
    // The SQLite run has no Redis: each instance's in-process cache is its own.
    // .ci/run runs this file again with TEST_REDIS_URL and TEST_DATABASE_URL.
    if std::env::var("TEST_REDIS_URL")
        .unwrap_or_default()
        .is_empty()
    {
        return;
    }
    let reader = TestApp::spawn().await;
    let writer = reader.second_instance().await;
    let alice = reader.user("alice").await;
    let (id, _) = reader.notebook(&alice, "Shared", "v0").await;

    for version in 1..=3 {
        from_cache(&reader, OPEN, json!({ "id": id })).await;
        from_cache(&reader, FRONT_PAGE, json!({})).await;
        let content = format!("v{version}");
        let title = format!("Shared {version}");
        save(&writer, &alice, &id, &title, &content).await;
        let read = open(&reader, &id).await;
        assert_eq!(
            read.data()["notebook"]["latestRevision"]["content"],
            content
        );
        assert_eq!(
            titles(&reader.gql(None, FRONT_PAGE, json!({})).await),
            [title]
        );
    }

    from_cache(&reader, FRONT_PAGE, json!({})).await;
    as_owner_on(
        &writer,
        &alice,
        "mutation { createNotebook(input: { title: \"Newer\", content: \"\" }) { id } }",
        json!({}),
    )
    .await
    .data();
    assert_eq!(
        titles(&reader.gql(None, FRONT_PAGE, json!({})).await),
        ["Newer", "Shared 3"]
    );
    from_cache(&reader, OPEN, json!({ "id": id })).await;
    as_owner_on(
        &writer,
        &alice,
        "mutation($id: ID!) { deleteNotebook(id: $id) }",
        json!({ "id": id }),
    )
    .await
    .data();
    assert_eq!(open(&reader, &id).await.data()["notebook"], json!(null));
}

#[tokio::test]
async fn a_signed_in_read_that_does_not_ask_who_shares_the_anonymous_answer() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Public", "text").await;
    let access = jwt::issue(
        &app.state.config.secret_key,
        alice.model.id,
        TokenType::Access,
        Utc::now(),
    );
    let jwt_user = app.with_jwt(&access);
    let cookie_user = app.signed_in("alice").await;

    // Kept for anonymous readers, served to every kind of identity.
    let kept = from_cache(&app, OPEN, json!({ "id": id })).await;
    let answers = [
        alice.gql(OPEN, json!({ "id": id })).await,
        jwt_user.gql(OPEN, json!({ "id": id })).await,
        cookie_user.gql(OPEN, json!({ "id": id })).await,
    ];
    for answer in answers {
        assert_eq!(x_cache(&answer), Some("hit"), "{}", answer.body);
        assert_eq!(answer.data(), &kept);
    }

    // Over GET, a signed-in hit is still the viewer's own to a browser's cache.
    let get = |authorization: Option<String>| {
        let mut request = app.client.get(app.url("/api/graphql")).query(&[
            ("query", OPEN),
            ("variables", &json!({ "id": id }).to_string()),
        ]);
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        async move { Gql::read(request.send().await.unwrap()).await }
    };
    get(None).await;
    let public = get(None).await;
    assert_eq!(x_cache(&public), Some("hit"));
    assert_eq!(public.headers["cache-control"], "public, no-cache");
    let private = get(Some(format!("Token {}", alice.token))).await;
    assert_eq!(x_cache(&private), Some("hit"));
    assert_eq!(private.headers["cache-control"], "private, no-cache");
    assert_eq!(private.body, public.body);

    // And the other way: kept from a signed-in answer, served to nobody.
    let (second, _) = app.notebook(&alice, "Second", "more").await;
    alice.gql(OPEN, json!({ "id": second })).await.data();
    let signed_in = alice.gql(OPEN, json!({ "id": second })).await;
    assert_eq!(x_cache(&signed_in), Some("miss"));
    let anonymous = open(&app, &second).await;
    assert_eq!(x_cache(&anonymous), Some("hit"));
    assert_eq!(anonymous.body, signed_in.body);

    // A write is seen by both.
    save(&app, &alice, &second, "Second", "changed").await;
    for answer in [
        alice.gql(OPEN, json!({ "id": second })).await,
        open(&app, &second).await,
    ] {
        assert_ne!(x_cache(&answer), Some("hit"));
        assert_eq!(
            answer.data()["notebook"]["latestRevision"]["content"],
            "changed"
        );
    }
}

#[tokio::test]
async fn answers_of_a_private_server_are_never_kept_or_served() {
    let internal = TestApp::builder().restrict_api().spawn().await;
    let bob = internal.user("bob").await;
    let (id, _) = internal.notebook(&bob, "Private", "").await;
    for _ in 0..3 {
        let answer = bob.gql(OPEN, json!({ "id": id })).await;
        assert_eq!(x_cache(&answer), None);
        assert_eq!(answer.data()["notebook"]["title"], "Private");
        let refused = internal.gql(None, OPEN, json!({ "id": id })).await;
        assert_eq!(refused.code(), "UNAUTHENTICATED");
        assert_eq!(x_cache(&refused), None);
    }
}

#[tokio::test]
async fn fields_about_the_viewer_mutations_and_errors_are_never_kept() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Public", "").await;
    let source =
        "mutation($input: CreateFileSourceInput!) { createFileSource(input: $input) { id } }";
    alice
        .gql(
            source,
            json!({ "input": { "notebookId": id, "filename": "d.csv", "url": "https://example.org/d.csv?key=secret", "updateInterval": "DAILY" } }),
        )
        .await
        .data();

    for (query, variables) in [
        ("{ viewer { username } }", json!({})),
        (
            "{ user(username: \"alice\") { username email } }",
            json!({}),
        ),
        (
            "{ user(username: \"alice\") { canCreateOnBehalfOfOthers } }",
            json!({}),
        ),
        (
            "query($id: ID!) { notebook(id: $id) { title viewerCanEdit } }",
            json!({ "id": id }),
        ),
        (
            "query($id: ID!) { notebook(id: $id) { fileSources { url } } }",
            json!({ "id": id }),
        ),
    ] {
        never_from_cache(&app, query, variables.clone()).await;
        never_from_cache_as(&app, &alice, query, variables).await;
    }

    // Errors: a bad id, a missing variable, a document that does not parse.
    for (query, variables) in [
        (OPEN, json!({ "id": "not a number" })),
        (OPEN, json!({})),
        ("{ notebook(id: ", json!({})),
    ] {
        let answer = never_from_cache(&app, query, variables).await;
        assert!(answer["errors"].is_array(), "{answer}");
    }

    // A mutation runs each time, and is never answered from the cache.
    let rename = "mutation($id: ID!, $title: String!) { updateNotebookTitle(id: $id, title: $title) { title } }";
    for title in ["One", "One", "Two"] {
        let answer = alice.gql(rename, json!({ "id": id, "title": title })).await;
        assert_eq!(x_cache(&answer), None);
        assert_eq!(answer.data()["updateNotebookTitle"]["title"], title);
    }
    let anonymous = app
        .gql(None, rename, json!({ "id": id, "title": "Three" }))
        .await;
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
    assert_eq!(x_cache(&anonymous), None);
}
