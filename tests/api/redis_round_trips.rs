//! How many Redis round trips a request makes (the server counts them on its
//! shared connection): one for a response-cache hit, the rate limit's charge
//! and the generations' MGET in one pipeline.

use serde_json::json;

use crate::common::TestApp;

const OPEN: &str = "query Open($id: ID!) { notebook(id: $id) { id title \
    owner { username } latestRevision { id title content } } }";

#[tokio::test]
async fn a_cache_hit_makes_one_redis_round_trip() {
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
}
