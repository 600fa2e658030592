//! The sign-in area: SECRET_KEY, GitHub OAuth2 and the OpenIDC proxy.

use regex::Regex;
use url::Url;

use super::{
    ConfigError,
    env::{Env, OUTSIDE_DEVELOPMENT},
};

/// Shorter keys can be found by brute force against one signed token; 32
/// characters is what Django and Rails generators give as a minimum too.
pub const MIN_SECRET_KEY_CHARS: usize = 32;
pub const DEFAULT_OPENIDC_HEADER: &str = "X-Forwarded-User";
pub const DEFAULT_OPENIDC_AUTH_WHITELIST: &str = "^/api/";
pub const DEFAULT_GITHUB_AUTHORIZE_URL: &str = "https://github.com/login/oauth/authorize";
pub const DEFAULT_GITHUB_TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com/";

/// SECRET_KEY, which signs sessions and tokens.
pub(super) struct SecretKey {
    pub key: String,
    /// None was set (development mode): a random one lives as long as the
    /// process, and so do the tokens signed with it.
    pub is_ephemeral: bool,
}

impl SecretKey {
    pub(super) fn read(env: &Env, dev_mode: bool) -> Result<Self, ConfigError> {
        match env.string("SECRET_KEY") {
            Some(key) if key.chars().count() < MIN_SECRET_KEY_CHARS => Err(ConfigError::Invalid {
                name: "SECRET_KEY",
                reason: format!(
                    "use at least {MIN_SECRET_KEY_CHARS} characters (`openssl rand -base64 48` \
                     makes a good one)"
                ),
            }),
            Some(key) => Ok(SecretKey {
                key,
                is_ephemeral: false,
            }),
            None if dev_mode => Ok(SecretKey {
                key: random_secret(),
                is_ephemeral: true,
            }),
            None => Err(ConfigError::Missing {
                name: "SECRET_KEY",
                context: OUTSIDE_DEVELOPMENT,
            }),
        }
    }
}

fn random_secret() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 50)
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

impl GithubConfig {
    /// None when neither half of the OAuth app is set; half of it is an error.
    pub(super) fn read(env: &Env) -> Result<Option<Self>, ConfigError> {
        let (client_id, client_secret) = match (
            env.string("GITHUB_CLIENT_ID"),
            env.string("GITHUB_CLIENT_SECRET"),
        ) {
            (Some(id), Some(secret)) => (id, secret),
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(missing_half("GITHUB_CLIENT_SECRET", "GITHUB_CLIENT_ID"));
            }
            (None, Some(_)) => {
                return Err(missing_half("GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"));
            }
        };
        Ok(Some(GithubConfig {
            client_id,
            client_secret,
            authorize_url: env.url_or("GITHUB_AUTHORIZE_URL", DEFAULT_GITHUB_AUTHORIZE_URL)?,
            token_url: env.url_or("GITHUB_TOKEN_URL", DEFAULT_GITHUB_TOKEN_URL)?,
            api_url: env.url_or("GITHUB_API_URL", DEFAULT_GITHUB_API_URL)?,
        }))
    }
}

/// One half of the OAuth app without the other.
fn missing_half(name: &'static str, set: &'static str) -> ConfigError {
    ConfigError::MissingWith { name, set }
}

#[derive(Clone, Debug)]
pub struct OpenIdcConfig {
    pub header: String,
    /// OPENIDC_AUTH_WHITELIST, each pattern anchored at the start of the path.
    pub whitelist: Vec<Regex>,
}

impl OpenIdcConfig {
    /// Some when USE_OPENIDC_AUTH is on.
    pub(super) fn read(env: &Env) -> Result<Option<Self>, ConfigError> {
        if !env.flag("USE_OPENIDC_AUTH")? {
            return Ok(None);
        }
        let whitelist = env
            .string("OPENIDC_AUTH_WHITELIST")
            .unwrap_or_else(|| DEFAULT_OPENIDC_AUTH_WHITELIST.into());
        Ok(Some(OpenIdcConfig {
            header: env
                .string("OPENIDC_HEADER")
                .unwrap_or_else(|| DEFAULT_OPENIDC_HEADER.into()),
            whitelist: anchored_patterns(&whitelist)?,
        }))
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

#[cfg(test)]
mod tests {
    use super::super::tests::{KEY, config, dev_config};
    use super::*;

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
    fn secret_key_has_at_least_32_characters() {
        let short = ("SECRET_KEY", "0123456789abcdef0123456789abcde");
        let err = dev_config(&[short]).unwrap_err();
        assert!(
            err.to_string().starts_with("SECRET_KEY is not valid"),
            "{err}"
        );
        assert!(!err.to_string().contains(short.1), "{err}");
        assert!(dev_config(&[KEY]).is_ok());
    }

    #[test]
    fn github_needs_both_halves() {
        let err = dev_config(&[("GITHUB_CLIENT_ID", "abc")]).unwrap_err();
        assert!(err.to_string().starts_with("GITHUB_CLIENT_SECRET"), "{err}");
        let err = dev_config(&[("GITHUB_CLIENT_SECRET", "abc")]).unwrap_err();
        assert!(err.to_string().starts_with("GITHUB_CLIENT_ID"), "{err}");
    }

    #[test]
    fn openidc_whitelist_is_comma_separated() {
        let parsed = dev_config(&[
            ("USE_OPENIDC_AUTH", "true"),
            ("OPENIDC_AUTH_WHITELIST", "^/api/, ^/token/"),
        ])
        .unwrap();
        let openidc = parsed.openidc.unwrap();
        assert_eq!(openidc.header, DEFAULT_OPENIDC_HEADER);
        let patterns: Vec<&str> = openidc.whitelist.iter().map(Regex::as_str).collect();
        assert_eq!(patterns, ["^(?:^/api/)", "^(?:^/token/)"]);
        let bad = dev_config(&[
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
