use async_graphql::{Context, ID, InputObject, Object, connection::Connection};

use super::{
    connection::{IdCursor, NotebookTotal, PageArgs, RevisionTotal, connection},
    context::{cache, db, load, load_required, parse_id, to_id, viewer},
    file::File,
    file_source::FileSource,
    guards::CanRead,
    limits::{self, page_cost},
    loaders::{
        FileSourcesOf, FilesOf, LatestRevision, LatestRevisionHead, RevisionById, RevisionCount,
        UserById, prefetch_notebooks, remember,
    },
    revision::Revision,
    user::User,
};
use crate::{
    entity::{notebook, revision},
    error::Result,
    notebooks::{self, NewNotebook, NotebookFilter, NotebookWithLatest, revisions::RevisionFilter},
    policy,
};

/// A notebook, with its latest revision when it was read (or cached) with it.
pub struct Notebook(pub notebook::Model, Option<revision::Model>);

impl From<notebook::Model> for Notebook {
    fn from(notebook: notebook::Model) -> Self {
        Notebook(notebook, None)
    }
}

impl From<NotebookWithLatest> for Notebook {
    fn from(read: NotebookWithLatest) -> Self {
        Notebook(read.notebook, Some(read.latest_revision))
    }
}

#[Object]
impl Notebook {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The latest revision's title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        Ok(User(load_required(ctx, UserById(self.0.owner_id)).await?))
    }

    /// The revision this notebook was forked from; null if it was not a fork or
    /// that notebook was deleted.
    async fn forked_from(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Revision>> {
        let Some(id) = self.0.forked_from_id else {
            return Ok(None);
        };
        Ok(load(ctx, RevisionById(id)).await?.map(Revision::from))
    }

    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.updated_at
    }

    async fn latest_revision(&self, ctx: &Context<'_>) -> async_graphql::Result<Revision> {
        if let Some(latest) = &self.1 {
            return Ok(Revision::from(latest.clone()));
        }
        if ctx.look_ahead().field("content").exists() {
            let whole = load_required(ctx, LatestRevision(self.0.id)).await?;
            return Ok(Revision::from(whole));
        }
        let head = load_required(ctx, LatestRevisionHead(self.0.id)).await?;
        Ok(Revision::from(head))
    }

    async fn revision_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let count = load(ctx, RevisionCount(self.0.id)).await?.unwrap_or(0);
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }

    /// Newest first. ids filters to those revisions.
    #[graphql(complexity = "page_cost(first, last) * child_complexity")]
    async fn revisions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        ids: Option<Vec<ID>>,
    ) -> async_graphql::Result<Connection<IdCursor, Revision, RevisionTotal>> {
        if let Some(ids) = &ids {
            limits::check_list_length("ids", ids.len())?;
        }
        let ids = ids
            .map(|ids| {
                ids.iter()
                    .map(|id| parse_id(id, "revision"))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        let filter = RevisionFilter {
            notebook_id: self.0.id,
            ids,
        };
        let request = PageArgs {
            first,
            after,
            last,
            before,
        }
        .into_request()?;
        let page = notebooks::revisions::list(db(ctx), &filter, &request).await?;
        Ok(connection(
            page,
            RevisionTotal(filter),
            |r| r.id,
            Revision::from,
        ))
    }

    async fn files(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<File>> {
        let files = load(ctx, FilesOf(self.0.id)).await?.unwrap_or_default();
        Ok(files.into_iter().map(File).collect())
    }

    async fn file_sources(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<FileSource>> {
        let sources = load(ctx, FileSourcesOf(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(sources.into_iter().map(FileSource).collect())
    }

    /// Whether the current viewer may write to this notebook.
    async fn viewer_can_edit(&self, ctx: &Context<'_>) -> bool {
        policy::can_edit_notebook(viewer(ctx), &self.0)
    }
}

/// A page of notebooks matching `filter`.
pub async fn notebook_connection(
    ctx: &Context<'_>,
    filter: NotebookFilter,
    page: PageArgs,
) -> Result<Connection<IdCursor, Notebook, NotebookTotal>> {
    let request = page.into_request()?;
    let listed = notebooks::list(db(ctx), cache(ctx), &filter, &request).await?;
    remember(ctx, listed.owners, listed.latest_heads).await;
    let page = listed.page;
    prefetch_notebooks(ctx, &page.items).await?;
    Ok(connection(
        page,
        NotebookTotal(filter),
        |nb| nb.id,
        Notebook::from,
    ))
}

#[derive(Default)]
pub struct NotebookQuery;

#[Object]
impl NotebookQuery {
    #[graphql(guard = "CanRead")]
    async fn notebook(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Notebook>> {
        let id = parse_id(&id, "notebook")?;
        let Some(read) = notebooks::get_with_latest(db(ctx), cache(ctx), id).await? else {
            return Ok(None);
        };
        remember(ctx, vec![read.owner.clone()], vec![]).await;
        Ok(Some(Notebook::from(read)))
    }

    /// Keyset (cursor) pagination, newest first; first/last at most 100.
    #[graphql(
        guard = "CanRead",
        complexity = "page_cost(first, last) * child_complexity"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn notebooks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(desc = "Only this user's notebooks.")] owner: Option<String>,
        #[graphql(desc = "Only notebooks whose title contains this text, in any case.")]
        search: Option<String>,
    ) -> async_graphql::Result<Connection<IdCursor, Notebook, NotebookTotal>> {
        let page = PageArgs {
            first,
            after,
            last,
            before,
        };
        let owner_id = match owner {
            None => None,
            Some(username) => {
                match notebooks::owner_filter(db(ctx), cache(ctx), &username).await? {
                    Some(id) => Some(id),
                    // Nobody by that name: an empty list, as for a user without notebooks.
                    None => Some(0),
                }
            }
        };
        Ok(notebook_connection(ctx, NotebookFilter { owner_id, search }, page).await?)
    }
}

#[derive(InputObject)]
pub struct CreateNotebookInput {
    title: String,
    content: String,
    /// Fork: the revision this notebook starts from.
    forked_from: Option<ID>,
    /// Create for another user: needs canCreateOnBehalfOfOthers.
    owner: Option<String>,
}

#[derive(Default)]
pub struct NotebookMutation;

#[Object]
impl NotebookMutation {
    async fn create_notebook(
        &self,
        ctx: &Context<'_>,
        input: CreateNotebookInput,
    ) -> async_graphql::Result<Notebook> {
        let new = NewNotebook {
            title: input.title,
            content: input.content,
            forked_from: input
                .forked_from
                .map(|id| parse_id(&id, "revision"))
                .transpose()?,
            owner: input.owner,
        };
        Ok(Notebook::from(
            notebooks::create(db(ctx), cache(ctx), viewer(ctx), new).await?,
        ))
    }

    /// Renames the notebook by saving a revision with the new title.
    async fn update_notebook_title(
        &self,
        ctx: &Context<'_>,
        id: ID,
        title: String,
    ) -> async_graphql::Result<Notebook> {
        let id = parse_id(&id, "notebook")?;
        Ok(Notebook::from(
            notebooks::update_title(db(ctx), cache(ctx), viewer(ctx), id, title).await?,
        ))
    }

    /// Deletes the notebook with its revisions, files and sources; returns its id.
    async fn delete_notebook(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let notebook_id = parse_id(&id, "notebook")?;
        notebooks::delete(db(ctx), cache(ctx), viewer(ctx), notebook_id).await?;
        Ok(id)
    }
}
