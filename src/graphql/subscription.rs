//! Subscriptions: what changed, as it is committed on any instance. Each one
//! listens to the process's events (see [`crate::events`]) and reads the rows
//! they name, with the same read rules as the queries.

use std::collections::VecDeque;

use async_graphql::{Context, ID, Subscription};
use futures_util::{Stream, stream};
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast::error::RecvError;

use super::{
    context::{db, events, parse_id},
    file_source::FileUpdateOperation,
    guards::CanRead,
    notebook::Notebook,
    revision::Revision,
};
use crate::{
    entity::{
        file_update_operation::{self, Status},
        revision,
    },
    error::Error,
    events::{self, Event, KeptRevisions, Topic},
    files::sources,
    notebooks::{self, revisions},
};

#[derive(Default)]
pub struct Subscription;

/// What changed, pushed over a WebSocket at /api/graphql (graphql-transport-ws)
/// as soon as it is committed on any instance.
#[Subscription]
impl Subscription {
    /// Each new revision of the notebook, in the order they were saved, as soon
    /// as it is committed on any instance. Ends when the notebook is deleted.
    #[graphql(guard = "CanRead")]
    async fn revision_saved(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notebook to watch.")] notebook_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Revision>> + use<>> {
        let notebook_id = parse_id(&notebook_id, "notebook")?;
        // Listening starts before the latest revision is read: a save between
        // the two is then both heard and newer than what was read.
        let heard = events(ctx).subscribe(Topic::Notebook(notebook_id));
        let db = db(ctx).clone();
        existing_notebook(&db, notebook_id).await?;
        let seen = revisions::latest_for(&db, &[notebook_id])
            .await?
            .remove(&notebook_id)
            .map_or(0, |revision| revision.id);
        let watch = RevisionWatch {
            db,
            kept: events(ctx).kept.clone(),
            notebook_id,
            seen,
            ready: VecDeque::new(),
        };
        Ok(follow(heard, watch))
    }

    /// The notebook after each change: a new revision (and so perhaps its
    /// title), a file added, replaced or removed, a file source added, changed
    /// or removed, the revision it was forked from deleted. Ends when it is
    /// deleted.
    #[graphql(guard = "CanRead")]
    async fn notebook_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notebook to watch.")] id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Notebook>> + use<>> {
        let notebook_id = parse_id(&id, "notebook")?;
        let heard = events(ctx).subscribe(Topic::Notebook(notebook_id));
        let db = db(ctx).clone();
        existing_notebook(&db, notebook_id).await?;
        Ok(follow(heard, NotebookWatch { db, notebook_id }))
    }

    /// The fetch's status now, then each change of it (pending, running,
    /// completed, failed). Ends when the fetch has ended, at once if it had.
    #[graphql(guard = "CanRead")]
    async fn file_update_operation_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file update operation to watch.")] id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<FileUpdateOperation>> + use<>>
    {
        let operation_id = parse_id(&id, "file update operation")?;
        let heard = events(ctx).subscribe(Topic::Operation(operation_id));
        let db = db(ctx).clone();
        // Its status now comes first: a fetch may end between the mutation
        // that started it and this subscription.
        let now = sources::operation(&db, operation_id)
            .await?
            .ok_or_else(|| Error::not_found(format!("File update operation {operation_id}")))?;
        let watch = OperationWatch {
            db,
            operation_id,
            sent: None,
            ready: VecDeque::from([now]),
        };
        Ok(follow(heard, watch))
    }
}

async fn existing_notebook(db: &DatabaseConnection, id: i32) -> Result<(), Error> {
    notebooks::get(db, id)
        .await?
        .map(|_| ())
        .ok_or_else(|| Error::not_found(format!("Notebook {id}")))
}

/// What one subscription makes of the events it hears.
trait Watch: Send + 'static {
    type Item: Send + 'static;

    /// What to send for this event, if anything: items, or the end.
    fn on(&mut self, event: Event) -> impl Future<Output = Step<Self::Item>> + Send;

    /// Items already read and waiting to be sent, oldest first.
    fn next_ready(&mut self) -> Option<Self::Item> {
        None
    }

    /// Whether the last item sent was the last there is.
    fn is_done(&self) -> bool {
        false
    }
}

enum Step<T> {
    Send(T),
    Nothing,
    End,
    Failed(Error),
}

struct State<W> {
    heard: events::Subscription,
    watch: W,
    ended: bool,
}

/// A subscription's stream: its watch's items, an error and the end when it
/// fell behind (never a silent skip), the end when the process shuts down.
fn follow<W: Watch>(
    heard: events::Subscription,
    watch: W,
) -> impl Stream<Item = async_graphql::Result<W::Item>> + use<W> {
    let state = State {
        heard,
        watch,
        ended: false,
    };
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.watch.next_ready() {
                return Some((Ok(item), state));
            }
            if state.ended || state.watch.is_done() {
                return None;
            }
            let event = match state.heard.recv().await {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    state.ended = true;
                    return Some((Err(fell_behind(missed).into()), state));
                }
                Err(RecvError::Closed) => return None,
            };
            match state.watch.on(event).await {
                Step::Send(item) => return Some((Ok(item), state)),
                Step::Nothing => {}
                Step::End => state.ended = true,
                Step::Failed(error) => {
                    state.ended = true;
                    return Some((Err(error.into()), state));
                }
            }
        }
    })
}

