//! The in-process backend (moka): the embedded default, and what a single
//! instance without REDIS_URL uses. It never fails.

use std::time::{Duration, Instant};

use moka::{Expiry, sync::Cache};

use super::{
    CacheError,
    store::{CacheStore, Lookup},
};

/// Bytes of cached values an instance keeps at most.
const CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone)]
struct Stored {
    /// None: an invalidation marker.
    value: Option<std::sync::Arc<[u8]>>,
    ttl: Duration,
}

/// Each entry lives its own time to live, from its last write.
struct PerEntryTtl;

impl Expiry<String, Stored> for PerEntryTtl {
    fn expire_after_create(&self, _: &String, stored: &Stored, _: Instant) -> Option<Duration> {
        Some(stored.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        stored: &Stored,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(stored.ttl)
    }
}

pub struct MemoryStore {
    entries: Cache<String, Stored>,
}

impl MemoryStore {
    pub fn new() -> Self {
        let entries = Cache::builder()
            .max_capacity(CAPACITY_BYTES)
            .weigher(|key: &String, stored: &Stored| {
                let size = key.len() + stored.value.as_ref().map_or(0, |value| value.len());
                u32::try_from(size).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        MemoryStore { entries }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl CacheStore for MemoryStore {
    fn name(&self) -> &'static str {
        "in-process"
    }

    async fn get(&self, key: &str) -> Result<Lookup, CacheError> {
        Ok(match self.entries.get(key) {
            Some(Stored {
                value: Some(value), ..
            }) => Lookup::Hit(value.to_vec()),
            Some(Stored { value: None, .. }) => Lookup::Invalidated,
            None => Lookup::Miss,
        })
    }

    async fn fill(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        self.entries
            .entry(key.to_string())
            .or_insert_with(|| Stored {
                value: Some(value.into()),
                ttl,
            });
        Ok(())
    }

    async fn invalidate(&self, keys: &[String], marker_ttl: Duration) -> Result<(), CacheError> {
        for key in keys {
            self.entries.insert(
                key.clone(),
                Stored {
                    value: None,
                    ttl: marker_ttl,
                },
            );
        }
        Ok(())
    }

    async fn clear(&self, _prefix: &str) -> Result<(), CacheError> {
        // One process, one prefix: everything here is ours.
        self.entries.invalidate_all();
        Ok(())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
