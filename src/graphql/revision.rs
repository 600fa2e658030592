use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};

use super::{
    context::{cache, clock, db, events, load_required, parse_id, to_id, viewer, writes},
    guards::CanRead,
    loaders::{NotebookById, RevisionById},
    notebook::Notebook,
};
use crate::{
    entity::revision,
    notebooks::revisions::{self, NewRevision},
};

/// Names of [`Revision`]'s fields that prefetching looks ahead for (see
/// [`super::notebook::fields`]).
pub mod fields {
    pub const CONTENT: &str = "content";
}

/// A revision as it was read. Lists of notebooks read it without its content,
/// which is then loaded only if a query asks for it. The content is shared, so
/// that handing a notebook's latest revision to a query copies only the head.
#[derive(Clone)]
pub struct Revision {
    head: revision::Head,
    content: Option<Arc<String>>,
}

impl From<revision::Model> for Revision {
    fn from(whole: revision::Model) -> Self {
        Revision {
            head: revision::Head {
                id: whole.id,
                notebook_id: whole.notebook_id,
                title: whole.title,
                is_draft: whole.is_draft,
                created_at: whole.created_at,
            },
            content: Some(Arc::new(whole.content)),
        }
    }
}

impl From<revision::Head> for Revision {
    fn from(head: revision::Head) -> Self {
        Revision {
            head,
            content: None,
        }
    }
}

/// One saved state of a notebook: its title and text at that moment. The editor
/// saves one every 30 seconds while someone types; pruning thins these drafts out.
/// Readable by whoever may read the notebook.
#[Object]
impl Revision {
    /// The revision's id: a database integer, as a string. The editor shows it at
    /// /notebooks/{notebookId}/?revision={id}.
    async fn id(&self) -> ID {
        to_id(self.head.id)
    }

    /// The notebook that this revision belongs to.
    async fn notebook(&self, ctx: &Context<'_>) -> async_graphql::Result<Notebook> {
        Ok(Notebook::from(
            load_required(ctx, NotebookById(self.head.notebook_id)).await?,
        ))
    }

    /// The notebook's title in this revision.
    async fn title(&self) -> &str {
        &self.head.title
    }

    /// The notebook's text in this revision (Iodide's jsmd); may be empty.
    async fn content(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(match &self.content {
            Some(content) => String::clone(content),
            None => {
                load_required(ctx, RevisionById(self.head.id))
                    .await?
                    .content
            }
        })
    }

    /// When the revision was saved.
    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.head.created_at
    }

    /// Saved by autosave and not yet kept by pruning. Pruning, in the background,
    /// looks at drafts older than 60 seconds: it keeps the first draft of every
    /// 60-second window, drops the others and those identical to the revision
    /// before, and marks the drafts it keeps as no longer drafts.
    async fn is_draft(&self) -> bool {
        self.head.is_draft
    }
}

#[derive(Default)]
pub struct RevisionQuery;

#[Object]
impl RevisionQuery {
    /// The revision with this id, of any notebook; null if there is none.
    #[graphql(guard = "CanRead")]
    async fn revision(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The revision's id.")] id: ID,
    ) -> async_graphql::Result<Option<Revision>> {
        let id = parse_id(&id, "revision")?;
        Ok(revisions::get(db(ctx), id).await?.map(Revision::from))
    }
}

/// A new revision: the notebook's title and text as they are now.
#[derive(InputObject)]
pub struct CreateRevisionInput {
    /// The notebook to save to; the viewer must own it.
    notebook_id: ID,
    /// The title: not empty, at most 255 characters. It becomes the notebook's.
    title: String,
    /// The text; may be empty. A revision with the same title and text as the
    /// latest one is refused (BAD_USER_INPUT).
    content: String,
    /// When given and not the latest revision's id: CONFLICT error, nothing saved.
    parent_revision_id: Option<ID>,
}

#[derive(Default)]
pub struct RevisionMutation;

#[Object]
impl RevisionMutation {
    /// Saves a revision of a notebook that the viewer owns: what the editor's
    /// autosave calls. The new revision is a draft.
    async fn create_revision(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notebook, and its new title and text.")] input: CreateRevisionInput,
    ) -> async_graphql::Result<Revision> {
        let new = NewRevision {
            notebook_id: parse_id(&input.notebook_id, "notebook")?,
            title: input.title,
            content: input.content,
            parent_revision_id: input
                .parent_revision_id
                .map(|id| parse_id(&id, "revision"))
                .transpose()?,
        };
        Ok(Revision::from(
            revisions::create(
                db(ctx),
                writes(ctx),
                cache(ctx),
                clock(ctx),
                events(ctx),
                viewer(ctx),
                new,
            )
            .await?,
        ))
    }

    /// Deletes one revision (not a notebook's only one); returns its id.
    async fn delete_revision(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The revision's id.")] id: ID,
    ) -> async_graphql::Result<ID> {
        let revision_id = parse_id(&id, "revision")?;
        revisions::delete(
            db(ctx),
            cache(ctx),
            clock(ctx),
            events(ctx),
            viewer(ctx),
            revision_id,
        )
        .await?;
        Ok(id)
    }
}
