//! The live scenario's load process: idle WebSockets that each hold one
//! revisionSaved subscription on a notebook nobody saves, watchers subscribed
//! to the notebooks being autosaved, and the autosave load itself. Each save
//! carries its send time in its content (see [`crate::scenarios::sent_at`]);
//! a watcher measures save-sent-to-delivered from it on receipt.

use std::{
    borrow::Cow,
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt, stream};
use hdrhistogram::Histogram;
use serde::{
    Deserialize, Deserializer,
    de::{self, IgnoredAny},
};
use serde_json::{Value, json};
use tokio::{net::TcpStream, sync::watch};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, Utf8Bytes, client::IntoClientRequest, http::HeaderValue},
};

use crate::{
    load::{self, LoadResult, LoadSummary, new_histogram},
    scenarios::{self, Connection, Expect, Scenario, Target},
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The subscription every socket holds; the content carries the send time.
const WATCH_SUBSCRIPTION: &str = "subscription Watch($id: ID!) { \
    revisionSaved(notebookId: $id) { id content } }";

/// Idle sockets opened at once: well under the listener's accept backlog.
const OPENING_CONCURRENCY: usize = 50;

/// How long the watchers may take, after the load ends, to hear the last saves.
const CATCH_UP: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct LivePlan {
    pub idle_subscribers: u32,
    pub watchers: u32,
}

/// What the live load process saw, on top of the autosave load's summary.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct LiveSummary {
    pub idle_subscribers: u32,
    /// Idle subscriptions that sent anything (an error such as "fell behind",
    /// or a completion) or whose socket closed during the run.
    pub idle_disturbed: u64,
    pub watchers: u32,
    /// Acknowledged saves of the load to watched notebooks, counted once per
    /// watcher.
    pub deliveries_expected: u64,
    pub deliveries: u64,
    pub deliveries_lost: u64,
    pub watcher_errors: u64,
    pub first_watcher_error: Option<String>,
    pub delivery_p50_micros: u64,
    pub delivery_p95_micros: u64,
    pub delivery_p99_micros: u64,
    pub delivery_max_micros: u64,
    /// Saves made before the load to check that every watcher is subscribed.
    pub probe_saves: u64,
}

/// The live load process's answer: the autosave load and the live part.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct LiveOutcome {
    pub load: LoadSummary,
    pub live: LiveSummary,
}

