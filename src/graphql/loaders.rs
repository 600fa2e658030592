//! One request-scoped DataLoader with a key type per relation, so that a page of
//! notebooks with owners, latest revisions and files costs one query per relation,
//! whatever the page size. The queries themselves belong to the domain services.
//!
//! A DataLoader batch closes a moment after its first key, and async-graphql
//! resolves a long list in slices, so on a busy machine one list can straddle two
//! batches. Lists therefore prefetch the relations that the query selects (see
//! [`prefetch_notebooks`]) into the loader's request-scoped cache, which makes
//! the number of queries per page exact. Documents that write get a loader that
//! remembers nothing, so that nothing read before a write is served after it.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{
    Context,
    dataloader::{DataLoader, HashMapCache, Loader},
};
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
    /// Keyed by notebook id; without the content.
    LatestRevisionHead => revision::Head, notebooks::revisions::latest_heads_for
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

pub type RequestLoader = DataLoader<DbLoader, HashMapCache>;

/// A loader for one request. A document that writes gets one that remembers
/// nothing, so that no row read before a write is served after it (two
/// mutations in one document see each other's writes); it still batches.
pub fn request_loader(db: DatabaseConnection, writes: bool) -> RequestLoader {
    let loader = DataLoader::with_cache(DbLoader::new(db), tokio::spawn, HashMapCache::default());
    loader.enable_all_cache(!writes);
    loader
}

/// Loads, in one query per relation, what the selected fields of a page of
/// notebooks will ask for.
pub async fn prefetch_notebooks(ctx: &Context<'_>, notebooks: &[notebook::Model]) -> Result<()> {
    use super::{notebook::fields::*, revision::fields::CONTENT};
    let lookahead = ctx.look_ahead();
    // Whether the page's nodes select this path, as `nodes` or as `edges.node`
    // (the names of async-graphql's connection types).
    let selected_path = |path: &[&str]| {
        let under = |node: async_graphql::Lookahead<'_>| {
            path.iter().fold(node, |at, field| at.field(field)).exists()
        };
        under(lookahead.field("nodes")) || under(lookahead.field("edges").field("node"))
    };
    let selected = |field: &str| selected_path(&[field]);
    let loader = ctx.data_unchecked::<RequestLoader>();
    let ids: Vec<i32> = notebooks.iter().map(|notebook| notebook.id).collect();
    let owners: Vec<UserById> = notebooks.iter().map(|nb| UserById(nb.owner_id)).collect();
    let failed = |err: Arc<Error>| Error::Internal(err.to_string());
    if selected(OWNER) {
        loader.load_many(owners).await.map_err(failed)?;
    }
    if selected_path(&[LATEST_REVISION, CONTENT]) {
        loader
            .load_many(ids.iter().copied().map(LatestRevision))
            .await
            .map_err(failed)?;
    } else if selected(LATEST_REVISION) {
        loader
            .load_many(ids.iter().copied().map(LatestRevisionHead))
            .await
            .map_err(failed)?;
    }
    if selected(REVISION_COUNT) {
        loader
            .load_many(ids.iter().copied().map(RevisionCount))
            .await
            .map_err(failed)?;
    }
    if selected(FILES) {
        loader
            .load_many(ids.iter().copied().map(FilesOf))
            .await
            .map_err(failed)?;
    }
    if selected(FILE_SOURCES) {
        loader
            .load_many(ids.iter().copied().map(FileSourcesOf))
            .await
            .map_err(failed)?;
    }
    Ok(())
}

/// Rows read with a cached notebook or page are not read again.
pub async fn remember(
    ctx: &Context<'_>,
    owners: Vec<user::Model>,
    latest_heads: Vec<revision::Head>,
) {
    let loader = ctx.data_unchecked::<RequestLoader>();
    loader
        .feed_many(owners.into_iter().map(|owner| (UserById(owner.id), owner)))
        .await;
    loader
        .feed_many(
            latest_heads
                .into_iter()
                .map(|head| (LatestRevisionHead(head.notebook_id), head)),
        )
        .await;
}
