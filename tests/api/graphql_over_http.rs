//! The GraphQL-over-HTTP spec, one test per rule: media types from Accept,
//! statuses per media type, well-formed requests, GET and POST.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Gql, TestApp};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn post(app: &TestApp, accept: &str, body: &str) -> Gql {
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header("Content-Type", "application/json")
        .header("Accept", accept)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    Gql::read(response).await
}

fn content_type(answer: &Gql) -> &str {
    answer.headers["content-type"].to_str().unwrap()
}

async fn notebook_count(app: &TestApp) -> usize {
    let list = app
        .gql(
            None,
            "{ notebooks(first: 50) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    list.data()["notebooks"]["edges"].as_array().unwrap().len()
}

#[tokio::test]
async fn accepting_application_json_gets_application_json() {
    let app = TestApp::spawn().await;
    let answer = post(&app, "application/json", r#"{"query":"{ __typename }"}"#).await;
    assert_eq!(answer.status, 200);
    assert_eq!(content_type(&answer), "application/json; charset=utf-8");
    assert_eq!(answer.data()["__typename"], "Query");
}

#[tokio::test]
async fn accepting_graphql_response_json_gets_it_and_the_client_order_decides() {
    let app = TestApp::spawn().await;
    for (accept, expected) in [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        // GraphiQL's and Apollo's Accept.
        (
            "application/graphql-response+json, application/json, multipart/mixed",
            GRAPHQL_RESPONSE,
        ),
        (
            "application/graphql-response+json;q=0.5, application/json",
            "application/json",
        ),
        (
            "application/json;q=0.9, application/graphql-response+json",
            GRAPHQL_RESPONSE,
        ),
        ("*/*", "application/json"),
    ] {
        let answer = post(&app, accept, r#"{"query":"{ __typename }"}"#).await;
        assert_eq!(answer.status, 200, "{accept}");
        assert_eq!(
            content_type(&answer),
            format!("{expected}; charset=utf-8"),
            "{accept}"
        );
    }
}

/// reqwest always sends an Accept, so this one speaks HTTP by hand.
#[tokio::test]
async fn no_accept_header_gets_application_json() {
    let app = TestApp::spawn().await;
    let url = url::Url::parse(&app.url("/api/graphql")).unwrap();
    let mut stream = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap()))
        .await
        .unwrap();
    let body = r#"{"query":"{ __typename }"}"#;
    let request = format!(
        "POST /api/graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        url.authority(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let head = answer
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: application/json; charset=utf-8"),
        "{head}"
    );
}

#[tokio::test]
async fn accepting_neither_type_is_406_and_runs_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let create = json!({
        "query": "mutation { createNotebook(input: {title: \"No\", content: \"\"}) { id } }"
    });
    for accept in [
        "text/html",
        "application/json; charset=latin1",
        "application/json;q=0",
    ] {
        let response = app
            .client
            .post(app.url("/api/graphql"))
            .header("Authorization", format!("Token {}", alice.token))
            .header("Accept", accept)
            .json(&create)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 406, "{accept}");
    }
    assert_eq!(notebook_count(&app).await, 0);
}

#[tokio::test]
async fn request_errors_are_400_without_data_under_graphql_response_json() {
    let app = TestApp::spawn().await;
    for (what, body) in [
        ("parse", r#"{"query":"{"}"#),
        ("validation", r#"{"query":"{ noSuchField }"}"#),
        (
            "operation",
            r#"{"query":"query A { __typename } query B { __typename }"}"#,
        ),
        (
            "variables",
            r#"{"query":"query($id: ID!) { notebook(id: $id) { title } }","variables":{}}"#,
        ),
        (
            "null variable",
            r#"{"query":"query($id: ID!) { notebook(id: $id) { title } }","variables":{"id":null}}"#,
        ),
        (
            "variable type",
            r#"{"query":"query($n: Int) { notebooks(first: $n) { edges { cursor } } }","variables":{"n":"ten"}}"#,
        ),
    ] {
        let answer = post(&app, GRAPHQL_RESPONSE, body).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.body);
        assert!(answer.body.get("data").is_none(), "{what}: {}", answer.body);
        assert_eq!(answer.code(), "BAD_USER_INPUT", "{what}");
        assert_eq!(
            content_type(&answer),
            format!("{GRAPHQL_RESPONSE}; charset=utf-8")
        );
    }
}

#[tokio::test]
async fn request_errors_are_200_under_application_json() {
    let app = TestApp::spawn().await;
    for body in [
        r#"{"query":"{"}"#,
        r#"{"query":"{ noSuchField }"}"#,
        r#"{"query":"query($id: ID!) { notebook(id: $id) { title } }","variables":{}}"#,
    ] {
        let answer = post(&app, "application/json", body).await;
        assert_eq!(answer.status, 200, "{body}");
        assert_eq!(answer.code(), "BAD_USER_INPUT", "{body}");
    }
}

#[tokio::test]
async fn field_errors_are_200_with_data_under_graphql_response_json() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (id, _) = app.notebook(&alice, "Alice's", "").await;
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header("Authorization", format!("Token {}", bob.token))
        .header("Accept", GRAPHQL_RESPONSE)
        .json(&json!({
            "query": "mutation($id: ID!) { deleteNotebook(id: $id) }",
            "variables": { "id": id },
        }))
        .send()
        .await
        .unwrap();
    let answer = Gql::read(response).await;
    // The error is the field's: execution began, so data is there (null).
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body.get("data"), Some(&Value::Null));
    assert_eq!(answer.code(), "FORBIDDEN");
}

