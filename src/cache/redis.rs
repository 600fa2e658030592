//! The Redis backend: one multiplexed connection, kept up by redis-rs's
//! connection manager (it reconnects by itself when Redis comes back), and a
//! bound on every command so that a slow Redis never holds a request.

use std::{
    future::Future,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use redis::{
    Cmd, FromRedisValue, Pipeline, RedisError, Script, Value,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use url::Url;

use crate::config::CacheConfig;

use super::{
    CacheError,
    store::{CacheStore, GENERATION_TTL, Generation, Lookup, Message},
};

/// Keys listed per SCAN step when clearing.
const SCAN_BATCH: usize = 500;

/// One multiplexed connection, shared by the cache, the rate limits and the
/// events' publishing, with every command bounded by REDIS_TIMEOUT_MS. It
/// counts its round trips, so that tests and the bench can prove how many a
/// request makes.
#[derive(Clone)]
pub struct RedisConnection {
    connection: ConnectionManager,
    timeout: Duration,
    round_trips: Arc<AtomicU64>,
}

impl RedisConnection {
    /// The connection to REDIS_URL, if it is set.
    pub fn from_config(config: &CacheConfig) -> Result<Option<Self>, CacheError> {
        config
            .redis_url
            .as_ref()
            .map(|url| Self::lazy(url, config.redis_tls_verify, config.redis_timeout))
            .transpose()
    }

    /// Prepares the connection without opening it, so that the server starts
    /// while Redis is down. With `verify_tls` off, a rediss:// server's
    /// certificate is accepted whoever signed it (Heroku Redis signs its own);
    /// the connection is still encrypted.
    fn lazy(url: &Url, verify_tls: bool, timeout: Duration) -> Result<Self, CacheError> {
        let client = client(url, verify_tls)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // Requests do not wait for reconnection attempts: they go on without
            // Redis and a later request finds the connection back.
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(RedisConnection {
            connection,
            timeout,
            round_trips: Arc::default(),
        })
    }

    /// Commands and pipelines sent since start-up, each one round trip.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    pub async fn query<T: FromRedisValue>(&self, command: &Cmd) -> Result<T, CacheError> {
        let mut connection = self.connection.clone();
        self.bounded(command.query_async(&mut connection)).await
    }

    /// Runs a Lua script by its digest (EVALSHA), sending its text only when
    /// Redis does not know it yet.
    pub async fn invoke<T: FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, CacheError> {
        let mut connection = self.connection.clone();
        self.bounded(invocation.invoke_async(&mut connection)).await
    }

    pub async fn query_pipeline<T: FromRedisValue>(
        &self,
        pipeline: &Pipeline,
    ) -> Result<T, CacheError> {
        let mut connection = self.connection.clone();
        self.bounded(pipeline.query_async(&mut connection)).await
    }

    async fn bounded<T>(
        &self,
        command: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, CacheError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(self.timeout, command).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(CacheError::Timeout(self.timeout)),
        }
    }
}

pub struct RedisStore {
    redis: RedisConnection,
}

impl RedisStore {
    pub fn new(redis: RedisConnection) -> Self {
        RedisStore { redis }
    }
}

/// Stores the value only if the key's generation is the one the reader saw, in
/// one step on the server.
static FILL_IF_SAME_GENERATION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if (redis.call('GET', KEYS[2]) or '') == ARGV[2] then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
    return 1
end
return 0
",
    )
});

/// Where a key's generation lives. Keys never contain '#': see CacheKey.
fn generation_key(key: &str) -> String {
    format!("{key}#generation")
}

#[async_trait::async_trait]
impl CacheStore for RedisStore {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn shared(&self) -> bool {
        true
    }

