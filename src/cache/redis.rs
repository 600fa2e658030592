//! The Redis backend: one multiplexed connection, kept up by redis-rs's
//! connection manager (it reconnects by itself when Redis comes back), and a
//! bound on every command so that a slow Redis never holds a request.

use std::{future::Future, time::Duration};

use redis::{
    Cmd, FromRedisValue, RedisError, Value,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use url::Url;

use super::{
    CacheError,
    store::{CacheStore, Lookup},
};

/// Keys listed per SCAN step when clearing.
const SCAN_BATCH: usize = 500;

pub struct RedisStore {
    connection: ConnectionManager,
    timeout: Duration,
}

impl RedisStore {
    /// Prepares the connection without opening it, so that the server starts
    /// while Redis is down.
    pub fn new(url: &Url, timeout: Duration) -> Result<Self, CacheError> {
        let client = redis::Client::open(url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // Requests do not wait for reconnection attempts: they go on from the
            // database and a later request finds the connection back.
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(RedisStore {
            connection,
            timeout,
        })
    }

    async fn bounded<T>(
        &self,
        command: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, CacheError> {
        match tokio::time::timeout(self.timeout, command).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(CacheError::Timeout(self.timeout)),
        }
    }

    async fn query<T: FromRedisValue>(&self, command: &Cmd) -> Result<T, CacheError> {
        let mut connection = self.connection.clone();
        self.bounded(command.query_async(&mut connection)).await
    }
}

/// An invalidation marker: cached values are JSON, never empty.
const MARKER: &[u8] = b"";

#[async_trait::async_trait]
impl CacheStore for RedisStore {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Result<Lookup, CacheError> {
        let value: Option<Vec<u8>> = self.query(redis::cmd("GET").arg(key)).await?;
        Ok(match value {
            None => Lookup::Miss,
            Some(value) if value == MARKER => Lookup::Invalidated,
            Some(value) => Lookup::Hit(value),
        })
    }

    async fn fill(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        let command = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .to_owned();
        self.query::<Value>(&command).await?;
        Ok(())
    }

    async fn invalidate(&self, keys: &[String], marker_ttl: Duration) -> Result<(), CacheError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut pipeline = redis::pipe();
        for key in keys {
            pipeline
                .cmd("SET")
                .arg(key)
                .arg(MARKER)
                .arg("PX")
                .arg(millis(marker_ttl))
                .ignore();
        }
        let mut connection = self.connection.clone();
        self.bounded(pipeline.query_async::<()>(&mut connection))
            .await
    }

    async fn clear(&self, prefix: &str) -> Result<(), CacheError> {
        let pattern = format!("{}*", escape_glob(prefix));
        let mut cursor: u64 = 0;
        loop {
            let command = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_BATCH)
                .to_owned();
            let (next, keys): (u64, Vec<String>) = self.query(&command).await?;
            if !keys.is_empty() {
                self.query::<Value>(redis::cmd("UNLINK").arg(keys)).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.query::<Value>(&redis::cmd("PING")).await?;
        Ok(())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// A prefix as a literal in a SCAN MATCH pattern.
fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
