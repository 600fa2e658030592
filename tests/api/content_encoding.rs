//! A notebook's content comes back exactly as it was saved, whatever it holds,
//! by every way an answer is written: an executed POST and GET, a cached
//! answer and a subscription. The POST's bytes are also exactly what
//! serde_json writes for that content, so that a faster JSON writer cannot
//! change what clients (or their ETags) see.

use serde_json::{Value, json};

use crate::{
    common::{TestApp, request::RequestHelper},
    subscriptions::{save, watching},
};

const CONTENT_ONLY: &str =
    "query Content($id: ID!) { notebook(id: $id) { latestRevision { content } } }";

/// Every character that JSON must escape or that a careless writer mangles:
/// the control characters, quotes, backslashes, the two line separators that
/// JavaScript once refused in strings, DEL, non-BMP characters (surrogate
/// pairs in UTF-16), and long runs of multi-byte text, so that every escape
/// and every multi-byte character falls at every offset of a 16- or 32-byte
/// block somewhere. Not U+0000, which no database is given (see the last
/// test; the unit tests of `graphql_over_http` write it).
fn awkward_content() -> String {
    let controls: String = (1u8..0x20).map(char::from).collect();
    let specials = "\"\\/'<>&</script>\u{7f}\u{80}\u{2028}\u{2029}\u{fffd}\u{feff}😀🧪\u{10ffff}";
    let mut content = format!("%% js\n{controls}{specials}\n");
    for round in 0..700 {
        content.push_str("é日本語\u{1f600}");
        // Shifts the next run's alignment, with an escape in the middle.
        content.push_str(&"x\"\\\n\u{1}".repeat(round % 7));
        content.push_str(&"\u{2028}".repeat(round % 3));
    }
    content + &controls
}

/// The answer to CONTENT_ONLY as serde_json writes it.
fn expected_body(content: &str) -> String {
    let content = serde_json::to_string(content).unwrap();
    format!(r#"{{"data":{{"notebook":{{"latestRevision":{{"content":{content}}}}}}}}}"#)
}

fn content_of(body: &Value) -> &str {
    body["data"]["notebook"]["latestRevision"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("no content in {body}"))
}

#[tokio::test]
async fn awkward_content_reads_back_identical_by_post_get_cache_and_subscription() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let content = awkward_content();
    let (id, _) = app.notebook(&alice, "Awkward", &content).await;
    let variables = json!({ "id": id });

    let posted = alice
        .post("/api/graphql")
        .json(&json!({ "query": CONTENT_ONLY, "variables": variables }))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    assert_eq!(posted.text().await.unwrap(), expected_body(&content));

    let query = [
        ("query", CONTENT_ONLY.to_string()),
        ("variables", variables.to_string()),
    ];
    let got = alice
        .get("/api/graphql")
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.unwrap(), expected_body(&content));

    // A read that does not ask who the viewer is may be kept, whoever asks:
    // by the third read at the latest the answer is the kept bytes.
    let mut hit = false;
    for read in 1..=3 {
        let answer = app.gql(None, CONTENT_ONLY, variables.clone()).await;
        hit = answer.headers.get("x-cache").is_some_and(|v| v == "hit");
        assert_eq!(content_of(&answer.body), content, "read {read}");
    }
    assert!(hit, "the third read was not served from the response cache");

    let mut watcher = watching(&app, &alice, &id).await;
    let saved = format!("{content}, saved again");
    save(&app, &alice, &id, &saved).await;
    let heard = watcher.next_data().await;
    assert_eq!(heard["revisionSaved"]["content"], saved.as_str());
}

/// PostgreSQL's text cannot hold U+0000: a save with it is refused on every
/// database (SQLite would keep it), saying why, and stores nothing; a search
/// for it is a bad request on PostgreSQL and finds nothing on SQLite, never
/// an internal error.
#[tokio::test]
async fn text_with_the_nul_character_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let create = "mutation($title: String!, $content: String!) { \
        createNotebook(input: { title: $title, content: $content }) { id } }";
    let count = "{ notebooks(first: 10) { edges { node { id } } } }";

    for (title, content) in [("Nul", "a\u{0}b"), ("N\u{0}l", "text")] {
        let refused = alice
            .gql(create, json!({ "title": title, "content": content }))
            .await;
        assert_eq!(refused.code(), "BAD_USER_INPUT", "{title:?}");
        assert!(
            refused.message().contains("U+0000"),
            "{}",
            refused.message()
        );
    }
    let listed = alice.gql(count, json!({})).await;
    assert_eq!(listed.data()["notebooks"]["edges"], json!([]));

    let (id, _) = app.notebook(&alice, "Kept", "before").await;
    let save = "mutation($id: ID!, $content: String!) { createRevision(input: \
        { notebookId: $id, title: \"Kept\", content: $content }) { id } }";
    let refused = alice
        .gql(save, json!({ "id": id, "content": "after\u{0}" }))
        .await;
    assert_eq!(refused.code(), "BAD_USER_INPUT");
    let read = alice.gql(CONTENT_ONLY, json!({ "id": id })).await;
    assert_eq!(content_of(&read.body), "before");

    let search = "query($q: String) { notebooks(first: 10, search: $q) { edges { node { id } } } }";
    let searched = alice.gql(search, json!({ "q": "be\u{0}" })).await;
    if searched.body.get("errors").is_some() {
        assert_eq!(searched.code(), "BAD_USER_INPUT");
        assert!(
            searched.message().contains("U+0000"),
            "{}",
            searched.message()
        );
    } else {
        assert_eq!(searched.data()["notebooks"]["edges"], json!([]));
    }
}