/// Opens the sockets, calls `ready` (the parent measures the server's memory
/// then), runs the autosave load and waits for the watchers to hear it all.
pub async fn run(
    target: Arc<Target>,
    connections: u32,
    duration: Duration,
    plan: LivePlan,
    ready: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<LiveOutcome> {
    let (stop, stopped) = watch::channel(None::<Arc<HashMap<i32, u64>>>);
    let idle = open_idle(&target, plan.idle_subscribers, stopped.clone()).await?;
    let load_started = Arc::new(AtomicU64::new(u64::MAX));
    let watchers = open_watchers(&target, plan.watchers, &load_started, stopped).await?;
    let probe_saves = probe(&target, &watchers).await?;
    ready()?;
    load_started.store(scenarios::clock_micros(), Ordering::Relaxed);
    let per_connection =
        load::run_each(Scenario::Autosave, target.clone(), connections, duration).await;
    let mut acknowledged = HashMap::<i32, u64>::new();
    for (index, result) in per_connection.results.iter().enumerate() {
        *acknowledged
            .entry(writer_notebook(&target, index))
            .or_default() += result.saved_revisions;
    }
    let _ = stop.send(Some(Arc::new(acknowledged.clone())));
    let mut live = LiveSummary {
        idle_subscribers: plan.idle_subscribers,
        watchers: plan.watchers,
        probe_saves,
        ..Default::default()
    };
    for task in idle {
        live.idle_disturbed += u64::from(task.await.context("an idle socket's task")?);
    }
    let mut latency = new_histogram();
    for watcher in watchers {
        let seen = watcher.task.await.context("a watcher's task")?;
        let expected = acknowledged.get(&watcher.notebook_id).copied().unwrap_or(0);
        live.deliveries_expected += expected;
        live.deliveries += seen.received;
        live.deliveries_lost += expected.saturating_sub(seen.received);
        live.watcher_errors += seen.errors;
        live.first_watcher_error = live.first_watcher_error.take().or(seen.first_error);
        latency.add(&seen.latency).expect("same bounds");
    }
    live.delivery_p50_micros = latency.value_at_quantile(0.50);
    live.delivery_p95_micros = latency.value_at_quantile(0.95);
    live.delivery_p99_micros = latency.value_at_quantile(0.99);
    live.delivery_max_micros = latency.max();
    let mut load = per_connection.merged().summary();
    load.saved_revisions += probe_saves;
    Ok(LiveOutcome { load, live })
}

/// The notebook that autosave connection `index` saves.
fn writer_notebook(target: &Target, index: usize) -> i32 {
    target.writers[index % target.writers.len()].0
}

/// A notebook that no connection saves: past the writers' ones.
fn idle_notebook(target: &Target, index: usize) -> i32 {
    let writers = target.writers.len() as i32;
    let (_, newest) = target.hot_notebooks;
    let others = (newest - writers).max(1);
    writers + 1 + (index as i32 % others)
}

async fn open_idle(
    target: &Arc<Target>,
    count: u32,
    stopped: watch::Receiver<Option<Arc<HashMap<i32, u64>>>>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<bool>>> {
    let opened: Vec<anyhow::Result<Socket>> = stream::iter(0..count as usize)
        .map(|index| subscribed(target, idle_notebook(target, index)))
        .buffer_unordered(OPENING_CONCURRENCY)
        .collect()
        .await;
    let mut tasks = Vec::with_capacity(opened.len());
    for socket in opened {
        tasks.push(tokio::spawn(stay_idle(socket?, stopped.clone())));
    }
    Ok(tasks)
}

/// A WebSocket that sent connection_init (acknowledged) and one subscription.
async fn subscribed(target: &Target, notebook_id: i32) -> anyhow::Result<Socket> {
    let mut url = target.base.join("api/graphql")?;
    url.set_scheme("ws").expect("http becomes ws");
    let mut request = url.as_str().into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = connect_async(request)
        .await
        .context("opening a WebSocket")?;
    send_json(
        &mut socket,
        json!({ "type": "connection_init", "payload": {} }),
    )
    .await?;
    match next_json(&mut socket).await? {
        Some(message) if message["type"] == "connection_ack" => {}
        other => bail!("expected connection_ack, got {other:?}"),
    }
    let subscribe = json!({
        "id": "1",
        "type": "subscribe",
        "payload": { "query": WATCH_SUBSCRIPTION, "variables": { "id": notebook_id.to_string() } },
    });
    send_json(&mut socket, subscribe).await?;
    Ok(socket)
}

async fn send_json(socket: &mut Socket, message: Value) -> anyhow::Result<()> {
    socket
        .send(Message::Text(message.to_string().into()))
        .await?;
    Ok(())
}

/// The next protocol message, skipping pings; None when the socket closed.
async fn next_json(socket: &mut Socket) -> anyhow::Result<Option<Value>> {
    match next_text(socket).await? {
        Some(text) => Ok(Some(serde_json::from_str(text.as_str())?)),
        None => Ok(None),
    }
}

/// The next text frame, unparsed; None when the socket closed.
async fn next_text(socket: &mut Socket) -> anyhow::Result<Option<Utf8Bytes>> {
    while let Some(message) = socket.next().await {
        match message? {
            Message::Text(text) => return Ok(Some(text)),
            Message::Close(_) => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}

/// Reads an idle socket until the run stops: true when it heard anything.
async fn stay_idle(
    mut socket: Socket,
    mut stopped: watch::Receiver<Option<Arc<HashMap<i32, u64>>>>,
) -> bool {
    tokio::select! {
        _ = stopped.wait_for(Option::is_some) => false,
        _ = next_text(&mut socket) => true,
    }
}

struct Watcher {
    notebook_id: i32,
    /// Every revision heard, the probe's included.
    heard: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<Seen>,
}

/// What one watcher heard.
struct Seen {
    received: u64,
    errors: u64,
    first_error: Option<String>,
    /// Microseconds from a save's send to its delivery here.
    latency: Histogram<u64>,
}

async fn open_watchers(
    target: &Arc<Target>,
    count: u32,
    load_started: &Arc<AtomicU64>,
    stopped: watch::Receiver<Option<Arc<HashMap<i32, u64>>>>,
) -> anyhow::Result<Vec<Watcher>> {
    let mut watchers = Vec::new();
    for index in 0..count as usize {
        let notebook_id = writer_notebook(target, index);
        let socket = subscribed(target, notebook_id).await?;
        let heard = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(watch_notebook(
            socket,
            notebook_id,
            Heard {
                any: heard.clone(),
                load_started: load_started.clone(),
            },
            stopped.clone(),
        ));
        watchers.push(Watcher {
            notebook_id,
            heard,
            task,
        });
    }
    Ok(watchers)
}

/// What a watcher shares with the run: how many revisions it heard, and when
/// the load started (saves sent before then are the probe's, not counted).
struct Heard {
    any: Arc<AtomicU64>,
    load_started: Arc<AtomicU64>,
}

/// Hears the notebook's revisions until it has heard every acknowledged save
/// of the load (known once the load ends) or the catch-up time is over.
async fn watch_notebook(
    mut socket: Socket,
    notebook_id: i32,
    heard_so_far: Heard,
    mut stopped: watch::Receiver<Option<Arc<HashMap<i32, u64>>>>,
) -> Seen {
    let mut seen = Seen {
        received: 0,
        errors: 0,
        first_error: None,
        latency: new_histogram(),
    };
    let mut last_id = 0;
    let mut expected = None;
    let mut catch_up_until = None;
    loop {
        if let Some(expected) = expected
            && seen.received >= expected
        {
            return seen;
        }
        let deadline = catch_up_until.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        let message = tokio::select! {
            message = next_text(&mut socket) => message,
            acknowledged = stopped.wait_for(Option::is_some), if expected.is_none() => {
                let acknowledged = acknowledged.ok().and_then(|stopped| stopped.clone());
                expected = Some(
                    acknowledged.and_then(|saves| saves.get(&notebook_id).copied()).unwrap_or(0),
                );
                catch_up_until = Some(Instant::now() + CATCH_UP);
                continue;
            }
            () = tokio::time::sleep_until(deadline.into()) => return seen,
        };
        let heard = match message {
            Ok(Some(message)) => delivered_revision(message.as_str()),
            Ok(None) => Err("the watcher's socket closed".to_string()),
            Err(error) => Err(error.to_string()),
        };
        match heard {
            Ok(Some((id, sent_micros))) if id > last_id => {
                last_id = id;
                heard_so_far.any.fetch_add(1, Ordering::Relaxed);
                if sent_micros < heard_so_far.load_started.load(Ordering::Relaxed) {
                    continue;
                }
                seen.received += 1;
                let micros = scenarios::clock_micros().saturating_sub(sent_micros);
                seen.latency.saturating_record(micros.clamp(1, 60_000_000));
            }
            Ok(Some((id, _))) => note_error(&mut seen, format!("revision {id} after {last_id}")),
            Ok(None) => {}
            Err(error) => {
                note_error(&mut seen, error);
                return seen;
            }
        }
    }
}

fn note_error(seen: &mut Seen, error: String) {
    seen.errors += 1;
    seen.first_error.get_or_insert(error);
}

/// A `next` message's revision id and send time; Ok(None) for a pong.
/// Read into [`Frame`], which keeps nothing of the 20 KB content but its
/// send time: a `Value` of each frame cost the load process as much CPU as
/// the server's delivery (docs/performance.md, change 29).
fn delivered_revision(text: &str) -> Result<Option<(i32, u64)>, String> {
    let heard = || text.chars().take(200).collect::<String>();
    // Other messages (an `error`'s payload is a list) need not parse.
    let frame: Frame =
        serde_json::from_str(text).map_err(|_| format!("the watcher heard {}", heard()))?;
    match frame.kind.as_ref() {
        "next" => {}
        "ping" | "pong" => return Ok(None),
        _ => return Err(format!("the watcher heard {}", heard())),
    }
    let payload = frame.payload.unwrap_or_default();
    if payload.errors.is_some() {
        return Err(format!("the watcher heard an error: {}", heard()));
    }
    let revision = payload.data.and_then(|data| data.revision_saved);
    match revision.and_then(|r| Some((r.id.parse().ok()?, r.content.0?))) {
        Some((id, sent)) => Ok(Some((id, sent))),
        None => Err(format!(
            "a revision without an id or a send time: {}",
            heard()
        )),
    }
}

/// A graphql-transport-ws message as a watcher reads it.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    payload: Option<Payload>,
}

#[derive(Default, Deserialize)]
struct Payload {
    errors: Option<IgnoredAny>,
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "revisionSaved")]
    revision_saved: Option<DeliveredRevision>,
}

#[derive(Deserialize)]
struct DeliveredRevision {
    id: String,
    content: SentAt,
}

/// A content's send time ([`scenarios::sent_at`]), read where the content
/// is parsed: the content is scanned (and unescaped into the parser's own
/// buffer) but never held.
struct SentAt(Option<u64>);

impl<'de> Deserialize<'de> for SentAt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = SentAt;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a revision's content")
            }

            fn visit_str<E: de::Error>(self, content: &str) -> Result<SentAt, E> {
                Ok(SentAt(scenarios::sent_at(content)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Saves to each watched notebook until every watcher heard one: a
/// subscription only hears saves after it started, and the protocol does not
/// say when that is. Returns the saves made.
async fn probe(target: &Arc<Target>, watchers: &[Watcher]) -> anyhow::Result<u64> {
    let mut saves = 0;
    for _round in 0..PROBE_ROUNDS {
        let mut waiting: Vec<i32> = watchers
            .iter()
            .filter(|w| w.heard.load(Ordering::Relaxed) == 0)
            .map(|w| w.notebook_id)
            .collect();
        if waiting.is_empty() {
            return Ok(saves);
        }
        waiting.sort_unstable();
        waiting.dedup();
        for notebook_id in waiting {
            save_once(target, notebook_id).await?;
            saves += 1;
        }
        let deadline = Instant::now() + PROBE_WAIT;
        while Instant::now() < deadline
            && watchers
                .iter()
                .any(|w| w.heard.load(Ordering::Relaxed) == 0)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    if watchers
        .iter()
        .any(|w| w.heard.load(Ordering::Relaxed) == 0)
    {
        bail!("a watcher heard none of {saves} probe saves");
    }
    Ok(saves)
}

const PROBE_ROUNDS: usize = 5;
const PROBE_WAIT: Duration = Duration::from_secs(2);

/// One save by the user who owns `notebook_id`.
async fn save_once(target: &Arc<Target>, notebook_id: i32) -> anyhow::Result<()> {
    let index = target
        .writers
        .iter()
        .position(|(id, _)| *id == notebook_id)
        .expect("watchers watch writers' notebooks");
    let mut connection = Connection::new(target.clone(), index);
    let (request, expect) = connection.next_request(Scenario::Autosave);
    debug_assert!(expect == Expect::SavedRevision);
    match load::send(request, expect).await {
        Ok(_) => Ok(()),
        Err(error) => bail!("a probe save failed: {error}"),
    }
}

impl load::Each {
    fn merged(self) -> LoadResult {
        let elapsed = self.elapsed;
        let mut total = self
            .results
            .into_iter()
            .reduce(|mut total, one| {
                total.merge(one);
                total
            })
            .unwrap_or_else(LoadResult::empty);
        total.elapsed = elapsed;
        total
    }
}
