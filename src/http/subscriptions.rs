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
//! longer holds (4403: a revoked token, an expired JWT, a session signed out),
//! and at shutdown (1001, going away).
//!
//! A refused credential in connection_init is charged to the client's address
//! as on HTTP ([`FailedAttempts`]): 4403 while the address has allowance left;
//! once it is spent, 4429 without a lookup. graphql-ws clients retry after
//! 4403 but not after 4429, so a guessing loop stops there (and the upgrade
//! itself, charged to the address's allowance, gets 429 with Retry-After).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_graphql::{
    Data, Request, Response, futures_util::stream::BoxStream, http::ALL_WEBSOCKET_PROTOCOLS,
};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{
        FromRequestParts,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, header, request::Parts},
    response::{IntoResponse, Response as HttpResponse},
};
use axum_client_ip::ClientIp;
use futures_util::{SinkExt, StreamExt, stream};
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

use super::{is_same_origin, middleware};
use crate::{
    app::AppState,
    auth::{Authenticator, session},
    error::Error,
    events::Admission,
    graphql,
    policy::ApiMode,
    rate_limit::{ClientKey, FailedAttempts},
    viewer::{AuthMethod, Viewer},
};

/// graphql-transport-ws's close codes.
const INIT_TIMEOUT: u16 = 4408;
const FORBIDDEN: u16 = 4403;
const TOO_MANY: u16 = 4429;
const GOING_AWAY: u16 = 1001;

/// tungstenite zeroes its whole read buffer (128 KiB by default) on every read
/// attempt, and a connection's reader is polled each time any of its
/// subscriptions wakes: with 1,000 idle subscribers every event zeroed 128 MB.
/// Clients send small messages (init, subscribe, pong); a larger one is read
/// in more than one go.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Refuses or upgrades a WebSocket request.
pub async fn upgrade(
    state: AppState,
    viewer: Viewer,
    client: ClientKey,
    parts: &mut Parts,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Result<HttpResponse, Error> {
    let headers = &parts.headers;
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
    let session = session_credential(&viewer, parts);
    let source = ClientIp::from_request_parts(parts, &state).await;
    let address = ClientKey::of(
        &Viewer::anonymous(),
        middleware::client_address(source, &parts.extensions),
    );
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
                session,
                client,
                address,
                admission,
            }
            .run(socket, protocol)
        })
        .into_response())
}

/// The session that the upgrade's cookie named, when it is the identity: it
/// is checked again while the connection lasts.
fn session_credential(viewer: &Viewer, parts: &Parts) -> Option<Credential> {
    let user_id = viewer
        .user_id()
        .filter(|_| viewer.via == AuthMethod::Session)?;
    let id = parts.extensions.get::<tower_sessions::Session>()?.id()?;
    Some(Credential::Session(id, user_id))
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
    /// The upgrade's session, when its cookie is the identity.
    session: Option<Credential>,
    /// Charged the rate limit: the user, or the address when anonymous.
    client: ClientKey,
    /// Charged refused credentials, whoever the upgrade named.
    address: ClientKey,
    admission: Admission,
}

/// What proves the connection's identity, checked again while it lasts.
#[derive(Clone)]
enum Credential {
    /// connection_init's Authorization value.
    Authorization(String),
    /// The session that the upgrade's cookie named, and its user.
    Session(session::Id, i32),
}

/// What connection_init settled: who is subscribing and the credential to
/// check again, or that it was refused (with the close code to send).
#[derive(Clone, Default)]
struct Identity(Arc<Mutex<Settled>>);

#[derive(Default)]
enum Settled {
    #[default]
    Pending,
    Accepted(Viewer, Option<Credential>),
    Refused(u16),
}

impl Identity {
    fn viewer(&self) -> Option<Viewer> {
        match &*self.0.lock().unwrap() {
            Settled::Accepted(viewer, _) => Some(viewer.clone()),
            _ => None,
        }
    }

