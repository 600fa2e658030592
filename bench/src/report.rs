//! Results: a table on stdout, JSON, and an SVG chart drawn by hand (bars need
//! no plotting crate).

use std::{fmt::Write as _, path::Path};

use serde::Serialize;

use crate::{Args, live::LiveSummary, load::LoadSummary, scenarios::Scenario};

#[derive(Serialize)]
pub struct Report {
    pub database: String,
    pub redis: bool,
    pub users: u32,
    pub notebooks: u32,
    pub revisions_per_notebook: u32,
    pub revision_bytes: usize,
    pub files: u32,
    pub upload_bytes: usize,
    pub connections: u32,
    pub seconds_per_scenario: f64,
    pub seed_seconds: Option<f64>,
    /// From the start of AppState::init to the first answered heartbeat, on an
    /// up-to-date database.
    pub startup_ms: Option<f64>,
    /// The server process's peak resident memory (the load runs in a process
    /// of its own).
    pub peak_rss_mb: Option<f64>,
    pub scenarios: Vec<ScenarioReport>,
}

#[derive(Serialize)]
pub struct ScenarioReport {
    pub scenario: Scenario,
    pub connections: u32,
    pub seconds: f64,
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub sql_statements_per_request: Option<f64>,
    /// Round trips on the server's Redis connection (the cache, the rate
    /// limits, the events' PUBLISH), with --redis-url.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_round_trips_per_request: Option<f64>,
    /// Highest resident memory sampled during the scenario.
    pub peak_vm_rss_mb: Option<f64>,
    pub revisions_acknowledged: Option<u64>,
    pub revisions_stored: Option<u64>,
    /// The live scenario's subscribers; its other fields are the autosave
    /// load's while they are open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveReport>,
}

#[derive(Serialize)]
pub struct LiveReport {
    pub idle_subscribers: u32,
    pub watchers: u32,
    /// Idle subscriptions that heard anything (an error, a completion) or
    /// whose socket closed: each is counted as an error of the scenario.
    pub idle_disturbed: u64,
    /// From the save's send time (stamped in its content by the saver) to its
    /// receipt by a watcher, both on the load process's clock: the save's own
    /// latency up to its commit is included.
    pub delivery_p50_ms: f64,
    pub delivery_p95_ms: f64,
    pub delivery_p99_ms: f64,
    pub delivery_max_ms: f64,
    /// Acknowledged saves of watched notebooks, once per watcher.
    pub deliveries_expected: u64,
    pub deliveries: u64,
    pub deliveries_lost: u64,
    pub watcher_errors: u64,
    pub first_watcher_error: Option<String>,
    /// Saves before the load that checked every watcher was subscribed.
    pub probe_saves: u64,
    /// The same autosave load just before, without any socket open.
    pub autosave_alone_per_second: f64,
    pub autosave_alone_p50_ms: f64,
    pub autosave_alone_p99_ms: f64,
    pub autosave_alone_errors: u64,
    /// Autosaves per second with subscribers / without.
    pub autosave_ratio: f64,
    /// The server's VmRSS just before the sockets opened, and once they all
    /// had subscribed (before the load).
    pub rss_before_sockets_mb: Option<f64>,
    pub rss_sockets_open_mb: Option<f64>,
    /// The difference divided by the sockets (idle and watchers).
    pub rss_per_socket_kb: Option<f64>,
}

impl LiveReport {
    pub fn new(
        live: &LiveSummary,
        alone: &LoadSummary,
        rss_before: Option<f64>,
        rss_open: Option<f64>,
    ) -> Self {
        let alone_per_second = alone.requests as f64 / alone.seconds.max(f64::EPSILON);
        let sockets = f64::from(live.idle_subscribers + live.watchers).max(1.0);
        LiveReport {
            idle_subscribers: live.idle_subscribers,
            watchers: live.watchers,
            idle_disturbed: live.idle_disturbed,
            delivery_p50_ms: millis(live.delivery_p50_micros),
            delivery_p95_ms: millis(live.delivery_p95_micros),
            delivery_p99_ms: millis(live.delivery_p99_micros),
            delivery_max_ms: millis(live.delivery_max_micros),
            deliveries_expected: live.deliveries_expected,
            deliveries: live.deliveries,
            deliveries_lost: live.deliveries_lost,
            watcher_errors: live.watcher_errors,
            first_watcher_error: live.first_watcher_error.clone(),
            probe_saves: live.probe_saves,
            autosave_alone_per_second: alone_per_second,
            autosave_alone_p50_ms: millis(alone.p50_micros),
            autosave_alone_p99_ms: millis(alone.p99_micros),
            autosave_alone_errors: alone.errors,
            autosave_ratio: 0.0,
            rss_before_sockets_mb: rss_before,
            rss_sockets_open_mb: rss_open,
            rss_per_socket_kb: rss_before
                .zip(rss_open)
                .map(|(before, open)| (open - before) * 1024.0 / sockets),
        }
    }

