use async_graphql::{Context, ID, Object, connection::Connection};

use super::{
    connection::{IdCursor, NotebookTotal, PageArgs},
    context::{cache, db, to_id, viewer},
    guards::CanRead,
    limits::page_cost,
    notebook::{Notebook, notebook_connection},
};
use crate::{entity::user, notebooks::NotebookFilter, policy, users};

pub struct User(pub user::Model);

/// Someone who can sign in and own notebooks: a person, or a service that uses an
/// API token. Anyone who may read the server may read a user's public fields.
#[Object]
impl User {
    /// The user's id: a database integer, as a string.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The unique sign-in name (from GitHub or the identity proxy): at most 150
    /// letters, digits or `_ . @ + -`.
    async fn username(&self) -> &str {
        &self.0.username
    }

    /// The name to show, from GitHub; null when unknown.
    async fn full_name(&self) -> Option<&str> {
        self.0.full_name.as_deref()
    }

    /// The URL of the user's picture, from GitHub; null when unknown.
    async fn avatar(&self) -> Option<&str> {
        self.0.avatar.as_deref()
    }

    /// The user's email address. Only the user themself (and staff) can read it;
    /// others get null.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        self.private(ctx).and(self.0.email.as_deref())
    }

    /// Whether the user may create notebooks owned by other usernames
    /// (CreateNotebookInput.owner). Only the user themself (and staff) can read it;
    /// others get null.
    async fn can_create_on_behalf_of_others(&self, ctx: &Context<'_>) -> Option<bool> {
        self.private(ctx)
            .map(|_| self.0.can_create_on_behalf_of_others)
    }

    /// Whether the user is staff: staff read everything on a private server and
    /// manage API tokens, but do not write into other users' notebooks.
    async fn is_staff(&self) -> bool {
        self.0.is_staff
    }

    /// The user's notebooks, newest first, a page at a time (20 unless first or
    /// last says otherwise, at most 100).
    #[graphql(complexity = "page_cost(first, last) * child_complexity")]
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
    ) -> async_graphql::Result<Connection<IdCursor, Notebook, NotebookTotal>> {
        let filter = NotebookFilter {
            owner_id: Some(self.0.id),
            search: None,
        };
        let page = PageArgs {
            first,
            after,
            last,
            before,
        };
        Ok(notebook_connection(ctx, filter, page).await?)
    }
}

impl User {
    fn private(&self, ctx: &Context<'_>) -> Option<()> {
        policy::can_see_private_user_fields(viewer(ctx), &self.0).then_some(())
    }
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user, or null when anonymous.
    async fn viewer(&self, ctx: &Context<'_>) -> Option<User> {
        viewer(ctx).user.clone().map(User)
    }

    /// The user with this username; null if there is none.
    #[graphql(guard = "CanRead")]
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's username, as in User.username.")] username: String,
    ) -> async_graphql::Result<Option<User>> {
        Ok(users::cached_by_username(db(ctx), cache(ctx), &username)
            .await?
            .map(User))
    }
}
