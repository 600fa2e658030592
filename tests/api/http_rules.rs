use serde_json::json;

use crate::common::{Gql, TestApp};

#[tokio::test]
async fn a_mutation_over_get_is_405_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Keep me", "").await;
    for query in [
        format!("mutation {{ deleteNotebook(id: \"{id}\") }}"),
        format!("query A {{ viewer {{ id }} }} mutation B {{ deleteNotebook(id: \"{id}\") }}"),
    ] {
        let response = app
            .client
            .get(app.url("/api/graphql"))
            .query(&[("query", query.as_str()), ("operationName", "B")])
            .header("Authorization", format!("Token {}", alice.token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "POST");
    }
    let still = app
        .gql(
            None,
            "query($id: ID!) { notebook(id: $id) { title } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(still.data()["notebook"]["title"], "Keep me");
}

#[tokio::test]
async fn a_query_over_get_runs() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.notebook(&alice, "Visible", "").await;
    let response = app
        .client
        .get(app.url("/api/graphql"))
        .query(&[("query", "{ notebooks { nodes { title } } }")])
        .send()
        .await
        .unwrap();
    let response = Gql::read(response).await;
    assert_eq!(
        response.data()["notebooks"]["nodes"],
        json!([{ "title": "Visible" }])
    );
}

#[tokio::test]
async fn simple_content_types_are_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mutation = json!({ "query": "mutation { createNotebook(input: { title: \"csrf\", content: \"\" }) { id } }" }).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "text/plain;charset=UTF-8",
    ] {
        let response = app
            .client
            .post(app.url("/api/graphql"))
            .header("Content-Type", content_type)
            .header("Authorization", format!("Token {}", alice.token))
            .body(mutation.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "{content_type}");
    }
    let without = app
        .client
        .post(app.url("/api/graphql"))
        .body(mutation)
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 415);
    let count = app
        .gql(None, "{ notebooks { totalCount } }", json!({}))
        .await;
    assert_eq!(count.data()["notebooks"]["totalCount"], 0);
}

#[tokio::test]
async fn malformed_and_oversized_bodies_get_clear_errors() {
    let app = TestApp::spawn().await;
    let post = |body: Vec<u8>| {
        app.client
            .post(app.url("/api/graphql"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let malformed = Gql::read(post(b"{\"query\": ".to_vec()).await.unwrap()).await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.code(), "BAD_USER_INPUT");

    let huge = format!("{{\"query\": \"{}\"}}", "x".repeat(12 * 1024 * 1024));
    let oversized = Gql::read(post(huge.into_bytes()).await.unwrap()).await;
    assert_eq!(oversized.status, 413);
    assert_eq!(oversized.code(), "PAYLOAD_TOO_LARGE");

    let wrong_type = app
        .gql(None, "{ notebook(id: {a: 1}) { id } }", json!({}))
        .await;
    assert_eq!(wrong_type.code(), "BAD_USER_INPUT");
    let syntax = app.gql(None, "{ notebooks { ", json!({})).await;
    assert_eq!(syntax.code(), "BAD_USER_INPUT");
    let unknown = app.gql(None, "{ notebookz { id } }", json!({})).await;
    assert_eq!(unknown.code(), "BAD_USER_INPUT");
    assert!(
        !unknown.message().contains("Did you mean"),
        "{}",
        unknown.message()
    );
}

#[tokio::test]
async fn batches_run_up_to_a_limit() {
    let app = TestApp::spawn().await;
    let post = |size: usize| {
        let batch: Vec<_> = (0..size)
            .map(|_| json!({ "query": "{ viewer { id } }" }))
            .collect();
        app.client.post(app.url("/api/graphql")).json(&batch).send()
    };
    let ok = post(2).await.unwrap();
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(
        body,
        json!([{ "data": { "viewer": null } }, { "data": { "viewer": null } }])
    );
    let too_many = Gql::read(post(11).await.unwrap()).await;
    assert_eq!(too_many.status, 400);
    assert!(
        too_many.message().contains("at most 10"),
        "{}",
        too_many.message()
    );
}

#[tokio::test]
async fn deep_queries_are_refused() {
    let app = TestApp::spawn().await;
    let nested = |levels: usize| {
        let mut query = String::from("id");
        for _ in 0..levels {
            query = format!("notebooks(first: 1) {{ nodes {{ owner {{ {query} }} }} }}");
        }
        format!("{{ {query} }}")
    };
    let shallow = app.gql(None, &nested(5), json!({})).await;
    assert_eq!(shallow.data()["notebooks"]["nodes"], json!([]));
    for levels in [6, 12] {
        let response = app.gql(None, &nested(levels), json!({})).await;
        assert_eq!(response.code(), "QUERY_TOO_COMPLEX", "{levels}");
    }
}

#[tokio::test]
async fn unknown_routes_are_json_404s_and_heartbeats_answer() {
    let app = TestApp::spawn().await;
    let missing = Gql::read(app.client.get(app.url("/nope")).send().await.unwrap()).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.code(), "NOT_FOUND");

    let heartbeat = app
        .client
        .get(app.url("/__heartbeat__"))
        .send()
        .await
        .unwrap();
    assert_eq!(heartbeat.status(), 200);
    let body: serde_json::Value = heartbeat.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    let lb = app
        .client
        .get(app.url("/__lbheartbeat__"))
        .send()
        .await
        .unwrap();
    assert_eq!(lb.status(), 200);
    let version: serde_json::Value = app
        .client
        .get(app.url("/__version__"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    let commit = version["commit"].as_str().unwrap();
    assert!(commit == "unknown" || commit.len() >= 7, "{commit}");
}

#[tokio::test]
async fn graphiql_is_served_without_a_cdn() {
    let app = TestApp::spawn().await;
    let page = app.client.get(app.url("/graphiql")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains(&format!("script-src {}/graphiql/assets/;", app.origin()))
    );
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("https://"),
        "the page must not load from a CDN"
    );
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql-init.js",
    ] {
        assert!(
            html.contains(&format!("/graphiql/assets/{asset}")),
            "{asset}"
        );
        let response = app
            .client
            .get(app.url(&format!("/graphiql/assets/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.bytes().await.unwrap().len() > 500, "{asset}");
    }
    let missing = app
        .client
        .get(app.url("/graphiql/assets/other.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/__lbheartbeat__"))
        .send()
        .await
        .unwrap();
    assert!(!response.headers()["x-request-id"].is_empty());
    let echoed = app
        .client
        .get(app.url("/__lbheartbeat__"))
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");
}
