//! The load runs in a process of its own (this binary, started with the hidden
//! `--drive` flag), so that the server's memory and CPU are its own: the
//! in-process server is measured without its client's buffers, and the two do
//! not share one async runtime's threads.

use std::{
    io::{Read, Write},
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, bail};

use crate::{
    load::{self, LoadSummary},
    scenarios::{Scenario, Target},
};

/// What the parent asks of the load process, on its standard input.
#[derive(serde::Serialize, serde::Deserialize)]
struct Order {
    target: Target,
    scenario: Scenario,
    connections: u32,
    seconds: f64,
}

/// Runs one scenario in a new load process and waits for its summary.
pub async fn in_child_process(
    target: &Target,
    scenario: Scenario,
    connections: u32,
    duration: Duration,
) -> anyhow::Result<LoadSummary> {
    let order = serde_json::to_vec(&Order {
        target: target.clone(),
        scenario,
        connections,
        seconds: duration.as_secs_f64(),
    })?;
    tokio::task::spawn_blocking(move || run_child(&order)).await?
}

fn run_child(order: &[u8]) -> anyhow::Result<LoadSummary> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--drive")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the load process")?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(order)?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("the load process failed: {}", output.status);
    }
    serde_json::from_slice(&output.stdout).context("reading the load process's summary")
}

/// The load process: reads its order, drives the load, prints the summary.
pub async fn serve_order() -> anyhow::Result<()> {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input)?;
    let order: Order = serde_json::from_slice(&input).context("reading the order")?;
    let mut target = order.target;
    target.fill_upload();
    let duration = Duration::from_secs_f64(order.seconds);
    let result = load::run(
        order.scenario,
        Arc::new(target),
        order.connections,
        duration,
    )
    .await;
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, &result.summary())?;
    stdout.flush()?;
    Ok(())
}
