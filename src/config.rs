//! Typed configuration, read once from the environment (12-factor).
//!
//! Every variable of SERVER.md is parsed here; a bad value stops start-up with an
//! error that names the variable, so an operator never has to guess.

use std::{net::IpAddr, num::NonZeroUsize, time::Duration};

use axum_client_ip::ClientIpSource;
use ipnet::IpNet;
use regex::Regex;
use url::Url;

/// The embedded default: an SQLite file under ./data, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/iodide.db?mode=rwc";
/// Two uploads at once keep a 2-core server busy on PostgreSQL while ten 10 MiB
/// uploads stay under the memory target; SQLite writes one at a time anyway, so
/// there one runs at once.
pub const DEFAULT_UPLOAD_CONCURRENCY: NonZeroUsize = NonZeroUsize::new(2).unwrap();
pub const DEFAULT_SQLITE_UPLOAD_CONCURRENCY: NonZeroUsize = NonZeroUsize::MIN;
pub const DEFAULT_OPENIDC_HEADER: &str = "X-Forwarded-User";
pub const DEFAULT_OPENIDC_AUTH_WHITELIST: &str = "^/api/";
pub const DEFAULT_GITHUB_AUTHORIZE_URL: &str = "https://github.com/login/oauth/authorize";
pub const DEFAULT_GITHUB_TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com/";

/// Largest file a notebook may hold, and so the largest upload.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// Every cache key starts with this, so that one Redis can serve other programs.
pub const DEFAULT_CACHE_KEY_PREFIX: &str = "iodide:";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("{name} must be set{context}")]
    Missing {
        name: &'static str,
        context: &'static str,
    },
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub redis_url: Option<Url>,
    pub secret_key: String,
    /// No SECRET_KEY was set (development mode): a random one lives as long as the
    /// process, and so do the tokens signed with it.
    pub secret_key_is_ephemeral: bool,
    pub server_uri: Url,
    pub bind_address: IpAddr,
    pub port: u16,
    pub eval_frame_origin: Option<Url>,
    pub github: Option<GithubConfig>,
    pub openidc: Option<OpenIdcConfig>,
    /// RESTRICT_API: nothing is readable without an identity.
    pub restrict_api: bool,
    pub ga_tracking_id: Option<String>,
    /// Development mode: a generated SECRET_KEY is fine and start-up prints URLs.
    pub dev_mode: bool,
    /// Largest request body accepted anywhere: one file plus the GraphQL envelope.
    pub max_body_bytes: usize,
    pub max_file_bytes: usize,
    /// Requests with files that run at once (UPLOAD_CONCURRENCY); the others
    /// wait with their files in temporary files. Each running one holds its file
    /// in memory several times over on its way into the database, so this bounds
    /// the server's memory. None: the default for the database.
    pub upload_concurrency: Option<NonZeroUsize>,
    /// UPLOAD_WAIT_SECS: how long a request with files waits for one of those
    /// permits before it is answered 503 (busy, retry).
    pub upload_wait: Duration,
    pub db_acquire_timeout: Duration,
    pub db_max_connections: u32,
    /// Origins allowed to call /api/graphql from a browser (CORS), besides this
    /// site itself. Never the eval frame's origin, never "null".
    pub cors_allowed_origins: Vec<Url>,
    /// Longest that one GraphQL request may run before it is stopped.
    pub graphql_time_limit: Duration,
    /// Requests that one client may make per minute (a mutation counts as five).
    pub rate_limit_per_minute: u32,
    /// Tokens that one client may obtain from /token/ and /token/refresh/ per minute.
    pub token_requests_per_minute: u32,
    /// Where an anonymous client's address comes from (CLIENT_IP_SOURCE): the
    /// TCP peer, or the entry that a trusted proxy appended to X-Forwarded-For.
    pub client_ip_source: ClientIpSource,
    pub cache: CacheConfig,
    pub worker: WorkerConfig,
    pub fetch: FetchConfig,
    pub connections: ConnectionConfig,
}

