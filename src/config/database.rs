//! The database area: DATABASE_URL, its TLS mode and the pool.

use std::time::Duration;

use super::{ConfigError, env::Env};

/// The embedded default of development mode: an SQLite file under ./data,
/// created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/iodide.db?mode=rwc";

/// What libpq (and so sqlx) accepts as sslmode.
const SSL_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    /// Longest wait for a pooled connection, and for a new one to open.
    pub acquire_timeout: Duration,
}

impl DatabaseConfig {
    pub(super) fn read(env: &Env, dev_mode: bool) -> Result<Self, ConfigError> {
        let url = match env.string("DATABASE_URL") {
            Some(url) => url.trim().to_string(),
            None if dev_mode => DEFAULT_DATABASE_URL.into(),
            // On a dyno the default SQLite file would sit on a disk that each
            // process has to itself and that a restart wipes.
            None => {
                return Err(ConfigError::Missing {
                    name: "DATABASE_URL",
                    context: " outside development mode (for an SQLite file, name it: \
                              DATABASE_URL=sqlite://data/iodide.db?mode=rwc)",
                });
            }
        };
        Ok(DatabaseConfig {
            url: with_ssl_mode(check_scheme(url)?, env.string("PGSSLMODE"))?,
            max_connections: env.parse("DATABASE_MAX_CONNECTIONS")?.unwrap_or(10),
            acquire_timeout: Duration::from_secs(
                env.parse("DATABASE_ACQUIRE_TIMEOUT_SECS")?.unwrap_or(3),
            ),
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }
}

fn is_postgres(url: &str) -> bool {
    scheme(url).is_some_and(|scheme| ["postgres", "postgresql"].contains(&scheme))
}

fn scheme(url: &str) -> Option<&str> {
    url.split_once(':').map(|(scheme, _)| scheme)
}

/// The driver's own message for an unknown scheme names no variable. The URL
/// itself is not repeated: it may hold a password.
fn check_scheme(url: String) -> Result<String, ConfigError> {
    match scheme(&url) {
        Some("postgres" | "postgresql" | "sqlite") => Ok(url),
        other => Err(ConfigError::Invalid {
            name: "DATABASE_URL",
            reason: format!(
                "expected a postgres:// or sqlite:// URL, got {}",
                other.map_or("no scheme".into(), |scheme| format!("{scheme}://")),
            ),
        }),
    }
}

/// PGSSLMODE applies when the URL names no sslmode (Heroku's URLs never do),
/// as it does for libpq. It is written into the URL so that what connects is
/// what start-up read, not what the driver finds in the process environment.
fn with_ssl_mode(url: String, ssl_mode: Option<String>) -> Result<String, ConfigError> {
    let Some(mode) = ssl_mode.map(|mode| mode.trim().to_ascii_lowercase()) else {
        return Ok(url);
    };
    if !SSL_MODES.contains(&mode.as_str()) {
        return Err(ConfigError::Invalid {
            name: "PGSSLMODE",
            reason: format!("expected one of {}, got {mode:?}", SSL_MODES.join(", ")),
        });
    }
    if !is_postgres(&url) || url.contains("sslmode=") {
        return Ok(url);
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{separator}sslmode={mode}"))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{KEY, config, dev_config};
    use super::*;

    const URI: (&str, &str) = ("SERVER_URI", "https://notebooks.example/");

    #[test]
    fn production_names_its_database() {
        let err = config(&[KEY, URI]).unwrap_err();
        assert!(
            err.to_string().starts_with("DATABASE_URL must be set"),
            "{err}"
        );
        let sqlite = ("DATABASE_URL", "sqlite://data/iodide.db?mode=rwc");
        assert!(config(&[KEY, URI, sqlite]).unwrap().database.is_sqlite());
        let dev = dev_config(&[]).unwrap();
        assert_eq!(dev.database.url, DEFAULT_DATABASE_URL);
    }

    #[test]
    fn an_unknown_scheme_names_database_url_and_hides_the_password() {
        for url in ["mysql://root:hunter2@db/iodide", "db.example:5432/iodide"] {
            let err = dev_config(&[("DATABASE_URL", url)]).unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with("DATABASE_URL is not valid"),
                "{message}"
            );
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn pgsslmode_applies_when_the_url_names_no_sslmode() {
        let heroku = ("DATABASE_URL", "postgres://u:p@db.example:5432/d1");
        let require = ("PGSSLMODE", "require");
        let url = |vars: &[(&str, &str)]| dev_config(vars).unwrap().database.url;
        assert_eq!(
            url(&[heroku, require]),
            format!("{}?sslmode=require", heroku.1)
        );
        assert_eq!(url(&[heroku]), heroku.1);
        let own = ("DATABASE_URL", "postgres://db.example/d1?sslmode=disable");
        assert_eq!(url(&[own, require]), own.1);
        let sqlite = ("DATABASE_URL", "sqlite://x.db?mode=rwc");
        assert_eq!(url(&[sqlite, require]), sqlite.1);
        let err = dev_config(&[heroku, ("PGSSLMODE", "on")]).unwrap_err();
        assert!(
            err.to_string().starts_with("PGSSLMODE is not valid"),
            "{err}"
        );
    }
}
