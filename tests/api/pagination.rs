use serde_json::{Value, json};

use crate::common::{TestApp, TestUser};

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
  notebooks(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { title } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

async fn seeded(count: usize) -> (TestApp, TestUser) {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    for n in 0..count {
        app.notebook(&alice, &format!("nb{n}"), "").await;
    }
    (app, alice)
}

fn titles(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn pages_forward_and_backward_over_the_whole_list() {
    let (app, _) = seeded(5).await;
    let page = |variables: Value| {
        let app = &app;
        async move { app.gql(None, PAGE, variables).await.data()["notebooks"].clone() }
    };

    let first = page(json!({ "first": 2 })).await;
    assert_eq!(titles(&first), ["nb4", "nb3"]);
    assert_eq!(first["totalCount"], 5);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);

    let second = page(json!({ "first": 2, "after": first["pageInfo"]["endCursor"] })).await;
    assert_eq!(titles(&second), ["nb2", "nb1"]);
    assert_eq!(second["pageInfo"]["hasNextPage"], true);
    assert_eq!(second["pageInfo"]["hasPreviousPage"], true);

    let third = page(json!({ "first": 2, "after": second["pageInfo"]["endCursor"] })).await;
    assert_eq!(titles(&third), ["nb0"]);
    assert_eq!(third["pageInfo"]["hasNextPage"], false);

    let back = page(json!({ "last": 2, "before": third["pageInfo"]["startCursor"] })).await;
    assert_eq!(titles(&back), ["nb2", "nb1"]);
    assert_eq!(back["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(back["pageInfo"]["hasNextPage"], true);

    let front = page(json!({ "last": 2, "before": back["pageInfo"]["startCursor"] })).await;
    assert_eq!(titles(&front), ["nb4", "nb3"]);
    assert_eq!(front["pageInfo"]["hasPreviousPage"], false);

    let tail = page(json!({ "last": 2 })).await;
    assert_eq!(titles(&tail), ["nb1", "nb0"]);
    assert_eq!(tail["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(tail["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn page_sizes_and_cursors_are_checked() {
    let (app, _) = seeded(1).await;
    for (variables, needle) in [
        (json!({ "first": 101 }), "between 0 and 100"),
        (json!({ "last": -1 }), "between 0 and 100"),
        (json!({ "first": 1, "last": 1 }), "not both"),
        (json!({ "after": "garbage" }), "not a cursor"),
        (json!({ "first": "ten" }), ""),
    ] {
        let response = app.gql(None, PAGE, variables.clone()).await;
        assert_eq!(response.code(), "BAD_USER_INPUT", "{variables}");
        assert!(
            response.message().contains(needle),
            "{}",
            response.message()
        );
    }
    let hundred = app.gql(None, PAGE, json!({ "first": 100 })).await;
    assert_eq!(titles(&hundred.data()["notebooks"]), ["nb0"]);
}

#[tokio::test]
async fn a_page_costs_the_same_statements_whatever_its_size() {
    let (app, alice) = seeded(50).await;
    for notebook in 1..=50 {
        app.upload(&alice, &notebook.to_string(), "f.txt", b"x".to_vec())
            .await
            .data();
    }
    let query = "query($first: Int) { notebooks(first: $first) {
        nodes { id title revisionCount owner { username avatar } latestRevision { title content } files { filename } fileSources { filename } }
    } }";
    // Warm the cache of the list's first page, so that both sizes read it alike.
    app.gql(None, query, json!({ "first": 1 })).await.data();
    let mut costs = vec![];
    for size in [5, 50] {
        let before = app.statements();
        let response = app.gql(None, query, json!({ "first": size })).await;
        let nodes = response.data()["notebooks"]["nodes"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(nodes, size);
        costs.push(app.statements() - before);
    }
    // The front page comes from the cache with its owners; then one query per
    // other selected relation, whatever the page size.
    assert_eq!(costs, [4, 4], "statements for 5 and for 50 notebooks");

    // What the editor's list shows: titles without content, read without it.
    // Past the cache (a filtered list): the list, its owners and its latest
    // revisions, one query each (the owner's name is looked up once, below).
    let titles_only = r#"query($first: Int, $owner: String) { notebooks(first: $first, owner: $owner) {
        nodes { title owner { username } latestRevision { id title } }
    } }"#;
    app.gql(None, titles_only, json!({ "first": 1, "owner": "alice" }))
        .await
        .data();
    let mut costs = vec![];
    for (size, owner) in [(5, json!("alice")), (50, json!("alice")), (50, json!(null))] {
        let before = app.statements();
        let response = app
            .gql(None, titles_only, json!({ "first": size, "owner": owner }))
            .await;
        let nodes = response.data()["notebooks"]["nodes"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(nodes.len(), size);
        for node in nodes {
            assert_eq!(node["latestRevision"]["title"], node["title"]);
            assert_eq!(node["owner"]["username"], "alice");
        }
        costs.push(app.statements() - before);
    }
    assert_eq!(
        costs,
        [3, 3, 0],
        "filtered lists of 5 and 50, then the cached front page"
    );
}
