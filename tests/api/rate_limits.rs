use std::time::Duration;

use axum_client_ip::ClientIpSource;
use iodide_server::rate_limit::MUTATION_COST;
use serde_json::json;

use crate::common::{Gql, TestApp, rate_limit_remaining, redis_server::RedisServer};

#[tokio::test]
async fn clients_are_limited_each_on_their_own_and_recover() {
    let app = TestApp::builder()
        .configure(|c| c.rate_limit_per_minute = 60)
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let query = "{ viewer { id } }";
    for expected in (0..60).rev() {
        let response = app.gql(None, query, json!({})).await;
        assert_eq!(response.status, 200);
        assert_eq!(rate_limit_remaining(&response.headers), expected);
        assert_eq!(response.headers["x-ratelimit-limit"], "60");
        assert!(response.headers.contains_key("x-ratelimit-reset"));
    }
    let limited = app.gql(None, query, json!({})).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.code(), "RATE_LIMITED");
    assert_eq!(rate_limit_remaining(&limited.headers), 0);
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");

    let other = app.gql(Some(&alice), query, json!({})).await;
    assert_eq!(
        other.status, 200,
        "a signed-in client has its own allowance"
    );
    let health = app
        .client
        .get(app.url("/__lbheartbeat__"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "health checks are never limited");

    // One request's worth comes back each second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.gql(None, query, json!({})).await.status, 200);
}

#[tokio::test]
async fn mutations_cost_more_than_queries_and_the_headers_show_the_whole_cost() {
    let app = TestApp::builder()
        .configure(|c| c.rate_limit_per_minute = 12)
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let create = "mutation { createNotebook(input: { title: \"t\", content: \"\" }) { id } }";
    let first = app.gql(Some(&alice), create, json!({})).await;
    assert_eq!(first.status, 200);
    assert_eq!(
        rate_limit_remaining(&first.headers),
        12 - MUTATION_COST,
        "the mutation's whole cost, not only the request's share"
    );
    let query = app.gql(Some(&alice), "{ viewer { id } }", json!({})).await;
    assert_eq!(rate_limit_remaining(&query.headers), 12 - MUTATION_COST - 1);
    app.gql(Some(&alice), create, json!({})).await.data();
    let refused = app.gql(Some(&alice), create, json!({})).await;
    assert_eq!(refused.status, 429);
    assert_eq!(rate_limit_remaining(&refused.headers), 0);
    let count = app
        .gql(Some(&alice), "{ notebooks { totalCount } }", json!({}))
        .await;
    assert_eq!(count.status, 429, "the allowance is spent");
}

#[tokio::test]
async fn a_batch_of_mutations_shows_the_cost_of_each() {
    let app = TestApp::builder()
        .configure(|c| c.rate_limit_per_minute = 30)
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let create = "mutation { createNotebook(input: { title: \"t\", content: \"\" }) { id } }";
    let batch = json!([{ "query": create }, { "query": create }, { "query": "{ viewer { id } }" }]);
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header("Authorization", format!("Token {}", alice.token))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let left = rate_limit_remaining(response.headers());
    assert_eq!(left, 30 - 2 * MUTATION_COST);
}

