//! Clients that send slowly or not at all (slowloris), on raw sockets: the
//! server closes them instead of holding the socket forever.

use std::{num::NonZeroUsize, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::common::TestApp;

/// Far longer than any limit these tests set: only a server that never closes
/// the connection reaches it.
const NEVER: Duration = Duration::from_secs(30);

async fn app_with(
    change: impl FnOnce(&mut iodide_server::config::Config) + Send + 'static,
) -> TestApp {
    TestApp::builder().configure(change).spawn().await
}

/// Everything the server sends until it closes the connection; panics if it
/// keeps the connection open.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(NEVER, stream.read_to_end(&mut received))
        .await
        .expect("the server kept the stalled connection open")
        .ok();
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn headers_that_never_finish_are_cut_off() {
    let app = app_with(|c| c.connections.header_timeout = Duration::from_secs(1)).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let partial = format!(
        "GET /api/graphql HTTP/1.1\r\nHost: {}\r\nX-Slow: ",
        app.address
    );
    stream.write_all(partial.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_cut_off() {
    let app = app_with(|c| c.connections.body_timeout = Duration::from_secs(1)).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let head = format!(
        "POST /api/graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{\"query\": \"",
        app.address
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("stopped arriving"), "{answer}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = app_with(|c| c.connections.header_timeout = Duration::from_secs(1)).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let request = format!(
        "GET /__heartbeat__ HTTP/1.1\r\nHost: {}\r\n\r\n",
        app.address
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// With one connection allowed, a second is served only once the first is gone.
#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let app = app_with(|c| c.connections.max_connections = NonZeroUsize::MIN).await;
    let holder = TcpStream::connect(app.address).await.unwrap();
    // The first connection has its slot once a request on it is answered.
    let mut first = holder;
    let request = format!(
        "GET /__heartbeat__ HTTP/1.1\r\nHost: {}\r\n\r\n",
        app.address
    );
    first.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = [0u8; 512];
    let read = first.read(&mut buffer).await.unwrap();
    assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));

    let mut second = TcpStream::connect(app.address).await.unwrap();
    second.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let early = second.try_read(&mut buffer);
    assert!(
        matches!(&early, Err(err) if err.kind() == std::io::ErrorKind::WouldBlock),
        "served while the only slot was taken: {early:?}"
    );
    drop(first);
    let read = tokio::time::timeout(NEVER, second.read(&mut buffer))
        .await
        .expect("served once the slot was free")
        .unwrap();
    assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
}