    async fn get(&self, key: &str) -> Result<Lookup, CacheError> {
        let command = redis::cmd("MGET")
            .arg(key)
            .arg(generation_key(key))
            .to_owned();
        let (value, generation): (Option<Vec<u8>>, Option<String>) =
            self.redis.query(&command).await?;
        // One MGET: the value and its generation as of the same moment.
        let generation = Generation(generation.unwrap_or_default());
        Ok(match value {
            Some(value) => Lookup::Hit(value.into(), generation),
            None => Lookup::Miss(generation),
        })
    }

    async fn generations(&self, keys: &[String]) -> Result<Vec<Generation>, CacheError> {
        let Some(command) = self.generations_command(keys) else {
            return Ok(vec![]);
        };
        let reply: Value = self.redis.query(&command).await?;
        self.generations_from(reply)
    }

    fn generations_command(&self, keys: &[String]) -> Option<Cmd> {
        if keys.is_empty() {
            return None;
        }
        let mut command = redis::cmd("MGET");
        for key in keys {
            command.arg(generation_key(key));
        }
        Some(command)
    }

    fn generations_from(&self, reply: Value) -> Result<Vec<Generation>, CacheError> {
        let generations: Vec<Option<String>> =
            redis::from_redis_value(reply).map_err(RedisError::from)?;
        Ok(generations
            .into_iter()
            .map(|generation| Generation(generation.unwrap_or_default()))
            .collect())
    }

    async fn fill(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
        seen: &Generation,
    ) -> Result<(), CacheError> {
        let mut invocation = FILL_IF_SAME_GENERATION.prepare_invoke();
        invocation
            .key(key)
            .key(generation_key(key))
            .arg(value)
            .arg(&seen.0)
            .arg(millis(ttl));
        self.redis.invoke::<Value>(&invocation).await?;
        Ok(())
    }

    async fn invalidate(&self, keys: &[String]) -> Result<(), CacheError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.redis.query_pipeline::<()>(&invalidation(keys)).await
    }

    async fn invalidate_and_publish(
        &self,
        keys: &[String],
        message: &Message,
    ) -> Result<bool, CacheError> {
        // In the same transaction, after the invalidation: a subscriber that
        // reads on hearing the message finds the keys already invalidated.
        let mut transaction = invalidation(keys);
        transaction
            .cmd("PUBLISH")
            .arg(&message.channel)
            .arg(&message.payload)
            .ignore();
        self.redis.query_pipeline::<()>(&transaction).await?;
        Ok(true)
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
            let (next, keys): (u64, Vec<String>) = self.redis.query(&command).await?;
            // A generation alone may belong to a reader about to fill its key.
            let mut values: Vec<String> = keys
                .into_iter()
                .map(|key| match key.strip_suffix("#generation") {
                    Some(value_key) => value_key.to_string(),
                    None => key,
                })
                .collect();
            values.sort_unstable();
            values.dedup();
            self.invalidate(&values).await?;
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.redis.query::<Value>(&redis::cmd("PING")).await?;
        Ok(())
    }
}

/// One transaction that moves each key to a new generation and drops its
/// value.
fn invalidation(keys: &[String]) -> Pipeline {
    let mut transaction = redis::pipe();
    transaction.atomic();
    for key in keys {
        let generation = generation_key(key);
        transaction.cmd("INCR").arg(&generation).ignore();
        transaction
            .cmd("PEXPIRE")
            .arg(&generation)
            .arg(millis(GENERATION_TTL))
            .ignore();
        transaction.cmd("DEL").arg(key).ignore();
    }
    transaction
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

/// A client for `url`; with `verify_tls` off, a rediss:// server's certificate
/// is accepted whoever signed it. The events' pub/sub connects with it too.
pub fn client(url: &Url, verify_tls: bool) -> Result<redis::Client, RedisError> {
    let mut url = url.clone();
    if url.scheme() == "rediss" && !verify_tls {
        // redis-rs's switch for this, with its tls-rustls-insecure feature.
        url.set_fragment(Some("insecure"));
    }
    redis::Client::open(url.as_str())
}
