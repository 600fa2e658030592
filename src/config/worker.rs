//! The worker area: its queue and the fetches of file sources.

use std::time::Duration;

use ipnet::IpNet;

use super::{ConfigError, MAX_FILE_BYTES, env::Env};

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// How often an idle worker looks for work.
    pub poll_interval: Duration,
    /// A job still running after this long belonged to a worker that died; it is
    /// handed to another. Longer than any fetch may take.
    pub job_timeout: Duration,
}

impl WorkerConfig {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(WorkerConfig {
            poll_interval: Duration::from_millis(
                env.parse("WORKER_POLL_INTERVAL_MS")?.unwrap_or(2000),
            ),
            job_timeout: Duration::from_secs(env.parse("WORKER_JOB_TIMEOUT_SECS")?.unwrap_or(300)),
        })
    }
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

impl FetchConfig {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(FetchConfig {
            timeout: Duration::from_secs(env.parse("FILE_SOURCE_TIMEOUT_SECS")?.unwrap_or(30)),
            max_redirects: 5,
            max_bytes: MAX_FILE_BYTES,
            allowed_networks: env.networks("FILE_SOURCE_ALLOWED_NETWORKS")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::dev_config;

    #[test]
    fn allowed_networks_take_addresses_and_networks() {
        let config =
            dev_config(&[("FILE_SOURCE_ALLOWED_NETWORKS", "10.1.0.0/16, 127.0.0.1")]).unwrap();
        let networks: Vec<String> = config
            .fetch
            .allowed_networks
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(networks, ["10.1.0.0/16", "127.0.0.1/32"]);
    }
}
