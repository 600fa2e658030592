//! How many Redis round trips a request makes (the server counts them on its
//! shared connection): one for a response-cache hit (the rate limit's charge
//! and the generations' MGET in one pipeline), and for a save, one besides the
//! token lookup (in Redis on PostgreSQL) and the charge (the invalidation and
//! the event's PUBLISH in one transaction).

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
async fn a_cache_hit_makes_one_redis_round_trip_and_a_save_two_besides_its_token_lookup() {
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

    // The first save fills the token's cache entry; the second reads it. On
    // SQLite the token's user comes from the process or SQL, not Redis.
    save(&alice, &id, "v1").await;
    let token_lookup = u64::from(app.state.config.database.url.starts_with("postgres"));
    let before = app.state.redis_round_trips();
    save(&alice, &id, "v2").await;
    assert_eq!(
        app.state.redis_round_trips() - before,
        token_lookup + 2,
        "the token lookup, one charge for the request and its mutation, \
         and the invalidation with the event"
    );
    let read = app.gql(None, OPEN, json!({ "id": id })).await;
    assert_eq!(read.data()["notebook"]["latestRevision"]["content"], "v2");
}

/// After Redis forgets its scripts (a restart), the pipelined charge sends the
/// rate limit's script again and the count stays shared.
#[tokio::test]
async fn a_cache_hit_still_charges_the_shared_count_after_redis_forgets_its_scripts() {
    let builder = TestApp::builder().configure(|c| c.rate_limit_per_minute = 12);
    let Some((first, second, _redis)) = builder.spawn_two_sharing_redis().await else {
        return;
    };
    let alice = first.user("alice").await;
    let (id, _) = first.notebook(&alice, "Scripts", "").await;
    for app in [&first, &first, &second] {
        app.gql(None, OPEN, json!({ "id": id })).await.data();
    }
    let url = first.state.config.cache.redis_url.clone().unwrap();
    let redis = redis::Client::open(url.as_str()).unwrap();
    let mut redis = redis.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async::<()>(&mut redis)
        .await
        .unwrap();

    for (app, expected) in [(&first, 8), (&second, 7)] {
        let hit = app.gql(None, OPEN, json!({ "id": id })).await;
        assert_eq!(hit.headers["x-cache"], "hit", "{}", hit.body);
        assert_eq!(hit.headers["x-ratelimit-remaining"], expected.to_string());
    }
}
