//! The server under test: the real app started in this process on a loopback
//! port (its load comes from a process of its own), or a running server at
//! --target-url.

use std::{
    num::NonZeroUsize,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{bail, ensure};
use iodide_server::{AppState, build_app, config::Config, serve};
use rand::distr::{Alphanumeric, SampleString};
use url::Url;

use crate::{
    Args, drive,
    live::LivePlan,
    load,
    report::{LiveReport, Report, ScenarioReport},
    scenarios::{Scenario, Target},
    seed::{self, SeedPlan},
};

/// All load comes from one address: the per-client limit would stop it.
const NO_RATE_LIMIT: u32 = 1_000_000_000;

/// Sockets beyond the live scenario's subscribers: the load's connections and
/// the bench's own.
const CONNECTIONS_BESIDES_SUBSCRIBERS: usize = 512;

fn config_for(args: &Args, database_url: &str, address: std::net::SocketAddr) -> Config {
    let mut config = Config::for_database(database_url);
    config.server_uri = Url::parse(&format!("http://{address}/")).expect("a valid URL");
    config.cache.redis_url = args.redis_url.clone();
    config.rate_limit_per_minute = NO_RATE_LIMIT;
    // The live scenario's sockets all come from one anonymous client, and each
    // holds its TCP connection: both caps (LIVE_CONNECTIONS_PER_CLIENT, 20, and
    // HTTP_MAX_CONNECTIONS, 512) are raised to fit them.
    let subscribers = (args.idle_subscribers + args.watchers) as usize;
    config.live.connections_per_client = subscribers.max(config.live.connections_per_client);
    config.connections.max_connections =
        NonZeroUsize::new(subscribers + CONNECTIONS_BESIDES_SUBSCRIBERS)
            .expect("more than zero")
            .max(config.connections.max_connections);
    // Runs that share a Redis keep to their own keys.
    let run = Alphanumeric.sample_string(&mut rand::rng(), 8);
    config.cache.key_prefix = format!("iodide-bench-{run}:");
    config
}

pub async fn bench_in_process(
    args: &Args,
    database_url: &str,
    scenarios: &[Scenario],
) -> anyhow::Result<Report> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let config = config_for(args, database_url, address);

    // The first start migrates the empty database, which is then seeded.
    let seeding_state = AppState::init(config.clone()).await?;
    eprintln!("bench: seeding...");
    let seeded = seed::seed(&seeding_state.db, &seed_plan(args)).await?;
    seeding_state.db.clone().close().await?;
    eprintln!("bench: seeded in {:.1} s", seeded.seconds);

    // The measured start: an up-to-date database, as after a deploy.
    let started = Instant::now();
    let state = AppState::init(config).await?;
    let server = tokio::spawn(serve(
        listener,
        build_app(state.clone()),
        state.config.connections,
        std::future::pending(),
    ));
    let base = Url::parse(&format!("http://{address}/"))?;
    wait_for_heartbeat(&base).await?;
    let startup_ms = started.elapsed().as_secs_f64() * 1000.0;

    let mut target = Target::new(base, seeded.notebooks as i32, 1);
    target.writers = seeded.writers;
    target.files = seeded.files;
    target.revision_bytes = args.revision_bytes;
    target.upload_bytes = args.upload_bytes;

    let mut report = Report::new(args, database_url, Some(seeded.seconds), Some(startup_ms));
    for &scenario in scenarios {
        let scenario_report = match scenario {
            Scenario::Live => run_live_in_process(args, &state, &target).await?,
            _ => run_in_process(args, &state, &target, scenario).await?,
        };
        report.scenarios.push(scenario_report);
    }
    report.peak_rss_mb = peak_rss_mb();
    server.abort();
    state.db.clone().close().await?;
    Ok(report)
}

fn seed_plan(args: &Args) -> SeedPlan {
    SeedPlan {
        users: args.users,
        notebooks: args.notebooks,
        revisions_per_notebook: args.revisions_per_notebook,
        revision_bytes: args.revision_bytes,
        files: args.files,
        writers: args.connections,
    }
}

/// The connections that `scenario` runs with, said aloud when they are not
/// --connections.
fn announce_connections(args: &Args, scenario: Scenario) -> u32 {
    let connections = scenario.connections(args.connections);
    if connections != args.connections {
        eprintln!(
            "bench: {} runs with {connections} connections (at most {})",
            scenario.name(),
            crate::scenarios::MAX_CONCURRENT_UPLOADS
        );
    }
    connections
}

