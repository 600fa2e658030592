//! Attacks by a signed-in user or a hostile network, performed against the real
//! app (SERVER.md, "Hosts, abuse and slow clients").

use iodide_server::{graphql::mutation_accounting::MAX_MUTATION_FIELDS, rate_limit::MUTATION_COST};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::common::{Gql, TestApp, rate_limit_remaining};

async fn notebook_count(app: &TestApp) -> u64 {
    iodide_server::entity::notebook::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap()
}

/// `count` aliased createNotebook fields in one mutation.
fn aliased_creates(count: usize) -> String {
    let fields: String = (0..count)
        .map(|n| {
            format!("n{n}: createNotebook(input: {{ title: \"t{n}\", content: \"\" }}) {{ id }} ")
        })
        .collect();
    format!("mutation {{ {fields} }}")
}

#[tokio::test]
async fn every_aliased_mutation_is_charged_before_any_runs() {
    let app = TestApp::builder()
        .configure(|c| c.rate_limit_per_minute = 30)
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let three = app.gql(Some(&alice), &aliased_creates(3), json!({})).await;
    three.data();
    assert_eq!(rate_limit_remaining(&three.headers), 30 - 3 * MUTATION_COST);
    let refused = app.gql(Some(&alice), &aliased_creates(4), json!({})).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.code(), "RATE_LIMITED");
    assert_eq!(
        notebook_count(&app).await,
        3,
        "the refused request wrote nothing"
    );
}

#[tokio::test]
async fn a_request_holds_at_most_ten_mutation_fields() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let ten = app
        .gql(
            Some(&alice),
            &aliased_creates(MAX_MUTATION_FIELDS),
            json!({}),
        )
        .await;
    ten.data();
    let refused = app
        .gql(
            Some(&alice),
            &aliased_creates(MAX_MUTATION_FIELDS + 1),
            json!({}),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.code(), "QUERY_TOO_COMPLEX");
    assert!(
        refused.message().contains("mutation fields"),
        "{}",
        refused.body
    );
    assert_eq!(notebook_count(&app).await, MAX_MUTATION_FIELDS as u64);
}

/// The measured attack: a batch of operations each with many aliases.
#[tokio::test]
async fn a_batch_counts_the_mutation_fields_of_all_its_operations() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let batch: Vec<Value> = (0..4)
        .map(|_| json!({ "query": aliased_creates(3) }))
        .collect();
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header("Authorization", format!("Token {}", alice.token))
        .json(&batch)
        .send()
        .await
        .unwrap();
    let response = Gql::read(response).await;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.code(), "QUERY_TOO_COMPLEX");
    assert_eq!(notebook_count(&app).await, 0, "nothing of the batch ran");
}

/// 700 wrong tokens used to cost 700 lookups and never a 429.
#[tokio::test]
async fn guessing_tokens_meets_429_and_then_costs_no_lookups() {
    let app = TestApp::builder()
        .configure(|c| c.rate_limit_per_minute = 5)
        .spawn()
        .await;
    let guess = |n: usize| {
        app.client
            .post(app.url("/api/graphql"))
            .header("Authorization", format!("Token guess{n:040}"))
            .json(&json!({ "query": "{ viewer { id } }" }))
            .send()
    };
    let mut statuses = Vec::new();
    for n in 0..7 {
        statuses.push(guess(n).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429]);
    let before = app.statements();
    let refused = guess(99).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        app.statements(),
        before,
        "no lookup once the allowance is spent"
    );
    // Bad JWTs count the same.
    let bearer = app
        .client
        .get(app.url("/api/graphql?query={viewer{id}}"))
        .header("Authorization", "Bearer not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 429);
}

#[tokio::test]
async fn unknown_hosts_get_400_and_redirects_use_the_configured_origin() {
    let app = TestApp::builder()
        .configure(|c| {
            c.dev_mode = false;
            c.server_uri = "https://notebooks.example/".parse().unwrap();
        })
        .spawn()
        .await;
    let plain_http = |host: &'static str, path: &str| {
        app.client
            .get(app.url(path))
            .header("Host", host)
            .header("X-Forwarded-Proto", "http")
            .send()
    };
    let evil = plain_http("evil.example", "/notebooks/1/").await.unwrap();
    assert_eq!(evil.status(), 400);
    assert!(!evil.headers().contains_key("location"));
    for spelling in ["NoteBooks.Example.", "notebooks.example:443"] {
        let redirect = plain_http(spelling, "/notebooks/1/").await.unwrap();
        assert_eq!(redirect.status(), 301, "{spelling}");
        assert_eq!(
            redirect.headers()["location"],
            "https://notebooks.example/notebooks/1/"
        );
    }
    let loopback = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(loopback.status(), 400, "outside development mode");
    let probe = plain_http("10.1.2.3:8000", "/__lbheartbeat__")
        .await
        .unwrap();
    assert_eq!(probe.status(), 200, "health checks answer any Host");
}

/// The eval host, spelled another way, still gets the eval frame only.
#[tokio::test]
async fn the_eval_host_in_any_spelling_gets_only_the_eval_frame() {
    let app = TestApp::builder()
        .configure(|c| c.eval_frame_origin = Some("http://eval.localhost:9999/".parse().unwrap()))
        .spawn()
        .await;
    for spelling in ["eval.localhost:9999", "EVAL.LocalHost.:9999"] {
        let request = |path: &str| {
            app.client
                .get(app.url(path))
                .header("Host", spelling)
                .send()
        };
        assert_eq!(request("/").await.unwrap().status(), 403, "{spelling}");
        assert_eq!(request("/eval-frame/").await.unwrap().status(), 200);
    }
}

/// 200,000 ids used to reach the database as an INTERNAL error.
#[tokio::test]
async fn list_arguments_hold_at_most_a_page_of_items() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, revision) = app.notebook(&alice, "Listed", "x").await;
    let query = "query($id: ID!, $ids: [ID!]) {
                   notebook(id: $id) { revisions(ids: $ids) { totalCount } } }";
    let page = app
        .gql(
            None,
            query,
            json!({ "id": id, "ids": vec![revision.clone(); 100] }),
        )
        .await;
    assert_eq!(page.data()["notebook"]["revisions"]["totalCount"], 1);
    let huge: Vec<String> = (1..=200_000).map(|n| n.to_string()).collect();
    let refused = app.gql(None, query, json!({ "id": id, "ids": huge })).await;
    assert_eq!(refused.code(), "BAD_USER_INPUT", "{}", refused.body);
    assert!(
        refused.message().contains("at most 100"),
        "{}",
        refused.body
    );
}

/// An uploaded page or script opened from the editor's origin is downloaded,
/// not rendered or run; data files are still shown.
#[tokio::test]
async fn raw_files_a_browser_would_run_are_attachments() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Files", "").await;
    let cases = [
        ("page.html", "attachment"),
        ("page.xhtml", "attachment"),
        ("drawing.svg", "attachment"),
        ("feed.xml", "attachment"),
        ("code.js", "attachment"),
        ("photo.png", "inline"),
        ("notes.txt", "inline"),
        ("table.csv", "inline"),
        ("data.json", "inline"),
    ];
    for (name, expected) in cases {
        app.upload(&alice, &id, name, b"<script>alert(1)</script>".to_vec())
            .await
            .data();
        let raw = app
            .client
            .get(app.url(&format!("/notebooks/{id}/files/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 200);
        let disposition = raw.headers()["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with(expected), "{name}: {disposition}");
    }
}
