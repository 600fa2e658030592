use async_graphql::{Context, ID, InputObject, Object, connection::Connection};

use super::{
    connection::{IdCursor, NotebookTotal, PageArgs, RevisionTotal, connection},
    context::{cache, clock, db, events, load, load_required, parse_id, to_id, viewer, writes},
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
    entity::notebook,
    error::Result,
    notebooks::{self, NewNotebook, NotebookFilter, NotebookWithLatest, revisions::RevisionFilter},
    policy,
};

/// Names of [`Notebook`]'s fields that [`prefetch_notebooks`] looks ahead for.
/// async-graphql names a field only inside its derive, from a literal or the
/// method's name, so they are written once here, beside the type, and a test
/// checks each against the schema.
pub mod fields {
    pub const OWNER: &str = "owner";
    pub const LATEST_REVISION: &str = "latestRevision";
    pub const REVISION_COUNT: &str = "revisionCount";
    pub const FILES: &str = "files";
    pub const FILE_SOURCES: &str = "fileSources";
}

/// A notebook, with its latest revision when it was read (or cached) with it.
pub struct Notebook(pub notebook::Model, Option<Revision>);

impl From<notebook::Model> for Notebook {
    fn from(notebook: notebook::Model) -> Self {
        Notebook(notebook, None)
    }
}

impl From<NotebookWithLatest> for Notebook {
    fn from(read: NotebookWithLatest) -> Self {
        Notebook(read.notebook, Some(Revision::from(read.latest_revision)))
    }
}

/// A notebook: its text and title, kept as a history of revisions, and the files
/// attached to it. Whoever may read the server may read it (on a private server,
/// anyone signed in); only its owner may change it.
#[Object]
impl Notebook {
    /// The notebook's id: a database integer, as a string. The editor opens the
    /// notebook at /notebooks/{id}/.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The latest revision's title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The user who owns the notebook: the only one who may change it.
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

    /// When the notebook was created.
    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.created_at
    }

    /// When the notebook last changed.
    async fn updated_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.updated_at
    }

    /// The newest revision: the notebook's current title and text.
    async fn latest_revision(&self, ctx: &Context<'_>) -> async_graphql::Result<Revision> {
        if let Some(latest) = &self.1 {
            return Ok(latest.clone());
        }
        if ctx.look_ahead().field("content").exists() {
            let whole = load_required(ctx, LatestRevision(self.0.id)).await?;
            return Ok(Revision::from(whole));
        }
        let head = load_required(ctx, LatestRevisionHead(self.0.id)).await?;
        Ok(Revision::from(head))
    }

    /// How many revisions the notebook has, drafts included.
    async fn revision_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let count = load(ctx, RevisionCount(self.0.id)).await?.unwrap_or(0);
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }

    /// Newest first. ids filters to those revisions. first/last at most 100 (20
    /// when neither is given).
    #[graphql(complexity = "page_cost(first, last) * child_complexity")]
    async fn revisions(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many revisions to return, newest first (after `after`, when given): 0 to 100."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Return the revisions after this cursor (an edge's cursor or pageInfo.endCursor): older ones."
        )]
        after: Option<String>,
        #[graphql(
            desc = "How many revisions to return from the oldest end (before `before`, when given): 0 to 100. Not with first."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Return the revisions before this cursor (an edge's cursor or pageInfo.startCursor): newer ones."
        )]
        before: Option<String>,
        #[graphql(desc = "Only the revisions with these ids (at most 100 of them).")] ids: Option<
            Vec<ID>,
        >,
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

    /// The files attached to the notebook, each at most 10 MiB.
    async fn files(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<File>> {
        let files = load(ctx, FilesOf(self.0.id)).await?.unwrap_or_default();
        Ok(files.into_iter().map(File).collect())
    }

    /// The URLs that the server fetches into the notebook's files.
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
    /// The notebook with this id; null if there is none.
    #[graphql(guard = "CanRead")]
    async fn notebook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notebook's id.")] id: ID,
    ) -> async_graphql::Result<Option<Notebook>> {
        let id = parse_id(&id, "notebook")?;
        let Some(read) = notebooks::get_with_latest(db(ctx), cache(ctx), id).await? else {
            return Ok(None);
        };
        remember(ctx, vec![read.owner.clone()], vec![]).await;
        Ok(Some(Notebook::from(read)))
    }

    /// All notebooks, or those that owner and search select. Keyset (cursor)
    /// pagination, newest first; first/last at most 100 (20 when neither is given).
    #[graphql(
        guard = "CanRead",
        complexity = "page_cost(first, last) * child_complexity"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn notebooks(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many notebooks to return, newest first (after `after`, when given): 0 to 100."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Return the notebooks after this cursor (an edge's cursor or pageInfo.endCursor): older ones."
        )]
        after: Option<String>,
        #[graphql(
            desc = "How many notebooks to return from the oldest end (before `before`, when given): 0 to 100. Not with first."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Return the notebooks before this cursor (an edge's cursor or pageInfo.startCursor): newer ones."
        )]
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

/// A new notebook and its first revision.
#[derive(InputObject)]
pub struct CreateNotebookInput {
    /// The title: not empty, at most 255 characters.
    title: String,
    /// The text of the first revision; may be empty.
    content: String,
    /// Fork: the revision this notebook starts from.
    forked_from: Option<ID>,
    /// Create for another user: needs canCreateOnBehalfOfOthers. The username is
    /// created if nobody has it yet.
    owner: Option<String>,
}

#[derive(Default)]
pub struct NotebookMutation;

#[Object]
impl NotebookMutation {
    /// Creates a notebook with its first revision, owned by the viewer (or by
    /// input.owner).
    async fn create_notebook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notebook's title and text.")] input: CreateNotebookInput,
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
            notebooks::create(db(ctx), cache(ctx), clock(ctx), viewer(ctx), new).await?,
        ))
    }

    /// Renames the notebook by saving a revision with the new title.
    async fn update_notebook_title(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notebook's id.")] id: ID,
        #[graphql(desc = "The new title: not empty, at most 255 characters.")] title: String,
    ) -> async_graphql::Result<Notebook> {
        let id = parse_id(&id, "notebook")?;
        Ok(Notebook::from(
            notebooks::update_title(
                db(ctx),
                writes(ctx),
                cache(ctx),
                clock(ctx),
                events(ctx),
                viewer(ctx),
                id,
                title,
            )
            .await?,
        ))
    }

    /// Deletes the notebook with its revisions, files and sources; returns its id.
    async fn delete_notebook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notebook's id.")] id: ID,
    ) -> async_graphql::Result<ID> {
        let notebook_id = parse_id(&id, "notebook")?;
        notebooks::delete(db(ctx), cache(ctx), events(ctx), viewer(ctx), notebook_id).await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{OutputType, registry::Registry};

    use super::{Notebook, fields};
    use crate::graphql::revision::{self, Revision};

    fn has_field<T: OutputType>(field: &str) -> bool {
        let mut registry = Registry::default();
        T::create_type_info(&mut registry);
        registry.types[&*T::type_name()]
            .field_by_name(field)
            .is_some()
    }

    #[test]
    fn the_prefetched_field_names_are_the_schemas() {
        for field in [
            fields::OWNER,
            fields::LATEST_REVISION,
            fields::REVISION_COUNT,
            fields::FILES,
            fields::FILE_SOURCES,
        ] {
            assert!(has_field::<Notebook>(field), "Notebook.{field}");
        }
        assert!(has_field::<Revision>(revision::fields::CONTENT));
        assert!(!has_field::<Notebook>("latest_revision"));
    }
}
