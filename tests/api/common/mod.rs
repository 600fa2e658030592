//! The one test-app builder: starts the real application on a loopback port, on
//! its own database, and talks HTTP to it.
//!
//! The database comes from the environment: TEST_DATABASE_URL (a PostgreSQL server
//! where each test creates and later drops its own database), or else an SQLite
//! file in a temporary folder. The cache likewise: TEST_REDIS_URL (each test
//! with its own key prefix), or else in-process.

#![allow(dead_code)]

pub mod clock;
pub mod fake_github;
pub mod postgres_cluster;
pub mod redis_server;
pub mod request;
pub mod source_server;
pub mod ws;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use iodide_server::{
    AppState,
    auth::{AuthMethod, Viewer, api_token},
    build_app,
    config::Config,
    entity::user,
    users::{self, NewUser},
    worker::Worker,
};
use reqwest::{StatusCode, header::HeaderMap};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use url::Url;

use self::{
    clock::TestClock,
    redis_server::RedisServer,
    request::{Anonymous, CookieUser, JwtUser, RequestHelper},
};

pub struct TestApp {
    pub address: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
    database: Arc<TestDatabase>,
}

type ConfigChange = Box<dyn FnOnce(&mut Config) + Send>;

#[derive(Default)]
pub struct TestAppBuilder {
    redis_url: Option<Url>,
    with_worker: bool,
    database_url: Option<String>,
    changes: Vec<ConfigChange>,
}

