//! Fetching a file source's URL, so that a notebook cannot make the server reach
//! its internal network: only http and https; every address a host resolves to
//! must be public (or in a network the operator allows), checked again at each
//! redirect hop; a bounded time and size. Failures are told in words that the
//! notebook's owner understands; the details go to the log.

use std::{
    error::Error as StdError,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use ipnet::IpNet;
use reqwest::{
    dns::{Addrs, Name, Resolve, Resolving},
    redirect,
};
use url::{Host, Url};

use crate::{config::FetchConfig, policy};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("Only http and https URLs can be fetched")]
    UnsupportedScheme,
    #[error(
        "{host} is a private, loopback or link-local address; file sources may only \
         fetch from the public internet"
    )]
    AddressNotAllowed { host: String },
    #[error("The host {host} could not be found")]
    UnknownHost { host: String },
    #[error("Could not connect to {host}")]
    ConnectionFailed { host: String },
    #[error("The server did not send the file in time (the limit is {seconds} s)")]
    TimedOut { seconds: u64 },
    #[error("The server answered {status}")]
    HttpStatus { status: reqwest::StatusCode },
    #[error("File too large: a file source may fill at most {mib} MiB")]
    TooLarge { mib: usize },
    #[error("Too many redirects (more than {0})")]
    TooManyRedirects(usize),
    #[error("The download failed")]
    Other(#[source] reqwest::Error),
}

/// Why a host was refused, carried through reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to a refused address")]
struct RefusedAddress {
    host: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{host} could not be resolved")]
struct UnresolvedHost {
    host: String,
}

#[derive(Debug, thiserror::Error)]
#[error("too many redirects")]
struct RedirectLimit;

#[derive(Debug, thiserror::Error)]
#[error("a redirect to another scheme than http or https")]
struct RedirectScheme;

pub struct Fetcher {
    client: reqwest::Client,
    config: FetchConfig,
}

impl Fetcher {
    pub fn new(config: &FetchConfig) -> Result<Self, reqwest::Error> {
        let allowed = Arc::new(config.allowed_networks.clone());
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(checked_redirects(config.max_redirects, allowed.clone()))
            .dns_resolver(Arc::new(CheckedResolver { allowed }))
            // A proxy would resolve hosts itself, past the checks.
            .no_proxy()
            .user_agent(concat!("iodide-server/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Fetcher {
            client,
            config: config.clone(),
        })
    }

    /// The bytes at `url`, at most `max_bytes` of them.
    pub async fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let url = Url::parse(url).map_err(|_| FetchError::UnsupportedScheme)?;
        check_url(&url, &self.config.allowed_networks)?;
        let host = url.host_str().unwrap_or_default().to_string();
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|err| self.explain(err, &host))?;
        if !response.status().is_success() {
            return Err(FetchError::HttpStatus {
                status: response.status(),
            });
        }
        let too_large = || FetchError::TooLarge {
            mib: self.config.max_bytes / (1024 * 1024),
        };
        if response
            .content_length()
            .is_some_and(|length| length > self.config.max_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| self.explain(err, &host))?
        {
            if body.len() + chunk.len() > self.config.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn explain(&self, err: reqwest::Error, host: &str) -> FetchError {
        if let Some(refused) = find_cause::<RefusedAddress>(&err) {
            return FetchError::AddressNotAllowed {
                host: refused.host.clone(),
            };
        }
        if let Some(unresolved) = find_cause::<UnresolvedHost>(&err) {
            return FetchError::UnknownHost {
                host: unresolved.host.clone(),
            };
        }
        if find_cause::<RedirectScheme>(&err).is_some() {
            return FetchError::UnsupportedScheme;
        }
        if find_cause::<RedirectLimit>(&err).is_some() {
            return FetchError::TooManyRedirects(self.config.max_redirects);
        }
        if err.is_timeout() {
            return FetchError::TimedOut {
                seconds: self.config.timeout.as_secs().max(1),
            };
        }
        if err.is_connect() {
            return FetchError::ConnectionFailed {
                host: host.to_string(),
            };
        }
        tracing::warn!(error = ?err, "a file source fetch failed");
        FetchError::Other(err)
    }
}

/// The scheme, and the address when the host is written as one (reqwest does
/// not resolve those, so the resolver below never sees them).
fn check_url(url: &Url, allowed: &[IpNet]) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::UnsupportedScheme);
    }
    let literal = match url.host() {
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(Host::Domain(_)) => None,
        None => return Err(FetchError::UnsupportedScheme),
    };
    match literal {
        Some(ip) if !policy::may_fetch_from(ip, allowed) => Err(FetchError::AddressNotAllowed {
            host: ip.to_string(),
        }),
        _ => Ok(()),
    }
}

fn checked_redirects(max_redirects: usize, allowed: Arc<Vec<IpNet>>) -> redirect::Policy {
    redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max_redirects {
            return attempt.error(RedirectLimit);
        }
        match check_url(attempt.url(), &allowed) {
            Ok(()) => attempt.follow(),
            Err(FetchError::AddressNotAllowed { host }) => attempt.error(RefusedAddress { host }),
            Err(_) => attempt.error(RedirectScheme),
        }
    })
}

/// Resolves with the system resolver and refuses a host if any of its addresses
/// is refused: the connection could be made to any of them.
struct CheckedResolver {
    allowed: Arc<Vec<IpNet>>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = self.allowed.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| UnresolvedHost { host: host.clone() })?
                .collect();
            if addresses.is_empty() {
                return Err(UnresolvedHost { host }.into());
            }
            if let Some(refused) = addresses
                .iter()
                .find(|address| !policy::may_fetch_from(address.ip(), &allowed))
            {
                tracing::info!(%host, address = %refused.ip(), "refused a file source address");
                return Err(RefusedAddress { host }.into());
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

fn find_cause<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}
