//! What changed, told to every instance's subscribers: the services publish an
//! [`Event`] after their transaction commits, and each process hands the events
//! it hears to the subscriptions that watch its notebook or fetch ([`Topics`]).
//!
//! The process also keeps the revisions it saved lately ([`KeptRevisions`]):
//! the event names a revision, and a subscriber of the saving instance is
//! handed it from there instead of reading it again.
//!
//! How events travel between processes is chosen at start-up, like the cache:
//! Redis pub/sub when REDIS_URL is set, PostgreSQL LISTEN/NOTIFY on PostgreSQL
//! without Redis, and on the embedded default (one process, SQLite) nowhere
//! but the broadcast itself.

mod connections;
mod kept;
mod postgres;
mod redis;
mod topics;

pub use connections::{Admission, Connections};
use kept::KeptRevision;
pub use kept::KeptRevisions;
use std::sync::Arc;

use sea_orm::{DatabaseBackend, DatabaseConnection};
use serde::{Deserialize, Serialize};
use topics::Topics;
pub use topics::{Subscription, Topic};

use crate::{
    cache::{Cache, CacheKey, RedisConnection},
    config::Config,
    entity::revision,
};

/// One change, small enough for a NOTIFY payload: subscribers load the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    RevisionSaved {
        notebook_id: i32,
        revision_id: i32,
    },
    /// Its title or files changed, or it was deleted.
    NotebookChanged {
        notebook_id: i32,
        deleted: bool,
    },
    OperationChanged {
        operation_id: i32,
    },
}

/// The process's events: publish one, or subscribe to a notebook's or a
/// fetch's.
#[derive(Clone)]
pub struct Events {
    local: Topics,
    backend: Backend,
    /// The revisions this process saved lately, for its own subscribers.
    pub kept: KeptRevisions,
}

#[derive(Clone)]
enum Backend {
    InProcess,
    Redis(redis::RedisEvents),
    Postgres(postgres::PostgresEvents),
}

impl Events {
    /// Events of this process only.
    pub fn in_process(buffer: usize) -> Self {
        Events {
            local: Topics::new(buffer),
            backend: Backend::InProcess,
            kept: KeptRevisions::default(),
        }
    }

    /// Through Redis when there is one, else through PostgreSQL when that is
    /// the database, else in-process: publishing, and listening for every
    /// instance's events. Listening starts in the background and reconnects by
    /// itself, so the server starts while either is down.
    pub fn start(
        config: &Config,
        db: &DatabaseConnection,
        redis: Option<RedisConnection>,
    ) -> anyhow::Result<Self> {
        let events = Events::publishing_only(config, db, redis)?;
        match &events.backend {
            Backend::Redis(redis) => redis.listen(events.local.clone()),
            Backend::Postgres(postgres) => postgres.listen(events.local.clone()),
            Backend::InProcess => {}
        }
        Ok(events)
    }

    /// As [`Events::start`], for a process without subscribers (the worker):
    /// it tells the others and holds no Redis subscription or LISTEN
    /// connection of its own. With Redis, events are published through
    /// `redis`, the connection of REDIS_URL that the cache uses.
    pub fn publishing_only(
        config: &Config,
        db: &DatabaseConnection,
        redis: Option<RedisConnection>,
    ) -> anyhow::Result<Self> {
        let mut events = Events::in_process(config.live.events_buffer);
        let channel = format!("{}events", config.cache.key_prefix);
        events.backend = match (&config.cache.redis_url, redis) {
            (Some(url), Some(redis)) => {
                Backend::Redis(redis::RedisEvents::new(url, &config.cache, redis, channel)?)
            }
            _ if db.get_database_backend() == DatabaseBackend::Postgres => {
                Backend::Postgres(postgres::PostgresEvents::new(db.clone(), channel))
            }
            _ => Backend::InProcess,
        };
        Ok(events)
    }

