//! Subscriptions over WebSocket at /api/graphql (graphql-transport-ws, and the
//! older graphql-ws that async-graphql also speaks).
//!
//! The upgrade is refused (403) when its Origin is present and is neither the
//! site's nor an allowed CORS origin: a page elsewhere must not ride on the
//! visitor's cookie (cross-site WebSocket hijacking). Clients without an Origin
//! are scripts, which have no cookie to ride on. The identity is the
//! connection_init payload's Authorization value, else the session cookie when
//! the Origin is the site's own.
//!
//! async-graphql runs the protocol; this module wraps it in what is ours: one
//! task per connection that forwards the protocol's messages and closes the
//! connection when connection_init is late (4408), when its credential no
//! longer holds (4403), and at shutdown (1001, going away).

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use async_graphql::{
    Data, Request, Response, futures_util::stream::BoxStream, http::ALL_WEBSOCKET_PROTOCOLS,
};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    http::{HeaderMap, header},
    response::{IntoResponse, Response as HttpResponse},
};
use futures_util::{SinkExt, StreamExt, stream};
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

use super::{is_same_origin, middleware};
use crate::{
    app::AppState,
    auth::Authenticator,
    error::Error,
    events::Admission,
    graphql,
    policy::ApiMode,
    rate_limit::ClientKey,
    viewer::{AuthMethod, Viewer},
};

/// graphql-transport-ws's close codes.
const INIT_TIMEOUT: u16 = 4408;
const FORBIDDEN: u16 = 4403;
const GOING_AWAY: u16 = 1001;

/// tungstenite zeroes its whole read buffer (128 KiB by default) on every read
/// attempt, and a connection's reader is polled each time any of its
/// subscriptions wakes: with 1,000 idle subscribers every event zeroed 128 MB.
/// Clients send small messages (init, subscribe, pong); a larger one is read
/// in more than one go.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Refuses or upgrades a WebSocket request.
pub fn upgrade(
    state: AppState,
    viewer: Viewer,
    client: ClientKey,
    headers: &HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Result<HttpResponse, Error> {
    let origin = headers.get(header::ORIGIN);
    let own_site = is_same_origin(headers, &state.config.server_uri);
    if origin.is_some() && !own_site && !allowed_cross_origin(&state, headers) {
        return Err(Error::Forbidden(
            "WebSocket connections are accepted from this site's pages, allowed origins \
             and clients that send no Origin"
                .into(),
        ));
    }
    // A cookie proves nothing on a cross-site upgrade: only the init payload does.
    let viewer = if viewer.via == AuthMethod::Session && !own_site {
        Viewer::anonymous()
    } else {
        viewer
    };
    let limit = state.config.live.connections_per_client;
    let admission = state
        .live
        .admit(client.as_str(), limit)
        .ok_or_else(|| Error::RateLimited(state.config.live.init_timeout.as_secs().max(1)))?;
    Ok(upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            Connection {
                state,
                viewer,
                client,
                admission,
            }
            .run(socket, protocol)
        })
        .into_response())
}

fn allowed_cross_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| url::Url::parse(value).ok())
    else {
        return false;
    };
    state
        .config
        .cors_allowed_origins
        .iter()
        .any(|allowed| allowed.origin() == origin.origin())
}

struct Connection {
    state: AppState,
    /// The upgrade's identity, until connection_init names another.
    viewer: Viewer,
    client: ClientKey,
    admission: Admission,
}

/// What connection_init settled: who is subscribing and the credential to
/// check again, or that it was refused.
#[derive(Clone, Default)]
struct Identity(Arc<Mutex<Settled>>);

#[derive(Default)]
enum Settled {
    #[default]
    Pending,
    Accepted(Viewer, Option<String>),
    Refused,
}

impl Identity {
    fn viewer(&self) -> Option<Viewer> {
        match &*self.0.lock().unwrap() {
            Settled::Accepted(viewer, _) => Some(viewer.clone()),
            _ => None,
        }
    }

    fn credential(&self) -> Option<String> {
        match &*self.0.lock().unwrap() {
            Settled::Accepted(_, credential) => credential.clone(),
            _ => None,
        }
    }

    fn is_pending(&self) -> bool {
        matches!(*self.0.lock().unwrap(), Settled::Pending)
    }

    fn settle(&self, settled: Settled) {
        *self.0.lock().unwrap() = settled;
    }

    /// async-graphql closes a refused connection_init with 1002 (protocol
    /// error); graphql-transport-ws says 4403 (Forbidden), which clients such
    /// as graphql-ws read as "do not retry with the same credentials".
    fn as_sent(&self, message: Message) -> Message {
        match message {
            Message::Close(Some(frame))
                if frame.code == 1002 && matches!(*self.0.lock().unwrap(), Settled::Refused) =>
            {
                Message::Close(Some(CloseFrame {
                    code: FORBIDDEN,
                    reason: frame.reason,
                }))
            }
            other => other,
        }
    }
}

