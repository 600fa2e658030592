//! What a cache backend does: four commands, each of which may fail.

use std::time::Duration;

use super::CacheError;

/// What a key holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit(Vec<u8>),
    /// Nothing: the reader may fill it with what it loads.
    Miss,
    /// A write invalidated it moments ago. A reader that loaded before that write
    /// could hold the old value, so nobody fills it until the marker expires.
    Invalidated,
}

#[async_trait::async_trait]
pub trait CacheStore: Send + Sync {
    /// "redis" or "in-process", for the heartbeat.
    fn name(&self) -> &'static str;

    async fn get(&self, key: &str) -> Result<Lookup, CacheError>;

    /// Stores `value` unless the key holds anything, an invalidation marker
    /// included.
    async fn fill(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError>;

    /// Replaces each key by an invalidation marker that lives `marker_ttl`.
    async fn invalidate(&self, keys: &[String], marker_ttl: Duration) -> Result<(), CacheError>;

    /// Removes every key that starts with `prefix`.
    async fn clear(&self, prefix: &str) -> Result<(), CacheError>;

    async fn ping(&self) -> Result<(), CacheError>;
}
