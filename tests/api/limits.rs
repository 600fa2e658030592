use iodide_server::graphql::limits::{
    MAX_ALIASES, MAX_COMPLEXITY, MAX_DEPTH, MAX_NESTING, MAX_QUERY_CHARS,
};
use serde_json::json;

use crate::common::{Gql, TestApp};

fn assert_too_complex(response: &Gql, limit: usize) {
    assert_eq!(response.code(), "QUERY_TOO_COMPLEX", "{}", response.body);
    assert!(
        response.message().contains(&limit.to_string()),
        "{}",
        response.message()
    );
}

#[tokio::test]
async fn query_text_is_limited_in_length() {
    let app = TestApp::spawn().await;
    let padded = |length: usize| {
        let query = "{ viewer { id } }";
        format!("{query}{}", " ".repeat(length - query.len()))
    };
    let fits = app.gql(None, &padded(MAX_QUERY_CHARS), json!({})).await;
    assert_eq!(fits.data()["viewer"], json!(null));
    let over = app.gql(None, &padded(MAX_QUERY_CHARS + 1), json!({})).await;
    assert_too_complex(&over, MAX_QUERY_CHARS);
}

#[tokio::test]
async fn aliases_are_limited() {
    let app = TestApp::spawn().await;
    let aliased = |count: usize| {
        let fields: Vec<String> = (0..count)
            .map(|n| format!("a{n}: viewer {{ id }}"))
            .collect();
        format!("{{ {} }}", fields.join(" "))
    };
    let fits = app.gql(None, &aliased(MAX_ALIASES), json!({})).await;
    assert_eq!(fits.data()["a0"], json!(null));
    let over = app.gql(None, &aliased(MAX_ALIASES + 1), json!({})).await;
    assert_too_complex(&over, MAX_ALIASES);
}

#[tokio::test]
async fn connections_cost_their_page_size() {
    let app = TestApp::spawn().await;
    let nested = |outer: usize, inner: usize| {
        format!(
            "{{ notebooks(first: {outer}) {{ nodes {{ revisions(first: {inner}) {{ nodes {{ id title content }} }} }} }} }}"
        )
    };
    let fits = app.gql(None, &nested(10, 10), json!({})).await;
    assert_eq!(fits.data()["notebooks"]["nodes"], json!([]));
    let over = app.gql(None, &nested(100, 100), json!({})).await;
    assert_too_complex(&over, MAX_COMPLEXITY);
}

#[tokio::test]
async fn fields_within_fields_are_limited() {
    let app = TestApp::spawn().await;
    // Three levels per link, and `id`: 16 levels for 5 links.
    let deep = |links: usize| {
        format!(
            "{{ {} id {} }}",
            "notebooks(first: 1) { nodes { owner { ".repeat(links),
            "} } } ".repeat(links)
        )
    };
    assert_eq!(3 * 5 + 1, MAX_DEPTH);
    let fits = app.gql(None, &deep(5), json!({})).await;
    assert_eq!(fits.data()["notebooks"]["nodes"], json!([]));
    let over = app.gql(None, &deep(6), json!({})).await;
    assert_too_complex(&over, MAX_DEPTH);
}

#[tokio::test]
async fn selections_within_selections_are_limited() {
    let app = TestApp::spawn().await;
    let nested = |fragments: usize| {
        format!(
            "{{ {} viewer {{ id }} {} }}",
            "... on Query { ".repeat(fragments),
            "} ".repeat(fragments)
        )
    };
    let fits = app.gql(None, &nested(MAX_NESTING - 1), json!({})).await;
    assert_eq!(fits.data()["viewer"], json!(null));
    let over = app.gql(None, &nested(MAX_NESTING), json!({})).await;
    assert_too_complex(&over, MAX_NESTING);
    // Deeper still, the parser itself stops reading.
    let unreadable = app.gql(None, &nested(100), json!({})).await;
    assert_eq!(
        unreadable.code(),
        "QUERY_TOO_COMPLEX",
        "{}",
        unreadable.body
    );
}