fn fell_behind(missed: u64) -> Error {
    Error::Conflict(format!(
        "This subscription fell behind by {missed} changes and was ended: \
         read the latest state and subscribe again"
    ))
}

struct RevisionWatch {
    db: DatabaseConnection,
    kept: KeptRevisions,
    notebook_id: i32,
    /// The newest revision sent (or current when the subscription started).
    seen: i32,
    ready: VecDeque<Revision>,
}

impl RevisionWatch {
    /// Queues what was saved after `seen` up to `revision_id`: the revision
    /// this process kept when it follows `seen`, else all of them as read.
    async fn catch_up(&mut self, revision_id: i32) -> Result<(), Error> {
        if let Some(kept) = self
            .kept
            .following(self.notebook_id, self.seen, revision_id)
        {
            self.seen = revision_id;
            self.ready
                .push_back(Revision::from(revision::Model::clone(&kept)));
            return Ok(());
        }
        // Events from two instances may arrive out of order, and a kept
        // revision may be gone: read everything up to this one, in order.
        let saved =
            revisions::saved_between(&self.db, self.notebook_id, self.seen, revision_id).await?;
        if let Some(last) = saved.last() {
            self.seen = last.id;
        }
        self.ready.extend(saved.into_iter().map(Revision::from));
        Ok(())
    }
}

impl Watch for RevisionWatch {
    type Item = Revision;

    async fn on(&mut self, event: Event) -> Step<Revision> {
        match event {
            Event::RevisionSaved {
                notebook_id,
                revision_id,
            } if notebook_id == self.notebook_id && revision_id > self.seen => {
                match self.catch_up(revision_id).await {
                    Ok(()) => Step::Nothing,
                    Err(error) => Step::Failed(error),
                }
            }
            Event::NotebookChanged {
                notebook_id,
                deleted: true,
            } if notebook_id == self.notebook_id => Step::End,
            _ => Step::Nothing,
        }
    }

    fn next_ready(&mut self) -> Option<Revision> {
        self.ready.pop_front()
    }
}

struct NotebookWatch {
    db: DatabaseConnection,
    notebook_id: i32,
}

impl Watch for NotebookWatch {
    type Item = Notebook;

    async fn on(&mut self, event: Event) -> Step<Notebook> {
        let notebook_id = match event {
            Event::NotebookChanged {
                notebook_id,
                deleted: true,
            } if notebook_id == self.notebook_id => return Step::End,
            Event::RevisionSaved { notebook_id, .. }
            | Event::NotebookChanged { notebook_id, .. } => notebook_id,
            Event::OperationChanged { .. } => return Step::Nothing,
        };
        if notebook_id != self.notebook_id {
            return Step::Nothing;
        }
        match notebooks::get(&self.db, notebook_id).await {
            Ok(Some(notebook)) => Step::Send(Notebook::from(notebook)),
            // Deleted meanwhile: its own event ends the subscription.
            Ok(None) => Step::Nothing,
            Err(error) => Step::Failed(error),
        }
    }
}

struct OperationWatch {
    db: DatabaseConnection,
    operation_id: i32,
    /// The status last sent: an event heard while the first was read may
    /// tell it again.
    sent: Option<file_update_operation::Model>,
    ready: VecDeque<file_update_operation::Model>,
}

impl OperationWatch {
    /// Queues the operation as read now, if its status changed since the last
    /// one sent. A fetch can start and end between the event that told of its
    /// start and the read that follows (a 404 answers at once): the running
    /// state it went through is then rebuilt from the row and sent first, so
    /// that a subscriber hears every status the fetch had.
    fn queue(&mut self, now: file_update_operation::Model) {
        let last = self.sent.as_ref().map(|sent| sent.status);
        if last == Some(now.status) {
            return;
        }
        if last == Some(Status::Pending) && now.ended_at.is_some() && now.started_at.is_some() {
            self.ready.push_back(file_update_operation::Model {
                status: Status::Running,
                ended_at: None,
                failure_reason: None,
                ..now.clone()
            });
        }
        self.ready.push_back(now);
    }
}

impl Watch for OperationWatch {
    type Item = FileUpdateOperation;

    async fn on(&mut self, event: Event) -> Step<FileUpdateOperation> {
        match event {
            Event::OperationChanged { operation_id } if operation_id == self.operation_id => {}
            _ => return Step::Nothing,
        }
        match sources::operation(&self.db, self.operation_id).await {
            Ok(Some(operation)) => {
                self.queue(operation);
                Step::Nothing
            }
            // Its source was deleted, and the operation with it.
            Ok(None) => Step::End,
            Err(error) => Step::Failed(error),
        }
    }

    fn next_ready(&mut self) -> Option<FileUpdateOperation> {
        let operation = self.ready.pop_front()?;
        self.sent = Some(operation.clone());
        Some(FileUpdateOperation(operation))
    }

    fn is_done(&self) -> bool {
        self.sent
            .as_ref()
            .is_some_and(|operation| operation.ended_at.is_some())
    }
}
