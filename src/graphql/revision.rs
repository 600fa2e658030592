use async_graphql::{Context, ID, InputObject, Object};

use super::{
    context::{cache, db, load_required, parse_id, to_id, viewer},
    guards::CanRead,
    loaders::NotebookById,
    notebook::Notebook,
};
use crate::{
    entity::revision,
    notebooks::revisions::{self, NewRevision},
};

pub struct Revision(pub revision::Model);

#[Object]
impl Revision {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn notebook(&self, ctx: &Context<'_>) -> async_graphql::Result<Notebook> {
        Ok(Notebook::from(
            load_required(ctx, NotebookById(self.0.notebook_id)).await?,
        ))
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn content(&self) -> &str {
        &self.0.content
    }

    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.created_at
    }

    /// Saved by autosave and not yet kept by pruning.
    async fn is_draft(&self) -> bool {
        self.0.is_draft
    }
}

#[derive(Default)]
pub struct RevisionQuery;

#[Object]
impl RevisionQuery {
    #[graphql(guard = "CanRead")]
    async fn revision(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Revision>> {
        let id = parse_id(&id, "revision")?;
        Ok(revisions::get(db(ctx), id).await?.map(Revision))
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
        Ok(Revision(
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
