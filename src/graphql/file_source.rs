use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object};

use super::{
    context::{db, events, load, load_required, parse_id, to_id, viewer},
    guards::CanRead,
    loaders::{FileSourceById, LatestOperation, NotebookById},
    notebook::Notebook,
};
use crate::{
    entity::{file_source, file_update_operation},
    error::Result,
    files::sources::{self, FileSourceChanges, NewFileSource},
    policy,
};

/// How often the server fetches a file source's URL by itself.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::entity::file_source::UpdateInterval")]
pub enum UpdateInterval {
    /// Once a day.
    Daily,
    /// Once a week.
    Weekly,
}

/// Where a fetch of a file source stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::entity::file_update_operation::Status")]
pub enum FileUpdateStatus {
    /// Queued: no worker has taken it yet.
    Pending,
    /// A worker is fetching the URL now.
    Running,
    /// Done: the file holds the fetched bytes.
    Completed,
    /// The fetch failed; failureReason says why (to the notebook's owner).
    Failed,
}

/// Whether the viewer owns the notebook behind a source: its URL and failures
/// are theirs alone.
async fn owns_source_notebook(ctx: &Context<'_>, notebook_id: i32) -> Result<bool> {
    let notebook = load_required(ctx, NotebookById(notebook_id)).await?;
    Ok(policy::can_see_owner_only_fields(
        viewer(ctx),
        notebook.owner_id,
    ))
}

pub struct FileSource(pub file_source::Model);

/// A URL that the server fetches into one of a notebook's files: on demand
/// (refreshFileSource), daily or weekly. Readable by whoever may read the
/// notebook, except its URL; only the notebook's owner may change it.
#[Object]
impl FileSource {
    /// The file source's id: a database integer, as a string.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The notebook whose file the source fills.
    async fn notebook(&self, ctx: &Context<'_>) -> async_graphql::Result<Notebook> {
        Ok(Notebook::from(
            load_required(ctx, NotebookById(self.0.notebook_id)).await?,
        ))
    }

    /// The file that fetches fill: the name of a file of the notebook.
    async fn filename(&self) -> &str {
        &self.0.filename
    }

    /// The URL fetched. Owner only; null for everyone else.
    async fn url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let owner = owns_source_notebook(ctx, self.0.notebook_id).await?;
        Ok(owner.then_some(self.0.url.as_str()))
    }

    /// How often the server fetches the URL by itself; null: refreshed only on
    /// demand.
    async fn update_interval(&self) -> Option<UpdateInterval> {
        self.0.update_interval.map(Into::into)
    }

    /// The latest fetch, queued, running or done; null if there was none.
    async fn latest_update_operation(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<FileUpdateOperation>> {
        Ok(load(ctx, LatestOperation(self.0.id))
            .await?
            .map(FileUpdateOperation))
    }
}

pub struct FileUpdateOperation(pub file_update_operation::Model);

/// One fetch of a file source's URL into its file, queued by refreshFileSource or
/// by the schedule, and run by a background worker.
#[Object]
impl FileUpdateOperation {
    /// The operation's id: a database integer, as a string.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The file source fetched.
    async fn file_source(&self, ctx: &Context<'_>) -> async_graphql::Result<FileSource> {
        Ok(FileSource(
            load_required(ctx, FileSourceById(self.0.file_source_id)).await?,
        ))
    }

    /// Where the fetch stands.
    async fn status(&self) -> FileUpdateStatus {
        self.0.status.into()
    }

    /// When the fetch was queued.
    async fn scheduled_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.scheduled_at
    }

    /// When a worker started it; null while it waits.
    async fn started_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0.started_at
    }

    /// When it completed or failed; null until then.
    async fn ended_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0.ended_at
    }

    /// Why the fetch failed, in words; null if it did not. Owner only; null for
    /// everyone else.
    async fn failure_reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let Some(reason) = self.0.failure_reason.as_deref() else {
            return Ok(None);
        };
        let source = load_required(ctx, FileSourceById(self.0.file_source_id)).await?;
        let owner = owns_source_notebook(ctx, source.notebook_id).await?;
        Ok(owner.then_some(reason))
    }
}