/// The X-RateLimit-Remaining of an answer.
pub fn rate_limit_remaining(headers: &HeaderMap) -> u32 {
    headers["x-ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

impl TestAppBuilder {
    pub fn restrict_api(self) -> Self {
        self.configure(|config| config.restrict_api = true)
    }

    /// Uses this database (which the test owns) instead of a fresh one.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    /// This Redis rather than TEST_REDIS_URL's (or the in-process cache).
    pub fn redis(mut self, url: Url) -> Self {
        self.redis_url = Some(url);
        self
    }

    /// On TEST_REDIS_URL's Redis (each test under its own key prefix) when
    /// set, else on one of the test's own, which the caller keeps alive; None
    /// (skip the test) when redis-server is not installed.
    pub fn with_shared_redis(self) -> Option<(Self, Option<RedisServer>)> {
        match std::env::var("TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => Some((self, None)),
            _ => {
                let server = RedisServer::start_or_skip()?;
                Some((self.redis(server.url()), Some(server)))
            }
        }
    }

    /// Two instances on one database and one Redis (see `with_shared_redis`),
    /// as two web processes behind a load balancer; None (skip the test)
    /// without redis-server. The third value keeps the test's own Redis up.
    pub async fn spawn_two_sharing_redis(self) -> Option<(TestApp, TestApp, Option<RedisServer>)> {
        let (builder, redis) = self.with_shared_redis()?;
        let first = builder.spawn().await;
        let second = first.second_instance().await;
        Some((first, second, redis))
    }

    /// Runs the worker's loop beside the app, as `serve --with-worker` does.
    pub fn with_worker(mut self) -> Self {
        self.with_worker = true;
        self
    }

    /// Changes the configuration, which starts as development mode with
    /// SERVER_URI set to the test server's own address.
    pub fn configure(mut self, change: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.changes.push(Box::new(change));
        self
    }

    pub async fn spawn(self) -> TestApp {
        let database = Arc::new(match self.database_url {
            Some(url) => TestDatabase {
                url,
                cleanup: Cleanup::Nothing,
            },
            None => TestDatabase::create().await,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut config = Config::for_database(database.url.clone());
        config.server_uri = Url::parse(&format!("http://{address}/")).unwrap();
        config.cache.redis_url = self.redis_url.or_else(test_redis_url);
        // Tests share TEST_REDIS_URL's Redis: each keeps to its own keys.
        config.cache.key_prefix = format!("iodide-test-{}:", uuid_like());
        // A test that stops Redis sees it used again soon after it returns.
        config.cache.redis_retry_after = Duration::from_millis(100);
        // A loaded test machine can stall a test's runtime for longer than the
        // production bound; tests of a slow Redis set their own.
        config.cache.redis_timeout = Duration::from_secs(2);
        config.worker.poll_interval = Duration::from_millis(50);
        for change in self.changes {
            change(&mut config);
        }
        TestApp::start(config, listener, database, self.with_worker).await
    }
}

/// A client that keeps cookies, like a browser, but shows redirects to the test
/// instead of following them.
pub fn browser() -> reqwest::Client {
    browser_with(Default::default())
}

/// A [`browser`] whose cookies the test can read.
fn browser_with(cookies: Arc<reqwest::cookie::Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(cookies)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn test_redis_url() -> Option<Url> {
    let url = std::env::var("TEST_REDIS_URL").ok()?;
    (!url.trim().is_empty()).then(|| Url::parse(&url).expect("TEST_REDIS_URL is a URL"))
}

/// A user and an API token for them; requests from it carry the token
/// ([`RequestHelper`]).
pub struct TestUser {
    pub model: user::Model,
    pub token: String,
    client: reqwest::Client,
    origin: String,
}

impl TestUser {
    pub fn id(&self) -> String {
        self.model.id.to_string()
    }

    /// The same user, talking to `app` (another instance of its server).
    pub fn on(&self, app: &TestApp) -> TestUser {
        TestUser {
            model: self.model.clone(),
            token: self.token.clone(),
            client: self.client.clone(),
            origin: app.origin(),
        }
    }
}

/// A GraphQL response: status, headers and body.
pub struct Gql {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Gql {
    /// `data`, after checking that there were no errors.
    pub fn data(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        &self.body["data"]
    }

    /// The code of the first error.
    pub fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {}", self.body))
    }

    pub fn message(&self) -> &str {
        self.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
    }
}

impl TestApp {
    /// The `iodide-server serve` binary as production runs it (no --dev), on
    /// this app's database and a free port: for tests that signal the process.
    /// Returns it with its port; it is not yet listening.
    pub fn start_binary(&self) -> (std::process::Child, u16) {
        let port = free_port();
        let server = std::process::Command::new(env!("CARGO_BIN_EXE_iodide-server"))
            .arg("serve")
            .env("DATABASE_URL", self.state.config.database.url.as_str())
            .env("SECRET_KEY", "a secret key for the shutdown test")
            .env("PORT", port.to_string())
            .env("SERVER_URI", format!("http://127.0.0.1:{port}/"))
            .env("BIND_ADDRESS", "127.0.0.1")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        (server, port)
    }

    pub async fn spawn() -> TestApp {
        TestAppBuilder::default().spawn().await
    }

    async fn start(
        config: Config,
        listener: tokio::net::TcpListener,
        database: Arc<TestDatabase>,
        with_worker: bool,
    ) -> TestApp {
        let state = AppState::init(config).await.expect("the app starts");
        let address = listener.local_addr().unwrap();
        let app = build_app(state.clone());
        tokio::spawn(iodide_server::serve(
            listener,
            app,
            state.config.connections,
            std::future::pending(),
        ));
        if with_worker {
            let worker = Worker::new(state.db.clone(), state.cache.clone(), &state.config)
                .unwrap()
                .with_events(state.events.clone());
            tokio::spawn(async move { worker.run(Default::default()).await });
        }
        TestApp {
            address,
            state,
            client: browser(),
            database,
        }
    }

    /// Another instance of the server on the same database and cache, as a
    /// second web process behind a load balancer.
    pub async fn second_instance(&self) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = (*self.state.config).clone();
        TestApp::start(config, listener, self.database.clone(), false).await
    }

    /// As [`TestApp::second_instance`], whose events this one never hears
    /// (nor its cache's keys): a save there is as good as one whose event
    /// is still on its way.
    pub async fn unheard_instance(&self) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = (*self.state.config).clone();
        config.cache.key_prefix = format!("{}unheard:", config.cache.key_prefix);
        TestApp::start(config, listener, self.database.clone(), false).await
    }

    /// A worker for this app's database and cache, reading the time from `clock`.
    pub fn worker(&self, clock: &TestClock) -> Worker {
        Worker::new(
            self.state.db.clone(),
            self.state.cache.clone(),
            &self.state.config,
        )
        .unwrap()
        .with_clock(clock.as_clock())
        .with_events(self.state.events.clone())
    }

    /// The user as the domain services see them, for arranging data at chosen
    /// times.
    pub fn viewer(&self, user: &TestUser) -> Viewer {
        Viewer::user(user.model.clone(), AuthMethod::ApiToken)
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn user(&self, username: &str) -> TestUser {
        self.user_with(NewUser::named(username)).await
    }

    pub async fn user_with(&self, new: NewUser) -> TestUser {
        let username = new.username.clone();
        let model = users::create(&self.state.db, new).await.unwrap();
        let token = api_token::create(&self.state.db, &username).await.unwrap();
        TestUser {
            model,
            token,
            client: self.client.clone(),
            origin: self.origin(),
        }
    }

    /// Requests without credentials.
    pub fn anonymous(&self) -> Anonymous {
        Anonymous {
            client: self.client.clone(),
            origin: self.origin(),
        }
    }

    /// Requests that carry a JWT access token.
    pub fn with_jwt(&self, access: &str) -> JwtUser {
        JwtUser {
            client: reqwest::Client::new(),
            origin: self.origin(),
            access: access.to_string(),
        }
    }

    /// A fresh browser, signed in as `username` with the development form.
    pub async fn signed_in(&self, username: &str) -> CookieUser {
        let cookies = Arc::new(reqwest::cookie::Jar::default());
        let client = browser_with(cookies.clone());
        self.sign_in(&client, username).await;
        CookieUser {
            client,
            origin: self.origin(),
            cookies,
        }
    }

    /// POSTs a GraphQL request as JSON to this instance, with the user's
    /// token when given.
    pub async fn gql(&self, user: Option<&TestUser>, query: &str, variables: Value) -> Gql {
        match user {
            Some(user) => user.on(self).gql(query, variables).await,
            None => self.anonymous().gql(query, variables).await,
        }
    }

    /// POSTs a GraphQL `body` from `client` (whose cookies count), with whatever
    /// credentials `credentials` adds to the request.
    pub async fn query_as(
        &self,
        client: &reqwest::Client,
        credentials: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
        body: Value,
    ) -> Gql {
        let request = credentials(client.post(self.url("/api/graphql")));
        Gql::read(request.json(&body).send().await.unwrap()).await
    }

    /// Creates a notebook through the API and returns its id and first revision id.
    pub async fn notebook(&self, owner: &TestUser, title: &str, content: &str) -> (String, String) {
        owner.create_notebook(title, content).await
    }

    /// Uploads a file with the GraphQL multipart request spec.
    pub async fn upload(
        &self,
        user: &TestUser,
        notebook_id: &str,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Gql {
        user.upload(notebook_id, filename, bytes).await
    }

    /// This server's origin, as its own pages send it.
    pub fn origin(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Signs `client` in as `username` with the development sign-in form.
    pub async fn sign_in(&self, client: &reqwest::Client, username: &str) {
        let response = client
            .post(self.url("/login/"))
            .header("Origin", self.origin())
            .form(&[("username", username)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    }

    /// SQL statements the server has run so far.
    pub fn statements(&self) -> u64 {
        self.state.statements.get()
    }
}

impl Gql {
    pub async fn read(response: reqwest::Response) -> Gql {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        Gql {
            status,
            headers,
            body,
        }
    }
}

/// A database of the test's own, removed when the test ends.
struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Nothing,
    Folder(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    async fn create() -> TestDatabase {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => Self::postgres(admin_url).await,
            _ => {
                let folder = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/test.db?mode=rwc", folder.path().display());
                TestDatabase {
                    url,
                    cleanup: Cleanup::Folder(folder),
                }
            }
        }
    }

    async fn postgres(admin_url: String) -> TestDatabase {
        let name = format!("iodide_test_{}", uuid_like());
        let admin = Database::connect(&admin_url)
            .await
            .unwrap_or_else(|err| panic!("TEST_DATABASE_URL is not reachable: {err}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        TestDatabase {
            url: url.to_string(),
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // The test's runtime is shutting down: drop the database from a thread
            // with a runtime of its own.
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(async {
                        if let Ok(admin) = Database::connect(&admin_url).await {
                            let _ = admin
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .await;
                        }
                    })
            })
            .join();
        }
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect()
}

/// A port that nothing listens on now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
