//! The server's own area (where it listens, the origins it answers for, the
//! limits of a request) and [`Config`], which holds it and the other areas.

use std::{net::IpAddr, num::NonZeroUsize, time::Duration};

use axum_client_ip::ClientIpSource;
use url::Url;

use super::{
    CacheConfig, ConfigError, DatabaseConfig, FetchConfig, GithubConfig, MAX_FILE_BYTES,
    OpenIdcConfig, WorkerConfig,
    auth::SecretKey,
    env::{Env, OUTSIDE_DEVELOPMENT},
};

/// Two uploads at once keep a 2-core server busy on PostgreSQL while ten 10 MiB
/// uploads stay under the memory target; SQLite writes one at a time anyway, so
/// there one runs at once.
pub const DEFAULT_UPLOAD_CONCURRENCY: NonZeroUsize = NonZeroUsize::new(2).unwrap();
pub const DEFAULT_SQLITE_UPLOAD_CONCURRENCY: NonZeroUsize = NonZeroUsize::MIN;
pub const DEFAULT_PORT: u16 = 8000;

#[derive(Clone, Debug)]
pub struct Config {
    /// Development mode: a generated SECRET_KEY, an SQLite file and
    /// http://localhost are fine, and start-up prints URLs.
    pub dev_mode: bool,
    pub secret_key: String,
    /// No SECRET_KEY was set (development mode): a random one lives as long as the
    /// process, and so do the tokens signed with it.
    pub secret_key_is_ephemeral: bool,
    pub server_uri: Url,
    pub bind_address: IpAddr,
    pub port: u16,
    pub eval_frame_origin: Option<Url>,
    /// Origins allowed to call /api/graphql from a browser (CORS), besides this
    /// site itself. Never the eval frame's origin, never "null".
    pub cors_allowed_origins: Vec<Url>,
    /// RESTRICT_API: nothing is readable without an identity.
    pub restrict_api: bool,
    pub ga_tracking_id: Option<String>,
    /// Largest request body accepted anywhere: one file plus the GraphQL envelope.
    pub max_body_bytes: usize,
    pub max_file_bytes: usize,
    /// Requests with files that run at once (UPLOAD_CONCURRENCY); the others
    /// wait with their files in temporary files. Each running one holds its file
    /// in memory several times over on its way into the database, so this bounds
    /// the server's memory. None: the default for the database.
    pub upload_concurrency: Option<NonZeroUsize>,
    /// Longest that one GraphQL request may run before it is stopped.
    pub graphql_time_limit: Duration,
    /// Requests that one client may make per minute (a mutation counts as five).
    pub rate_limit_per_minute: u32,
    /// Tokens that one client may obtain from /token/ and /token/refresh/ per minute.
    pub token_requests_per_minute: u32,
    /// Where an anonymous client's address comes from (CLIENT_IP_SOURCE): the
    /// TCP peer, or the entry that a trusted proxy appended to X-Forwarded-For.
    pub client_ip_source: ClientIpSource,
    pub github: Option<GithubConfig>,
    pub openidc: Option<OpenIdcConfig>,
    pub database: DatabaseConfig,
    pub cache: CacheConfig,
    pub worker: WorkerConfig,
    pub fetch: FetchConfig,
}

/// What a command needs: `serve` and `worker` sign and link, so outside
/// development they need SECRET_KEY and SERVER_URI; the administration
/// commands need only the database (and the cache, to invalidate).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Serve,
    Administer,
}

