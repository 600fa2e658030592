//! Automatic persisted queries (Apollo's protocol) over POST and GET.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{Gql, TestApp};

const QUERY: &str = "query Titles { notebooks(first: 5) { edges { node { title } } } }";

fn hash(query: &str) -> String {
    hex::encode(Sha256::digest(query.as_bytes()))
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(app: &TestApp, body: Value) -> Gql {
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header("Accept", "application/json")
        .json(&body)
        .send()
        .await
        .unwrap();
    Gql::read(response).await
}

async fn get_by_hash(app: &TestApp, hash: &str) -> Gql {
    let response = app
        .client
        .get(app.url("/api/graphql"))
        .header("Accept", "application/json")
        .query(&[("extensions", persisted(hash).to_string())])
        .send()
        .await
        .unwrap();
    Gql::read(response).await
}

fn titles(answer: &Gql) -> Vec<String> {
    answer.data()["notebooks"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_unknown_hash_is_not_found_then_the_query_registers_it_for_post_and_get() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.notebook(&alice, "Persisted", "").await;
    let hash = hash(QUERY);

    let miss = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(miss.status, 200);
    assert_eq!(miss.code(), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(miss.message(), "PersistedQueryNotFound");
    assert_eq!(
        get_by_hash(&app, &hash).await.code(),
        "PERSISTED_QUERY_NOT_FOUND"
    );

    let register = post(
        &app,
        json!({ "query": QUERY, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(titles(&register), ["Persisted"]);

    let hit = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(titles(&hit), ["Persisted"]);
    assert_eq!(titles(&get_by_hash(&app, &hash).await), ["Persisted"]);
}

#[tokio::test]
async fn a_miss_under_graphql_response_json_is_400_without_data() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header("Accept", "application/graphql-response+json")
        .json(&json!({ "extensions": persisted(&hash("{ __typename }")) }))
        .send()
        .await
        .unwrap();
    let miss = Gql::read(response).await;
    assert_eq!(miss.status, 400);
    assert!(miss.body.get("data").is_none());
    assert_eq!(miss.code(), "PERSISTED_QUERY_NOT_FOUND");
}

#[tokio::test]
async fn a_hash_that_is_not_the_querys_is_refused_and_registers_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let create = "mutation { createNotebook(input: {title: \"No\", content: \"\"}) { id } }";
    let innocent = hash("{ __typename }");
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header("Authorization", format!("Token {}", alice.token))
        .json(&json!({ "query": create, "extensions": persisted(&innocent) }))
        .send()
        .await
        .unwrap();
    let refused = Gql::read(response).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.code(), "BAD_USER_INPUT");
    // Neither ran nor registered under the borrowed hash.
    assert_eq!(
        get_by_hash(&app, &innocent).await.code(),
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let list = post(&app, json!({ "query": QUERY })).await;
    assert!(titles(&list).is_empty());
    for bad in [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": innocent } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "nothex" } }),
        json!({ "persistedQuery": "x" }),
    ] {
        let answer = post(&app, json!({ "extensions": bad })).await;
        assert_eq!(answer.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn a_mutation_by_hash_over_get_is_405() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let create = "mutation { createNotebook(input: {title: \"No\", content: \"\"}) { id } }";
    let hash = hash(create);
    // Registering is not running: a mutation registers over POST and runs there.
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header("Authorization", format!("Token {}", alice.token))
        .json(&json!({ "query": create, "extensions": persisted(&hash) }))
        .send()
        .await
        .unwrap();
    assert_eq!(Gql::read(response).await.status, 200);
    let response = app
        .client
        .get(app.url("/api/graphql"))
        .header("Authorization", format!("Token {}", alice.token))
        .query(&[("extensions", persisted(&hash).to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let list = post(&app, json!({ "query": QUERY })).await;
    assert_eq!(titles(&list), ["No"]);
}

#[tokio::test]
async fn two_instances_on_one_redis_know_the_same_queries() {
    let Some((first, second, _redis)) = TestApp::builder().spawn_two_sharing_redis().await else {
        return;
    };
    let alice = first.user("alice").await;
    first.notebook(&alice, "Shared", "").await;
    let hash = hash(QUERY);
    post(
        &first,
        json!({ "query": QUERY, "extensions": persisted(&hash) }),
    )
    .await;
    let hit = post(&second, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(titles(&hit), ["Shared"]);
}

#[tokio::test]
async fn a_query_too_long_to_run_is_not_kept() {
    let app = TestApp::spawn().await;
    let longest = iodide_server::graphql::limits::MAX_QUERY_CHARS;
    for (length, kept) in [(longest, true), (longest + 1, false)] {
        // A comment makes the text long and leaves the query as it is.
        let padding = length - QUERY.len() - 3;
        let long = format!("{QUERY}\n# {}", "x".repeat(padding));
        assert_eq!(long.len(), length);
        let hash = hash(&long);
        let sent = post(
            &app,
            json!({ "query": long, "extensions": persisted(&hash) }),
        )
        .await;
        let ran = sent.body.get("errors").is_none();
        assert_eq!(ran, kept, "{length} characters: {:?}", sent.body);

        let by_hash = post(&app, json!({ "extensions": persisted(&hash) })).await;
        let found = by_hash.body["errors"][0]["extensions"]["code"] != "PERSISTED_QUERY_NOT_FOUND";
        assert_eq!(found, kept, "{length} characters: {:?}", by_hash.body);
    }
}

#[tokio::test]
async fn the_shared_store_keeps_its_capacity_and_forgets_the_oldest() {
    use async_graphql::Request;
    use iodide_server::{
        cache::RedisConnection,
        config::Config,
        graphql::persisted::{PersistedQueries, Refusal},
    };

    let Some(redis) = crate::common::redis_server::RedisServer::start() else {
        return;
    };
    let mut config = Config::for_database("sqlite::memory:");
    config.cache.redis_url = Some(redis.url());
    let connection = RedisConnection::from_config(&config.cache).unwrap();
    let store = PersistedQueries::new(connection, "bound:", 2);
    let request = |query: &str, with_text: bool| -> Request {
        let text = if with_text { query } else { "" };
        serde_json::from_value(json!({ "query": text, "extensions": persisted(&hash(query)) }))
            .unwrap()
    };
    let queries = [
        "{ a: __typename }",
        "{ b: __typename }",
        "{ c: __typename }",
    ];
    for query in queries {
        assert!(store.resolve(request(query, true)).await.is_ok());
    }

    let mut known = Vec::new();
    for query in queries {
        match store.resolve(request(query, false)).await {
            Ok(found) => known.push(found.query),
            Err(Refusal::NotFound) => {}
            Err(Refusal::Invalid(error)) => panic!("{error:?}"),
        }
    }
    assert_eq!(known, ["{ b: __typename }", "{ c: __typename }"]);
}
