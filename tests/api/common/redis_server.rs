//! A redis-server of the test's own, on a private loopback port, for tests that
//! stop or pause Redis (never the shared one).

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
    folder: tempfile::TempDir,
}

impl RedisServer {
    /// None when redis-server is not installed.
    pub fn start() -> Option<RedisServer> {
        let folder = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = spawn(port, &folder)?;
        let server = RedisServer {
            child,
            running: true,
            port,
            folder,
        };
        server.wait_until_ready();
        Some(server)
    }

    /// As [`RedisServer::start`], saying why the test is skipped; in CI a
    /// missing redis-server fails the test instead.
    pub fn start_or_skip() -> Option<RedisServer> {
        let server = RedisServer::start();
        if server.is_none() {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "redis-server is needed for this test in CI"
            );
            eprintln!("skipped: redis-server is not installed");
        }
        server
    }

    pub fn url(&self) -> Url {
        Url::parse(&format!("redis://127.0.0.1:{}", self.port)).unwrap()
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
        self.child = spawn(self.port, &self.folder).expect("redis-server starts again");
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

fn spawn(port: u16, folder: &tempfile::TempDir) -> Option<Child> {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(folder.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
