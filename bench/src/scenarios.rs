//! The scenarios: what one request of each looks like.

use std::{
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use bytes::Bytes;
use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde_json::json;
use url::Url;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    Heartbeat,
    Notebook,
    /// The same read with an API token: what an editor's own reads cost (no
    /// anonymous shortcut applies to them).
    NotebookSignedIn,
    FirstPage,
    /// The first page's rows by a keyset query, as any page after the first is
    /// read: what a deep page is compared with (the first page is cached).
    KeysetPage,
    DeepPage,
    Autosave,
    File,
    Mix,
    Upload,
    /// Autosave while idle WebSockets and watchers hold subscriptions (and,
    /// back to back before it, autosave without them).
    Live,
}

impl Scenario {
    pub const ALL: [Scenario; 11] = [
        Scenario::Heartbeat,
        Scenario::Notebook,
        Scenario::NotebookSignedIn,
        Scenario::FirstPage,
        Scenario::KeysetPage,
        Scenario::DeepPage,
        Scenario::Autosave,
        Scenario::File,
        Scenario::Mix,
        Scenario::Upload,
        Scenario::Live,
    ];
    /// What can run against a server whose data this run did not seed.
    pub const READ_ONLY: [Scenario; 5] = [
        Scenario::Heartbeat,
        Scenario::Notebook,
        Scenario::FirstPage,
        Scenario::KeysetPage,
        Scenario::DeepPage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Heartbeat => "heartbeat",
            Scenario::Notebook => "notebook",
            Scenario::NotebookSignedIn => "notebook-signed-in",
            Scenario::FirstPage => "first-page",
            Scenario::KeysetPage => "keyset-page",
            Scenario::DeepPage => "deep-page",
            Scenario::Autosave => "autosave",
            Scenario::File => "file",
            Scenario::Mix => "mix",
            Scenario::Upload => "upload",
            Scenario::Live => "live",
        }
    }

    /// The target is about ten concurrent uploads, whatever the
    /// connections of the other scenarios.
    pub fn connections(self, requested: u32) -> u32 {
        match self {
            Scenario::Upload => requested.min(MAX_CONCURRENT_UPLOADS),
            _ => requested,
        }
    }

    /// Whether the scenario saves revisions, to be counted afterwards.
    pub fn writes(self) -> bool {
        matches!(self, Scenario::Autosave | Scenario::Mix | Scenario::Live)
    }

    pub fn needs_seeded_data(self) -> bool {
        matches!(
            self,
            Scenario::NotebookSignedIn
                | Scenario::Autosave
                | Scenario::File
                | Scenario::Mix
                | Scenario::Upload
                | Scenario::Live
        )
    }
}

const NOTEBOOK_QUERY: &str = "query Open($id: ID!) { notebook(id: $id) { id title \
    owner { username } latestRevision { id title content } } }";
/// What the editor asks when a signed-in user opens a notebook: also whether
/// they may edit it. That field asks who the viewer is, so the answer is never
/// kept in, nor served from, the response cache: the scenario measures the
/// signed-in read executed (issue #18's target).
const NOTEBOOK_SIGNED_IN_QUERY: &str = "query Open($id: ID!) { notebook(id: $id) { id title \
    viewerCanEdit owner { username } latestRevision { id title content } } }";
const PAGE_QUERY: &str = "query Page($after: String) { notebooks(first: 50, after: $after) { \
    edges { cursor node { id title owner { username } latestRevision { title } } } } }";
const AUTOSAVE_MUTATION: &str = "mutation Save($input: CreateRevisionInput!) { \
    createRevision(input: $input) { id } }";

/// Each upload first deletes the connection's previous one, so that a long run
/// does not fill the disk with gigabytes of files.
const UPLOAD_MUTATION: &str = "mutation Upload($input: UploadFileInput!) { \
    uploadFile(input: $input) { id } }";
