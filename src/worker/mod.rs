//! The background worker: fetches file sources, prunes draft revisions and
//! queues scheduled fetches. Its queues live in the database, so a worker may
//! die at any moment without losing work; several workers may share one
//! PostgreSQL database (on SQLite, run one). It enters at the domain services
//! (notebooks, files), never through GraphQL or HTTP.
//!
//! `iodide-server worker` runs it alone; `serve --with-worker` inside the web
//! process.

pub mod fetch;
pub mod pruning;
pub mod queue;
pub mod schedule;

use std::{sync::Mutex, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use tokio_util::sync::CancellationToken;

use self::{fetch::Fetcher, queue::Claimed};
use crate::{
    auth::session::DbSessionStore,
    cache::Cache,
    clock::Clock,
    config::Config,
    entity::file_update_operation,
    error::Error,
    events::{Event, Events},
    files,
};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Domain(#[from] crate::error::Error),
    #[error("could not build the HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
}

/// What one pass over the queues did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Scheduled sources whose fetch was queued.
    pub scheduled: usize,
    /// Jobs of dead workers handed back to the queue.
    pub reclaimed: u64,
    /// Fetches finished, completed or failed.
    pub fetched: Vec<Finished>,
    /// Notebooks pruned.
    pub pruned: Vec<i32>,
    /// Expired sign-in sessions deleted.
    pub expired_sessions: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Finished {
    pub operation_id: i32,
    pub outcome: Outcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Failed,
    /// The job was handed to another worker (this one was too slow) or its
    /// source deleted meanwhile: nothing was recorded.
    Dropped,
}

pub struct Worker {
    db: DatabaseConnection,
    cache: Cache,
    fetcher: Fetcher,
    poll_interval: Duration,
    job_timeout: TimeDelta,
    clock: Clock,
    /// Where the fetches' progress is told: nowhere until [`Worker::with_events`].
    events: Events,
    /// The fetch under way, released on shutdown so that another worker need not
    /// wait for the job timeout.
    in_flight: Mutex<Option<file_update_operation::Model>>,
    /// When expired sessions were last deleted.
    sessions_swept_at: Mutex<Option<DateTime<Utc>>>,
}

/// Expired sessions are harmless (they no longer load) but take space: deleting
/// them hourly is plenty.
const SESSION_SWEEP_INTERVAL: TimeDelta = TimeDelta::hours(1);

impl Worker {
    pub fn new(db: DatabaseConnection, cache: Cache, config: &Config) -> Result<Self, WorkerError> {
        Ok(Worker {
            db,
            cache,
            fetcher: Fetcher::new(&config.fetch)?,
            poll_interval: config.worker.poll_interval,
            job_timeout: TimeDelta::from_std(config.worker.job_timeout).unwrap_or(TimeDelta::MAX),
            clock: Clock::system(),
            events: Events::in_process(1),
            in_flight: Mutex::new(None),
            sessions_swept_at: Mutex::new(None),
        })
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_events(mut self, events: Events) -> Self {
        self.events = events;
        self
    }

    async fn operation_changed(&self, operation_id: i32) {
        self.events
            .publish(Event::OperationChanged { operation_id })
            .await;
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Works until `shutdown` is cancelled, looking for work every poll interval.
    pub async fn run(&self, shutdown: CancellationToken) {
        tracing::info!("worker started");
        loop {
            match shutdown.run_until_cancelled(self.run_pending()).await {
                None => break,
                Some(Ok(pass)) if pass != Pass::default() => tracing::debug!(?pass, "worker pass"),
                Some(Ok(_)) => {}
                // The next pass retries: every job is still in its queue.
                Some(Err(err)) => tracing::error!(%err, "worker pass failed"),
            }
            let pause = tokio::time::sleep(self.poll_interval);
            if shutdown.run_until_cancelled(pause).await.is_none() {
                break;
            }
        }
        self.release_in_flight().await;
        tracing::info!("worker stopped");
    }

    /// Does everything that is due now, until the queues are empty.
    pub async fn run_pending(&self) -> Result<Pass, WorkerError> {
        let reclaimed = queue::reclaim_abandoned(&self.db, self.now(), self.job_timeout).await?;
        for &operation_id in reclaimed.requeued.iter().chain(&reclaimed.failed) {
            self.operation_changed(operation_id).await;
        }
        let mut pass = Pass {
            scheduled: schedule::queue_due_fetches(&self.db, self.now())
                .await?
                .len(),
            reclaimed: reclaimed.requeued.len() as u64,
            ..Pass::default()
        };
        while let Some(finished) = self.fetch_next().await? {
            pass.fetched.push(finished);
        }
        while let Some((notebook_id, _)) =
            pruning::prune_next(&self.db, &self.cache, self.now()).await?
        {
            pass.pruned.push(notebook_id);
        }
        pass.expired_sessions = self.sweep_sessions().await?;
        Ok(pass)
    }

    async fn sweep_sessions(&self) -> Result<u64, WorkerError> {
        let now = self.now();
        {
            let mut swept_at = self.sessions_swept_at.lock().unwrap();
            if swept_at.is_some_and(|at| now - at < SESSION_SWEEP_INTERVAL) {
                return Ok(0);
            }
            *swept_at = Some(now);
        }
        Ok(DbSessionStore::new(self.db.clone())
            .delete_expired(now)
            .await?)
    }

    /// Claims one pending fetch and runs it.
    pub async fn fetch_next(&self) -> Result<Option<Finished>, WorkerError> {
        let Some(claimed) = queue::claim_next(&self.db, self.now()).await? else {
            return Ok(None);
        };
        *self.in_flight.lock().unwrap() = Some(claimed.operation.clone());
        self.operation_changed(claimed.operation.id).await;
        let result = self.fetcher.fetch(&claimed.source.url).await;
        let outcome = self.finish(&claimed, result).await?;
        *self.in_flight.lock().unwrap() = None;
        if outcome == Outcome::Completed {
            let notebook_id = claimed.source.notebook_id;
            self.events.publish(files::files_changed(notebook_id)).await;
        }
        if outcome != Outcome::Dropped {
            self.operation_changed(claimed.operation.id).await;
        }
        Ok(Some(Finished {
            operation_id: claimed.operation.id,
            outcome,
        }))
    }

    /// Stores the file and completes the operation together, or fails it.
    async fn finish(
        &self,
        claimed: &Claimed,
        result: Result<Vec<u8>, fetch::FetchError>,
    ) -> Result<Outcome, WorkerError> {
        let Claimed { operation, source } = claimed;
        let now = self.now();
        let bytes = match result {
            Ok(bytes) => bytes,
            Err(err) => {
                tracing::info!(operation = operation.id, %err, "a file source fetch failed");
                return self.fail(operation, err.to_string()).await;
            }
        };
        let txn = self.db.begin().await?;
        if let Err(err) = files::put(&txn, source.notebook_id, &source.filename, bytes, now).await {
            drop(txn);
            let reason = match err {
                Error::Database(_) | Error::Unavailable(_) | Error::Internal(_) => {
                    tracing::error!(operation = operation.id, %err, "could not store a fetched file");
                    "The file was fetched but could not be saved; refresh to try again".to_string()
                }
                // Such as a file too large: the owner's to know.
                user_error => user_error.to_string(),
            };
            return self.fail(operation, reason).await;
        }
        if !queue::finish(&txn, operation, None, now).await? {
            return Ok(dropped(operation));
        }
        txn.commit().await?;
        Ok(Outcome::Completed)
    }

    async fn fail(
        &self,
        operation: &file_update_operation::Model,
        reason: String,
    ) -> Result<Outcome, WorkerError> {
        if queue::finish(&self.db, operation, Some(reason), self.now()).await? {
            Ok(Outcome::Failed)
        } else {
            Ok(dropped(operation))
        }
    }

    async fn release_in_flight(&self) {
        let Some(operation) = self.in_flight.lock().unwrap().take() else {
            return;
        };
        match queue::release(&self.db, &operation).await {
            // Its watchers learn that it waits again rather than runs.
            Ok(()) => self.operation_changed(operation.id).await,
            Err(err) => tracing::warn!(operation = operation.id, %err, "could not release a fetch"),
        }
    }
}

fn dropped(operation: &file_update_operation::Model) -> Outcome {
    tracing::warn!(
        operation = operation.id,
        "a fetch finished after its job was handed to another worker or its source deleted"
    );
    Outcome::Dropped
}
