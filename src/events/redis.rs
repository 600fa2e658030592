//! Events through Redis pub/sub: every instance publishes to one channel and
//! listens on it, its own messages included, so that a process's subscribers
//! hear its own saves in the same order as everyone else's.

use std::sync::Arc;

use futures_util::StreamExt;
use url::Url;

use super::{Backoff, Event, Topics, deliver, encode};
use crate::{
    cache::{CacheError, Message, RedisConnection, redis_client},
    config::CacheConfig,
};

#[derive(Clone)]
pub struct RedisEvents {
    /// For listening, when this process listens; held apart (it is large).
    client: Arc<redis::Client>,
    /// The cache's connection: a save's PUBLISH can then share the round trip
    /// of its invalidation. Bounded like the cache's commands, so that a save
    /// is never held up by a stalled Redis (its subscribers then miss it).
    connection: RedisConnection,
    channel: String,
}

impl RedisEvents {
    pub fn new(
        url: &Url,
        config: &CacheConfig,
        connection: RedisConnection,
        channel: String,
    ) -> anyhow::Result<Self> {
        let client = redis_client(url, config.redis_tls_verify)?;
        Ok(RedisEvents {
            client: Arc::new(client),
            connection,
            channel,
        })
    }

    /// Hands every instance's events to `local`, from a task of its own.
    pub fn listen(&self, local: Topics) {
        let client = redis::Client::clone(&self.client);
        tokio::spawn(listen(client, self.channel.clone(), local));
    }

    pub async fn publish(&self, event: &Event) -> Result<(), CacheError> {
        let message = self.message(event);
        let command = redis::cmd("PUBLISH")
            .arg(message.channel)
            .arg(message.payload)
            .to_owned();
        self.connection.query::<()>(&command).await
    }

    /// The event as the cache can send it with an invalidation.
    pub fn message(&self, event: &Event) -> Message {
        Message {
            channel: self.channel.clone(),
            payload: encode(event),
        }
    }
}

/// Subscribes, and subscribes again whenever the connection drops.
async fn listen(client: redis::Client, channel: String, local: Topics) {
    let mut backoff = Backoff::new();
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    backoff = Backoff::new();
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        match message.get_payload::<String>() {
                            Ok(payload) => deliver(&local, &payload),
                            Err(err) => tracing::warn!(%err, "an event message is not text"),
                        }
                    }
                    tracing::warn!("the Redis event subscription ended; subscribing again");
                }
                Err(err) => tracing::warn!(%err, "could not subscribe to Redis events"),
            },
            Err(err) => tracing::warn!(%err, "could not connect to Redis for events"),
        }
        backoff.wait().await;
    }
}
