//! `cargo run --release -p bench -- [flags]`: seeds a data set, starts the real
//! app in-process (or targets a running server), drives it over HTTP from a load
//! process of its own with N connections per scenario and reports throughput, latency, errors, SQL
//! statements per request and memory. See docs/performance.md.

/// mimalloc rather than the system allocator: a request makes many short-lived
/// allocations, and glibc's malloc (with its fastbin consolidation) was the
/// largest single cost in the bench's profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod database;
mod drive;
mod live;
mod load;
mod report;
mod scenarios;
mod seed;
mod server;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::Parser;
use url::Url;

use crate::scenarios::Scenario;

#[derive(Parser, Debug, Clone)]
#[command(about = "Benchmark the iodide server over real HTTP")]
pub struct Args {
    /// Database to seed and serve: sqlite://... or postgres://... (a fresh
    /// database iodide_bench_<random> is created on that server and dropped
    /// afterwards). Default: a fresh SQLite file in a temporary folder.
    #[arg(long)]
    database_url: Option<String>,
    /// Redis for the server's cache; default: the in-process cache.
    #[arg(long)]
    redis_url: Option<Url>,
    /// Benchmark a running server instead (read scenarios only; no seeding, and
    /// SQL counts and server memory are unknown). Loopback addresses only.
    #[arg(long)]
    target_url: Option<Url>,
    /// With --target-url: the newest notebook's id; reads open the 100 up to it.
    #[arg(long, default_value_t = 1)]
    notebook_id: i32,
    #[arg(long, default_value_t = 100)]
    users: u32,
    #[arg(long, default_value_t = 2_000)]
    notebooks: u32,
    #[arg(long, default_value_t = 5)]
    revisions_per_notebook: u32,
    /// Size of each revision's content.
    #[arg(long, default_value_t = 20_000)]
    revision_bytes: usize,
    /// Files of 1 MiB, one per notebook from the oldest on.
    #[arg(long, default_value_t = 4)]
    files: u32,
    /// Size of each file that the upload scenario sends.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    upload_bytes: usize,
    /// Concurrent keep-alive connections, each its own client (and, for
    /// autosave, its own user).
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// Seconds of load per scenario (fractions allowed).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Comma-separated subset of: heartbeat, notebook, first-page, keyset-page,
    /// deep-page, autosave, file, mix, upload (at most 10 connections: the ten
    /// concurrent 10 MiB uploads), live (autosave alone, then with subscribers).
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<Scenario>,
    /// live: idle WebSockets, each with one revisionSaved subscription on a
    /// notebook that nobody saves.
    #[arg(long, default_value_t = 1_000)]
    idle_subscribers: u32,
    /// live: WebSockets subscribed to the notebooks being autosaved (watcher i
    /// watches the notebook of autosave connection i mod --connections).
    #[arg(long, default_value_t = 32)]
    watchers: u32,
    #[arg(long)]
    json_out: Option<PathBuf>,
    #[arg(long)]
    svg_out: Option<PathBuf>,
    /// Internal: be the load process of a run (reads its order on stdin).
    #[arg(long, hide = true)]
    drive: bool,
}

impl Args {
    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds.max(0.0))
    }

    fn chosen_scenarios(&self) -> Vec<Scenario> {
        if !self.scenarios.is_empty() {
            return self.scenarios.clone();
        }
        if self.target_url.is_some() {
            Scenario::READ_ONLY.to_vec()
        } else {
            Scenario::ALL.to_vec()
        }
    }
}

fn main() -> ExitCode {
    // The server runs in this process: it gets the allocator settings it has in
    // production.
    iodide_server::memory::configure_mimalloc();
    iodide_server::memory::tune_allocator();
    raise_open_files_limit();
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new().expect("the async runtime starts");
    if args.drive {
        return match runtime.block_on(drive::serve_order()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("bench load process: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("bench: the run had errors (see above)");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The live scenario holds a socket per subscriber in each process (the server
/// and the load): the soft limit on open files (often 1,024) goes up to the
/// hard one.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                eprintln!("bench: could not raise the open files limit");
            }
        }
    }
}

/// Runs everything; `Ok(false)` when a request failed or a revision was lost.
async fn run(args: Args) -> anyhow::Result<bool> {
    let scenarios = args.chosen_scenarios();
    let report = match &args.target_url {
        Some(url) => server::bench_remote(&args, url, &scenarios).await?,
        None => {
            let database = database::BenchDatabase::create(args.database_url.as_deref()).await?;
            let outcome = server::bench_in_process(&args, &database.url, &scenarios).await;
            database.drop_if_created().await;
            outcome?
        }
    };
    report.print_table();
    if let Some(path) = &args.json_out {
        report.write_json(path)?;
    }
    if let Some(path) = &args.svg_out {
        report.write_svg(path)?;
    }
    Ok(report.passed())
}
