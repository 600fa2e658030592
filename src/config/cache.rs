//! The cache area: Redis (optional) and the keys the server writes there.

use std::time::Duration;

use url::Url;

use super::{ConfigError, env::Env};

/// Every cache key starts with this, so that one Redis can serve other programs.
pub const DEFAULT_CACHE_KEY_PREFIX: &str = "iodide:";

#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// redis:// or rediss:// (TLS); without it the cache is in-process.
    pub redis_url: Option<Url>,
    /// REDIS_TLS_VERIFY: whether a rediss:// server's certificate must be one
    /// the system trusts. Heroku Redis presents a self-signed one, so there it
    /// is turned off (app.json does).
    pub redis_tls_verify: bool,
    pub key_prefix: String,
    /// Longest wait for one Redis command; past it the request goes on from the
    /// database.
    pub redis_timeout: Duration,
    /// After Redis fails, how long requests skip it before trying it again.
    pub redis_retry_after: Duration,
}

impl CacheConfig {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let redis_url = env.url("REDIS_URL")?;
        if let Some(url) = &redis_url
            && !["redis", "rediss"].contains(&url.scheme())
        {
            return Err(ConfigError::Invalid {
                name: "REDIS_URL",
                reason: format!("expected redis:// or rediss://, got {}://", url.scheme()),
            });
        }
        Ok(CacheConfig {
            redis_url,
            redis_tls_verify: env.flag_or("REDIS_TLS_VERIFY", true)?,
            key_prefix: env
                .string("CACHE_KEY_PREFIX")
                .unwrap_or_else(|| DEFAULT_CACHE_KEY_PREFIX.into()),
            redis_timeout: Duration::from_millis(env.parse("REDIS_TIMEOUT_MS")?.unwrap_or(250)),
            redis_retry_after: Duration::from_secs(5),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::dev_config;

    #[test]
    fn redis_certificates_are_verified_unless_turned_off() {
        let tls = ("REDIS_URL", "rediss://:secret@redis.example:6380");
        assert!(dev_config(&[tls]).unwrap().cache.redis_tls_verify);
        let off = dev_config(&[tls, ("REDIS_TLS_VERIFY", "0")]).unwrap();
        assert!(!off.cache.redis_tls_verify);
        let err = dev_config(&[("REDIS_TLS_VERIFY", "sometimes")]).unwrap_err();
        assert!(err.to_string().starts_with("REDIS_TLS_VERIFY"), "{err}");
        let err = dev_config(&[("REDIS_URL", "memcached://cache.example")]).unwrap_err();
        assert!(
            err.to_string().starts_with("REDIS_URL is not valid"),
            "{err}"
        );
    }
}
