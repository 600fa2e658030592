//! Typed configuration, read once from the environment (12-factor).
//!
//! Each area reads its own variables (server.rs, database.rs, cache.rs,
//! auth.rs, worker.rs); [`Config`] holds them all. A bad value stops start-up
//! with an error that names the variable, so an operator never has to guess,
//! and what only development may assume (an SQLite file, http://localhost, a
//! random SECRET_KEY) is refused outside it.

mod auth;
mod cache;
mod database;
mod env;
mod help;
mod server;
mod worker;

pub use auth::{
    DEFAULT_GITHUB_API_URL, DEFAULT_GITHUB_AUTHORIZE_URL, DEFAULT_GITHUB_TOKEN_URL,
    DEFAULT_OPENIDC_AUTH_WHITELIST, DEFAULT_OPENIDC_HEADER, GithubConfig, MIN_SECRET_KEY_CHARS,
    OpenIdcConfig,
};
pub use cache::{CacheConfig, DEFAULT_CACHE_KEY_PREFIX};
pub use database::{DEFAULT_DATABASE_URL, DatabaseConfig};
pub use help::ENVIRONMENT_HELP;
pub use server::{
    Config, DEFAULT_PORT, DEFAULT_SQLITE_UPLOAD_CONCURRENCY, DEFAULT_UPLOAD_CONCURRENCY,
};
pub use worker::{FetchConfig, WorkerConfig};

/// Largest file a notebook may hold, and so the largest upload.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("{name} must be set{context}")]
    Missing {
        name: &'static str,
        context: &'static str,
    },
    #[error("{name} must be set when {set} is set")]
    MissingWith {
        name: &'static str,
        set: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key long enough for production.
    pub const KEY: (&str, &str) = ("SECRET_KEY", "0123456789abcdef0123456789abcdef");

    /// The configuration outside development mode, from these variables only.
    pub fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        read(false, vars)
    }

    /// The configuration of `serve --dev`, from these variables only.
    pub fn dev_config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        read(true, vars)
    }

    fn read(dev_flag: bool, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(dev_flag, move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }
}