/// An anonymous query that arrives with this X-Forwarded-For, as a proxy in
/// front of the server would pass it on.
async fn forwarded_for(app: &TestApp, chain: &str) -> Gql {
    let request = app
        .client
        .post(app.url("/api/graphql"))
        .header("X-Forwarded-For", chain)
        .json(&json!({ "query": "{ viewer { id } }" }));
    Gql::read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn a_client_chosen_forwarded_for_is_ignored_by_default() {
    let app = TestApp::builder()
        .configure(|c| c.rate_limit_per_minute = 3)
        .spawn()
        .await;
    for (chain, expected) in [
        ("198.51.100.1", 2),
        ("198.51.100.2", 1),
        ("198.51.100.3", 0),
    ] {
        assert_eq!(
            rate_limit_remaining(&forwarded_for(&app, chain).await.headers),
            expected
        );
    }
    let refused = forwarded_for(&app, "198.51.100.4").await;
    assert_eq!(
        refused.status, 429,
        "every request came from one peer, whatever it claimed"
    );
}

#[tokio::test]
async fn behind_a_proxy_each_client_is_the_address_the_proxy_appended() {
    let app = TestApp::builder()
        .configure(|c| {
            c.rate_limit_per_minute = 2;
            c.client_ip_source = ClientIpSource::RightmostXForwardedFor;
        })
        .spawn()
        .await;
    for expected in [1, 0] {
        let response = forwarded_for(&app, "203.0.113.7").await;
        assert_eq!(response.status, 200);
        assert_eq!(rate_limit_remaining(&response.headers), expected);
    }
    assert_eq!(forwarded_for(&app, "203.0.113.7").await.status, 429);
    let spoofed = forwarded_for(&app, "192.0.2.99, 203.0.113.7").await;
    assert_eq!(
        spoofed.status, 429,
        "an entry the client wrote before the proxy's is not its address"
    );

    let other = forwarded_for(&app, "203.0.113.7, 203.0.113.8").await;
    assert_eq!(other.status, 200, "another client has its own allowance");
    assert_eq!(rate_limit_remaining(&other.headers), 1);
    let direct = app.gql(None, "{ viewer { id } }", json!({})).await;
    assert_eq!(
        rate_limit_remaining(&direct.headers),
        1,
        "a request without the header is charged to its peer"
    );
}

#[tokio::test]
async fn two_instances_on_one_redis_share_one_allowance() {
    let builder = TestApp::builder().configure(|c| c.rate_limit_per_minute = 12);
    let Some((first, second, _redis)) = builder.spawn_two_sharing_redis().await else {
        return;
    };
    let alice = first.user("alice").await;
    let query = "{ viewer { id } }";

    for (app, expected) in [(&first, 11), (&second, 10), (&first, 9)] {
        let response = app.gql(None, query, json!({})).await;
        assert_eq!(response.status, 200);
        assert_eq!(rate_limit_remaining(&response.headers), expected);
    }
    let create = "mutation { createNotebook(input: { title: \"t\", content: \"\" }) { id } }";
    let mutation = second.gql(Some(&alice), create, json!({})).await;
    assert_eq!(rate_limit_remaining(&mutation.headers), 12 - MUTATION_COST);
    let after = first.gql(Some(&alice), query, json!({})).await;
    assert_eq!(rate_limit_remaining(&after.headers), 12 - MUTATION_COST - 1);

    for expected in (0..9).rev() {
        let app = if expected % 2 == 0 { &first } else { &second };
        assert_eq!(
            rate_limit_remaining(&app.gql(None, query, json!({})).await.headers),
            expected
        );
    }
    for app in [&second, &first] {
        let refused = app.gql(None, query, json!({})).await;
        assert_eq!(refused.status, 429, "the instances' counts add up");
        assert_eq!(refused.code(), "RATE_LIMITED");
    }
}

#[tokio::test]
async fn while_redis_is_down_requests_are_answered_and_limited_in_each_process() {
    let Some(mut redis) = RedisServer::start_or_skip() else {
        return;
    };
    let first = TestApp::builder()
        .redis(redis.url())
        .configure(|c| c.rate_limit_per_minute = 3)
        .spawn()
        .await;
    let second = first.second_instance().await;
    let query = "{ viewer { id } }";
    assert_eq!(
        rate_limit_remaining(&first.gql(None, query, json!({})).await.headers),
        2
    );
    assert_eq!(
        rate_limit_remaining(&second.gql(None, query, json!({})).await.headers),
        1,
        "counted in Redis while it answers"
    );

    redis.stop();
    for expected in [2, 1, 0] {
        let response = first.gql(None, query, json!({})).await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(
            rate_limit_remaining(&response.headers),
            expected,
            "a count of this process"
        );
    }
    let refused = first.gql(None, query, json!({})).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.code(), "RATE_LIMITED");
    let other = second.gql(None, query, json!({})).await;
    assert_eq!(
        (other.status.as_u16(), rate_limit_remaining(&other.headers)),
        (200, 2),
        "the other process counts on its own"
    );
}

const OPEN: &str = "query Open($id: ID!) { notebook(id: $id) { id title \
    owner { username } latestRevision { id title content } } }";