impl Config {
    /// Reads the process environment. `dev_flag` is `serve --dev`.
    pub fn from_env(dev_flag: bool) -> Result<Self, ConfigError> {
        Self::from_lookup(dev_flag, |name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so that tests need no process-wide state.
    pub fn from_lookup(
        dev_flag: bool,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let dev_mode = dev_flag || env.flag("IODIDE_SERVER_DEBUG")?;
        Self::read(&env, dev_mode, Role::Serve)
    }

    /// For the administration commands: SECRET_KEY and SERVER_URI may be
    /// missing, DATABASE_URL only in development mode.
    pub fn for_administration(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let dev_mode = env.flag("IODIDE_SERVER_DEBUG")?;
        Self::read(&env, dev_mode, Role::Administer)
    }

    fn read(env: &Env, dev_mode: bool, role: Role) -> Result<Self, ConfigError> {
        let identity_optional = dev_mode || role == Role::Administer;
        let secret = SecretKey::read(env, identity_optional)?;
        let port = env.parse("PORT")?.unwrap_or(DEFAULT_PORT);
        let eval_frame_origin = env.url("EVAL_FRAME_ORIGIN")?;
        Ok(Config {
            dev_mode,
            secret_key: secret.key,
            secret_key_is_ephemeral: secret.is_ephemeral,
            server_uri: server_uri(env, identity_optional, port)?,
            bind_address: bind_address(env, dev_mode)?,
            port,
            cors_allowed_origins: cors_origins(env, eval_frame_origin.as_ref())?,
            eval_frame_origin,
            restrict_api: env.flag("RESTRICT_API")?,
            ga_tracking_id: env.string("GA_TRACKING_ID"),
            max_body_bytes: MAX_FILE_BYTES + 1024 * 1024,
            max_file_bytes: MAX_FILE_BYTES,
            upload_concurrency: env.parse("UPLOAD_CONCURRENCY")?,
            graphql_time_limit: Duration::from_millis(
                env.parse("GRAPHQL_TIME_LIMIT_MS")?.unwrap_or(10_000),
            ),
            rate_limit_per_minute: env.parse("RATE_LIMIT_PER_MINUTE")?.unwrap_or(600),
            token_requests_per_minute: env.parse("TOKEN_REQUESTS_PER_MINUTE")?.unwrap_or(10),
            client_ip_source: client_ip_source(env)?,
            github: GithubConfig::read(env)?,
            openidc: OpenIdcConfig::read(env)?,
            database: DatabaseConfig::read(env, dev_mode)?,
            cache: CacheConfig::read(env)?,
            worker: WorkerConfig::read(env)?,
            fetch: FetchConfig::read(env)?,
        })
    }

    /// How many requests with files run at once.
    pub fn upload_permits(&self) -> usize {
        let default = if self.database.is_sqlite() {
            DEFAULT_SQLITE_UPLOAD_CONCURRENCY
        } else {
            DEFAULT_UPLOAD_CONCURRENCY
        };
        self.upload_concurrency.unwrap_or(default).get()
    }

    /// A configuration for tests and tools: development defaults, nothing from the
    /// environment.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        let mut config = Self::from_lookup(true, |_| None).expect("defaults are valid");
        config.database.url = database_url.into();
        config
    }
}

/// The public root URL. Outside development a guess would be wrong in ways
/// that show late: OAuth callbacks, Secure cookies, HSTS and redirects.
fn server_uri(env: &Env, may_guess: bool, port: u16) -> Result<Url, ConfigError> {
    match env.url("SERVER_URI")? {
        Some(url) => Ok(url),
        None if may_guess => {
            Ok(Url::parse(&format!("http://localhost:{port}/")).expect("a port makes a valid URL"))
        }
        None => Err(ConfigError::Missing {
            name: "SERVER_URI",
            context: OUTSIDE_DEVELOPMENT,
        }),
    }
}

/// Development serves this machine only; otherwise every interface, as a
/// container or a dyno needs.
fn bind_address(env: &Env, dev_mode: bool) -> Result<IpAddr, ConfigError> {
    let default = if dev_mode { "127.0.0.1" } else { "0.0.0.0" };
    Ok(env
        .parse("BIND_ADDRESS")?
        .unwrap_or_else(|| default.parse().expect("default is valid")))
}

/// Only a proxy in front of every request makes a header trustworthy, so
/// the peer is the default and each header source is named explicitly.
fn client_ip_source(env: &Env) -> Result<ClientIpSource, ConfigError> {
    let value = env.string("CLIENT_IP_SOURCE");
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("peer") => Ok(ClientIpSource::ConnectInfo),
        Some("rightmost-x-forwarded-for") => Ok(ClientIpSource::RightmostXForwardedFor),
        Some(other) => Err(ConfigError::Invalid {
            name: "CLIENT_IP_SOURCE",
            reason: format!("expected peer or rightmost-x-forwarded-for, got {other:?}"),
        }),
    }
}

