//! The in-process backend (moka): the embedded default, and what a single
//! instance without REDIS_URL uses. It never fails.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use moka::{Expiry, sync::Cache};

use super::{
    CacheError,
    store::{CacheStore, GENERATION_TTL, Generation, Lookup},
};

/// Bytes of cached values an instance keeps at most.
const CAPACITY_BYTES: u64 = 64 * 1024 * 1024;
/// Keys whose generation is remembered at most.
const GENERATIONS: u64 = 1_000_000;

#[derive(Clone)]
struct Stored {
    // Shared with every reader: a hit hands out the stored bytes, uncopied.
    value: Bytes,
    ttl: Duration,
}

/// Each value lives its own time to live, from its last write.
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
    values: Cache<String, Stored>,
    generations: Cache<String, u64>,
    /// Each invalidation takes a number never used before, so that a forgotten
    /// generation cannot come back.
    next_generation: AtomicU64,
    /// Makes "check the generation, then store" one step against invalidations.
    writes: Mutex<()>,
}

impl MemoryStore {
    pub fn new() -> Self {
        let values = Cache::builder()
            .max_capacity(CAPACITY_BYTES)
            .weigher(|key: &String, stored: &Stored| {
                u32::try_from(key.len() + stored.value.len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        let generations = Cache::builder()
            .max_capacity(GENERATIONS)
            .time_to_live(GENERATION_TTL)
            .build();
        MemoryStore {
            values,
            generations,
            next_generation: AtomicU64::new(1),
            writes: Mutex::new(()),
        }
    }

    fn generation(&self, key: &str) -> Generation {
        Generation(
            self.generations
                .get(key)
                .map(|generation| generation.to_string())
                .unwrap_or_default(),
        )
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
        // The generation first: an invalidation between the two reads then
        // pairs a value with an older generation (a later check misses), never
        // an old value with the new generation.
        let generation = self.generation(key);
        Ok(match self.values.get(key) {
            Some(stored) => Lookup::Hit(stored.value.clone(), generation),
            None => Lookup::Miss(generation),
        })
    }

    async fn generations(&self, keys: &[String]) -> Result<Vec<Generation>, CacheError> {
        Ok(keys.iter().map(|key| self.generation(key)).collect())
    }

    async fn fill(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
        seen: &Generation,
    ) -> Result<(), CacheError> {
        let _writing = self.writes.lock().unwrap();
        if self.generation(key) == *seen {
            let value = value.into();
            self.values.insert(key.to_string(), Stored { value, ttl });
        }
        Ok(())
    }

    async fn invalidate(&self, keys: &[String]) -> Result<(), CacheError> {
        let _writing = self.writes.lock().unwrap();
        for key in keys {
            let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
            self.generations.insert(key.clone(), generation);
            self.values.invalidate(key);
        }
        Ok(())
    }

    async fn clear(&self, prefix: &str) -> Result<(), CacheError> {
        let keys: Vec<String> = self
            .values
            .iter()
            .map(|(key, _)| key.as_ref().clone())
            .filter(|key| key.starts_with(prefix))
            .collect();
        self.invalidate(&keys).await
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