impl Connection {
    async fn run(self, socket: WebSocket, protocol: GraphQLProtocol) {
        let Connection {
            state,
            viewer,
            client,
            admission,
        } = self;
        let live = &state.config.live;
        let identity = Identity::default();
        let authenticator = middleware::authenticator(&state);
        let (mut to_client, from_client) = socket.split();
        let (outgoing, mut protocol_messages) = mpsc::channel::<Message>(16);
        let executor = Subscriber {
            state: state.clone(),
            identity: identity.clone(),
            client,
            running: Arc::new(AtomicUsize::new(0)),
        };
        let on_init = {
            let (identity, authenticator, state) =
                (identity.clone(), authenticator.clone(), state.clone());
            move |payload| init(payload, viewer, identity, authenticator, state.mode())
        };
        let protocol_task = GraphQLWebSocket::new_with_pair(
            PollSender::new(outgoing),
            from_client,
            executor,
            protocol,
        )
        .on_connection_init(on_init)
        .serve();
        tokio::pin!(protocol_task);
        let shutdown = state.live.shutdown();
        let init_deadline = tokio::time::sleep(live.init_timeout);
        tokio::pin!(init_deadline);
        let mut recheck = tokio::time::interval(live.recheck_interval);
        let mut keepalive = tokio::time::interval(live.keepalive);
        let close = loop {
            tokio::select! {
                () = &mut protocol_task => break None,
                Some(message) = protocol_messages.recv() => {
                    if to_client.send(identity.as_sent(message)).await.is_err() {
                        break None;
                    }
                }
                () = &mut init_deadline, if identity.is_pending() => {
                    break Some((INIT_TIMEOUT, "Connection initialisation timeout"));
                }
                _ = recheck.tick() => {
                    if !still_valid(&authenticator, &identity).await {
                        break Some((FORBIDDEN, "Forbidden: the credential is no longer valid"));
                    }
                }
                _ = keepalive.tick() => {
                    if to_client.send(Message::Ping(Default::default())).await.is_err() {
                        break None;
                    }
                }
                () = shutdown.cancelled() => break Some((GOING_AWAY, "The server is shutting down")),
            }
        };
        // What the protocol still had to say goes out before the close.
        while let Ok(message) = protocol_messages.try_recv() {
            let _ = to_client.send(identity.as_sent(message)).await;
        }
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = to_client.send(Message::Close(Some(frame))).await;
        }
        let _ = to_client.close().await;
        drop(admission);
    }
}

/// connection_init: the payload's Authorization value, else the upgrade's
/// identity; in internal mode, an identity is required.
async fn init(
    payload: serde_json::Value,
    upgrade_viewer: Viewer,
    identity: Identity,
    authenticator: Arc<Authenticator>,
    mode: ApiMode,
) -> async_graphql::Result<Data> {
    let credential = payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
        .and_then(|value| value.as_str())
        .map(str::to_string);
    let viewer = match &credential {
        Some(value) => authenticator.by_authorization(value).await,
        None => Ok(upgrade_viewer),
    };
    let refusal = match viewer {
        Ok(viewer) if mode == ApiMode::Internal && viewer.user.is_none() => Error::Unauthenticated(
            "This server's API needs an identity: send connection_init with an Authorization value"
                .into(),
        ),
        Ok(viewer) => {
            identity.settle(Settled::Accepted(viewer, credential));
            return Ok(Data::default());
        }
        Err(refusal) => refusal,
    };
    identity.settle(Settled::Refused);
    Err(refusal.into())
}

/// Whether the connection's credential still proves its identity: a revoked
/// token, an expired JWT or a deleted user ends the connection.
async fn still_valid(authenticator: &Authenticator, identity: &Identity) -> bool {
    let Some(credential) = identity.credential() else {
        return true;
    };
    match authenticator.by_authorization(&credential).await {
        Ok(_) => true,
        // The database is away: not the credential's fault.
        Err(Error::Unavailable(_) | Error::Database(_)) => true,
        Err(_) => false,
    }
}

/// Runs the connection's subscriptions.
#[derive(Clone)]
struct Subscriber {
    state: AppState,
    identity: Identity,
    client: ClientKey,
    running: Arc<AtomicUsize>,
}

/// One running subscription's place, given back when it ends.
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl async_graphql::Executor for Subscriber {
    async fn execute(&self, _request: Request) -> Response {
        // The WebSocket protocol runs everything as a stream.
        Response::from_errors(vec![async_graphql::ServerError::new(
            "Send queries and mutations with POST",
            None,
        )])
    }

    fn execute_stream(
        &self,
        request: Request,
        _session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let this = self.clone();
        stream::once(async move { this.start(request).await })
            .flatten()
            .boxed()
    }
}

impl Subscriber {
    /// Charges the start to the client's rate limit and counts it against the
    /// connection's subscriptions before running it.
    async fn start(self, request: Request) -> BoxStream<'static, Response> {
        let refuse = |error: Error| {
            stream::once(
                async move { Response::from_errors(vec![graphql::server_error(error).await]) },
            )
            .boxed()
        };
        let Some(viewer) = self.identity.viewer() else {
            return refuse(Error::Unauthenticated("Send connection_init first".into()));
        };
        if let Err((error, _)) = self.state.request_rate_limit.charge(&self.client, 1).await {
            return refuse(error);
        }
        let limit = self.state.config.live.subscriptions_per_connection;
        if self.running.fetch_add(1, Ordering::Relaxed) >= limit {
            self.running.fetch_sub(1, Ordering::Relaxed);
            return refuse(Error::bad_input(format!(
                "A connection may run at most {limit} subscriptions at once"
            )));
        }
        let running = Running(self.running.clone());
        let request = graphql::request_data(request, viewer, &self.state.db, true);
        self.state
            .graphql
            .subscribe(request)
            .map(move |response| {
                let _held = &running;
                response
            })
            .boxed()
    }
}
