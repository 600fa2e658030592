//! A graphql-transport-ws client over a real WebSocket, for the subscription
//! tests: connect (with the headers a browser or script would send), init,
//! subscribe, and read what the server sends, close frames included.

use std::{net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, client_async,
    tungstenite::{self, Message, client::IntoClientRequest, http::HeaderValue},
};

use tokio::net::TcpSocket;

use super::TestApp;

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
}

/// An upgrade answered with an HTTP status instead of a WebSocket.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub retry_after: Option<String>,
}

/// What the server sent, as the tests look at it.
#[derive(Debug, PartialEq)]
pub enum Heard {
    Ack,
    Next(String, Value),
    Error(String, Value),
    Complete(String),
    Closed(u16, String),
}

/// Longer than any delivery takes on a loaded machine; a test that waits this
/// long has failed.
const PATIENCE: Duration = Duration::from_secs(20);

impl WsClient {
    /// Opens the WebSocket; an HTTP refusal comes back as its status.
    pub async fn connect(app: &TestApp, headers: &[(&str, &str)]) -> Result<WsClient, u16> {
        WsClient::connect_to(app.address, headers, None).await
    }

    /// As [`WsClient::connect`], to any address, reading through a receive
    /// buffer of `receive_buffer` bytes when given (a client that reads slowly).
    pub async fn connect_to(
        address: SocketAddr,
        headers: &[(&str, &str)],
        receive_buffer: Option<u32>,
    ) -> Result<WsClient, u16> {
        WsClient::open(address, headers, receive_buffer)
            .await
            .map_err(|refusal| refusal.status)
    }

    /// Expects the upgrade to be refused; returns the refusal.
    pub async fn refused(app: &TestApp, headers: &[(&str, &str)]) -> Refusal {
        match WsClient::open(app.address, headers, None).await {
            Ok(_) => panic!("the WebSocket opened"),
            Err(refusal) => refusal,
        }
    }

    async fn open(
        address: SocketAddr,
        headers: &[(&str, &str)],
        receive_buffer: Option<u32>,
    ) -> Result<WsClient, Refusal> {
        let url = format!("ws://{address}/api/graphql");
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        for (name, value) in headers {
            let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            request
                .headers_mut()
                .insert(name, HeaderValue::from_str(value).unwrap());
        }
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(bytes) = receive_buffer {
            socket.set_recv_buffer_size(bytes).unwrap();
        }
        let stream = socket.connect(address).await.unwrap();
        match client_async(request, MaybeTlsStream::Plain(stream)).await {
            Ok((socket, _)) => Ok(WsClient { socket }),
            Err(tungstenite::Error::Http(response)) => Err(Refusal {
                status: response.status().as_u16(),
                retry_after: response
                    .headers()
                    .get("retry-after")
                    .map(|value| value.to_str().unwrap().to_string()),
            }),
            Err(err) => panic!("the WebSocket did not open: {err}"),
        }
    }

    /// Connects and sends connection_init with `payload`, expecting the ack.
    pub async fn initialised(app: &TestApp, payload: Value) -> WsClient {
        let mut client = WsClient::connect(app, &[]).await.unwrap();
        client.init(payload).await;
        assert_eq!(client.read_json().await.unwrap()["type"], "connection_ack");
        client
    }

    /// Sends connection_init with `payload` and expects the ack.
    pub async fn init_acked(&mut self, payload: Value) {
        self.init(payload).await;
        assert_eq!(self.next().await, Heard::Ack);
    }

    pub async fn init(&mut self, payload: Value) {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    }

    /// Ends subscription `id` (the client's `complete`).
    pub async fn complete(&mut self, id: &str) {
        self.send(json!({ "id": id, "type": "complete" })).await;
    }

    /// Closes the WebSocket normally and waits for the server's close.
    pub async fn close(mut self) {
        self.socket.close(None).await.unwrap();
        while let Ok(Some(Ok(_))) = tokio::time::timeout(PATIENCE, self.socket.next()).await {}
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// The next protocol message or close, skipping pings.
    pub async fn next(&mut self) -> Heard {
        match self.read_json().await {
            Ok(message) => {
                let id = message["id"].as_str().unwrap_or_default().to_string();
                match message["type"].as_str().unwrap() {
                    "connection_ack" => Heard::Ack,
                    "next" => Heard::Next(id, message["payload"].clone()),
                    "error" => Heard::Error(id, message["payload"].clone()),
                    "complete" => Heard::Complete(id),
                    other => panic!("unexpected message {other}: {message}"),
                }
            }
            Err((code, reason)) => Heard::Closed(code, reason),
        }
    }

    /// The data of the next `next` message, failing on anything else.
    pub async fn next_data(&mut self) -> Value {
        match self.next().await {
            Heard::Next(_, payload) => {
                assert!(payload.get("errors").is_none(), "errors: {payload}");
                payload["data"].clone()
            }
            other => panic!("expected data, got {other:?}"),
        }
    }

    async fn read_json(&mut self) -> Result<Value, (u16, String)> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("the server said nothing for too long");
            match message {
                Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(frame))) => {
                    let frame = frame.expect("a close frame with a code");
                    return Err((frame.code.into(), frame.reason.to_string()));
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => panic!("the WebSocket failed: {err}"),
                None => return Err((1006, "closed without a frame".into())),
            }
        }
    }
}