/// One anonymous POST to /api/graphql with this body and content type.
async fn post_raw(app: &TestApp, content_type: &str, body: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/graphql"))
        .header("Content-Type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// The GraphQL handler charges its JSON and GET requests itself, after reading
/// them; whatever it answers, each request is counted once, and a mutation
/// costs MUTATION_COST in all.
#[tokio::test]
async fn every_graphql_request_is_counted_once_whatever_its_answer() {
    let app = TestApp::builder()
        .configure(|c| c.rate_limit_per_minute = 40)
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Counted", "").await;
    let left = std::cell::Cell::new(40);
    let expect = |response: &reqwest::Response, cost: u32, what: &str| {
        left.set(left.get() - cost);
        assert_eq!(
            rate_limit_remaining(response.headers()),
            left.get(),
            "{what}"
        );
    };
    let open = json!({ "query": OPEN, "variables": { "id": id } }).to_string();
    // Fills the entity cache, then is kept, then is a hit.
    for what in ["read from the database", "kept", "a hit"] {
        let response = post_raw(&app, "application/json", &open).await;
        assert_eq!(response.status(), 200);
        expect(&response, 1, what);
    }
    let get = app
        .client
        .get(app.url("/api/graphql"))
        .query(&[("query", "{ notebooks { totalCount } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    expect(&get, 1, "a query over GET");
    let mutation_over_get = app
        .client
        .get(app.url("/api/graphql"))
        .query(&[("query", "mutation { deleteNotebook(id: \"1\") }")])
        .send()
        .await
        .unwrap();
    assert_eq!(mutation_over_get.status(), 405);
    expect(&mutation_over_get, 1, "a mutation over GET, refused");
    let broken = post_raw(&app, "application/json", "{ not json").await;
    assert_eq!(broken.status(), 400);
    expect(&broken, 1, "a body that is not JSON");
    let form = post_raw(&app, "text/plain", &open).await;
    assert_eq!(form.status(), 415);
    expect(&form, 1, "a content type that is refused before reading");
    let fields: Vec<String> = (0..11)
        .map(|i| format!("m{i}: deleteNotebook(id: \"{id}\")"))
        .collect();
    let too_many = json!({ "query": format!("mutation {{ {} }}", fields.join(" ")) });
    let too_many = post_raw(&app, "application/json", &too_many.to_string()).await;
    assert_eq!(too_many.status(), 400);
    expect(&too_many, 1, "too many mutation fields: nothing ran");
    let anonymous_write =
        json!({ "query": format!("mutation {{ deleteNotebook(id: \"{id}\") }}") });
    let anonymous_write = post_raw(&app, "application/json", &anonymous_write.to_string()).await;
    expect(&anonymous_write, MUTATION_COST, "a mutation, whoever asks");
    let multipart = reqwest::multipart::Form::new()
        .text(
            "operations",
            json!({ "query": "{ notebooks { totalCount } }" }).to_string(),
        )
        .text("map", "{}");
    let multipart = app
        .client
        .post(app.url("/api/graphql"))
        .header("X-Requested-With", "test")
        .multipart(multipart)
        .send()
        .await
        .unwrap();
    assert_eq!(multipart.status(), 200);
    expect(&multipart, 1, "multipart, charged before its body is read");

    while left.get() > 0 {
        let response = post_raw(&app, "application/json", &open).await;
        expect(&response, 1, "spending the rest");
    }
    let refused = post_raw(&app, "application/json", "{ not json").await;
    assert_eq!(refused.status(), 429, "over the limit, whatever the body");
    assert_eq!(rate_limit_remaining(refused.headers()), 0);
    assert!(refused.headers().contains_key("retry-after"));
    let refused = post_raw(&app, "application/json", &open).await;
    assert_eq!(refused.status(), 429, "a hit is refused too");
    assert!(!refused.headers().contains_key("x-cache"));
}

/// A response-cache hit charges the shared allowance in the same Redis round
/// trip as its check, on every instance.
#[tokio::test]
async fn cache_hits_on_two_instances_share_one_allowance() {
    let builder = TestApp::builder().configure(|c| c.rate_limit_per_minute = 12);
    let Some((first, second, _redis)) = builder.spawn_two_sharing_redis().await else {
        return;
    };
    let alice = first.user("alice").await;
    let (id, _) = first.notebook(&alice, "Shared", "").await;
    let steps = [
        (&first, 11, None),
        (&first, 10, None),
        (&first, 9, Some("hit")),
        (&second, 8, Some("miss")),
        (&second, 7, Some("hit")),
        (&first, 6, Some("hit")),
    ];
    for (step, (app, expected, cache)) in steps.into_iter().enumerate() {
        let response = app.gql(None, OPEN, json!({ "id": id })).await;
        assert_eq!(response.status, 200, "step {step}");
        assert_eq!(
            rate_limit_remaining(&response.headers),
            expected,
            "step {step}"
        );
        if let Some(cache) = cache {
            assert_eq!(response.headers["x-cache"], cache, "step {step}");
        }
    }
    for expected in (0..6).rev() {
        let app = if expected % 2 == 0 { &first } else { &second };
        let response = app.gql(None, OPEN, json!({ "id": id })).await;
        assert_eq!(response.headers["x-cache"], "hit");
        assert_eq!(rate_limit_remaining(&response.headers), expected);
    }
    let refused = second.gql(None, OPEN, json!({ "id": id })).await;
    assert_eq!(refused.status, 429, "the instances' counts add up");
}

#[tokio::test]
async fn a_client_over_its_limit_is_refused_before_its_large_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The body never comes: a server that waited for it would answer 408
    // after the body timeout, which this test outwaits by far.
    let app = TestApp::builder()
        .configure(|c| {
            c.rate_limit_per_minute = 1;
            c.connections.body_timeout = Duration::from_secs(600);
        })
        .spawn()
        .await;
    let spent = app.gql(None, "{ viewer { id } }", json!({})).await;
    assert_eq!(spent.status, 200);

    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let head = format!(
        "POST /api/graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000000\r\n\r\n{{\"query\": \"",
        app.address
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut answer))
        .await
        .expect("the server waited for the body before refusing")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
}