    /// Tells every instance. Call only after the change has committed. An event
    /// that cannot be sent is logged: the change itself stands, and the
    /// subscribers' next event brings them up to date.
    pub async fn publish(&self, event: Event) {
        let sent: Result<(), String> = match &self.backend {
            Backend::InProcess => {
                self.local.send(event);
                Ok(())
            }
            Backend::Redis(redis) => redis.publish(&event).await.map_err(|e| e.to_string()),
            Backend::Postgres(postgres) => {
                postgres.publish(&event).await.map_err(|e| e.to_string())
            }
        };
        if let Err(err) = sent {
            tracing::warn!(?event, %err, "could not publish an event");
        }
    }

    /// After a write commits: invalidates what it changed in `cache`, then
    /// tells every instance; with Redis both go in one round trip (the event
    /// after the invalidation, in one transaction). An event that cannot be
    /// sent is logged, as in [`Events::publish`].
    pub async fn publish_after_invalidating(
        &self,
        cache: &Cache,
        keys: impl IntoIterator<Item = CacheKey>,
        event: Event,
    ) {
        let Backend::Redis(redis) = &self.backend else {
            cache.invalidate(keys).await;
            return self.publish(event).await;
        };
        match cache
            .invalidate_and_publish(keys, &redis.message(&event))
            .await
        {
            Ok(true) => {}
            Ok(false) => self.publish(event).await,
            // Not sent again on its own: Redis may have run the transaction
            // before the reply was lost, and a subscriber would hear it twice.
            Err(err) => tracing::warn!(?event, %err, "could not publish an event"),
        }
    }

    /// Keeps a revision this process just saved (committed, its event not
    /// yet published) for this process's subscribers to its notebook, with
    /// the notebook's revision before it (see [`KeptRevisions`]). Only when
    /// someone here watches the notebook: one who subscribes after this check
    /// subscribed after the commit, so the latest revision it starts from is
    /// already this one.
    pub fn keep_if_watched(&self, saved: &revision::Model, previous_id: i32) {
        if self.local.is_watched(Topic::Notebook(saved.notebook_id)) {
            self.kept.keep(KeptRevision {
                revision: Arc::new(saved.clone()),
                previous_id,
            });
        }
    }

    pub fn subscribe(&self, topic: Topic) -> Subscription {
        self.local.subscribe(topic)
    }
}

fn encode(event: &Event) -> String {
    serde_json::to_string(event).expect("events serialise")
}

/// Hands a message from another process to this one's subscribers.
fn deliver(local: &Topics, payload: &str) {
    match serde_json::from_str::<Event>(payload) {
        Ok(event) => local.send(event),
        Err(err) => tracing::warn!(%err, payload, "an event message did not parse"),
    }
}

/// Waits between reconnection attempts of a listener: 0.1 s doubling to 5 s.
struct Backoff(std::time::Duration);

impl Backoff {
    fn new() -> Self {
        Backoff(std::time::Duration::from_millis(100))
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(std::time::Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn a_save_is_kept_only_while_its_notebook_is_watched_here() {
        let events = Events::in_process(4);
        let saved = |id| revision::Model {
            id,
            notebook_id: 3,
            title: "T".into(),
            content: "text".into(),
            is_draft: true,
            created_at: chrono::Utc::now(),
        };
        events.keep_if_watched(&saved(10), 9);
        assert!(events.kept.following(3, 9, 10).is_none());

        let _watching = events.subscribe(Topic::Notebook(3));
        events.keep_if_watched(&saved(11), 10);
        assert_eq!(
            events.kept.following(3, 10, 11).map(|kept| kept.id),
            Some(11)
        );
    }

    #[test]
    fn events_travel_as_small_json() {
        let event = Event::RevisionSaved {
            notebook_id: 3,
            revision_id: 9,
        };
        let text = encode(&event);
        assert_eq!(
            text,
            r#"{"kind":"revision_saved","notebook_id":3,"revision_id":9}"#
        );
        let local = Topics::new(4);
        let mut heard = local.subscribe(Topic::Notebook(3));
        deliver(&local, &text);
        deliver(&local, "not json");
        deliver(&local, &text);
        assert_eq!(heard.recv().now_or_never().unwrap().unwrap(), event);
        assert_eq!(heard.recv().now_or_never().unwrap().unwrap(), event);
        assert!(heard.recv().now_or_never().is_none());
    }
}
