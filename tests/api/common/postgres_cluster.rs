//! A PostgreSQL cluster of the test's own, on a private port, that the test may
//! stop and start (the shared service is never touched).

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
};

pub struct PostgresCluster {
    bin: PathBuf,
    data: tempfile::TempDir,
    pub port: u16,
}

/// The folder of initdb and pg_ctl: PG_BIN, or Debian's /usr/lib/postgresql/N/bin.
fn pg_bin() -> Option<PathBuf> {
    if let Ok(bin) = std::env::var("PG_BIN") {
        return Some(PathBuf::from(bin));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

impl PostgresCluster {
    /// A new, running cluster; `None` (with a note) where PostgreSQL's programs
    /// are not installed, which CI treats as a failure.
    pub fn start() -> Option<PostgresCluster> {
        let Some(bin) = pg_bin() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL's initdb and pg_ctl are needed for this test in CI"
            );
            eprintln!("skipped: PostgreSQL's initdb is not installed");
            return None;
        };
        let data = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = PostgresCluster { bin, data, port };
        if is_root() {
            // PostgreSQL refuses to run as root.
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(cluster.data.path())
                .status()
                .unwrap();
        }
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.dir(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        cluster.pg_ctl("start");
        Some(cluster)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.dir(), "-m", "fast", "-w", "stop"]);
    }

    pub fn start_again(&self) {
        self.pg_ctl("start");
    }

    fn dir(&self) -> String {
        self.data.path().display().to_string()
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir()
        );
        let log = Path::new(&self.dir()).join("log.txt").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.dir(), "-o", &options, "-l", &log, "-w", action],
        );
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let status = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .status()
        } else {
            Command::new(&program).args(args).status()
        }
        .unwrap();
        assert!(status.success(), "{} {args:?} failed", program.display());
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let mut command = if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            command
        } else {
            Command::new(&pg_ctl)
        };
        let _ = command
            .args(["-D", &self.dir(), "-m", "immediate", "stop"])
            .output();
    }
}
