//! Reading variables through a lookup function, each parse failure naming its
//! variable.

use std::net::IpAddr;

use ipnet::IpNet;
use url::Url;

use super::ConfigError;

/// The variables, as a function from name to value: the process environment in
/// `main`, a list in tests.
pub(super) struct Env<'a>(pub(super) &'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// A set, non-blank value.
    pub(super) fn string(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    pub(super) fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        self.flag_or(name, false)
    }

    pub(super) fn flag_or(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.string(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(ConfigError::Invalid {
                name,
                reason: format!("expected 1/0, true/false, yes/no or on/off, got {v:?}"),
            }),
        }
    }

    pub(super) fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
    ) -> Result<Option<T>, ConfigError>
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
    pub(super) fn list<T>(
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
    pub(super) fn url_list(&self, name: &'static str) -> Result<Vec<Url>, ConfigError> {
        self.list(name, "absolute URLs with a host", |item| {
            Url::parse(item).ok().filter(|url| url.host_str().is_some())
        })
    }

    /// A comma-separated list of networks (`10.0.0.0/8`) or single addresses.
    pub(super) fn networks(&self, name: &'static str) -> Result<Vec<IpNet>, ConfigError> {
        self.list(name, "networks such as 10.0.0.0/8", |item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .ok()
        })
    }

    pub(super) fn url_or(&self, name: &'static str, default: &str) -> Result<Url, ConfigError> {
        Ok(self
            .url(name)?
            .unwrap_or_else(|| Url::parse(default).expect("default is valid")))
    }

    pub(super) fn url(&self, name: &'static str) -> Result<Option<Url>, ConfigError> {
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

pub(super) const OUTSIDE_DEVELOPMENT: &str =
    " outside development mode (IODIDE_SERVER_DEBUG=1 or serve --dev)";