/// What one TCP connection may hold of the server, so that clients that send
/// slowly or not at all cannot keep sockets open (see http::connection_limits).
/// The defaults are far beyond what a browser on a slow link needs.
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
    fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<'_, F>) -> Result<Self, ConfigError> {
        let seconds = |name, default| -> Result<Duration, ConfigError> {
            let value: u64 = env.parse(name)?.unwrap_or(default);
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "use at least 1 second".into(),
                });
            }
            Ok(Duration::from_secs(value))
        };
        Ok(ConnectionConfig {
            header_timeout: seconds("HTTP_HEADER_TIMEOUT_SECS", 20)?,
            body_timeout: seconds("HTTP_BODY_TIMEOUT_SECS", 30)?,
            max_connections: env
                .parse("HTTP_MAX_CONNECTIONS")?
                .unwrap_or(NonZeroUsize::new(512).unwrap()),
        })
    }
}

#[derive(Clone, Debug)]
pub struct CacheConfig {
    pub key_prefix: String,
    /// Longest wait for one Redis command; past it the request goes on from the
    /// database.
    pub redis_timeout: Duration,
    /// After Redis fails, how long requests skip it before trying it again.
    pub redis_retry_after: Duration,
}

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// How often an idle worker looks for work.
    pub poll_interval: Duration,
    /// A job still running after this long belonged to a worker that died; it is
    /// handed to another. Longer than any fetch may take.
    pub job_timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// The whole fetch of a file source: connecting, redirects and the body.
    pub timeout: Duration,
    pub max_redirects: usize,
    pub max_bytes: usize,
    /// Private, loopback or link-local networks that an operator lets file
    /// sources reach (FILE_SOURCE_ALLOWED_NETWORKS); all others are refused.
    pub allowed_networks: Vec<IpNet>,
}

/// GitHub OAuth2. The endpoints are configurable so that tests (and GitHub
/// Enterprise) can stand in for github.com.
#[derive(Clone, Debug)]
pub struct GithubConfig {
    pub client_id: String,
    pub client_secret: String,
    pub authorize_url: Url,
    pub token_url: Url,
    pub api_url: Url,
}