/// Notebook code runs on the eval frame's origin, so it may never call the API
/// with the user's cookie.
fn cors_origins(env: &Env, eval_frame_origin: Option<&Url>) -> Result<Vec<Url>, ConfigError> {
    let origins = env.url_list("CORS_ALLOWED_ORIGINS")?;
    if let Some(eval) = eval_frame_origin
        && origins.iter().any(|url| url.origin() == eval.origin())
    {
        return Err(ConfigError::Invalid {
            name: "CORS_ALLOWED_ORIGINS",
            reason: "it must not include EVAL_FRAME_ORIGIN: notebook code runs there".into(),
        });
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{KEY, config, dev_config};
    use super::*;

    const POSTGRES: (&str, &str) = ("DATABASE_URL", "postgres://localhost/iodide");
    const URI: (&str, &str) = ("SERVER_URI", "https://notebooks.example/");

    #[test]
    fn production_names_its_public_address() {
        let err = config(&[KEY, POSTGRES]).unwrap_err();
        assert!(
            err.to_string().starts_with("SERVER_URI must be set"),
            "{err}"
        );
        let config = config(&[KEY, POSTGRES, URI]).unwrap();
        assert_eq!(config.server_uri.as_str(), URI.1);
        assert_eq!(config.bind_address.to_string(), "0.0.0.0");
    }

    #[test]
    fn administration_needs_only_the_database() {
        let lookup = |vars: &'static [(&str, &str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(Config::for_administration(lookup(&[POSTGRES])).is_ok());
        let err = Config::for_administration(lookup(&[])).unwrap_err();
        assert!(
            err.to_string().starts_with("DATABASE_URL must be set"),
            "{err}"
        );
    }

    #[test]
    fn uploads_run_one_at_a_time_on_sqlite_unless_configured() {
        assert_eq!(dev_config(&[]).unwrap().upload_permits(), 1);
        assert_eq!(dev_config(&[POSTGRES]).unwrap().upload_permits(), 2);
        let three = ("UPLOAD_CONCURRENCY", "3");
        assert_eq!(dev_config(&[three]).unwrap().upload_permits(), 3);
        assert!(dev_config(&[("UPLOAD_CONCURRENCY", "0")]).is_err());
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("PORT", "eighty"),
            ("RESTRICT_API", "maybe"),
            ("SERVER_URI", "not a url"),
            ("BIND_ADDRESS", "example"),
            ("FILE_SOURCE_ALLOWED_NETWORKS", "10.0.0.0/8, intranet"),
            ("CLIENT_IP_SOURCE", "x-forwarded-for"),
        ] {
            let err = dev_config(&[(name, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn development_defaults_are_the_embedded_setup() {
        let config = dev_config(&[]).unwrap();
        assert!(config.secret_key_is_ephemeral);
        assert_eq!(config.server_uri.as_str(), "http://localhost:8000/");
        assert_eq!(config.bind_address.to_string(), "127.0.0.1");
        assert_eq!(config.port, 8000);
        assert!(!config.restrict_api);
        assert!(config.openidc.is_none());
        assert!(config.fetch.allowed_networks.is_empty());
        assert_eq!(
            config.cache.key_prefix,
            super::super::DEFAULT_CACHE_KEY_PREFIX
        );
        assert_eq!(config.client_ip_source, ClientIpSource::ConnectInfo);
    }

    #[test]
    fn the_client_address_comes_from_a_proxy_header_only_when_asked() {
        for (value, expected) in [
            ("peer", ClientIpSource::ConnectInfo),
            (
                "Rightmost-X-Forwarded-For",
                ClientIpSource::RightmostXForwardedFor,
            ),
        ] {
            let config = dev_config(&[("CLIENT_IP_SOURCE", value)]).unwrap();
            assert_eq!(config.client_ip_source, expected);
        }
    }

    #[test]
    fn the_default_server_uri_follows_the_port() {
        let config = dev_config(&[("PORT", "5000")]).unwrap();
        assert_eq!(config.server_uri.as_str(), "http://localhost:5000/");
    }

    #[test]
    fn cors_never_allows_the_eval_origin_or_null() {
        let err = dev_config(&[
            ("EVAL_FRAME_ORIGIN", "https://eval.example"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://ok.example, https://eval.example/",
            ),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("CORS_ALLOWED_ORIGINS"), "{err}");
        let err = dev_config(&[("CORS_ALLOWED_ORIGINS", "null")]).unwrap_err();
        assert!(err.to_string().starts_with("CORS_ALLOWED_ORIGINS"), "{err}");
    }
}
