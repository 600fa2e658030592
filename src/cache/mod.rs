//! The cache beside the database: Redis when REDIS_URL is set (shared by every
//! instance), else in-process.
//!
//! The cache is never needed for correctness. When Redis fails or is slow,
//! reads go to the database and the instance leaves Redis alone for a moment;
//! the invalidations it could not send are kept and sent before it reads from
//! Redis again, so that a save made during an outage is never hidden by an
//! older cached copy afterwards. Each key has a generation that invalidations
//! change and fills check (see [`store`]), so that a reader racing a save
//! cannot put the old row back.

mod keys;
mod memory;
mod reads;
mod redis;
mod responses;
mod store;

use std::{
    collections::HashSet,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use serde::{Serialize, de::DeserializeOwned};

pub use keys::CacheKey;
pub use memory::MemoryStore;
pub use reads::ReadLog;
pub use redis::{RedisConnection, RedisStore, client as redis_client};
pub use responses::{KeptAnswer, RESPONSE_TTL, ResponseCache, ResponseKey};
pub use store::{CacheStore, Generation, Lookup, Message};

use crate::config::CacheConfig;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("the cache did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
}

/// Cache keys as the store names them (see [`Cache::store_keys`]).
#[derive(Debug)]
pub struct StoreKeys(Box<[String]>);

impl StoreKeys {
    /// Bytes held.
    pub fn weight(&self) -> usize {
        self.0.iter().map(String::len).sum()
    }
}

/// Bumped when a cached type changes shape, so that instances of two versions
/// sharing one Redis do not read each other's entries (what each version
/// changed is in docs/performance.md).
const FORMAT_VERSION: &str = "v3";

/// Cached values are postcard: compact, and decoded several times faster than
/// JSON (the entities keep their times as integers for the same reason).
pub(crate) fn encode<T: Serialize>(value: &T) -> postcard::Result<Vec<u8>> {
    postcard::to_stdvec(value)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> postcard::Result<T> {
    postcard::from_bytes(bytes)
}

/// Invalidations remembered during an outage; past this, the instance clears
/// all of its keys when the cache returns.
const MAX_OWED_INVALIDATIONS: usize = 10_000;

/// What the heartbeat reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheHealth {
    Ok,
    /// Unreachable, slow, or owed invalidations: requests go to the database.
    Degraded,
}

/// After a failure, how long a backend is left alone: an outage then costs each
/// request nothing rather than a timeout per command. Shared by the cache and
/// the Redis rate limits.
pub struct Backoff {
    retry_after: Duration,
    /// While set and in the future, the backend is left alone.
    resting_until: Mutex<Option<Instant>>,
}

impl Backoff {
    pub fn new(retry_after: Duration) -> Self {
        Backoff {
            retry_after,
            resting_until: Mutex::new(None),
        }
    }

    pub fn resting(&self) -> bool {
        let resting_until = self.resting_until.lock().unwrap();
        resting_until.is_some_and(|until| Instant::now() < until)
    }

    /// Starts (or extends) a rest; true when none was under way, so that an
    /// outage is logged once.
    pub fn rest(&self) -> bool {
        let mut resting_until = self.resting_until.lock().unwrap();
        let already = resting_until.is_some_and(|until| Instant::now() < until);
        *resting_until = Some(Instant::now() + self.retry_after);
        !already
    }

    pub fn wake(&self) {
        *self.resting_until.lock().unwrap() = None;
    }
}

#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
    /// Set for one request whose answer may be kept: what it reads is noted.
    reads: Option<Arc<ReadLog>>,
}

struct Inner {
    store: Box<dyn CacheStore>,
    prefix: String,
    backoff: Backoff,
    owed: Mutex<OwedInvalidations>,
}

#[derive(Default)]
struct OwedInvalidations {
    keys: HashSet<String>,
    too_many: bool,
}

impl OwedInvalidations {
    fn is_empty(&self) -> bool {
        self.keys.is_empty() && !self.too_many
    }
}

/// What a read found, and whether the reader may fill the key.
enum Read {
    Hit(Bytes, Generation),
    Fillable(Generation),
    /// The store is resting or failed: straight to the database.
    Unavailable,
}

impl Cache {
    /// Redis when REDIS_URL is set, else in-process.
    pub fn from_config(config: &CacheConfig) -> Result<Self, CacheError> {
        Ok(Self::new(config, RedisConnection::from_config(config)?))
    }

