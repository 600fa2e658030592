//! The cache: reads served without the database, writes seen at once, two
//! instances on one Redis, and Redis failing under requests (a redis-server of
//! the test's own, never the shared one).

use std::time::Duration;

use iodide_server::{cache::CacheKey, users};
use serde_json::{Value, json};

use crate::common::{TestApp, TestUser, redis_server::RedisServer};

const READ: &str = "query($id: ID!) { notebook(id: $id) { title latestRevision { content } } }";
const FRONT_PAGE: &str = "{ notebooks(first: 5) { nodes { title } } }";

async fn read(app: &TestApp, id: &str) -> Value {
    let response = app.gql(None, READ, json!({ "id": id })).await;
    response.data()["notebook"].clone()
}

fn notebook(title: &str, content: &str) -> Value {
    json!({ "title": title, "latestRevision": { "content": content } })
}

/// SQL statements that one anonymous request runs on `app`.
async fn statements_for(app: &TestApp, query: &str, variables: Value) -> u64 {
    let before = app.statements();
    app.gql(None, query, variables).await.data();
    app.statements() - before
}

async fn save(app: &TestApp, owner: &TestUser, id: &str, title: &str, content: &str) {
    app.gql(
        Some(owner),
        "mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id } }",
        json!({ "input": { "notebookId": id, "title": title, "content": content } }),
    )
    .await
    .data();
}

