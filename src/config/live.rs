//! The live area: subscriptions over WebSocket (SERVER.md, "Live updates").

use std::time::Duration;

use super::{ConfigError, env::Env};

#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// LIVE_EVENTS_BUFFER: events on its notebook or fetch that a subscriber
    /// may be behind before it is told that it fell behind. Each watched
    /// notebook's channel holds this many slots, so it is kept small.
    pub events_buffer: usize,
    /// A connection that has not sent connection_init by then is closed (4408).
    pub init_timeout: Duration,
    /// How often the server pings an idle connection.
    pub keepalive: Duration,
    /// LIVE_RECHECK_INTERVAL_SECS: how often a connection's credential is
    /// checked again, so that a revoked token or a signed-out session ends it.
    pub recheck_interval: Duration,
    /// LIVE_CONNECTIONS_PER_CLIENT: open WebSockets per client (user, or
    /// address when anonymous).
    pub connections_per_client: usize,
    /// Subscriptions running at once on one connection.
    pub subscriptions_per_connection: usize,
}

impl LiveConfig {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(LiveConfig {
            events_buffer: env.parse("LIVE_EVENTS_BUFFER")?.unwrap_or(64),
            init_timeout: Duration::from_secs(5),
            keepalive: Duration::from_secs(30),
            recheck_interval: Duration::from_secs(
                env.parse("LIVE_RECHECK_INTERVAL_SECS")?.unwrap_or(30),
            ),
            connections_per_client: env.parse("LIVE_CONNECTIONS_PER_CLIENT")?.unwrap_or(20),
            subscriptions_per_connection: 20,
        })
    }
}
