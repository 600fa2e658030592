//! What a cache backend does: six commands, each of which may fail, and two
//! that a shared backend can send along with other commands in one round trip.
//!
//! Each key has a generation that every invalidation changes. A reader that
//! misses notes the generation, loads from the database and fills the key only
//! if the generation is still the one it saw: a reader that loaded a row just
//! before a save can never put the old row back after that save's
//! invalidation, and a reader that starts after it fills at once.

use std::time::Duration;

use bytes::Bytes;

use super::CacheError;

/// A key's generation as a reader saw it: opaque, compared for equality.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Generation(pub String);

/// How long a key's generation is remembered after its last invalidation:
/// far longer than any reader takes between a miss and its fill.
pub const GENERATION_TTL: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The value, and the generation it was stored at: an answer built from it
    /// stays true while the key is at that generation (see
    /// [`super::ResponseCache`]).
    Hit(Bytes, Generation),
    /// Nothing cached: the reader may fill the key if it is still at this
    /// generation.
    Miss(Generation),
}

/// A message for every process listening on `channel` (the events), which a
/// shared store can send in the same round trip as an invalidation.
#[derive(Clone, Debug)]
pub struct Message {
    pub channel: String,
    pub payload: String,
}

#[async_trait::async_trait]
pub trait CacheStore: Send + Sync {
    /// "redis" or "in-process", for the heartbeat.
    fn name(&self) -> &'static str;

    /// Whether every process of the deployment reads this store, so that an
    /// invalidation sent by any of them (the command line's included) holds
    /// for all of them at once.
    fn shared(&self) -> bool {
        false
    }

    async fn get(&self, key: &str) -> Result<Lookup, CacheError>;

    /// Each key's generation now, in one round trip.
    async fn generations(&self, keys: &[String]) -> Result<Vec<Generation>, CacheError>;

    /// Stores `value` if the key is still at generation `seen`.
    async fn fill(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
        seen: &Generation,
    ) -> Result<(), CacheError>;

    /// Removes each key's value and moves it to a new generation.
    async fn invalidate(&self, keys: &[String]) -> Result<(), CacheError>;

    /// Invalidates `keys` and, when this store can carry it, publishes
    /// `message` in the same round trip, after the invalidation: true when it
    /// did. A store that cannot only invalidates.
    async fn invalidate_and_publish(
        &self,
        keys: &[String],
        _message: &Message,
    ) -> Result<bool, CacheError> {
        self.invalidate(keys).await?;
        Ok(false)
    }

    /// The command that asks for each key's generation, for a caller that sends
    /// it with others in one round trip; None when the store has no commands to
    /// send (in-process) or nothing to ask.
    fn generations_command(&self, _keys: &[String]) -> Option<redis::Cmd> {
        None
    }

    /// The generations in the reply to [`CacheStore::generations_command`].
    fn generations_from(&self, _reply: redis::Value) -> Result<Vec<Generation>, CacheError> {
        Ok(vec![])
    }

    /// Invalidates every key that starts with `prefix`.
    async fn clear(&self, prefix: &str) -> Result<(), CacheError>;

    async fn ping(&self) -> Result<(), CacheError>;
}