async fn titles(app: &TestApp) -> Vec<String> {
    let response = app.gql(None, FRONT_PAGE, json!({})).await;
    response.data()["notebooks"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn cached_reads_skip_the_database_and_writes_are_seen_at_once() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Draft", "one").await;
    let variables = json!({ "id": id });

    assert_eq!(read(&app, &id).await, notebook("Draft", "one"));
    assert_eq!(statements_for(&app, READ, variables.clone()).await, 0);
    save(&app, &alice, &id, "Final", "two").await;
    assert_eq!(read(&app, &id).await, notebook("Final", "two"));

    assert_eq!(titles(&app).await, ["Final"]);
    assert_eq!(statements_for(&app, FRONT_PAGE, json!({})).await, 0);
    app.notebook(&alice, "Second", "").await;
    assert_eq!(titles(&app).await, ["Second", "Final"]);

    let user = "query { user(username: \"alice\") { isStaff } }";
    assert_eq!(
        app.gql(None, user, json!({})).await.data()["user"]["isStaff"],
        false
    );
    assert_eq!(statements_for(&app, user, json!({})).await, 0);
    users::grant(&app.state.db, &app.state.cache, "alice", Some(true), None)
        .await
        .unwrap();
    assert_eq!(
        app.gql(None, user, json!({})).await.data()["user"]["isStaff"],
        true
    );
}

#[tokio::test]
async fn two_instances_on_one_redis_never_serve_a_stale_notebook() {
    let Some((first, second, _redis)) = TestApp::builder().spawn_two_sharing_redis().await else {
        return;
    };
    let alice = first.user("alice").await;
    let (id, _) = first.notebook(&alice, "Shared", "v0").await;

    for version in 1..=5 {
        // The reader has it cached; the writer is the other instance.
        let (writer, reader) = if version % 2 == 0 {
            (&first, &second)
        } else {
            (&second, &first)
        };
        read(reader, &id).await;
        assert_eq!(statements_for(reader, READ, json!({ "id": id })).await, 0);
        let content = format!("v{version}");
        save(writer, &alice, &id, "Shared", &content).await;
        assert_eq!(read(reader, &id).await, notebook("Shared", &content));
    }

    assert_eq!(titles(&second).await, ["Shared"]);
    first.notebook(&alice, "Newer", "").await;
    assert_eq!(titles(&second).await, ["Newer", "Shared"]);
}

async fn heartbeat(app: &TestApp) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/__heartbeat__"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Reads until a read is served by the cache again, checking every answer.
async fn until_cached_again(app: &TestApp, id: &str, expected: &Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert_eq!(&read(app, id).await, expected, "a stale or wrong read");
        if statements_for(app, READ, json!({ "id": id })).await == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "caching did not resume"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn requests_go_on_while_redis_is_down_and_caching_resumes_when_it_returns() {
    let Some(mut redis) = RedisServer::start_or_skip() else {
        return;
    };
    let app = TestApp::builder().redis(redis.url()).spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Outage", "before").await;
    until_cached_again(&app, &id, &notebook("Outage", "before")).await;
    assert_eq!(
        heartbeat(&app).await,
        (
            200,
            json!({ "status": "ok", "checks": { "database": "ok", "cache": "ok" }, "cache_backend": "redis" })
        )
    );

    redis.stop();
    assert_eq!(read(&app, &id).await, notebook("Outage", "before"));
    save(&app, &alice, &id, "Outage", "during").await;
    assert_eq!(read(&app, &id).await, notebook("Outage", "during"));
    assert_eq!(titles(&app).await, ["Outage"]);
    let (status, body) = heartbeat(&app).await;
    assert_eq!(
        (status, &body["status"], &body["checks"]["cache"]),
        (200, &json!("degraded"), &json!("degraded"))
    );

    redis.restart();
    until_cached_again(&app, &id, &notebook("Outage", "during")).await;
    assert_eq!(heartbeat(&app).await.1["checks"]["cache"], "ok");
}

/// Heroku Redis: rediss:// only, with a certificate it signed itself.
#[tokio::test]
async fn a_self_signed_redis_certificate_is_refused_unless_redis_tls_verify_is_off() {
    let Some(redis) = RedisServer::start_tls_or_skip() else {
        return;
    };
    let verifying = TestApp::builder().redis(redis.url()).spawn().await;
    let alice = verifying.user("alice").await;
    let (id, _) = verifying.notebook(&alice, "Checked", "body").await;
    for _ in 0..3 {
        assert_eq!(read(&verifying, &id).await, notebook("Checked", "body"));
    }
    let variables = json!({ "id": id });
    assert_ne!(statements_for(&verifying, READ, variables).await, 0);
    assert_eq!(heartbeat(&verifying).await.1["checks"]["cache"], "degraded");

    let trusting = TestApp::builder()
        .redis(redis.url())
        .configure(|config| config.cache.redis_tls_verify = false)
        .spawn()
        .await;
    let alice = trusting.user("alice").await;
    let (id, _) = trusting.notebook(&alice, "Trusted", "body").await;
    until_cached_again(&trusting, &id, &notebook("Trusted", "body")).await;
    assert_eq!(heartbeat(&trusting).await.1["checks"]["cache"], "ok");
}

#[tokio::test]
async fn a_save_during_a_redis_stall_is_not_hidden_by_the_old_copy_afterwards() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let app = TestApp::builder()
        .redis(redis.url())
        .configure(|config| config.cache.redis_timeout = Duration::from_millis(250))
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Stall", "old").await;
    until_cached_again(&app, &id, &notebook("Stall", "old")).await;

    // Redis keeps the old copy but answers nothing: commands time out.
    redis.pause();
    save(&app, &alice, &id, "Stall", "new").await;
    assert_eq!(read(&app, &id).await, notebook("Stall", "new"));
    assert_eq!(heartbeat(&app).await.1["checks"]["cache"], "degraded");

    redis.resume();
    until_cached_again(&app, &id, &notebook("Stall", "new")).await;
}

#[tokio::test]
async fn a_reader_that_loaded_before_a_save_cannot_cache_the_old_row() {
    let app = TestApp::spawn().await;
    let cache = &app.state.cache;
    let key = CacheKey::Notebook(424_242);
    let load = |value: &'static str| async move { Ok::<_, ()>(Some(value.to_string())) };

    // A save commits and invalidates while this reader is loading.
    let raced = cache
        .get_or_load(&key, || async {
            cache.invalidate([key.clone()]).await;
            load("old").await
        })
        .await;
    assert_eq!(raced, Ok(Some("old".to_string())));
    let next = cache.get_or_load(&key, || load("new")).await;
    assert_eq!(next, Ok(Some("new".to_string())), "the old row was cached");
    let cached = cache.get_or_load(&key, || load("not cached")).await;
    assert_eq!(cached, Ok(Some("new".to_string())));
}
