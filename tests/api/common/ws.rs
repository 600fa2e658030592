//! A graphql-transport-ws client over a real WebSocket, for the subscription
//! tests: connect (with the headers a browser or script would send), init,
//! subscribe, and read what the server sends, close frames included.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{self, Message, client::IntoClientRequest, http::HeaderValue},
};

use super::TestApp;

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
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
        let url = format!("ws://{}/api/graphql", app.address);
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
        match connect_async(request).await {
            Ok((socket, _)) => Ok(WsClient { socket }),
            Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
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