const REPLACE_MUTATION: &str = "mutation Replace($input: UploadFileInput!, $previous: ID!) { \
    deleteFile(id: $previous) uploadFile(input: $input) { id } }";

pub const MAX_CONCURRENT_UPLOADS: u32 = 10;

/// Numbers every upload of the load process; with its process id, filenames
/// never repeat, even when a run lists the scenario twice.
static UPLOADS: AtomicU64 = AtomicU64::new(0);

/// Editors keep a few notebooks open: reads go to the newest ones, where a
/// cache can help, as in real use.
const HOT_NOTEBOOKS: i32 = 100;

/// Where the load goes and what the seeded data holds: sent to the load process
/// as JSON.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Target {
    pub base: Url,
    /// Ids of the notebooks that reads open, inclusive.
    pub hot_notebooks: (i32, i32),
    /// A cursor near the oldest notebooks.
    pub deep_cursor: String,
    /// A cursor just past the newest notebook: its page is the first page.
    pub newest_cursor: String,
    /// (notebook id, API token) of each autosaving user.
    pub writers: Vec<(i32, String)>,
    /// (notebook id, filename) of each 1 MiB file.
    pub files: Vec<(i32, String)>,
    pub revision_bytes: usize,
    pub upload_bytes: usize,
    /// The file that every upload sends: one buffer that all connections share,
    /// made where the load runs.
    #[serde(skip)]
    pub upload: Bytes,
}

impl Target {
    pub fn new(base: Url, newest_notebook: i32, oldest_notebook: i32) -> Self {
        Target {
            base,
            hot_notebooks: (
                (newest_notebook - HOT_NOTEBOOKS + 1).max(oldest_notebook),
                newest_notebook,
            ),
            // The page after this cursor holds the 50 notebooks just older than it.
            deep_cursor: cursor_for(oldest_notebook + 51),
            newest_cursor: cursor_for(newest_notebook + 1),
            writers: vec![],
            files: vec![],
            revision_bytes: 20_000,
            upload_bytes: 0,
            upload: Bytes::new(),
        }
    }

    /// Makes the buffer that uploads send, of `upload_bytes`.
    pub fn fill_upload(&mut self) {
        // Bytes that do not compress to nothing, should anything on the way try.
        self.upload = (0..self.upload_bytes).map(|i| (i % 251) as u8).collect();
    }
}

/// The server's cursor encoding (src/graphql/connection.rs).
pub fn cursor_for(id: i32) -> String {
    URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

/// How a response is judged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A 2xx status.
    Success,
    /// A 2xx status and no GraphQL errors.
    GraphqlData,
    /// As GraphqlData, and a revision was saved.
    SavedRevision,
    /// As GraphqlData, and the response names the uploaded file.
    UploadedFile,
}

/// The body of one connection's saves, serialised once: each save copies it and
/// writes its number and send time in, so that the load process spends its
/// time sending rather than escaping 20 KB of JSON (it shares the cores with
/// the server).
struct AutosaveBody {
    template: Vec<u8>,
    /// Where the save's number goes: SAVE_NUMBER_WIDTH digits.
    number_at: usize,
    /// Where its send time goes: SENT_AT_WIDTH digits of [`clock_micros`],
    /// which a watcher of the live scenario reads.
    sent_at: usize,
}

const SAVE_NUMBER_WIDTH: usize = 12;
const SENT_AT_WIDTH: usize = 16;
const SENT_AT_LABEL: &str = "sent at ";

/// When the load process first read its clock, monotonic and since the epoch.
static LOAD_PROCESS_START: LazyLock<(Instant, u64)> = LazyLock::new(|| {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (Instant::now(), since_epoch.as_micros() as u64)
});

/// The load process's clock in microseconds: the saver and the watcher of a
/// revision share it. It counts from the epoch, so that no two load processes
/// write the same time: each scenario's process starts its saves' numbers
/// again, and its first save repeated a notebook's latest content ("Nothing
/// changed") when the clock started at zero in every process.
pub fn clock_micros() -> u64 {
    let (started, epoch_micros) = *LOAD_PROCESS_START;
    epoch_micros + started.elapsed().as_micros() as u64
}

