//! A redis-server of the test's own, on a private loopback port, for tests that
//! stop or pause Redis or speak TLS to it (never the shared one).

use super::free_port;
use std::{
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use url::Url;

pub struct RedisServer {
    child: Child,
    /// Whether `child` is alive: only then may it be signalled (a reaped pid
    /// may belong to another process).
    running: bool,
    port: u16,
    /// Serves TLS only, with a self-signed certificate, as Heroku Redis does.
    tls: bool,
    folder: tempfile::TempDir,
}

impl RedisServer {
    /// None when redis-server is not installed.
    pub fn start() -> Option<RedisServer> {
        Self::start_with(false)
    }

    /// TLS only (rediss://), with a self-signed certificate made by openssl;
    /// None when redis-server or openssl is missing.
    pub fn start_tls() -> Option<RedisServer> {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Option<RedisServer> {
        let folder = tempfile::tempdir().unwrap();
        if tls && !self_signed_certificate(&folder) {
            return None;
        }
        let port = free_port();
        let child = spawn(port, tls, &folder)?;
        let server = RedisServer {
            child,
            running: true,
            port,
            tls,
            folder,
        };
        server.wait_until_ready();
        Some(server)
    }

    /// As [`RedisServer::start`], saying why the test is skipped; in CI a
    /// missing redis-server fails the test instead.
    pub fn start_or_skip() -> Option<RedisServer> {
        or_skip(RedisServer::start())
    }

    /// As [`RedisServer::start_tls`], skipped as [`RedisServer::start_or_skip`] is.
    pub fn start_tls_or_skip() -> Option<RedisServer> {
        or_skip(RedisServer::start_tls())
    }

    pub fn url(&self) -> Url {
        let scheme = if self.tls { "rediss" } else { "redis" };
        Url::parse(&format!("{scheme}://127.0.0.1:{}", self.port)).unwrap()
    }

    /// Kills it, as a crash would.
    pub fn stop(&mut self) {
        if self.running {
            self.resume();
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.running = false;
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.child = spawn(self.port, self.tls, &self.folder).expect("redis-server starts again");
        self.running = true;
        self.wait_until_ready();
    }

    /// Freezes it: connections stay open and nothing answers, as with an
    /// overloaded Redis.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        assert!(self.running, "redis-server is stopped");
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn or_skip(server: Option<RedisServer>) -> Option<RedisServer> {
    if server.is_none() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "redis-server (and openssl for TLS) is needed for this test in CI"
        );
        eprintln!("skipped: redis-server or openssl is not installed");
    }
    server
}

fn spawn(port: u16, tls: bool, folder: &tempfile::TempDir) -> Option<Child> {
    let port = port.to_string();
    let mut command = Command::new("redis-server");
    if tls {
        command
            .args(["--port", "0", "--tls-port", &port])
            .args([
                "--tls-cert-file",
                "redis.crt",
                "--tls-key-file",
                "redis.key",
            ])
            .args(["--tls-auth-clients", "no"]);
    } else {
        command.args(["--port", &port]);
    }
    command
        .current_dir(folder.path())
        .args(["--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(folder.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// A certificate for this machine that no authority signed.
fn self_signed_certificate(folder: &tempfile::TempDir) -> bool {
    Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .args(["-keyout", "redis.key", "-out", "redis.crt"])
        .current_dir(folder.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
