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

#[Object]
impl User {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn username(&self) -> &str {
        &self.0.username
    }

    async fn full_name(&self) -> Option<&str> {
        self.0.full_name.as_deref()
    }

    async fn avatar(&self) -> Option<&str> {
        self.0.avatar.as_deref()
    }

    /// Only the user themself (and staff) can read these two; others get null.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        self.private(ctx).and(self.0.email.as_deref())
    }

    /// Only the user themself (and staff) can read these two; others get null.
    async fn can_create_on_behalf_of_others(&self, ctx: &Context<'_>) -> Option<bool> {
        self.private(ctx)
            .map(|_| self.0.can_create_on_behalf_of_others)
    }

    async fn is_staff(&self) -> bool {
        self.0.is_staff
    }

    /// The user's notebooks, newest first.
    #[graphql(complexity = "page_cost(first, last) * child_complexity")]
    async fn notebooks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
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

    #[graphql(guard = "CanRead")]
    async fn user(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<Option<User>> {
        Ok(users::cached_by_username(db(ctx), cache(ctx), &username)
            .await?
            .map(User))
    }
}