#[derive(Clone, Debug)]
pub struct OpenIdcConfig {
    pub header: String,
    /// OPENIDC_AUTH_WHITELIST, each pattern anchored at the start of the path.
    pub whitelist: Vec<Regex>,
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
        let secret_key = match env.string("SECRET_KEY") {
            Some(key) if key.chars().count() < 32 => {
                return Err(ConfigError::Invalid {
                    name: "SECRET_KEY",
                    reason: "use at least 32 characters (50 random ones is better)".into(),
                });
            }
            Some(key) => key,
            None if dev_mode => random_secret(),
            None => {
                return Err(ConfigError::Missing {
                    name: "SECRET_KEY",
                    context: " outside development mode (IODIDE_SERVER_DEBUG=1 or serve --dev)",
                });
            }
        };
        let secret_key_is_ephemeral = env.string("SECRET_KEY").is_none();
        let github = match (
            env.string("GITHUB_CLIENT_ID"),
            env.string("GITHUB_CLIENT_SECRET"),
        ) {
            (Some(client_id), Some(client_secret)) => Some(GithubConfig {
                client_id,
                client_secret,
                authorize_url: env.url_or("GITHUB_AUTHORIZE_URL", DEFAULT_GITHUB_AUTHORIZE_URL)?,
                token_url: env.url_or("GITHUB_TOKEN_URL", DEFAULT_GITHUB_TOKEN_URL)?,
                api_url: env.url_or("GITHUB_API_URL", DEFAULT_GITHUB_API_URL)?,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    name: "GITHUB_CLIENT_SECRET",
                    context: " when GITHUB_CLIENT_ID is set",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    name: "GITHUB_CLIENT_ID",
                    context: " when GITHUB_CLIENT_SECRET is set",
                });
            }
        };
        let openidc = if env.flag("USE_OPENIDC_AUTH")? {
            Some(OpenIdcConfig {
                header: env
                    .string("OPENIDC_HEADER")
                    .unwrap_or_else(|| DEFAULT_OPENIDC_HEADER.into()),
                whitelist: anchored_patterns(
                    &env.string("OPENIDC_AUTH_WHITELIST")
                        .unwrap_or_else(|| DEFAULT_OPENIDC_AUTH_WHITELIST.into()),
                )?,
            })
        } else {
            None
        };
        let default_bind = if dev_mode { "127.0.0.1" } else { "0.0.0.0" };
        let port = env.parse("PORT")?.unwrap_or(8000);
        let eval_frame_origin = env.url("EVAL_FRAME_ORIGIN")?;
        let cors_allowed_origins = env.url_list("CORS_ALLOWED_ORIGINS")?;
        if let Some(eval) = &eval_frame_origin
            && cors_allowed_origins
                .iter()
                .any(|url| url.origin() == eval.origin())
        {
            return Err(ConfigError::Invalid {
                name: "CORS_ALLOWED_ORIGINS",
                reason: "it must not include EVAL_FRAME_ORIGIN: notebook code runs there".into(),
            });
        }
        Ok(Config {
            database_url: env
                .string("DATABASE_URL")
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            redis_url: env.url("REDIS_URL")?,
            secret_key,
            secret_key_is_ephemeral,
            server_uri: env.url("SERVER_URI")?.unwrap_or_else(|| {
                Url::parse(&format!("http://localhost:{port}/")).expect("a port makes a valid URL")
            }),
            bind_address: env
                .parse("BIND_ADDRESS")?
                .unwrap_or_else(|| default_bind.parse().expect("default is valid")),
            port,
            eval_frame_origin,
            cors_allowed_origins,
            github,
            openidc,
            restrict_api: env.flag("RESTRICT_API")?,
            ga_tracking_id: env.string("GA_TRACKING_ID"),
            dev_mode,
            max_body_bytes: MAX_FILE_BYTES + 1024 * 1024,
            max_file_bytes: MAX_FILE_BYTES,
            upload_concurrency: env.parse("UPLOAD_CONCURRENCY")?,
            upload_wait: Duration::from_secs(env.parse("UPLOAD_WAIT_SECS")?.unwrap_or(30)),
            db_acquire_timeout: Duration::from_secs(
                env.parse("DATABASE_ACQUIRE_TIMEOUT_SECS")?.unwrap_or(3),
            ),
            db_max_connections: env.parse("DATABASE_MAX_CONNECTIONS")?.unwrap_or(10),
            token_requests_per_minute: env.parse("TOKEN_REQUESTS_PER_MINUTE")?.unwrap_or(10),
            rate_limit_per_minute: env.parse("RATE_LIMIT_PER_MINUTE")?.unwrap_or(600),
            client_ip_source: env.client_ip_source("CLIENT_IP_SOURCE")?,
            graphql_time_limit: Duration::from_millis(
                env.parse("GRAPHQL_TIME_LIMIT_MS")?.unwrap_or(10_000),
            ),
            cache: CacheConfig {
                key_prefix: env
                    .string("CACHE_KEY_PREFIX")
                    .unwrap_or_else(|| DEFAULT_CACHE_KEY_PREFIX.into()),
                redis_timeout: Duration::from_millis(env.parse("REDIS_TIMEOUT_MS")?.unwrap_or(250)),
                redis_retry_after: Duration::from_secs(5),
            },
            worker: WorkerConfig {
                poll_interval: Duration::from_millis(
                    env.parse("WORKER_POLL_INTERVAL_MS")?.unwrap_or(2000),
                ),
                job_timeout: Duration::from_secs(
                    env.parse("WORKER_JOB_TIMEOUT_SECS")?.unwrap_or(300),
                ),
            },
            fetch: FetchConfig {
                timeout: Duration::from_secs(env.parse("FILE_SOURCE_TIMEOUT_SECS")?.unwrap_or(30)),
                max_redirects: 5,
                max_bytes: MAX_FILE_BYTES,
                allowed_networks: env.networks("FILE_SOURCE_ALLOWED_NETWORKS")?,
            },
            connections: ConnectionConfig::from_env(&env)?,
        })
    }

    /// How many requests with files run at once.
    pub fn upload_permits(&self) -> usize {
        let default = if self.database_url.starts_with("sqlite:") {
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
        config.database_url = database_url.into();
        config
    }
}

struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    /// A set, non-blank value.
    fn string(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.string(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(ConfigError::Invalid {
                name,
                reason: format!("expected 1/0, true/false, yes/no or on/off, got {v:?}"),
            }),
        }
    }

    fn parse<T: std::str::FromStr>(&self, name: &'static str) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.string(name)
            .map(|value| {
                value.trim().parse().map_err(|err| ConfigError::Invalid {
                    name,
                    reason: format!("{err} (got {value:?})"),
                })
            })
            .transpose()
    }

    /// Comma-separated items, each parsed by `parse`; `expected` says what an item
    /// should look like.
    fn list<T>(
        &self,
        name: &'static str,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, ConfigError> {
        let Some(list) = self.string(name) else {
            return Ok(vec![]);
        };
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                parse(item).ok_or_else(|| ConfigError::Invalid {
                    name,
                    reason: format!("expected {expected}, got {item:?}"),
                })
            })
            .collect()
    }

    /// Comma-separated absolute URLs.
    fn url_list(&self, name: &'static str) -> Result<Vec<Url>, ConfigError> {
        self.list(name, "absolute URLs with a host", |item| {
            Url::parse(item).ok().filter(|url| url.host_str().is_some())
        })
    }

    /// A comma-separated list of networks (`10.0.0.0/8`) or single addresses.
    fn networks(&self, name: &'static str) -> Result<Vec<IpNet>, ConfigError> {
        self.list(name, "networks such as 10.0.0.0/8", |item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .ok()
        })
    }

    /// Only a proxy in front of every request makes a header trustworthy, so
    /// the peer is the default and each header source is named explicitly.
    fn client_ip_source(&self, name: &'static str) -> Result<ClientIpSource, ConfigError> {
        let value = self.string(name).map(|v| v.trim().to_ascii_lowercase());
        match value.as_deref() {
            None | Some("peer") => Ok(ClientIpSource::ConnectInfo),
            Some("rightmost-x-forwarded-for") => Ok(ClientIpSource::RightmostXForwardedFor),
            Some(other) => Err(ConfigError::Invalid {
                name,
                reason: format!("expected peer or rightmost-x-forwarded-for, got {other:?}"),
            }),
        }
    }

    fn url_or(&self, name: &'static str, default: &str) -> Result<Url, ConfigError> {
        Ok(self
            .url(name)?
            .unwrap_or_else(|| Url::parse(default).expect("default is valid")))
    }

    fn url(&self, name: &'static str) -> Result<Option<Url>, ConfigError> {
        let url: Option<Url> = self.parse(name)?;
        match url {
            Some(url) if url.cannot_be_a_base() || url.host_str().is_none() => {
                Err(ConfigError::Invalid {
                    name,
                    reason: format!("expected an absolute URL with a host, got {url}"),
                })
            }
            url => Ok(url),
        }
    }
}

/// Comma-separated regular expressions, each anchored at the start of the path
/// (as Django's `re.match` did), so that "/api/" cannot match "/evil/api/".
fn anchored_patterns(list: &str) -> Result<Vec<Regex>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|pattern| !pattern.is_empty())
        .map(|pattern| {
            Regex::new(&format!("^(?:{pattern})")).map_err(|err| ConfigError::Invalid {
                name: "OPENIDC_AUTH_WHITELIST",
                reason: format!("{pattern:?} is not a regular expression: {err}"),
            })
        })
        .collect()
}

