//! The one test-app builder: starts the real application on a loopback port, on
//! its own database, and talks HTTP to it.
//!
//! The database comes from the environment: TEST_DATABASE_URL (a PostgreSQL server
//! where each test creates and later drops its own database), or else an SQLite
//! file in a temporary folder.

#![allow(dead_code)]

pub mod fake_github;
pub mod postgres_cluster;

use std::net::SocketAddr;

use iodide_server::{
    AppState,
    auth::api_token,
    build_app,
    config::Config,
    entity::user,
    users::{self, NewUser},
};
use reqwest::{StatusCode, header::HeaderMap};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

pub struct TestApp {
    pub address: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
    _database: TestDatabase,
}

type Configure = Box<dyn FnOnce(&mut Config)>;

#[derive(Default)]
pub struct TestAppBuilder {
    configure: Vec<Configure>,
    database_url: Option<String>,
}

impl TestAppBuilder {
    pub fn restrict_api(self) -> Self {
        self.configure(|config| config.restrict_api = true)
    }

    /// Changes the configuration, which starts as development mode with
    /// SERVER_URI set to the test server's own address.
    pub fn configure(mut self, change: impl FnOnce(&mut Config) + 'static) -> Self {
        self.configure.push(Box::new(change));
        self
    }

    /// Uses this database (which the test owns) instead of a fresh one.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    pub async fn spawn(self) -> TestApp {
        let database = match self.database_url {
            Some(url) => TestDatabase {
                url,
                cleanup: Cleanup::Nothing,
            },
            None => TestDatabase::create().await,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut config = Config::for_database(database.url.clone());
        config.server_uri = url::Url::parse(&format!("http://{address}/")).unwrap();
        for change in self.configure {
            change(&mut config);
        }
        let state = AppState::init(config).await.expect("the app starts");
        let app = build_app(state.clone());
        tokio::spawn(iodide_server::app::serve(
            listener,
            app,
            std::future::pending(),
        ));
        TestApp {
            address,
            state,
            client: browser(),
            _database: database,
        }
    }
}

/// A client that keeps cookies, like a browser, but shows redirects to the test
/// instead of following them.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A user and an API token for them.
pub struct TestUser {
    pub model: user::Model,
    pub token: String,
}

impl TestUser {
    pub fn id(&self) -> String {
        self.model.id.to_string()
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
    pub async fn spawn() -> TestApp {
        TestAppBuilder::default().spawn().await
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
        TestUser { model, token }
    }

    /// POSTs a GraphQL request as JSON, with the user's token when given.
    pub async fn gql(&self, user: Option<&TestUser>, query: &str, variables: Value) -> Gql {
        let mut request = self
            .client
            .post(self.url("/api/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(user) = user {
            request = request.header("Authorization", format!("Token {}", user.token));
        }
        Gql::read(request.send().await.unwrap()).await
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
        let response = self
            .gql(
                Some(owner),
                "mutation($input: CreateNotebookInput!) {
                   createNotebook(input: $input) { id latestRevision { id } }
                 }",
                json!({ "input": { "title": title, "content": content } }),
            )
            .await;
        let notebook = &response.data()["createNotebook"];
        (
            notebook["id"].as_str().unwrap().to_string(),
            notebook["latestRevision"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    }

    /// Uploads a file with the GraphQL multipart request spec.
    pub async fn upload(
        &self,
        user: &TestUser,
        notebook_id: &str,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Gql {
        let operations = json!({
            "query": "mutation($input: UploadFileInput!) {
                        uploadFile(input: $input) { id filename size contentType url }
                      }",
            "variables": { "input": { "notebookId": notebook_id, "filename": filename, "file": null } }
        });
        let form = reqwest::multipart::Form::new()
            .text("operations", operations.to_string())
            .text("map", json!({ "0": ["variables.input.file"] }).to_string())
            .part(
                "0",
                reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string()),
            );
        let response = self
            .client
            .post(self.url("/api/graphql"))
            .header("Authorization", format!("Token {}", user.token))
            .multipart(form)
            .send()
            .await
            .unwrap();
        Gql::read(response).await
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
