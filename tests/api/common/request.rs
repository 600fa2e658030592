//! Requests sent as someone, after crates.io's `RequestHelper`: a test picks an
//! identity once (anonymous, a user's API token, a JWT, a signed-in browser) and
//! then talks to the API through it, so that who is asking is never a parameter
//! of each call.

use std::sync::Arc;

use reqwest::{
    Client, Method, RequestBuilder,
    cookie::{CookieStore, Jar},
    header::AUTHORIZATION,
};
use serde_json::{Value, json};

use super::{Gql, TestUser};

/// What every identity can send; each type says only how it proves who it is.
pub trait RequestHelper {
    /// The client that sends this identity's requests (its cookies count).
    fn client(&self) -> &Client;

    /// The test server's origin, `http://127.0.0.1:PORT`.
    fn origin(&self) -> &str;

    /// Adds this identity's credentials to a request.
    fn authorize(&self, request: RequestBuilder) -> RequestBuilder;

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = format!("{}{path}", self.origin());
        self.authorize(self.client().request(method, url))
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    /// POSTs a GraphQL request as JSON.
    async fn gql(&self, query: &str, variables: Value) -> Gql {
        self.gql_body(json!({ "query": query, "variables": variables }))
            .await
    }

    /// POSTs a whole GraphQL request `body` as JSON.
    async fn gql_body(&self, body: Value) -> Gql {
        let response = self.post("/api/graphql").json(&body).send().await.unwrap();
        Gql::read(response).await
    }

    /// Creates a notebook through the API; returns its id and first revision's id.
    async fn create_notebook(&self, title: &str, content: &str) -> (String, String) {
        let response = self
            .gql(
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
    async fn upload(&self, notebook_id: &str, filename: &str, bytes: Vec<u8>) -> Gql {
        let operations = json!({
            "query": "mutation($input: UploadFileInput!) {
                        uploadFile(input: $input) { id filename size contentType url }
                      }",
            "variables": { "input": { "notebookId": notebook_id, "filename": filename, "file": null } }
        });
        let map = json!({ "0": ["variables.input.file"] });
        let response = self.send_file(operations, map, filename, bytes).await;
        Gql::read(response).await
    }

    /// Sends `operations` with one file, part "0", which `map` gives to the
    /// variables it names (the GraphQL multipart request spec).
    async fn send_file(
        &self,
        operations: Value,
        map: Value,
        filename: &str,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .text("operations", operations.to_string())
            .text("map", map.to_string())
            .part(
                "0",
                reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string()),
            );
        self.post("/api/graphql")
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

/// Someone without credentials.
pub struct Anonymous {
    pub(super) client: Client,
    pub(super) origin: String,
}

impl RequestHelper for Anonymous {
    fn client(&self) -> &Client {
        &self.client
    }

    fn origin(&self) -> &str {
        &self.origin
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        request
    }
}

/// A user's API token, sent as `Authorization: Token ...`.
impl RequestHelper for TestUser {
    fn client(&self) -> &Client {
        &self.client
    }

    fn origin(&self) -> &str {
        &self.origin
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        request.header(AUTHORIZATION, format!("Token {}", self.token))
    }
}

/// A JWT access token, sent as `Authorization: Bearer ...`.
pub struct JwtUser {
    pub(super) client: Client,
    pub(super) origin: String,
    pub access: String,
}

impl RequestHelper for JwtUser {
    fn client(&self) -> &Client {
        &self.client
    }

    fn origin(&self) -> &str {
        &self.origin
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        request.bearer_auth(&self.access)
    }
}

/// A browser signed in with the development sign-in form: its session cookie
/// is the credential.
pub struct CookieUser {
    pub(super) client: Client,
    pub(super) origin: String,
    pub(super) cookies: Arc<Jar>,
}

impl CookieUser {
    /// The Cookie header that the browser sends to its site, for a client
    /// other than `client` (a WebSocket).
    pub fn cookie_header(&self) -> String {
        let url = self.origin.parse().unwrap();
        let cookies = self.cookies.cookies(&url).expect("signed in: a cookie");
        cookies.to_str().unwrap().to_string()
    }
}

impl RequestHelper for CookieUser {
    fn client(&self) -> &Client {
        &self.client
    }

    fn origin(&self) -> &str {
        &self.origin
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        request
    }
}
