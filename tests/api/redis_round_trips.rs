//! How many Redis round trips a request makes (the server counts them on its
//! shared connection): one for a response-cache hit (the rate limit's charge
//! and the generations' MGET in one pipeline), and for a save, one besides the
//! token lookup and the charge (the invalidation and the event's PUBLISH in
//! one transaction).

use serde_json::json;

use crate::common::{TestApp, TestUser, request::RequestHelper};

const OPEN: &str = "query Open($id: ID!) { notebook(id: $id) { id title \
    owner { username } latestRevision { id title content } } }";
const SAVE: &str =
    "mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id } }";

async fn save(alice: &TestUser, id: &str, content: &str) {
    let input = json!({ "notebookId": id, "title": "Trips", "content": content });
    alice.gql(SAVE, json!({ "input": input })).await.data();
}

#[tokio::test]
async fn a_cache_hit_makes_one_redis_round_trip_and_a_save_three() {
    let Some((builder, _redis)) = TestApp::builder().with_shared_redis() else {
        return;
    };
    let app = builder.spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Trips", "v0").await;
    for _ in 0..2 {
        app.gql(None, OPEN, json!({ "id": id })).await.data();
    }

    let before = app.state.redis_round_trips();
    let hit = app.gql(None, OPEN, json!({ "id": id })).await;
    assert_eq!(hit.headers["x-cache"], "hit", "{}", hit.body);
    assert_eq!(
        app.state.redis_round_trips() - before,
        1,
        "the charge and the check of the generations go together"
    );

    // The first save fills the token's cache entry; the second reads it.
    save(&alice, &id, "v1").await;
    let before = app.state.redis_round_trips();
    save(&alice, &id, "v2").await;
    assert_eq!(
        app.state.redis_round_trips() - before,
        3,
        "the token lookup, one charge for the request and its mutation, \
         and the invalidation with the event"
    );
    let read = app.gql(None, OPEN, json!({ "id": id })).await;
    assert_eq!(read.data()["notebook"]["latestRevision"]["content"], "v2");
}