/// One scenario against the in-process server, with what only it can know:
/// SQL statements, memory, and revisions in the database.
async fn run_in_process(
    args: &Args,
    state: &AppState,
    target: &Target,
    scenario: Scenario,
) -> anyhow::Result<ScenarioReport> {
    ensure!(
        scenario != Scenario::File || !target.files.is_empty(),
        "the file scenario needs --files 1 or more"
    );
    let revisions_before = seed::count_revisions(&state.db).await?;
    let statements_before = state.statements.get();
    let round_trips_before = state.redis_round_trips();
    let connections = announce_connections(args, scenario);
    let sampler = RssSampler::start();
    let result = drive::in_child_process(target, scenario, connections, args.duration()).await;
    let peak_rss = sampler.stop();
    let result = result?;
    let statements = state.statements.get() - statements_before;
    let mut report = ScenarioReport::new(scenario, connections, &result);
    report.sql_statements_per_request = Some(statements as f64 / result.requests.max(1) as f64);
    if state.redis.is_some() {
        let round_trips = state.redis_round_trips() - round_trips_before;
        report.redis_round_trips_per_request =
            Some(round_trips as f64 / result.requests.max(1) as f64);
    }
    report.peak_vm_rss_mb = peak_rss;
    if scenario.writes() {
        let stored = seed::count_revisions(&state.db).await? - revisions_before;
        report.revisions_acknowledged = Some(result.saved_revisions);
        report.revisions_stored = Some(stored);
    }
    report.print_progress();
    Ok(report)
}

/// Autosave alone, then the same autosave while the live sockets are open
/// (idle subscribers and watchers), back to back; with the server's memory
/// before and after the sockets opened.
async fn run_live_in_process(
    args: &Args,
    state: &AppState,
    target: &Target,
) -> anyhow::Result<ScenarioReport> {
    let connections = args.connections;
    let revisions_before = seed::count_revisions(&state.db).await?;
    eprintln!("bench: live: autosave without subscribers first");
    let alone =
        drive::in_child_process(target, Scenario::Autosave, connections, args.duration()).await?;
    let plan = LivePlan {
        idle_subscribers: args.idle_subscribers,
        watchers: args.watchers,
    };
    eprintln!(
        "bench: live: opening {} idle subscribers and {} watchers",
        plan.idle_subscribers, plan.watchers
    );
    let rss_before = proc_status_mb("VmRSS:");
    let rss_open = Arc::new(Mutex::new(None));
    let on_open = {
        let rss_open = rss_open.clone();
        move || *rss_open.lock().unwrap() = proc_status_mb("VmRSS:")
    };
    let statements_before = state.statements.get();
    let sampler = RssSampler::start();
    let outcome =
        drive::live_in_child_process(target, connections, args.duration(), plan, on_open).await;
    let peak_rss = sampler.stop();
    let outcome = outcome?;
    let statements = state.statements.get() - statements_before;
    let stored = seed::count_revisions(&state.db).await? - revisions_before;
    let mut report = ScenarioReport::new(Scenario::Live, connections, &outcome.load);
    report.sql_statements_per_request =
        Some(statements as f64 / outcome.load.requests.max(1) as f64);
    report.peak_vm_rss_mb = peak_rss;
    report.revisions_acknowledged = Some(alone.saved_revisions + outcome.load.saved_revisions);
    report.revisions_stored = Some(stored);
    let rss_open = *rss_open.lock().unwrap();
    report.set_live(LiveReport::new(&outcome.live, &alone, rss_before, rss_open));
    report.print_progress();
    Ok(report)
}

pub async fn bench_remote(
    args: &Args,
    url: &Url,
    scenarios: &[Scenario],
) -> anyhow::Result<Report> {
    if !matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
        bail!("--target-url must be a loopback address: this benchmark loads one machine only");
    }
    if let Some(scenario) = scenarios.iter().find(|s| s.needs_seeded_data()) {
        bail!(
            "{} needs the data that an in-process run seeds; with --target-url use --scenarios heartbeat,notebook,first-page,keyset-page,deep-page",
            scenario.name()
        );
    }
    wait_for_heartbeat(url).await?;
    // Reads open the newest notebooks up to --notebook-id; the deep page starts
    // near id 1.
    let target = Arc::new(Target::new(url.clone(), args.notebook_id, 1));
    let mut report = Report::new(args, "(remote server)", None, None);
    for &scenario in scenarios {
        let result = load::run(scenario, target.clone(), args.connections, args.duration()).await;
        let scenario_report = ScenarioReport::new(scenario, args.connections, &result.summary());
        scenario_report.print_progress();
        report.scenarios.push(scenario_report);
    }
    Ok(report)
}

async fn wait_for_heartbeat(base: &Url) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = base.join("__lbheartbeat__")?;
    for _ in 0..500 {
        if let Ok(response) = client.get(url.clone()).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("{url} did not answer within 5 s")
}

/// A field of /proc/self/status, in MB (the server runs in this process).
fn proc_status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let kilobytes: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes / 1024.0)
}

/// The process's peak resident memory over the whole run.
fn peak_rss_mb() -> Option<f64> {
    proc_status_mb("VmHWM:")
}

/// Samples the resident memory every 50 ms and keeps the highest.
struct RssSampler {
    highest_kb: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    fn start() -> Self {
        let highest_kb = Arc::new(AtomicU64::new(0));
        let highest = highest_kb.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(mb) = proc_status_mb("VmRSS:") {
                    highest.fetch_max((mb * 1024.0) as u64, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        RssSampler { highest_kb, task }
    }

    fn stop(self) -> Option<f64> {
        self.task.abort();
        let kilobytes = self.highest_kb.load(Ordering::Relaxed);
        (kilobytes > 0).then(|| kilobytes as f64 / 1024.0)
    }
}