    fn print(&self, with_subscribers: &ScenarioReport) {
        println!(
            "live: {} idle subscribers + {} watchers; autosave {:.0}/s (p99 {:.2} ms) with them, \
             {:.0}/s (p99 {:.2} ms) without: {:.1}%",
            self.idle_subscribers,
            self.watchers,
            with_subscribers.requests_per_second,
            with_subscribers.p99_ms,
            self.autosave_alone_per_second,
            self.autosave_alone_p99_ms,
            self.autosave_ratio * 100.0,
        );
        println!(
            "live: save sent -> delivered p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
             delivered {}/{} (lost {}); watcher errors {}; idle disturbed {}",
            self.delivery_p50_ms,
            self.delivery_p95_ms,
            self.delivery_p99_ms,
            self.delivery_max_ms,
            self.deliveries,
            self.deliveries_expected,
            self.deliveries_lost,
            self.watcher_errors,
            self.idle_disturbed,
        );
        println!(
            "live: server RSS {} MB before the sockets, {} MB with them open: {} KB per socket",
            optional(self.rss_before_sockets_mb, 1),
            optional(self.rss_sockets_open_mb, 1),
            optional(self.rss_per_socket_kb, 1),
        );
        if let Some(error) = &self.first_watcher_error {
            println!("live: first watcher error: {error}");
        }
    }
}

/// The database's kind and host, never its credentials.
fn describe_database(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.scheme().starts_with("postgres") => format!(
            "postgres on {}",
            parsed.host_str().unwrap_or("(unknown host)")
        ),
        Ok(parsed) if parsed.scheme() == "sqlite" => "sqlite".to_string(),
        _ => url.to_string(),
    }
}

impl Report {
    pub fn new(
        args: &Args,
        database_url: &str,
        seed_seconds: Option<f64>,
        startup_ms: Option<f64>,
    ) -> Self {
        Report {
            database: describe_database(database_url),
            redis: args.redis_url.is_some(),
            users: args.users,
            notebooks: args.notebooks,
            revisions_per_notebook: args.revisions_per_notebook,
            revision_bytes: args.revision_bytes,
            files: args.files,
            upload_bytes: args.upload_bytes,
            connections: args.connections,
            seconds_per_scenario: args.seconds,
            seed_seconds,
            startup_ms,
            peak_rss_mb: None,
            scenarios: vec![],
        }
    }

    /// No request failed, every acknowledged revision is stored, and every
    /// watched one was delivered.
    pub fn passed(&self) -> bool {
        self.scenarios.iter().all(|s| {
            s.errors == 0
                && s.revisions_acknowledged == s.revisions_stored
                && s.live.as_ref().is_none_or(|live| live.deliveries_lost == 0)
        })
    }

    pub fn print_table(&self) {
        // A remote server's data was not seeded by this run: its sizes are unknown.
        let data_set = match self.seed_seconds {
            Some(_) => format!(
                "{} notebooks x {} revisions of {} bytes; ",
                self.notebooks, self.revisions_per_notebook, self.revision_bytes
            ),
            None => String::new(),
        };
        println!(
            "database: {}{}; {data_set}{} connections; {} s per scenario",
            self.database,
            if self.redis { " + redis" } else { "" },
            self.connections,
            self.seconds_per_scenario,
        );
        if let (Some(seed), Some(startup)) = (self.seed_seconds, self.startup_ms) {
            println!("seeded in {seed:.1} s; start-up {startup:.0} ms");
        }
        println!(
            "{:<11} {:>9} {:>9} {:>8} {:>8} {:>8} {:>7} {:>8} {:>9} {:>8} {:>11}",
            "scenario",
            "requests",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "SQL/req",
            "Redis/req",
            "RSS MB",
            "saved/stored"
        );
        for s in &self.scenarios {
            println!("{}", s.table_row());
        }
        for s in self
            .scenarios
            .iter()
            .filter(|s| s.connections != self.connections)
        {
            println!("{}: {} connections", s.scenario.name(), s.connections);
        }
        for s in &self.scenarios {
            if let Some(live) = &s.live {
                live.print(s);
            }
        }
        if let Some(peak) = self.peak_rss_mb {
            println!("server's peak RSS (VmHWM, seeding included): {peak:.0} MB");
        }
        for s in self.scenarios.iter().filter(|s| s.first_error.is_some()) {
            println!(
                "{}: first error: {}",
                s.scenario.name(),
                s.first_error.as_deref().unwrap_or_default()
            );
        }
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")?;
        Ok(())
    }

