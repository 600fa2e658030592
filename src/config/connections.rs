//! What one TCP connection may hold of the server, so that clients that send
//! slowly or not at all cannot keep sockets open (see http::connection_limits).
//! The defaults are far beyond what a browser on a slow link needs.

use std::{num::NonZeroUsize, time::Duration};

use super::{ConfigError, env::Env};

#[derive(Clone, Copy, Debug)]
pub struct ConnectionConfig {
    /// HTTP_HEADER_TIMEOUT_SECS: a request's headers must arrive within this;
    /// also how long an idle keep-alive connection waits for its next request.
    pub header_timeout: Duration,
    /// HTTP_BODY_TIMEOUT_SECS: a request body that sends nothing for this long
    /// is cut off.
    pub body_timeout: Duration,
    /// HTTP_MAX_CONNECTIONS: connections served at once; more wait in the
    /// kernel's accept queue.
    pub max_connections: NonZeroUsize,
}

impl ConnectionConfig {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(ConnectionConfig {
            header_timeout: seconds(env, "HTTP_HEADER_TIMEOUT_SECS", 20)?,
            body_timeout: seconds(env, "HTTP_BODY_TIMEOUT_SECS", 30)?,
            max_connections: env
                .parse("HTTP_MAX_CONNECTIONS")?
                .unwrap_or(NonZeroUsize::new(512).unwrap()),
        })
    }
}

/// A timeout of zero would refuse every request, so it is refused at start-up.
fn seconds(env: &Env, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    match env.parse(name)?.unwrap_or(default) {
        0 => Err(ConfigError::Invalid {
            name,
            reason: "use at least 1 second".into(),
        }),
        value => Ok(Duration::from_secs(value)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::tests::dev_config;

    #[test]
    fn connection_limits_have_defaults_and_refuse_zero() {
        let limits = dev_config(&[]).unwrap().connections;
        assert_eq!(limits.header_timeout, Duration::from_secs(20));
        assert_eq!(limits.max_connections.get(), 512);
        let err = dev_config(&[("HTTP_BODY_TIMEOUT_SECS", "0")]).unwrap_err();
        assert!(
            err.to_string().starts_with("HTTP_BODY_TIMEOUT_SECS"),
            "{err}"
        );
        let limits = dev_config(&[("HTTP_MAX_CONNECTIONS", "7")])
            .unwrap()
            .connections;
        assert_eq!(limits.max_connections.get(), 7);
    }
}