/// The send time written into a save's content.
pub fn sent_at(content: &str) -> Option<u64> {
    let start = content.find(SENT_AT_LABEL)? + SENT_AT_LABEL.len();
    content.get(start..start + SENT_AT_WIDTH)?.parse().ok()
}

impl AutosaveBody {
    fn new(target: &Target, index: usize) -> Self {
        let Some((notebook_id, _)) = target.writers.get(index % target.writers.len().max(1)) else {
            return AutosaveBody {
                template: vec![],
                number_at: 0,
                sent_at: 0,
            };
        };
        let marker = "#".repeat(SAVE_NUMBER_WIDTH);
        let time_marker = "@".repeat(SENT_AT_WIDTH);
        let head = format!(
            "%% md\n# Autosave {marker} of connection {index}, {SENT_AT_LABEL}{time_marker}\n"
        );
        let filler = "y".repeat(target.revision_bytes.saturating_sub(head.len()));
        let input = json!({
            "notebookId": notebook_id.to_string(),
            "title": format!("Benchmark notebook {notebook_id}"),
            "content": head + &filler,
        });
        let template = json!({ "query": AUTOSAVE_MUTATION, "variables": { "input": input } })
            .to_string()
            .into_bytes();
        let find = |marker: &str| {
            template
                .windows(marker.len())
                .position(|window| window == marker.as_bytes())
                .expect("the marker is in the body")
        };
        let (number_at, sent_at) = (find(&marker), find(&time_marker));
        AutosaveBody {
            template,
            number_at,
            sent_at,
        }
    }

    fn next(&self, save: u64) -> Vec<u8> {
        let mut body = self.template.clone();
        let number = format!("{save:0width$}", width = SAVE_NUMBER_WIDTH);
        body[self.number_at..self.number_at + SAVE_NUMBER_WIDTH].copy_from_slice(number.as_bytes());
        let sent = format!("{:0width$}", clock_micros(), width = SENT_AT_WIDTH);
        body[self.sent_at..self.sent_at + SENT_AT_WIDTH].copy_from_slice(sent.as_bytes());
        body
    }
}

/// One connection's state: its client, its user (for autosave) and its dice.
pub struct Connection {
    pub client: reqwest::Client,
    target: Arc<Target>,
    index: usize,
    saves: u64,
    rng: SmallRng,
    autosave_body: AutosaveBody,
    /// This connection's last uploaded file, deleted by its next upload.
    previous_upload: Option<String>,
}

impl Connection {
    pub fn new(target: Arc<Target>, index: usize) -> Self {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .expect("a client builds");
        let autosave_body = AutosaveBody::new(&target, index);
        Connection {
            client,
            target,
            index,
            saves: 0,
            rng: SmallRng::seed_from_u64(index as u64),
            autosave_body,
            previous_upload: None,
        }
    }

    pub fn next_request(&mut self, scenario: Scenario) -> (reqwest::RequestBuilder, Expect) {
        match scenario {
            Scenario::Heartbeat => (self.get("__lbheartbeat__"), Expect::Success),
            Scenario::Notebook => self.open_notebook(),
            Scenario::NotebookSignedIn => {
                let (request, expect) = self.open_notebook_with(NOTEBOOK_SIGNED_IN_QUERY);
                (request.header("Authorization", self.token()), expect)
            }
            Scenario::FirstPage => self.page(None),
            Scenario::KeysetPage => {
                let cursor = self.target.newest_cursor.clone();
                self.page(Some(cursor))
            }
            Scenario::DeepPage => {
                let cursor = self.target.deep_cursor.clone();
                self.page(Some(cursor))
            }
            Scenario::Autosave | Scenario::Live => self.autosave(),
            Scenario::File => self.download_file(),
            Scenario::Mix => match self.rng.random_range(0..20) {
                0..2 => self.autosave(),
                2..11 => self.open_notebook(),
                _ => self.page(None),
            },
            Scenario::Upload => self.upload(),
        }
    }