#[tokio::test]
async fn a_body_that_is_not_a_graphql_request_is_400_and_runs_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let create =
        "mutation { createNotebook(input: {title: \\\"No\\\", content: \\\"\\\"}) { id } }";
    for accept in [GRAPHQL_RESPONSE, "application/json"] {
        for body in [
            r#"{"foo": 1}"#.to_owned(),
            format!(r#"{{"qeury": "{create}"}}"#),
            format!(r#"{{"query": "{create}", "variables": [7]}}"#),
            format!(r#"{{"query": "{create}", "operationName": 7}}"#),
            format!(r#"{{"query": "{create}", "extensions": "x"}}"#),
            r#"{"query": 7}"#.to_owned(),
            "NONSENSE".to_owned(),
            r#"{"query":"#.to_owned(),
        ] {
            let response = app
                .client
                .post(app.url("/api/graphql"))
                .header("Authorization", format!("Token {}", alice.token))
                .header("Content-Type", "application/json")
                .header("Accept", accept)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let answer = Gql::read(response).await;
            assert_eq!(answer.status, 400, "{accept} {body}");
            assert!(answer.body.get("data").is_none());
            assert_eq!(answer.code(), "BAD_USER_INPUT");
        }
    }
    assert_eq!(notebook_count(&app).await, 0);
}

#[tokio::test]
async fn a_post_without_content_type_is_refused() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header("Accept", GRAPHQL_RESPONSE)
        .body(r#"{"query":"{ __typename }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn get_takes_the_parameters_in_the_query_string() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Over GET", "").await;
    let response = app
        .client
        .get(app.url("/api/graphql"))
        .header("Accept", GRAPHQL_RESPONSE)
        .query(&[
            (
                "query",
                "query Title($id: ID!) { notebook(id: $id) { title } }",
            ),
            ("variables", &json!({ "id": id }).to_string()),
            ("operationName", "Title"),
        ])
        .send()
        .await
        .unwrap();
    let answer = Gql::read(response).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        content_type(&answer),
        format!("{GRAPHQL_RESPONSE}; charset=utf-8")
    );
    assert_eq!(answer.data()["notebook"]["title"], "Over GET");
}

#[tokio::test]
async fn a_get_that_is_not_well_formed_is_400() {
    let app = TestApp::spawn().await;
    for query in [
        vec![],
        vec![("query", "{ __typename }"), ("variables", "[7]")],
        vec![("query", "{ __typename }"), ("variables", "not json")],
        vec![("query", "{ __typename }"), ("extensions", "1")],
    ] {
        let response = app
            .client
            .get(app.url("/api/graphql"))
            .header("Accept", GRAPHQL_RESPONSE)
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query:?}");
    }
}

#[tokio::test]
async fn a_get_that_does_not_validate_is_400_under_graphql_response_json() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/api/graphql"))
        .header("Accept", GRAPHQL_RESPONSE)
        .query(&[("query", "{ noSuchField }")])
        .send()
        .await
        .unwrap();
    let answer = Gql::read(response).await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.get("data").is_none());
}

async fn get_title(
    app: &TestApp,
    id: &str,
    token: Option<&str>,
    etag: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.get(app.url("/api/graphql")).query(&[
        ("query", "query($id: ID!) { notebook(id: $id) { title } }"),
        ("variables", &json!({ "id": id }).to_string()),
    ]);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Token {token}"));
    }
    if let Some(etag) = etag {
        request = request.header("If-None-Match", etag);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_get_answer_has_an_etag_and_an_unchanged_one_answers_304() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Cached", "").await;
    let first = get_title(&app, &id, None, None).await;
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(first.headers()["cache-control"], "public, no-cache");
    let again = get_title(&app, &id, None, Some(&etag)).await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.text().await.unwrap().is_empty());
    // Another client's copy of something else is not this one.
    let other = get_title(&app, &id, None, Some("\"0123\"")).await;
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn a_changed_notebook_never_answers_304() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Before", "").await;
    let first = get_title(&app, &id, None, None).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let renamed = app
        .gql(
            Some(&alice),
            "mutation($id: ID!) { updateNotebookTitle(id: $id, title: \"After\") { title } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        renamed.data()["updateNotebookTitle"]["title"],
        "After",
        "{}",
        renamed.body
    );
    let after = get_title(&app, &id, None, Some(&etag)).await;
    assert_eq!(after.status(), 200);
    assert_ne!(after.headers()["etag"], etag.as_str());
    let body: Value = after.json().await.unwrap();
    assert_eq!(body["data"]["notebook"]["title"], "After");
}

#[tokio::test]
async fn signed_in_and_internal_mode_answers_are_private() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Mine", "").await;
    let signed_in = get_title(&app, &id, Some(&alice.token), None).await;
    assert_eq!(signed_in.headers()["cache-control"], "private, no-cache");
    assert!(
        signed_in.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("Authorization")
    );

    let internal = TestApp::builder().restrict_api().spawn().await;
    let bob = internal.user("bob").await;
    let (id, _) = internal.notebook(&bob, "Internal", "").await;
    for token in [Some(bob.token.as_str()), None] {
        let answer = get_title(&internal, &id, token, None).await;
        let cache_control = answer.headers()["cache-control"].to_str().unwrap();
        assert!(
            cache_control.starts_with("private") || cache_control == "no-store",
            "{cache_control}"
        );
    }
}

#[tokio::test]
async fn refused_gets_are_never_stored() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/api/graphql"))
        .query(&[("variables", "[7]")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.headers().get("etag").is_none());
}
