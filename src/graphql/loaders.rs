//! One request-scoped DataLoader with a key type per relation, so that a page of
//! notebooks with owners, latest revisions and files costs one query per relation,
//! whatever the page size. The queries themselves belong to the domain services.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use sea_orm::DatabaseConnection;

use crate::{
    entity::{file::FileMeta, file_source, file_update_operation, notebook, revision, user},
    error::{Error, Result},
    files, notebooks, users,
};

pub struct DbLoader {
    db: DatabaseConnection,
}

impl DbLoader {
    pub fn new(db: DatabaseConnection) -> Self {
        DbLoader { db }
    }
}

/// Declares a key type and its batch query.
macro_rules! batch_key {
    ($(#[$doc:meta])* $key:ident => $value:ty, $query:path) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i32);

        impl Loader<$key> for DbLoader {
            type Value = $value;
            type Error = Arc<Error>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, Arc<Error>> {
                let ids: Vec<i32> = keys.iter().map(|key| key.0).collect();
                let found = $query(&self.db, &ids).await.map_err(Arc::new)?;
                Ok(found.into_iter().map(|(id, value)| ($key(id), value)).collect())
            }
        }
    };
}

batch_key!(UserById => user::Model, users::by_ids);
batch_key!(NotebookById => notebook::Model, notebooks::by_ids);
batch_key!(RevisionById => revision::Model, notebooks::revisions::by_ids);
batch_key!(
    /// Keyed by notebook id.
    LatestRevision => revision::Model, notebooks::revisions::latest_for
);
batch_key!(
    /// Keyed by notebook id.
    RevisionCount => i64, notebooks::revisions::counts_for
);
batch_key!(
    /// Keyed by notebook id.
    FilesOf => Vec<FileMeta>, files::metas_for
);
batch_key!(
    /// Keyed by notebook id.
    FileSourcesOf => Vec<file_source::Model>, files::sources::for_notebooks
);
batch_key!(FileSourceById => file_source::Model, files::sources::by_ids);
batch_key!(
    /// Keyed by file source id.
    LatestOperation => file_update_operation::Model, files::sources::latest_operations
);
