//! Driving load: N connections, each a task that sends one request after
//! another for a fixed time and records each latency.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use hdrhistogram::Histogram;

use crate::scenarios::{Connection, Expect, Scenario, Target};

/// What the connections of one scenario saw.
pub struct LoadResult {
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Revisions that the server said it saved.
    pub saved_revisions: u64,
    /// Microseconds.
    pub latency: Histogram<u64>,
    pub elapsed: Duration,
}

impl LoadResult {
    pub fn empty() -> Self {
        LoadResult {
            requests: 0,
            errors: 0,
            first_error: None,
            saved_revisions: 0,
            latency: new_histogram(),
            elapsed: Duration::ZERO,
        }
    }

    pub fn merge(&mut self, other: LoadResult) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.saved_revisions += other.saved_revisions;
        self.latency.add(&other.latency).expect("same bounds");
    }
}

/// What the parent process needs of a LoadResult: it crosses from the load
/// process as JSON.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct LoadSummary {
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub saved_revisions: u64,
    pub seconds: f64,
    pub p50_micros: u64,
    pub p95_micros: u64,
    pub p99_micros: u64,
    pub max_micros: u64,
}

impl LoadResult {
    pub fn summary(&self) -> LoadSummary {
        LoadSummary {
            requests: self.requests,
            errors: self.errors,
            first_error: self.first_error.clone(),
            saved_revisions: self.saved_revisions,
            seconds: self.elapsed.as_secs_f64(),
            p50_micros: self.latency.value_at_quantile(0.50),
            p95_micros: self.latency.value_at_quantile(0.95),
            p99_micros: self.latency.value_at_quantile(0.99),
            max_micros: self.latency.max(),
        }
    }
}

pub fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s, three significant figures.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

pub async fn run(
    scenario: Scenario,
    target: Arc<Target>,
    connections: u32,
    duration: Duration,
) -> LoadResult {
    let each = run_each(scenario, target, connections, duration).await;
    let mut total = LoadResult::empty();
    for result in each.results {
        total.merge(result);
    }
    total.elapsed = each.elapsed;
    total
}

/// What each connection saw, in the order of their indices.
pub struct Each {
    pub results: Vec<LoadResult>,
    pub elapsed: Duration,
}

pub async fn run_each(
    scenario: Scenario,
    target: Arc<Target>,
    connections: u32,
    duration: Duration,
) -> Each {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections as usize)
        .map(|index| {
            let connection = Connection::new(target.clone(), index);
            tokio::spawn(drive(connection, scenario, deadline))
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("a load task does not panic"));
    }
    Each {
        results,
        elapsed: started.elapsed(),
    }
}

/// One connection's loop: a request, its whole body, the next request.
async fn drive(mut connection: Connection, scenario: Scenario, deadline: Instant) -> LoadResult {
    let mut result = LoadResult::empty();
    while Instant::now() < deadline {
        let (request, expect) = connection.next_request(scenario);
        let sent = Instant::now();
        let outcome = send(request, expect).await;
        let micros = sent.elapsed().as_micros().clamp(1, 60_000_000) as u64;
        result.latency.saturating_record(micros);
        result.requests += 1;
        match outcome {
            Ok(_) if expect == Expect::SavedRevision => result.saved_revisions += 1,
            Ok(body) => connection.observe(expect, &body),
            Err(error) => {
                result.errors += 1;
                result.first_error.get_or_insert(error);
            }
        }
    }
    result
}

/// Whether a GraphQL response carries data and no errors, told without parsing
/// it: the load process shares the cores with the server, and parsing each
/// 20 KB answer cost it about as much CPU as the server spent sending it
/// (docs/performance.md, change 26). The server writes `data` first, and a
/// top-level `"errors":` is the only place where that text appears unescaped
/// (inside a string its quotes are escaped; no field of the schema is so named).
fn graphql_succeeded(body: &[u8]) -> bool {
    body.starts_with(br#"{"data":{"#) && memchr::memmem::find(body, br#""errors":"#).is_none()
}

/// The body of a successful response.
pub async fn send(request: reqwest::RequestBuilder, expect: Expect) -> Result<Bytes, String> {
    let mut response = request.send().await.map_err(|err| err.to_string())?;
    let status = response.status();
    if status.is_success() && expect == Expect::Success {
        // Read to the end without keeping it: the bench measures the server's
        // memory, not the downloads held by its own client.
        while response
            .chunk()
            .await
            .map_err(|err| err.to_string())?
            .is_some()
        {}
        return Ok(Bytes::new());
    }
    let body = response.bytes().await.map_err(|err| err.to_string())?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return Err(format!("HTTP {status}: {text}"));
    }
    if !graphql_succeeded(&body) {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return Err(format!("GraphQL errors: {text}"));
    }
    Ok(body)
}
