//! Serving connections with limits, so that a client that sends slowly or not
//! at all cannot hold the server's sockets (slowloris): hyper's HTTP/1 server
//! closes a connection whose request headers have not arrived within
//! HTTP_HEADER_TIMEOUT_SECS (hyper starts that clock again while a keep-alive
//! connection waits for its next request, so an idle one is closed too); a
//! request body that sends nothing for HTTP_BODY_TIMEOUT_SECS is cut off
//! (tower-http); at most HTTP_MAX_CONNECTIONS connections are served at once.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, extract::ConnectInfo, http::Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::Service;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::config::ConnectionConfig;

/// The layer that cuts off a body that stops arriving: the clock starts again
/// with each chunk received, so a slow but steady upload is never cut.
pub fn body_timeout(limits: &ConnectionConfig) -> RequestBodyTimeoutLayer {
    RequestBodyTimeoutLayer::new(limits.body_timeout)
}

/// Whether a body failed because it stopped arriving (for a clear answer).
pub fn is_body_timeout(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = source {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the
/// running requests finish. Each request knows its peer's address (for
/// per-client limits).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.get()));
    // hyper-util's GracefulShutdown does not take connections that may be
    // upgraded, so the connections are tracked here: at shutdown each finishes
    // its request and closes. A WebSocket, once upgraded, has left its HTTP
    // connection (and its slot): it is bounded per client by
    // LIVE_CONNECTIONS_PER_CLIENT and closed by events::Connections.
    let connections = TaskTracker::new();
    let stop = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        let next = async {
            // The semaphore is never closed.
            let slot = slots.clone().acquire_owned().await.ok()?;
            Some((slot, listener.accept().await))
        };
        let (slot, accepted) = tokio::select! {
            next = next => next.expect("the connection semaphore stays open"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, say: wait rather than spin.
                tracing::warn!(%err, "could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Responses go out as soon as they are written, not after the client's
        // delayed ACK (Nagle's algorithm would hold the tail of a large body).
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "TCP_NODELAY not set");
        }
        let connection = http
            .serve_connection(TokioIo::new(stream), with_peer(app.clone(), peer))
            .with_upgrades();
        let stop = stop.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = served {
                tracing::debug!(%err, %peer, "connection closed with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    stop.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

/// The app as hyper calls it, with the peer's address in each request, as
/// axum's `into_make_service_with_connect_info` gives it.
fn with_peer(
    app: Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future: Send + 'static,
> + Clone {
    hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().call(request)
    })
}
