//! A local web server for file sources to fetch from: files, errors, a huge
//! body, one that never answers, redirects, and an "internal" server on another
//! loopback address that no fetch may reach.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{
    Router,
    body::Body,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use futures_util::stream;
use iodide_server::worker::Worker;
use tokio::sync::Notify;

pub const MIB: usize = 1024 * 1024;

pub struct SourceServer {
    pub address: SocketAddr,
    /// The internal server, on 127.0.0.2.
    pub internal: SocketAddr,
    /// Requests that reached the internal server.
    pub internal_hits: Arc<AtomicUsize>,
    /// Notified when the first request to /hold arrives (it then hangs).
    pub held: Arc<Notify>,
}

#[derive(Clone)]
struct Shared {
    internal: SocketAddr,
    hold_requests: Arc<AtomicUsize>,
    held: Arc<Notify>,
}

impl SourceServer {
    pub async fn start() -> SourceServer {
        let internal_hits = Arc::new(AtomicUsize::new(0));
        let internal = start_internal(internal_hits.clone()).await;
        let held = Arc::new(Notify::new());
        let shared = Shared {
            internal,
            hold_requests: Arc::new(AtomicUsize::new(0)),
            held: held.clone(),
        };
        let app = Router::new()
            .route("/data.csv", get(|| async { "a,b\n1,2\n" }))
            .route("/v2.csv", get(|| async { "a,b\n3,4\n" }))
            .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
            .route("/huge", get(|| async { vec![b'x'; 10 * MIB + 1] }))
            .route("/huge-unannounced", get(huge_without_length))
            .route("/slow", get(std::future::pending::<&'static str>))
            .route("/loop", get(|| async { Redirect::temporary("/loop") }))
            .route("/to-internal", get(to_internal))
            .route("/hold", get(hold_first))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        SourceServer {
            address,
            internal,
            internal_hits,
            held,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Runs `worker` until it is fetching /hold, then kills it there, as a
    /// crash would: its job stays claimed and running.
    pub async fn kill_while_held(&self, worker: Worker) {
        let running = tokio::spawn(async move { worker.run_pending().await });
        self.held.notified().await;
        running.abort();
        assert!(running.await.unwrap_err().is_cancelled());
    }
}

/// A server on 127.0.0.2, standing for an internal service.
async fn start_internal(hits: Arc<AtomicUsize>) -> SocketAddr {
    let app = Router::new().fallback(move || {
        hits.fetch_add(1, Ordering::SeqCst);
        async { "internal secrets" }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

async fn to_internal(State(shared): State<Shared>) -> Redirect {
    Redirect::temporary(&format!("http://{}/secrets", shared.internal))
}

/// More than 10 MiB in chunks, without a Content-Length to warn the reader.
async fn huge_without_length() -> Response {
    let chunks = (0..11).map(|_| Ok::<_, std::io::Error>(vec![b'x'; MIB]));
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream::iter(chunks)),
    )
        .into_response()
}

/// The first request hangs (its worker is then killed); later ones succeed.
async fn hold_first(State(shared): State<Shared>) -> &'static str {
    if shared.hold_requests.fetch_add(1, Ordering::SeqCst) == 0 {
        shared.held.notify_one();
        std::future::pending::<()>().await;
    }
    "held,data\n"
}