    /// On this Redis connection when given (shared with whoever else holds
    /// it), else in-process.
    pub fn new(config: &CacheConfig, redis: Option<RedisConnection>) -> Self {
        let store: Box<dyn CacheStore> = match redis {
            Some(redis) => Box::new(RedisStore::new(redis)),
            None => Box::new(MemoryStore::new()),
        };
        Self::with_store(store, config)
    }

    pub fn with_store(store: Box<dyn CacheStore>, config: &CacheConfig) -> Self {
        Cache {
            inner: Arc::new(Inner {
                store,
                prefix: format!("{}{FORMAT_VERSION}:", config.key_prefix),
                backoff: Backoff::new(config.redis_retry_after),
                owed: Mutex::new(OwedInvalidations::default()),
            }),
            reads: None,
        }
    }

    /// The same cache, noting into `reads` every value that it serves (and
    /// every read that it does not serve).
    pub fn recording(&self, reads: Arc<ReadLog>) -> Self {
        Cache {
            inner: self.inner.clone(),
            reads: Some(reads),
        }
    }

    pub fn backend(&self) -> &'static str {
        self.inner.store.name()
    }

    /// Whether an invalidation from any process (another instance, the command
    /// line) reaches this cache before its next read: what a cached decision
    /// about credentials needs. The in-process cache only expires.
    pub fn reaches_every_process(&self) -> bool {
        self.inner.store.shared()
    }

    /// The cached value of `key`, or what `load` reads from the database (then
    /// cached). `None` is not cached.
    pub async fn get_or_load<T, E, Load, Loading>(
        &self,
        key: &CacheKey,
        load: Load,
    ) -> Result<Option<T>, E>
    where
        T: Serialize + DeserializeOwned,
        Load: FnOnce() -> Loading,
        Loading: Future<Output = Result<Option<T>, E>>,
    {
        let full_key = self.full_key(key);
        let read = self.read(&full_key).await;
        if let Read::Hit(bytes, generation) = &read {
            match decode(bytes) {
                Ok(value) => {
                    self.note(|reads| reads.saw(key, generation));
                    return Ok(Some(value));
                }
                Err(err) => tracing::warn!(key = %full_key, %err, "unreadable cache entry"),
            }
        }
        // Served from the database: that answer is not kept (its statements
        // say so too); the next one, served from the fill, may be.
        self.note(ReadLog::uncovered);
        let loaded = load().await?;
        if let (Read::Fillable(generation), Some(value)) = (&read, &loaded) {
            self.fill(&full_key, value, key.ttl(), generation).await;
        }
        Ok(loaded)
    }

    /// `keys` as the store names them, for an answer whose keys are checked on
    /// every request that it serves: formatted once, when it is kept.
    pub fn store_keys(&self, keys: &[CacheKey]) -> StoreKeys {
        StoreKeys(keys.iter().map(|key| self.full_key(key)).collect())
    }

    /// Each key's generation now, in one round trip; None when the store cannot
    /// be trusted now (resting, failing, or owing invalidations).
    pub async fn generations(&self, keys: &StoreKeys) -> Option<Vec<Generation>> {
        if keys.0.is_empty() {
            return Some(vec![]);
        }
        if self.resting() || !self.pay_owed_invalidations().await {
            return None;
        }
        match self.inner.store.generations(&keys.0).await {
            Ok(generations) => Some(generations),
            Err(err) => {
                self.rest(&err);
                None
            }
        }
    }

    /// The command that asks for each key's generation, for a caller that
    /// sends it with its own in one round trip (see
    /// [`Cache::generations_from`]); None when there is nothing to send, or when
    /// the store cannot be trusted now: then [`Cache::generations`] says why.
    pub fn generations_command(&self, keys: &StoreKeys) -> Option<::redis::Cmd> {
        if self.resting() || !self.inner.owed.lock().unwrap().is_empty() {
            return None;
        }
        self.inner.store.generations_command(&keys.0)
    }

    /// The generations in the reply to [`Cache::generations_command`]; None
    /// when it failed.
    pub fn generations_from(
        &self,
        reply: Result<::redis::Value, CacheError>,
    ) -> Option<Vec<Generation>> {
        match reply.and_then(|reply| self.inner.store.generations_from(reply)) {
            Ok(generations) => Some(generations),
            Err(err) => {
                self.rest(&err);
                None
            }
        }
    }

    fn note(&self, record: impl FnOnce(&ReadLog)) {
        if let Some(reads) = &self.reads {
            record(reads);
        }
    }

    /// Called after a write commits, with every key that it changed.
    pub async fn invalidate(&self, keys: impl IntoIterator<Item = CacheKey>) {
        let keys: Vec<String> = keys.into_iter().map(|key| self.full_key(&key)).collect();
        if keys.is_empty() {
            return;
        }
        if self.resting() {
            self.owe(keys);
            return;
        }
        if let Err(err) = self.inner.store.invalidate(&keys).await {
            self.owe(keys);
            self.rest(&err);
        }
    }

    /// Called after a write commits, with every key that it changed and the
    /// message that tells the other processes: both in one round trip when
    /// the store can carry the message. Ok(false) when it did not send the
    /// message (the store cannot, or is resting), so that the caller sends it
    /// on its own; an error when the round trip failed (the invalidation is
    /// then owed, as in [`Cache::invalidate`]).
    pub async fn invalidate_and_publish(
        &self,
        keys: impl IntoIterator<Item = CacheKey>,
        message: &Message,
    ) -> Result<bool, CacheError> {
        let keys: Vec<String> = keys.into_iter().map(|key| self.full_key(&key)).collect();
        if self.resting() {
            self.owe(keys);
            return Ok(false);
        }
        match self
            .inner
            .store
            .invalidate_and_publish(&keys, message)
            .await
        {
            Ok(published) => Ok(published),
            Err(err) => {
                self.owe(keys);
                self.rest(&err);
                Err(err)
            }
        }
    }

    /// Asks the store directly, whatever the recent failures, so that the
    /// heartbeat shows the state of now (and a recovered Redis is used again).
    pub async fn health(&self) -> CacheHealth {
        match self.inner.store.ping().await {
            Ok(()) => {
                self.inner.backoff.wake();
                if self.pay_owed_invalidations().await {
                    CacheHealth::Ok
                } else {
                    CacheHealth::Degraded
                }
            }
            Err(err) => {
                self.rest(&err);
                CacheHealth::Degraded
            }
        }
    }

    fn full_key(&self, key: &CacheKey) -> String {
        format!("{}{}", self.inner.prefix, key.path())
    }

    async fn read(&self, key: &str) -> Read {
        if self.resting() || !self.pay_owed_invalidations().await {
            return Read::Unavailable;
        }
        match self.inner.store.get(key).await {
            Ok(Lookup::Hit(bytes, generation)) => Read::Hit(bytes, generation),
            Ok(Lookup::Miss(generation)) => Read::Fillable(generation),
            Err(err) => {
                self.rest(&err);
                Read::Unavailable
            }
        }
    }

    async fn fill<T: Serialize>(&self, key: &str, value: &T, ttl: Duration, seen: &Generation) {
        let bytes = match encode(value) {
            Ok(bytes) => bytes,
            Err(err) => {
                tracing::error!(key, %err, "could not serialise a cache entry");
                return;
            }
        };
        if let Err(err) = self.inner.store.fill(key, bytes, ttl, seen).await {
            self.rest(&err);
        }
    }

    /// Sends the invalidations missed during an outage. Until they are sent, the
    /// store is not read: it may hold rows older than this instance's writes.
    /// Keys stay owed until sent, so that a concurrent reader waits for them too.
    async fn pay_owed_invalidations(&self) -> bool {
        let (keys, clear_all) = {
            let owed = self.inner.owed.lock().unwrap();
            if owed.is_empty() {
                return true;
            }
            (owed.keys.iter().cloned().collect::<Vec<_>>(), owed.too_many)
        };
        let sent = if clear_all {
            self.inner.store.clear(&self.inner.prefix).await
        } else {
            self.inner.store.invalidate(&keys).await
        };
        match sent {
            Ok(()) => {
                let mut owed = self.inner.owed.lock().unwrap();
                for key in &keys {
                    owed.keys.remove(key);
                }
                if clear_all {
                    owed.too_many = false;
                }
                tracing::info!(
                    backend = self.backend(),
                    "the cache answers again; missed invalidations sent"
                );
                owed.is_empty()
            }
            Err(err) => {
                self.rest(&err);
                false
            }
        }
    }

    fn owe(&self, keys: Vec<String>) {
        let mut owed = self.inner.owed.lock().unwrap();
        if owed.too_many {
            return;
        }
        owed.keys.extend(keys);
        if owed.keys.len() > MAX_OWED_INVALIDATIONS {
            owed.keys.clear();
            owed.too_many = true;
        }
    }

    fn resting(&self) -> bool {
        self.inner.backoff.resting()
    }

    fn rest(&self, err: &CacheError) {
        if self.inner.backoff.rest() {
            tracing::warn!(
                backend = self.backend(),
                %err,
                "the cache failed; reading from the database for now"
            );
        }
    }
}
