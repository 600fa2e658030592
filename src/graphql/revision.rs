use async_graphql::{Context, ID, InputObject, Object};

use super::{
    context::{cache, db, load_required, parse_id, to_id, viewer},
    guards::CanRead,
    loaders::{NotebookById, RevisionById},
    notebook::Notebook,
};
use crate::{
    entity::revision,
    notebooks::revisions::{self, NewRevision},
};

/// A revision as it was read: whole, or without its content (lists of
/// notebooks), in which case the content is loaded if a query asks for it.
pub enum Revision {
    Whole(revision::Model),
    Head(revision::Head),
}

impl Revision {
    fn id_number(&self) -> i32 {
        match self {
            Revision::Whole(whole) => whole.id,
            Revision::Head(head) => head.id,
        }
    }

    fn notebook_id(&self) -> i32 {
        match self {
            Revision::Whole(whole) => whole.notebook_id,
            Revision::Head(head) => head.notebook_id,
        }
    }
}

#[Object]
impl Revision {
    async fn id(&self) -> ID {
        to_id(self.id_number())
    }

    async fn notebook(&self, ctx: &Context<'_>) -> async_graphql::Result<Notebook> {
        Ok(Notebook::from(
            load_required(ctx, NotebookById(self.notebook_id())).await?,
        ))
    }

    async fn title(&self) -> &str {
        match self {
            Revision::Whole(whole) => &whole.title,
            Revision::Head(head) => &head.title,
        }
    }

    async fn content(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(match self {
            Revision::Whole(whole) => whole.content.clone(),
            Revision::Head(head) => load_required(ctx, RevisionById(head.id)).await?.content,
        })
    }

    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        match self {
            Revision::Whole(whole) => whole.created_at,
            Revision::Head(head) => head.created_at,
        }
    }

    /// Saved by autosave and not yet kept by pruning.
    async fn is_draft(&self) -> bool {
        match self {
            Revision::Whole(whole) => whole.is_draft,
            Revision::Head(head) => head.is_draft,
        }
    }
}

#[derive(Default)]
pub struct RevisionQuery;

#[Object]
impl RevisionQuery {
    #[graphql(guard = "CanRead")]
    async fn revision(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Revision>> {
        let id = parse_id(&id, "revision")?;
        Ok(revisions::get(db(ctx), id).await?.map(Revision::Whole))
    }
}

#[derive(InputObject)]
pub struct CreateRevisionInput {
    notebook_id: ID,
    title: String,
    content: String,
    /// When given and not the latest revision's id: CONFLICT error, nothing saved.
    parent_revision_id: Option<ID>,
}

#[derive(Default)]
pub struct RevisionMutation;

#[Object]
impl RevisionMutation {
    async fn create_revision(
        &self,
        ctx: &Context<'_>,
        input: CreateRevisionInput,
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
        Ok(Revision::Whole(
            revisions::create(db(ctx), cache(ctx), viewer(ctx), new).await?,
        ))
    }

    /// Deletes one revision (not a notebook's only one); returns its id.
    async fn delete_revision(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let revision_id = parse_id(&id, "revision")?;
        revisions::delete(db(ctx), cache(ctx), viewer(ctx), revision_id).await?;
        Ok(id)
    }
}
