//! Whole answers to reads that did not ask who the viewer is, as the bytes
//! that were sent, each with the cache keys (and their generations) that it
//! was built from. An answer is served again only while every one of those
//! keys is still at the generation it was read at, checked in one round trip:
//! a write on any instance moves the generations (in Redis when configured),
//! so every instance stops serving the answers that the write made stale. The
//! answers themselves stay in this process (bounded, least recently used out):
//! they are cheap to rebuild from the entity cache.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;

use super::{Cache, CacheKey, Generation, StoreKeys};

/// Bytes of answers (and their keys) kept at most.
const CAPACITY_BYTES: u64 = 32 * 1024 * 1024;

/// No longer than the shortest time to live of [`CacheKey::ttl`] (a user's),
/// so that an invalidation that never came (a process that cannot reach an
/// in-process cache) keeps an answer stale no longer than the entity cache
/// would keep its value; also bounds a generation that the store forgot and
/// that so reads as new again.
pub const RESPONSE_TTL: Duration = Duration::from_secs(60);

/// What makes two requests the same question: the document, the operation,
/// the variables as JSON text (different text is a different question, which
/// only costs a miss) and the media type of the answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResponseKey {
    pub query: String,
    pub operation_name: Option<String>,
    pub variables: String,
    pub media: &'static str,
}

impl ResponseKey {
    fn weight(&self) -> usize {
        self.query.len()
            + self.operation_name.as_ref().map_or(0, String::len)
            + self.variables.len()
    }
}

struct KeptResponse {
    body: Bytes,
    /// The keys it was built from, as the store names them, and the generation
    /// each was read at.
    keys: StoreKeys,
    seen: Vec<Generation>,
}

#[derive(Clone)]
pub struct ResponseCache(moka::sync::Cache<ResponseKey, Arc<KeptResponse>>);

impl Default for ResponseCache {
    fn default() -> Self {
        ResponseCache(
            moka::sync::Cache::builder()
                .max_capacity(CAPACITY_BYTES)
                .weigher(|key: &ResponseKey, kept: &Arc<KeptResponse>| {
                    let seen = kept.seen.iter().map(|seen| seen.0.len()).sum::<usize>();
                    let read = kept.keys.weight() + seen;
                    u32::try_from(key.weight() + kept.body.len() + read).unwrap_or(u32::MAX)
                })
                .time_to_live(RESPONSE_TTL)
                .build(),
        )
    }
}

/// An answer kept for a question, until checked against its keys' generations
/// now.
pub struct KeptAnswer(Arc<KeptResponse>);

impl KeptAnswer {
    /// The keys whose generations decide whether it is still true.
    pub fn keys(&self) -> &StoreKeys {
        &self.0.keys
    }
}

impl ResponseCache {
    /// The kept answer to this question, if nothing that it was built from has
    /// changed since (asked of `cache` in one round trip). When the cache cannot
    /// tell (Redis resting, failing, or owed invalidations), nothing is served.
    pub async fn get(&self, key: &ResponseKey, cache: &Cache) -> Option<Bytes> {
        let kept = self.candidate(key)?;
        let now = cache.generations(kept.keys()).await;
        self.current(key, &kept, now)
    }

    /// The answer kept for this question, not yet checked: the caller asks for
    /// its keys' generations (perhaps with a command of its own) and hands them
    /// to [`ResponseCache::current`].
    pub fn candidate(&self, key: &ResponseKey) -> Option<KeptAnswer> {
        self.0.get(key).map(KeptAnswer)
    }

    /// The kept answer's bytes if `now` (its keys' generations, None when the
    /// cache could not tell) are those it was built at; a stale answer is
    /// dropped.
    pub fn current(
        &self,
        key: &ResponseKey,
        kept: &KeptAnswer,
        now: Option<Vec<Generation>>,
    ) -> Option<Bytes> {
        let now = now?;
        let unchanged = kept.0.seen == now;
        if unchanged {
            Some(kept.0.body.clone())
        } else {
            self.0.invalidate(key);
            None
        }
    }

    /// Keeps an answer built from `read` alone (the keys of `cache` and the
    /// generations they were read at).
    pub fn insert(
        &self,
        key: ResponseKey,
        body: Bytes,
        read: Vec<(CacheKey, Generation)>,
        cache: &Cache,
    ) {
        let (keys, seen): (Vec<CacheKey>, Vec<Generation>) = read.into_iter().unzip();
        let keys = cache.store_keys(&keys);
        self.0
            .insert(key, Arc::new(KeptResponse { body, keys, seen }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_live_no_longer_than_any_cached_value() {
        for key in [
            CacheKey::Notebook(1),
            CacheKey::FirstNotebookPage,
            CacheKey::User("ada".into()),
        ] {
            assert!(RESPONSE_TTL <= key.ttl(), "{key:?}");
        }
    }
}
