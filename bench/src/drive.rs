//! The load runs in a process of its own (this binary, started with the hidden
//! `--drive` flag), so that the server's memory and CPU are its own: the
//! in-process server is measured without its client's buffers, and the two do
//! not share one async runtime's threads.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, bail};

use crate::{
    live::{self, LiveOutcome, LivePlan},
    load::{self, LoadSummary},
    scenarios::{Scenario, Target},
};

/// What the parent asks of the load process: one line of JSON on its standard
/// input.
#[derive(serde::Serialize, serde::Deserialize)]
struct Order {
    target: Target,
    scenario: Scenario,
    connections: u32,
    seconds: f64,
    /// The live scenario's sockets.
    live: Option<LivePlan>,
}

/// The live load process's line on stdout once its sockets are open; it then
/// waits for a line on stdin before it starts the load.
const SOCKETS_OPEN: &str = "sockets-open";

/// Runs one scenario in a new load process and waits for its summary.
pub async fn in_child_process(
    target: &Target,
    scenario: Scenario,
    connections: u32,
    duration: Duration,
) -> anyhow::Result<LoadSummary> {
    let order = Order {
        target: target.clone(),
        scenario,
        connections,
        seconds: duration.as_secs_f64(),
        live: None,
    };
    tokio::task::spawn_blocking(move || run_child(&order, || {})).await?
}

/// The live scenario in a new load process: `sockets_open` runs once its
/// idle sockets and watchers are subscribed, before the load starts.
pub async fn live_in_child_process(
    target: &Target,
    connections: u32,
    duration: Duration,
    plan: LivePlan,
    sockets_open: impl FnOnce() + Send + 'static,
) -> anyhow::Result<LiveOutcome> {
    let order = Order {
        target: target.clone(),
        scenario: Scenario::Live,
        connections,
        seconds: duration.as_secs_f64(),
        live: Some(plan),
    };
    tokio::task::spawn_blocking(move || run_child(&order, sockets_open)).await?
}

fn run_child<T: serde::de::DeserializeOwned>(
    order: &Order,
    sockets_open: impl FnOnce(),
) -> anyhow::Result<T> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--drive")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the load process")?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    serde_json::to_writer(&mut stdin, order)?;
    stdin.write_all(b"\n")?;
    stdin.flush()?;
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    let mut sockets_open = Some(sockets_open);
    let summary = loop {
        line.clear();
        if stdout.read_line(&mut line)? == 0 {
            break None;
        }
        if line.trim_end() == SOCKETS_OPEN {
            if let Some(sockets_open) = sockets_open.take() {
                sockets_open();
            }
            stdin.write_all(b"go\n")?;
            stdin.flush()?;
        } else {
            break Some(line.clone());
        }
    };
    drop(stdin);
    let status = child.wait()?;
    if !status.success() {
        bail!("the load process failed: {status}");
    }
    let summary = summary.context("the load process printed no summary")?;
    serde_json::from_str(&summary).context("reading the load process's summary")
}

/// The load process: reads its order, drives the load, prints the summary.
pub async fn serve_order() -> anyhow::Result<()> {
    let mut input = String::new();
    std::io::stdin().read_line(&mut input)?;
    let order: Order = serde_json::from_str(&input).context("reading the order")?;
    let mut target = order.target;
    target.fill_upload();
    let target = Arc::new(target);
    let duration = Duration::from_secs_f64(order.seconds);
    let summary = match order.live {
        Some(plan) => {
            let outcome = live::run(target, order.connections, duration, plan, wait_for_go).await?;
            serde_json::to_vec(&outcome)?
        }
        None => {
            let result = load::run(order.scenario, target, order.connections, duration).await;
            serde_json::to_vec(&result.summary())?
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&summary)?;
    stdout.write_all(b"\n")?;
    stdout.flush()?;
    Ok(())
}

/// Tells the parent that the sockets are open and waits until it has looked
/// at the server's memory.
fn wait_for_go() -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{SOCKETS_OPEN}")?;
    stdout.flush()?;
    let mut go = String::new();
    std::io::stdin().read_line(&mut go)?;
    Ok(())
}
