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

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::entity::file_source::UpdateInterval")]
pub enum UpdateInterval {
    Daily,
    Weekly,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::entity::file_update_operation::Status")]
pub enum FileUpdateStatus {
    Pending,
    Running,
    Completed,
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

#[Object]
impl FileSource {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn notebook(&self, ctx: &Context<'_>) -> async_graphql::Result<Notebook> {
        Ok(Notebook::from(
            load_required(ctx, NotebookById(self.0.notebook_id)).await?,
        ))
    }

    /// The file that fetches fill.
    async fn filename(&self) -> &str {
        &self.0.filename
    }

    /// Owner only; null for everyone else.
    async fn url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let owner = owns_source_notebook(ctx, self.0.notebook_id).await?;
        Ok(owner.then_some(self.0.url.as_str()))
    }

    /// null: refreshed only on demand.
    async fn update_interval(&self) -> Option<UpdateInterval> {
        self.0.update_interval.map(Into::into)
    }

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

#[Object]
impl FileUpdateOperation {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn file_source(&self, ctx: &Context<'_>) -> async_graphql::Result<FileSource> {
        Ok(FileSource(
            load_required(ctx, FileSourceById(self.0.file_source_id)).await?,
        ))
    }

    async fn status(&self) -> FileUpdateStatus {
        self.0.status.into()
    }

    async fn scheduled_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.scheduled_at
    }

    async fn started_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0.started_at
    }

    async fn ended_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0.ended_at
    }

    /// Owner only; null for everyone else.
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
    #[graphql(guard = "CanRead")]
    async fn file_update_operation(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<FileUpdateOperation>> {
        let id = parse_id(&id, "file update operation")?;
        Ok(sources::operation(db(ctx), id)
            .await?
            .map(FileUpdateOperation))
    }
}

#[derive(InputObject)]
pub struct CreateFileSourceInput {
    notebook_id: ID,
    filename: String,
    /// An http or https URL.
    url: String,
    update_interval: Option<UpdateInterval>,
}

#[derive(InputObject)]
pub struct UpdateFileSourceInput {
    id: ID,
    filename: Option<String>,
    url: Option<String>,
    /// Omit to keep the schedule; null to refresh only on demand.
    update_interval: MaybeUndefined<UpdateInterval>,
}

#[derive(Default)]
pub struct FileSourceMutation;

#[Object]
impl FileSourceMutation {
    async fn create_file_source(
        &self,
        ctx: &Context<'_>,
        input: CreateFileSourceInput,
    ) -> async_graphql::Result<FileSource> {
        let new = NewFileSource {
            notebook_id: parse_id(&input.notebook_id, "notebook")?,
            filename: input.filename,
            url: input.url,
            update_interval: input.update_interval.map(Into::into),
        };
        Ok(FileSource(
            sources::create(db(ctx), viewer(ctx), new).await?,
        ))
    }

    async fn update_file_source(
        &self,
        ctx: &Context<'_>,
        input: UpdateFileSourceInput,
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
            sources::update(db(ctx), viewer(ctx), id, changes).await?,
        ))
    }

    /// Deletes a file source (not its file); returns its id.
    async fn delete_file_source(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let source_id = parse_id(&id, "file source")?;
        sources::delete(db(ctx), viewer(ctx), source_id).await?;
        Ok(id)
    }

    /// Queue a fetch of the source's URL now.
    async fn refresh_file_source(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<FileUpdateOperation> {
        let id = parse_id(&id, "file source")?;
        Ok(FileUpdateOperation(
            sources::refresh(db(ctx), events(ctx), viewer(ctx), id).await?,
        ))
    }
}
