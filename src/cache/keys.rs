//! What is cached, under which key, for how long. Every key here is invalidated
//! by the writes that change it (see the domain services). Keys never contain
//! '#' (usernames cannot), which the Redis backend uses for generations.

use std::time::Duration;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::entity::notebook;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CacheKey {
    /// A notebook with its latest revision and owner: what the editor opens.
    Notebook(i32),
    /// The newest notebooks, as many as the largest page, with their owners and
    /// latest revisions' titles: the front page.
    FirstNotebookPage,
    /// A user by username.
    User(String),
    /// The user of an API token, by the key's SHA-256 (hex): what the identity
    /// layer would otherwise read on every request that carries the token.
    ApiToken(String),
}

impl CacheKey {
    pub fn path(&self) -> String {
        match self {
            CacheKey::Notebook(id) => format!("notebook:{id}"),
            CacheKey::FirstNotebookPage => "notebooks:first-page".into(),
            CacheKey::User(username) => format!("user:{username}"),
            CacheKey::ApiToken(key_hash) => format!("api-token:{key_hash}"),
        }
    }

    /// An upper bound on staleness should an invalidation ever be lost (another
    /// process that has no way to reach this cache, such as the command line
    /// next to an in-process cache).
    pub fn ttl(&self) -> Duration {
        match self {
            CacheKey::Notebook(_) => Duration::from_secs(600),
            CacheKey::FirstNotebookPage => Duration::from_secs(300),
            CacheKey::User(_) | CacheKey::ApiToken(_) => Duration::from_secs(60),
        }
    }

    /// The keys that a change to these notebooks' rows makes stale: each one's
    /// own, and the front page.
    pub fn showing_notebooks(notebook_ids: &[i32]) -> Vec<CacheKey> {
        notebook_ids
            .iter()
            .map(|id| CacheKey::Notebook(*id))
            .chain([CacheKey::FirstNotebookPage])
            .collect()
    }

    /// The keys that show this user as an owner.
    pub async fn showing_owner(
        db: &impl ConnectionTrait,
        owner_id: i32,
    ) -> Result<Vec<CacheKey>, DbErr> {
        let ids: Vec<i32> = notebook::Entity::find()
            .select_only()
            .column(notebook::Column::Id)
            .filter(notebook::Column::OwnerId.eq(owner_id))
            .into_tuple()
            .all(db)
            .await?;
        Ok(CacheKey::showing_notebooks(&ids))
    }
}
