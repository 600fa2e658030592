//! The environment variables as `--help` lists them.

/// Every variable that configuration reads, with its default; a test below
/// checks that none is missing.
pub const ENVIRONMENT_HELP: &str = "\
Environment (a bad or missing value stops start-up, naming the variable):
  DATABASE_URL                   postgres://... (sslmode honoured) or sqlite://FILE?mode=rwc
                                 [required; development: sqlite://data/iodide.db?mode=rwc]
  PGSSLMODE                      sslmode when DATABASE_URL has none (Heroku: require)
  DATABASE_MAX_CONNECTIONS       pool size per process [10]
  DATABASE_ACQUIRE_TIMEOUT_SECS  wait for a connection [3]
  REDIS_URL                      redis:// or rediss:// (TLS) [none: in-process cache]
  REDIS_TLS_VERIFY               0 accepts a self-signed certificate (Heroku Redis) [1]
  REDIS_TIMEOUT_MS               longest wait for one Redis command [250]
  CACHE_KEY_PREFIX               prefix of every Redis key [iodide:]
  SECRET_KEY                     signs sessions and tokens, >= 32 characters
                                 [required; development: random per process]
  SERVER_URI                     public root URL, e.g. https://notebooks.example/
                                 [required; development: http://localhost:PORT/]
  PORT                           port to listen on (serve --port) [8000]
  BIND_ADDRESS                   address to listen on (serve --bind)
                                 [0.0.0.0; development: 127.0.0.1]
  CLIENT_IP_SOURCE               peer or rightmost-x-forwarded-for (behind a proxy) [peer]
  EVAL_FRAME_ORIGIN              second origin for notebook code [none]
  CORS_ALLOWED_ORIGINS           comma-separated origins allowed to call the API [none]
  GITHUB_CLIENT_ID               GitHub OAuth app (callback: SERVER_URI/oauth/complete/github/)
  GITHUB_CLIENT_SECRET           its secret
  GITHUB_AUTHORIZE_URL, GITHUB_TOKEN_URL, GITHUB_API_URL   GitHub Enterprise [github.com]
  USE_OPENIDC_AUTH               1: trust an authenticating proxy's user header [0]
  OPENIDC_HEADER                 that header [X-Forwarded-User]
  OPENIDC_AUTH_WHITELIST         comma-separated path patterns it does not guard [^/api/]
  RESTRICT_API                   1: nothing readable without signing in [0]
  GA_TRACKING_ID                 Google Analytics id for pages [none]
  RATE_LIMIT_PER_MINUTE          requests per client per minute [600]
  TOKEN_REQUESTS_PER_MINUTE      /token/ requests per client per minute [10]
  GRAPHQL_TIME_LIMIT_MS          longest GraphQL request [10000]
  UPLOAD_CONCURRENCY             requests with files running at once [1 on SQLite, else 2]
  UPLOAD_WAIT_SECS               longest wait for that turn, then 503 [30]
  HTTP_HEADER_TIMEOUT_SECS       a request's headers must arrive within this;
                                 also closes an idle keep-alive connection [20]
  HTTP_BODY_TIMEOUT_SECS         a body that sends nothing this long is cut off (408) [30]
  HTTP_MAX_CONNECTIONS           connections served at once [512]
  LIVE_CONNECTIONS_PER_CLIENT    subscription WebSockets open per client [20]
  LIVE_EVENTS_BUFFER             events on one notebook or fetch a subscriber may lag before it is told [64]
  LIVE_RECHECK_INTERVAL_SECS     how often a WebSocket's credential is checked again [30]
  WORKER_POLL_INTERVAL_MS        idle worker's look for work [2000]
  WORKER_JOB_TIMEOUT_SECS        a job older than this is handed to another worker [300]
  FILE_SOURCE_TIMEOUT_SECS       one file source fetch [30]
  FILE_SOURCE_ALLOWED_NETWORKS   private networks file sources may reach [none]
  IODIDE_SERVER_DEBUG            1: development mode (as serve --dev) [0]
  RUST_LOG                       log filter [info]";

#[cfg(test)]
mod tests {
    use std::{cell::RefCell, collections::BTreeSet};

    use super::ENVIRONMENT_HELP;
    use crate::config::Config;

    #[test]
    fn help_lists_every_variable_read() {
        let asked = RefCell::new(BTreeSet::new());
        let lookup = |name: &str| {
            asked.borrow_mut().insert(name.to_string());
            // Set the switches, so that what they enable is read too.
            let on = [
                "USE_OPENIDC_AUTH",
                "GITHUB_CLIENT_ID",
                "GITHUB_CLIENT_SECRET",
            ];
            on.contains(&name).then(|| "1".to_string())
        };
        Config::from_lookup(true, lookup).unwrap();
        let missing: Vec<String> = asked
            .into_inner()
            .into_iter()
            .filter(|name| !ENVIRONMENT_HELP.contains(name.as_str()))
            .collect();
        assert!(missing.is_empty(), "not in --help: {missing:?}");
    }
}