    fn credential(&self) -> Option<Credential> {
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
    /// error); graphql-transport-ws says 4403 (Forbidden) for a refused
    /// credential, and this server 4429 for an address refused for guessing.
    fn as_sent(&self, message: Message) -> Message {
        let refused = match *self.0.lock().unwrap() {
            Settled::Refused(code) => Some(code),
            _ => None,
        };
        match (message, refused) {
            (Message::Close(Some(frame)), Some(code)) if frame.code == 1002 => {
                Message::Close(Some(CloseFrame {
                    code,
                    reason: frame.reason,
                }))
            }
            (other, _) => other,
        }
    }
}

impl Connection {
    async fn run(self, socket: WebSocket, protocol: GraphQLProtocol) {
        let state = self.state.clone();
        let live = &state.config.live;
        let identity = Identity::default();
        let authenticator = middleware::authenticator(&state);
        let (mut to_client, from_client) = socket.split();
        let heard = LastHeard::default();
        let from_client = from_client.inspect({
            let heard = heard.clone();
            move |_| heard.now()
        });
        let (outgoing, mut protocol_messages) = mpsc::channel::<Message>(16);
        let (protocol_task, admission) = self.protocol(
            PollSender::new(outgoing),
            from_client,
            protocol,
            &identity,
            &authenticator,
        );
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
                    // A peer that is gone without closing answers nothing:
                    // two pings unanswered, and its place is given back.
                    if heard.since() > live.keepalive * 2 {
                        break Some((GOING_AWAY, "No answer to the server's pings"));
                    }
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

    /// async-graphql's side of the protocol, which ends when the client
    /// closes, and the connection's place, to hold until it is closed.
    fn protocol<FromClient>(
        self,
        to_protocol: PollSender<Message>,
        from_client: FromClient,
        protocol: GraphQLProtocol,
        identity: &Identity,
        authenticator: &Arc<Authenticator>,
    ) -> (impl Future<Output = ()> + Send + use<FromClient>, Admission)
    where
        FromClient: futures_util::Stream<Item = Result<Message, axum::Error>> + Send + 'static,
    {
        let executor = Subscriber {
            state: self.state.clone(),
            identity: identity.clone(),
            client: self.client,
            running: Arc::new(AtomicUsize::new(0)),
        };
        let init = Init {
            upgrade_viewer: self.viewer,
            upgrade_credential: self.session,
            identity: identity.clone(),
            authenticator: authenticator.clone(),
            attempts: self.state.failed_attempts.clone(),
            address: self.address,
            mode: self.state.mode(),
        };
        let serving = GraphQLWebSocket::new_with_pair(to_protocol, from_client, executor, protocol)
            .on_connection_init(move |payload| init.run(payload))
            .serve();
        (serving, self.admission)
    }
}

/// When the client was last heard from: any frame, pongs included.
#[derive(Clone)]
struct LastHeard(Arc<Mutex<Instant>>);

impl Default for LastHeard {
    fn default() -> Self {
        LastHeard(Arc::new(Mutex::new(Instant::now())))
    }
}

impl LastHeard {
    fn now(&self) {
        *self.0.lock().unwrap() = Instant::now();
    }

    fn since(&self) -> Duration {
        self.0.lock().unwrap().elapsed()
    }
}

/// What connection_init needs to settle the connection's identity.
struct Init {
    upgrade_viewer: Viewer,
    upgrade_credential: Option<Credential>,
    identity: Identity,
    authenticator: Arc<Authenticator>,
    attempts: Arc<FailedAttempts>,
    address: ClientKey,
    mode: ApiMode,
}

impl Init {
    /// The payload's Authorization value, else the upgrade's identity; in
    /// internal mode, an identity is required.
    async fn run(self, payload: serde_json::Value) -> async_graphql::Result<Data> {
        let authorization = payload
            .get("Authorization")
            .or_else(|| payload.get("authorization"))
            .and_then(|value| value.as_str())
            .map(str::to_string);
        let (viewer, credential) = match authorization {
            Some(value) => (
                self.by_authorization(&value).await,
                Some(Credential::Authorization(value)),
            ),
            None => (Ok(self.upgrade_viewer), self.upgrade_credential),
        };
        let (code, refusal) = match viewer {
            Ok(viewer) if self.mode == ApiMode::Internal && viewer.user.is_none() => (
                FORBIDDEN,
                Error::Unauthenticated(
                    "This server's API needs an identity: send connection_init with an \
                     Authorization value"
                        .into(),
                ),
            ),
            Ok(viewer) => {
                self.identity.settle(Settled::Accepted(viewer, credential));
                return Ok(Data::default());
            }
            Err(refused) => refused,
        };
        self.identity.settle(Settled::Refused(code));
        Err(refusal.into())
    }

    /// As on HTTP: a spent address is refused before the lookup, and a
    /// refused credential costs its address one request.
    async fn by_authorization(&self, value: &str) -> Result<Viewer, (u16, Error)> {
        if let Some(refusal) = self.attempts.refusal(&self.address) {
            return Err((TOO_MANY, refusal));
        }
        match self.authenticator.by_authorization(value).await {
            Err(refused @ Error::InvalidCredentials { .. }) => {
                match self.attempts.charge(&self.address).await {
                    Ok(_) => Err((FORBIDDEN, refused)),
                    Err((spent, _)) => Err((TOO_MANY, spent)),
                }
            }
            other => other.map_err(|error| (FORBIDDEN, error)),
        }
    }
}

/// Whether the connection's credential still proves its identity: a revoked
/// token, an expired JWT, a deleted user or a session signed out (or expired)
/// ends the connection.
async fn still_valid(authenticator: &Authenticator, identity: &Identity) -> bool {
    let checked = match identity.credential() {
        None => return true,
        Some(Credential::Authorization(value)) => {
            authenticator.by_authorization(&value).await.map(|_| true)
        }
        Some(Credential::Session(id, user_id)) => authenticator.session_holds(&id, user_id).await,
    };
    match checked {
        Ok(holds) => holds,
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
        let request = graphql::request_data(request, viewer, &self.state.db, true, None);
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