    pub fn write_svg(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, self.svg())?;
        Ok(())
    }

    /// Two bar charts side by side: requests per second and p99 latency.
    fn svg(&self) -> String {
        const ROW: usize = 26;
        const TOP: usize = 56;
        let height = TOP + ROW * self.scenarios.len() + 20;
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"{height}\" \
             font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"10\" y=\"18\" font-size=\"14\">{}{}, {} connections</text>\n\
             <text x=\"100\" y=\"42\">requests per second</text>\n\
             <text x=\"440\" y=\"42\">p99 latency (ms)</text>\n",
            self.database,
            if self.redis { " + redis" } else { "" },
            self.connections
        );
        let max_rps = self
            .scenarios
            .iter()
            .map(|s| s.requests_per_second)
            .fold(1.0, f64::max);
        let max_p99 = self
            .scenarios
            .iter()
            .map(|s| s.p99_ms)
            .fold(0.001, f64::max);
        for (row, s) in self.scenarios.iter().enumerate() {
            let y = TOP + row * ROW;
            let rps_width = 240.0 * s.requests_per_second / max_rps;
            let p99_width = 240.0 * s.p99_ms / max_p99;
            let _ = write!(
                svg,
                "<text x=\"10\" y=\"{}\">{}</text>\n\
                 <rect x=\"100\" y=\"{y}\" width=\"{rps_width:.1}\" height=\"18\" fill=\"#4a7ebb\"/>\n\
                 <text x=\"{:.1}\" y=\"{}\">{:.0}</text>\n\
                 <rect x=\"440\" y=\"{y}\" width=\"{p99_width:.1}\" height=\"18\" fill=\"#d9822b\"/>\n\
                 <text x=\"{:.1}\" y=\"{}\">{:.1}</text>\n",
                y + 13,
                s.scenario.name(),
                104.0 + rps_width,
                y + 13,
                s.requests_per_second,
                444.0 + p99_width,
                y + 13,
                s.p99_ms,
            );
        }
        svg + "</svg>\n"
    }
}

fn millis(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn optional(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

impl ScenarioReport {
    pub fn new(scenario: Scenario, connections: u32, result: &LoadSummary) -> Self {
        let seconds = result.seconds;
        ScenarioReport {
            scenario,
            connections,
            seconds,
            requests: result.requests,
            requests_per_second: result.requests as f64 / seconds.max(f64::EPSILON),
            p50_ms: millis(result.p50_micros),
            p95_ms: millis(result.p95_micros),
            p99_ms: millis(result.p99_micros),
            max_ms: millis(result.max_micros),
            errors: result.errors,
            first_error: result.first_error.clone(),
            sql_statements_per_request: None,
            redis_round_trips_per_request: None,
            peak_vm_rss_mb: None,
            revisions_acknowledged: None,
            revisions_stored: None,
            live: None,
        }
    }

    /// Adds the live part: its watchers' errors and disturbed idle
    /// subscriptions count as the scenario's errors.
    pub fn set_live(&mut self, mut live: LiveReport) {
        live.autosave_ratio =
            self.requests_per_second / live.autosave_alone_per_second.max(f64::EPSILON);
        self.errors += live.watcher_errors + live.idle_disturbed + live.autosave_alone_errors;
        if self.first_error.is_none() {
            self.first_error = live.first_watcher_error.clone();
        }
        self.live = Some(live);
    }

    fn table_row(&self) -> String {
        let saved = match (self.revisions_acknowledged, self.revisions_stored) {
            (Some(acknowledged), Some(stored)) => format!("{acknowledged}/{stored}"),
            _ => "-".into(),
        };
        format!(
            "{:<11} {:>9} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>8} {:>9} {:>8} {:>11}",
            self.scenario.name(),
            self.requests,
            self.requests_per_second,
            self.p50_ms,
            self.p95_ms,
            self.p99_ms,
            self.errors,
            optional(self.sql_statements_per_request, 2),
            optional(self.redis_round_trips_per_request, 2),
            optional(self.peak_vm_rss_mb, 0),
            saved,
        )
    }

    /// A line on stderr as each scenario ends, so that a long run shows progress.
    pub fn print_progress(&self) {
        eprintln!(
            "bench: {} done: {:.0} req/s, p99 {:.2} ms, {} errors",
            self.scenario.name(),
            self.requests_per_second,
            self.p99_ms,
            self.errors
        );
    }
}