#[derive(Default)]
pub struct FileSourceQuery;

#[Object]
impl FileSourceQuery {
    /// The fetch with this id (as refreshFileSource returns it); null if there is
    /// none.
    #[graphql(guard = "CanRead")]
    async fn file_update_operation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The operation's id.")] id: ID,
    ) -> async_graphql::Result<Option<FileUpdateOperation>> {
        let id = parse_id(&id, "file update operation")?;
        Ok(sources::operation(db(ctx), id)
            .await?
            .map(FileUpdateOperation))
    }
}

/// A URL for the server to fetch into one of a notebook's files.
#[derive(InputObject)]
pub struct CreateFileSourceInput {
    /// The notebook whose file the source fills; the viewer must own it.
    notebook_id: ID,
    /// The file that fetches fill: at most 120 characters, no slash; one source
    /// per filename in a notebook.
    filename: String,
    /// An http or https URL, at most 2,048 characters. Fetches from private,
    /// loopback or link-local addresses fail.
    url: String,
    /// How often to fetch it by itself; omit or null to fetch only on demand.
    update_interval: Option<UpdateInterval>,
}

/// Changes to a file source; what is omitted stays as it is.
#[derive(InputObject)]
pub struct UpdateFileSourceInput {
    /// The file source to change; the viewer must own its notebook.
    id: ID,
    /// A new name for the file that fetches fill: at most 120 characters, no slash.
    filename: Option<String>,
    /// A new http or https URL, at most 2,048 characters.
    url: Option<String>,
    /// Omit to keep the schedule; null to refresh only on demand.
    update_interval: MaybeUndefined<UpdateInterval>,
}

#[derive(Default)]
pub struct FileSourceMutation;

#[Object]
impl FileSourceMutation {
    /// Adds a URL for the server to fetch into a file of a notebook that the viewer
    /// owns. Nothing is fetched until refreshFileSource or the schedule asks.
    async fn create_file_source(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notebook, the filename, the URL and the schedule.")]
        input: CreateFileSourceInput,
    ) -> async_graphql::Result<FileSource> {
        let new = NewFileSource {
            notebook_id: parse_id(&input.notebook_id, "notebook")?,
            filename: input.filename,
            url: input.url,
            update_interval: input.update_interval.map(Into::into),
        };
        Ok(FileSource(
            sources::create(db(ctx), events(ctx), viewer(ctx), new).await?,
        ))
    }

    /// Changes a file source's filename, URL or schedule.
    async fn update_file_source(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file source, and what to change.")] input: UpdateFileSourceInput,
    ) -> async_graphql::Result<FileSource> {
        let id = parse_id(&input.id, "file source")?;
        let changes = FileSourceChanges {
            filename: input.filename,
            url: input.url,
            update_interval: match input.update_interval {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(interval) => Some(Some(interval.into())),
            },
        };
        Ok(FileSource(
            sources::update(db(ctx), events(ctx), viewer(ctx), id, changes).await?,
        ))
    }

    /// Deletes a file source (not its file); returns its id.
    async fn delete_file_source(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file source's id.")] id: ID,
    ) -> async_graphql::Result<ID> {
        let source_id = parse_id(&id, "file source")?;
        sources::delete(db(ctx), events(ctx), viewer(ctx), source_id).await?;
        Ok(id)
    }

    /// Queue a fetch of the source's URL now.
    async fn refresh_file_source(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file source's id.")] id: ID,
    ) -> async_graphql::Result<FileUpdateOperation> {
        let id = parse_id(&id, "file source")?;
        Ok(FileUpdateOperation(
            sources::refresh(db(ctx), events(ctx), viewer(ctx), id).await?,
        ))
    }
}
