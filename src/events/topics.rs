//! This process's subscribers, by what they watch: an event wakes only the
//! subscriptions to its notebook or fetch. One broadcast to every subscription
//! woke each open socket for every save; with 1,000 idle ones that cost
//! autosave most of its rate (docs/performance.md, the live scenario).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::broadcast::{self, error::RecvError};

use super::Event;

/// What a subscription watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    Notebook(i32),
    Operation(i32),
}

impl Event {
    pub fn topic(&self) -> Topic {
        match *self {
            Event::RevisionSaved { notebook_id, .. }
            | Event::NotebookChanged { notebook_id, .. } => Topic::Notebook(notebook_id),
            Event::OperationChanged { operation_id } => Topic::Operation(operation_id),
        }
    }
}

/// A channel per watched topic, made by its first subscriber and dropped with
/// its last: a topic nobody watches costs nothing.
#[derive(Clone)]
pub(super) struct Topics {
    channels: Arc<Mutex<HashMap<Topic, broadcast::Sender<Event>>>>,
    /// Events a subscriber may be behind on its topic before it is told.
    buffer: usize,
}

impl Topics {
    pub(super) fn new(buffer: usize) -> Self {
        Topics {
            channels: Arc::default(),
            buffer: buffer.max(1),
        }
    }

    /// Hands the event to its topic's subscribers, if it has any.
    pub(super) fn send(&self, event: Event) {
        if let Some(channel) = self.channels().get(&event.topic()) {
            // No receiver left is not an error: the last one is leaving.
            let _ = channel.send(event);
        }
    }

    /// Whether anyone in this process subscribes to `topic` now.
    pub(super) fn is_watched(&self, topic: Topic) -> bool {
        self.channels().contains_key(&topic)
    }

    pub(super) fn subscribe(&self, topic: Topic) -> Subscription {
        let receiver = self
            .channels()
            .entry(topic)
            .or_insert_with(|| broadcast::channel(self.buffer).0)
            .subscribe();
        Subscription {
            receiver: Some(receiver),
            topic,
            topics: self.clone(),
        }
    }

    // A panic elsewhere while the map was held leaves it whole: every change
    // to it is one insert or one remove.
    fn channels(&self) -> MutexGuard<'_, HashMap<Topic, broadcast::Sender<Event>>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One subscriber's events, in the order this process heard them.
pub struct Subscription {
    /// Always Some until dropped: Drop lets go of it before looking at the
    /// channel's receiver count.
    receiver: Option<broadcast::Receiver<Event>>,
    topic: Topic,
    topics: Topics,
}

impl Subscription {
    /// The next event; `Lagged` when the subscriber fell more than the buffer
    /// behind, `Closed` never while the process runs.
    pub async fn recv(&mut self) -> Result<Event, RecvError> {
        match self.receiver.as_mut() {
            Some(receiver) => receiver.recv().await,
            None => Err(RecvError::Closed),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Under the lock, so that a subscriber arriving now either finds the
        // channel still counted or makes a new one.
        let mut channels = self.topics.channels();
        self.receiver = None;
        if channels
            .get(&self.topic)
            .is_some_and(|channel| channel.receiver_count() == 0)
        {
            channels.remove(&self.topic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAVED_IN_1: Event = Event::RevisionSaved {
        notebook_id: 1,
        revision_id: 7,
    };

    #[tokio::test]
    async fn an_event_reaches_only_its_topics_subscribers() {
        let topics = Topics::new(4);
        let mut watching_1 = topics.subscribe(Topic::Notebook(1));
        let mut watching_2 = topics.subscribe(Topic::Notebook(2));
        topics.send(SAVED_IN_1);
        topics.send(Event::OperationChanged { operation_id: 1 });
        assert_eq!(watching_1.recv().await.unwrap(), SAVED_IN_1);
        assert!(watching_1.receiver.as_mut().unwrap().try_recv().is_err());
        assert!(watching_2.receiver.as_mut().unwrap().try_recv().is_err());
    }

    #[test]
    fn a_topic_lives_as_long_as_its_subscribers() {
        let topics = Topics::new(4);
        let first = topics.subscribe(Topic::Notebook(1));
        let second = topics.subscribe(Topic::Notebook(1));
        drop(first);
        assert_eq!(topics.channels().len(), 1);
        drop(second);
        assert!(topics.channels().is_empty());
        // Nobody watches: sending is a no-op.
        topics.send(SAVED_IN_1);
    }
}
