use serde_json::{Value, json};

use crate::common::{TestApp, browser};

/// The JSON that a page embeds for the SPA.
fn page_data(html: &str) -> Value {
    let start = html.find("id=\"page-data\">").expect("page data") + "id=\"page-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[tokio::test]
async fn the_notebook_page_embeds_its_text_safely() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let hostile = "</script><script>alert('x')</script><!-- \u{2028} & done";
    let (id, first) = app.notebook(&alice, "Hostile </title>", hostile).await;
    app.gql(
        Some(&alice),
        "mutation($id: ID!) { createRevision(input: { notebookId: $id, title: \"Second\", content: \"newer\" }) { id } }",
        json!({ "id": id }),
    )
    .await
    .data();

    let response = app
        .client
        .get(app.url(&format!("/notebooks/{id}/?revision={first}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains(&format!("script-src {}/static/;", app.origin())),
        "{csp}"
    );
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    assert_eq!(response.headers()["referrer-policy"], "same-origin");
    assert_eq!(
        response.headers()["cross-origin-opener-policy"],
        "same-origin-allow-popups"
    );
    let html = response.text().await.unwrap();
    assert!(
        !html.contains("<script>alert"),
        "the notebook text broke out of its script element"
    );
    assert!(html.contains("<title>Hostile &lt;/title&gt; · Iodide</title>"));
    let data = page_data(&html);
    assert_eq!(data["page"], "notebook");
    assert_eq!(data["revision"]["content"], hostile);
    assert_eq!(data["isLatest"], false);
    assert_eq!(data["notebook"]["title"], "Second");
    assert_eq!(data["notebook"]["viewerCanEdit"], false);

    let latest = app
        .client
        .get(app.url(&format!("/notebooks/{id}/")))
        .send()
        .await
        .unwrap();
    let data = page_data(&latest.text().await.unwrap());
    assert_eq!(data["revision"]["content"], "newer");
    assert_eq!(data["isLatest"], true);

    for missing in [
        format!("/notebooks/{id}/?revision=999"),
        "/notebooks/999/".into(),
        "/notebooks/abc/".into(),
    ] {
        assert_eq!(
            app.client
                .get(app.url(&missing))
                .send()
                .await
                .unwrap()
                .status(),
            404,
            "{missing}"
        );
    }
    let history = app
        .client
        .get(app.url(&format!("/notebooks/{id}/revisions/")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page_data(&history.text().await.unwrap())["page"],
        "revisions"
    );
}

#[tokio::test]
async fn new_creates_a_notebook_for_a_signed_in_user_only_from_this_site() {
    let app = TestApp::spawn().await;
    let anonymous = app.client.get(app.url("/new")).send().await.unwrap();
    assert_eq!(page_data(&anonymous.text().await.unwrap())["page"], "try");

    let client = browser();
    app.sign_in(&client, "alice").await;
    let created = client
        .get(app.url("/new"))
        .header("Sec-Fetch-Site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/notebooks/"), "{location}");
    let page = client
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let data = page_data(&page);
    assert_eq!(data["notebook"]["viewerCanEdit"], true);
    assert_eq!(data["viewer"]["username"], "alice");

    let linked = client
        .get(app.url("/new"))
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 200);
    let forged = client
        .post(app.url("/new"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let count = app
        .gql(None, "{ notebooks { totalCount } }", json!({}))
        .await;
    assert_eq!(count.data()["notebooks"]["totalCount"], 1);
    let confirmed = client
        .post(app.url("/new"))
        .header("Origin", app.origin())
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 303);
}

#[tokio::test]
async fn pages_need_an_identity_in_internal_mode() {
    let app = TestApp::builder().restrict_api().spawn().await;
    for path in ["/", "/new", "/notebooks/1/", "/notebooks/1/revisions/"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert!(response.text().await.unwrap().contains("/login/?next="));
    }
    let client = browser();
    app.sign_in(&client, "alice").await;
    assert_eq!(client.get(app.url("/")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn analytics_respects_do_not_track() {
    let app = TestApp::builder()
        .configure(|c| c.ga_tracking_id = Some("UA-1000005-1".into()))
        .spawn()
        .await;
    let tracked = app.client.get(app.url("/")).send().await.unwrap();
    let csp = tracked.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("https://www.googletagmanager.com"), "{csp}");
    let html = tracked.text().await.unwrap();
    assert!(html.contains("gtag/js?id=UA-1000005-1"));
    assert_eq!(page_data(&html)["gaTrackingId"], "UA-1000005-1");

    let private = app
        .client
        .get(app.url("/"))
        .header("DNT", "1")
        .send()
        .await
        .unwrap();
    let html = private.text().await.unwrap();
    assert!(!html.contains("googletagmanager"));
    assert_eq!(page_data(&html)["gaTrackingId"], Value::Null);
}

#[tokio::test]
async fn the_eval_origin_serves_only_the_eval_frame_without_cookies() {
    let app = TestApp::builder()
        .configure(|c| c.eval_frame_origin = Some("http://eval.localhost:9999/".parse().unwrap()))
        .spawn()
        .await;
    let editor_page = app.client.get(app.url("/")).send().await.unwrap();
    let csp = editor_page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-src http://eval.localhost:9999"),
        "{csp}"
    );

    let eval = |path: &str| {
        reqwest::Client::new()
            .get(app.url(path))
            .header("Host", "eval.localhost:9999")
            .header("Cookie", "iodide_session=stolen")
            .send()
    };
    let frame = eval("/eval-frame/").await.unwrap();
    assert_eq!(frame.status(), 200);
    let csp = frame.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        csp.split(';').next().unwrap(),
        format!("frame-ancestors {}", app.origin())
    );
    assert!(!frame.headers().contains_key("x-frame-options"));
    assert!(!frame.headers().contains_key("set-cookie"));
    for path in [
        "/",
        "/api/graphql",
        "/login/",
        "/userinfo/",
        "/token/",
        "/graphiql",
    ] {
        assert_eq!(eval(path).await.unwrap().status(), 403, "{path}");
    }
    assert_eq!(
        eval("/eval-frame/eval-frame.js").await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn https_is_enforced_behind_a_proxy() {
    let app = TestApp::builder()
        .configure(|c| c.server_uri = "https://notebooks.example/".parse().unwrap())
        .spawn()
        .await;
    let plain = app
        .client
        .get(app.url("/notebooks/1/?revision=2"))
        .header("Host", "notebooks.example")
        .header("X-Forwarded-Proto", "http")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 301);
    assert_eq!(
        plain.headers()["location"],
        "https://notebooks.example/notebooks/1/?revision=2"
    );
    let secure = app
        .client
        .get(app.url("/"))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    assert!(
        secure.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    let health = app
        .client
        .get(app.url("/__lbheartbeat__"))
        .header("X-Forwarded-Proto", "http")
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn cors_answers_only_the_allowed_origins() {
    let app = TestApp::builder()
        .configure(|c| {
            c.cors_allowed_origins = vec!["https://tools.example".parse().unwrap()];
            c.eval_frame_origin = Some("https://eval.example".parse().unwrap());
        })
        .spawn()
        .await;
    let preflight = |origin: &'static str| {
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, app.url("/api/graphql"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
    };
    let allowed = preflight("https://tools.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://tools.example"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    for refused in ["https://eval.example", "null", "https://evil.example"] {
        let response = preflight(refused).await.unwrap();
        assert!(
            !response
                .headers()
                .contains_key("access-control-allow-origin"),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn frontend_files_stay_inside_their_folders() {
    let app = TestApp::spawn().await;
    let status = |path: &'static str| {
        let url = app.url(path);
        async move { reqwest::get(url).await.unwrap().status() }
    };
    assert_eq!(status("/static/app.js").await, 200);
    assert_eq!(status("/static/views/notebook.js").await, 200);
    assert_eq!(status("/eval-frame/eval-frame.js").await, 200);
    for escaping in [
        "/static/..%2ftests%2fharness.js",
        "/static/views%2f..%2fapp.js",
        "/eval-frame/..%2fstatic%2fapp.js",
        "/static/..%2f..%2fCargo.toml",
    ] {
        assert_eq!(status(escaping).await, 404, "{escaping}");
    }
}