    /// Learns what a successful response tells the next request.
    pub fn observe(&mut self, expect: Expect, body: &[u8]) {
        if expect == Expect::UploadedFile {
            let response: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            self.previous_upload = response["data"]["uploadFile"]["id"]
                .as_str()
                .map(str::to_string);
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(self.target.base.join(path).expect("a valid path"))
    }

    fn graphql(&self, query: &str, variables: serde_json::Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.target.base.join("api/graphql").expect("a valid path"))
            .json(&json!({ "query": query, "variables": variables }))
    }

    fn open_notebook(&mut self) -> (reqwest::RequestBuilder, Expect) {
        self.open_notebook_with(NOTEBOOK_QUERY)
    }

    fn open_notebook_with(&mut self, query: &str) -> (reqwest::RequestBuilder, Expect) {
        let (low, high) = self.target.hot_notebooks;
        let id = self.rng.random_range(low..=high);
        let request = self.graphql(query, json!({ "id": id.to_string() }));
        (request, Expect::GraphqlData)
    }

    fn page(&self, after: Option<String>) -> (reqwest::RequestBuilder, Expect) {
        let request = self.graphql(PAGE_QUERY, json!({ "after": after }));
        (request, Expect::GraphqlData)
    }

    /// The API token of this connection's own user.
    fn token(&self) -> String {
        let (_, token) = &self.target.writers[self.index % self.target.writers.len()];
        format!("Token {token}")
    }

    /// A save by this connection's own user, with new content each time (the
    /// server refuses a save that changes nothing).
    fn autosave(&mut self) -> (reqwest::RequestBuilder, Expect) {
        let (_, token) = &self.target.writers[self.index % self.target.writers.len()];
        self.saves += 1;
        let body = self.autosave_body.next(self.saves);
        let request = self
            .client
            .post(self.target.base.join("api/graphql").expect("a valid path"))
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Token {token}"))
            .body(body);
        (request, Expect::SavedRevision)
    }

    fn download_file(&mut self) -> (reqwest::RequestBuilder, Expect) {
        let index = self.rng.random_range(0..self.target.files.len());
        let (notebook_id, filename) = &self.target.files[index];
        (
            self.get(&format!("notebooks/{notebook_id}/files/{filename}")),
            Expect::Success,
        )
    }

    /// A file upload by this connection's own user, as the GraphQL multipart
    /// request spec has it; the body shares the target's buffer, so that the
    /// client's memory does not grow with its connections.
    fn upload(&mut self) -> (reqwest::RequestBuilder, Expect) {
        let (notebook_id, token) = &self.target.writers[self.index % self.target.writers.len()];
        let number = UPLOADS.fetch_add(1, Ordering::Relaxed);
        let filename = format!("bench-upload-{}-{number}.bin", std::process::id());
        let input = json!({
            "notebookId": notebook_id.to_string(),
            "filename": filename,
            "file": null,
        });
        let operations = match self.previous_upload.take() {
            Some(previous) => json!({
                "query": REPLACE_MUTATION,
                "variables": { "input": input, "previous": previous },
            }),
            None => json!({ "query": UPLOAD_MUTATION, "variables": { "input": input } }),
        };
        let body = self.target.upload.clone();
        let length = body.len() as u64;
        let form = reqwest::multipart::Form::new()
            .text("operations", operations.to_string())
            .text("map", json!({ "0": ["variables.input.file"] }).to_string())
            .part(
                "0",
                reqwest::multipart::Part::stream_with_length(body, length).file_name(filename),
            );
        let request = self
            .client
            .post(self.target.base.join("api/graphql").expect("a valid path"))
            .header("Authorization", format!("Token {token}"))
            .header("X-Requested-With", "bench")
            .multipart(form);
        (request, Expect::UploadedFile)
    }
}