fn random_secret() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 50)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(false, move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn secret_key_is_required_outside_development() {
        let err = config(&[]).unwrap_err();
        assert!(
            err.to_string().starts_with("SECRET_KEY must be set"),
            "{err}"
        );
        assert!(config(&[("IODIDE_SERVER_DEBUG", "1")]).is_ok());
    }

    #[test]
    fn a_secret_key_shorter_than_32_characters_stops_start_up() {
        let err = config(&[("SECRET_KEY", &"k".repeat(31))]).unwrap_err();
        assert!(err.to_string().contains("at least 32 characters"), "{err}");
        assert!(config(&[("SECRET_KEY", &"k".repeat(32))]).is_ok());
    }

    #[test]
    fn connection_limits_have_defaults_and_refuse_zero() {
        let key = ("SECRET_KEY", "0123456789abcdef0123456789abcdef");
        let limits = config(&[key]).unwrap().connections;
        assert_eq!(limits.header_timeout, Duration::from_secs(20));
        assert_eq!(limits.max_connections.get(), 512);
        let err = config(&[key, ("HTTP_BODY_TIMEOUT_SECS", "0")]).unwrap_err();
        assert!(
            err.to_string().starts_with("HTTP_BODY_TIMEOUT_SECS"),
            "{err}"
        );
        let limits = config(&[key, ("HTTP_MAX_CONNECTIONS", "7")])
            .unwrap()
            .connections;
        assert_eq!(limits.max_connections.get(), 7);
    }

    #[test]
    fn uploads_run_one_at_a_time_on_sqlite_unless_configured() {
        let key = ("SECRET_KEY", "0123456789abcdef0123456789abcdef");
        assert_eq!(config(&[key]).unwrap().upload_permits(), 1);
        let postgres = ("DATABASE_URL", "postgres://localhost/iodide");
        assert_eq!(config(&[key, postgres]).unwrap().upload_permits(), 2);
        let three = ("UPLOAD_CONCURRENCY", "3");
        assert_eq!(config(&[key, three]).unwrap().upload_permits(), 3);
        assert!(config(&[key, ("UPLOAD_CONCURRENCY", "0")]).is_err());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let key = ("SECRET_KEY", "0123456789abcdef0123456789abcdef");
        for (name, value) in [
            ("PORT", "eighty"),
            ("RESTRICT_API", "maybe"),
            ("SERVER_URI", "not a url"),
            ("BIND_ADDRESS", "example"),
            ("FILE_SOURCE_ALLOWED_NETWORKS", "10.0.0.0/8, intranet"),
            ("CLIENT_IP_SOURCE", "x-forwarded-for"),
        ] {
            let err = config(&[key, (name, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
        let err = config(&[key, ("GITHUB_CLIENT_ID", "abc")]).unwrap_err();
        assert!(err.to_string().contains("GITHUB_CLIENT_SECRET"), "{err}");
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let config = config(&[("SECRET_KEY", "0123456789abcdef0123456789abcdef")]).unwrap();
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.server_uri.as_str(), "http://localhost:8000/");
        assert_eq!(config.port, 8000);
        assert!(!config.restrict_api);
        assert!(config.openidc.is_none());
        assert!(config.fetch.allowed_networks.is_empty());
        assert_eq!(config.cache.key_prefix, DEFAULT_CACHE_KEY_PREFIX);
        assert_eq!(config.client_ip_source, ClientIpSource::ConnectInfo);
    }

    #[test]
    fn the_client_address_comes_from_a_proxy_header_only_when_asked() {
        let key = ("SECRET_KEY", "0123456789abcdef0123456789abcdef");
        for (value, expected) in [
            ("peer", ClientIpSource::ConnectInfo),
            (
                "Rightmost-X-Forwarded-For",
                ClientIpSource::RightmostXForwardedFor,
            ),
        ] {
            let config = config(&[key, ("CLIENT_IP_SOURCE", value)]).unwrap();
            assert_eq!(config.client_ip_source, expected);
        }
    }

    #[test]
    fn allowed_networks_take_addresses_and_networks() {
        let config = config(&[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("FILE_SOURCE_ALLOWED_NETWORKS", "10.1.0.0/16, 127.0.0.1"),
        ])
        .unwrap();
        let networks: Vec<String> = config
            .fetch
            .allowed_networks
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(networks, ["10.1.0.0/16", "127.0.0.1/32"]);
    }

    #[test]
    fn the_default_server_uri_follows_the_port() {
        let config = config(&[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("PORT", "5000"),
        ])
        .unwrap();
        assert_eq!(config.server_uri.as_str(), "http://localhost:5000/");
    }

    #[test]
    fn cors_never_allows_the_eval_origin_or_null() {
        let key = ("SECRET_KEY", "0123456789abcdef0123456789abcdef");
        let err = config(&[
            key,
            ("EVAL_FRAME_ORIGIN", "https://eval.example"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://ok.example, https://eval.example/",
            ),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("CORS_ALLOWED_ORIGINS"), "{err}");
        let err = config(&[key, ("CORS_ALLOWED_ORIGINS", "null")]).unwrap_err();
        assert!(err.to_string().starts_with("CORS_ALLOWED_ORIGINS"), "{err}");
    }

    #[test]
    fn openidc_whitelist_is_comma_separated() {
        let parsed = config(&[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("USE_OPENIDC_AUTH", "true"),
            ("OPENIDC_AUTH_WHITELIST", "^/api/, ^/token/"),
        ])
        .unwrap();
        let openidc = parsed.openidc.unwrap();
        assert_eq!(openidc.header, DEFAULT_OPENIDC_HEADER);
        let patterns: Vec<&str> = openidc.whitelist.iter().map(Regex::as_str).collect();
        assert_eq!(patterns, ["^(?:^/api/)", "^(?:^/token/)"]);
        let bad = config(&[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("USE_OPENIDC_AUTH", "1"),
            ("OPENIDC_AUTH_WHITELIST", "^/api/,("),
        ])
        .unwrap_err();
        assert!(
            bad.to_string().starts_with("OPENIDC_AUTH_WHITELIST"),
            "{bad}"
        );
    }
}