#[tokio::test]
async fn parse_validation_and_coercion_errors_are_bad_user_input() {
    let app = TestApp::spawn().await;
    let unparsable = app.gql(None, "{ viewer { ", json!({})).await;
    assert_eq!(unparsable.code(), "BAD_USER_INPUT");
    assert!(
        unparsable.body["errors"][0]["locations"][0]["line"] == 1,
        "where it stopped: {}",
        unparsable.body
    );
    let unknown_field = app.gql(None, "{ viewer { nope } }", json!({})).await;
    assert_eq!(unknown_field.code(), "BAD_USER_INPUT");
    assert!(
        unknown_field.message().contains("nope"),
        "{}",
        unknown_field.body
    );
    let by_id = "query($id: ID!) { notebook(id: $id) { id } }";
    let missing_variable = app.gql(None, by_id, json!({})).await;
    assert_eq!(missing_variable.code(), "BAD_USER_INPUT");
    let page = "query($first: Int) { notebooks(first: $first) { totalCount } }";
    let wrong_type = app.gql(None, page, json!({ "first": "many" })).await;
    assert_eq!(wrong_type.code(), "BAD_USER_INPUT");
    let unknown_operation = app
        .query_as(
            &app.client,
            |request| request,
            json!({ "query": "query A { viewer { id } }", "operationName": "B" }),
        )
        .await;
    assert_eq!(unknown_operation.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_batch_sums_the_cost_of_its_operations() {
    let app = TestApp::spawn().await;
    // Each costs about three quarters of the limit: one passes, two together do not.
    let heavy =
        "{ notebooks(first: 35) { nodes { revisions(first: 35) { nodes { id title } } } } }";
    let single = app.gql(None, heavy, json!({})).await;
    assert_eq!(single.data()["notebooks"]["nodes"], json!([]));
    let batch = json!([{ "query": heavy }, { "query": heavy }]);
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    let codes: Vec<_> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|part| part["errors"][0]["extensions"]["code"].clone())
        .collect();
    assert_eq!(codes, [json!(null), json!("QUERY_TOO_COMPLEX")], "{body}");
}

#[tokio::test]
async fn repeated_or_unknown_directives_are_refused() {
    let app = TestApp::spawn().await;
    let two = app
        .gql(
            None,
            "{ viewer @include(if: true) @skip(if: false) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(two.data()["viewer"], json!(null));
    for query in [
        "{ viewer @include(if: true) @include(if: true) { id } }",
        "{ viewer @slow @slow @slow { id } }",
    ] {
        let response = app.gql(None, query, json!({})).await;
        assert_eq!(response.code(), "BAD_USER_INPUT", "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_runs_past_the_time_limit_is_stopped() {
    use sea_orm::{ConnectionTrait, TransactionTrait};

    let app = TestApp::builder()
        .configure(|c| c.graphql_time_limit = std::time::Duration::from_secs(2))
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Locked", "text").await;
    let rename = "mutation($id: ID!, $title: String!) { updateNotebookTitle(id: $id, title: $title) { title } }";
    let instant = app
        .gql(
            Some(&alice),
            rename,
            json!({ "id": id, "title": "Renamed" }),
        )
        .await;
    assert_eq!(instant.data()["updateNotebookTitle"]["title"], "Renamed");

    // Another writer holds the notebook's row (the write lock on SQLite), so the
    // next rename waits, deterministically, past the limit.
    let holder = app.state.db.begin().await.unwrap();
    holder
        .execute_unprepared(&format!(
            "UPDATE notebooks SET title = title WHERE id = {id}"
        ))
        .await
        .unwrap();
    let slow = app
        .gql(
            Some(&alice),
            rename,
            json!({ "id": id, "title": "Too late" }),
        )
        .await;
    holder.rollback().await.unwrap();
    assert_eq!(slow.status, 503);
    assert_eq!(slow.code(), "QUERY_TOO_COMPLEX");
    assert!(slow.message().contains("0 ms"), "{}", slow.message());
    let title = app
        .gql(
            None,
            "query($id: ID!) { notebook(id: $id) { title } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        title.data()["notebook"]["title"],
        "Renamed",
        "the stopped rename saved nothing"
    );
}
