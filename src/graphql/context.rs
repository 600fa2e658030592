//! Reading what every resolver needs from the GraphQL context.

use std::{hash::Hash, sync::Arc};

use async_graphql::{Context, ID, dataloader::Loader};
use sea_orm::DatabaseConnection;

use super::loaders::{DbLoader, RequestLoader};
use crate::{
    cache::{Cache, ReadLog},
    clock::Clock,
    db::{StatementCounter, WriteQueue},
    error::{Error, Result},
    events::Events,
    viewer::Viewer,
};

pub fn db<'a>(ctx: &Context<'a>) -> &'a DatabaseConnection {
    ctx.data_unchecked::<DatabaseConnection>()
}

/// For statements run past sea-orm, which counts its own.
pub fn statements<'a>(ctx: &Context<'a>) -> &'a StatementCounter {
    ctx.data_unchecked::<Arc<StatementCounter>>()
}

pub fn cache<'a>(ctx: &Context<'a>) -> &'a Cache {
    ctx.data_unchecked::<Cache>()
}

pub fn events<'a>(ctx: &Context<'a>) -> &'a Events {
    ctx.data_unchecked::<Events>()
}

pub fn clock<'a>(ctx: &Context<'a>) -> &'a Clock {
    ctx.data_unchecked::<Clock>()
}

/// Whose turn it is to write, on SQLite.
pub fn writes<'a>(ctx: &Context<'a>) -> &'a WriteQueue {
    ctx.data_unchecked::<WriteQueue>()
}

/// Who asks. A field that asks makes the answer the viewer's own: it is not
/// kept for other requests (the response cache), whatever policy decides.
pub fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    if let Some(reads) = ctx.data_opt::<Arc<ReadLog>>() {
        reads.uncovered();
    }
    ctx.data_unchecked::<Viewer>()
}

pub async fn load<K>(ctx: &Context<'_>, key: K) -> Result<Option<<DbLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    DbLoader: Loader<K, Error = std::sync::Arc<Error>>,
{
    ctx.data_unchecked::<RequestLoader>()
        .load_one(key)
        .await
        .map_err(|err| Error::Internal(err.to_string()))
}

/// A row that the schema guarantees, such as a notebook's owner.
pub async fn load_required<K>(ctx: &Context<'_>, key: K) -> Result<<DbLoader as Loader<K>>::Value>
where
    K: Send + Sync + Hash + Eq + Clone + std::fmt::Debug + 'static,
    DbLoader: Loader<K, Error = std::sync::Arc<Error>>,
{
    // The message is written only when a row is missing: this runs for every
    // owner and latest revision of a page.
    let found = load(ctx, key.clone()).await?;
    found.ok_or_else(|| Error::Internal(format!("{key:?} is missing")))
}

/// The database id behind a GraphQL ID.
pub fn parse_id(id: &ID, kind: &str) -> Result<i32> {
    id.parse::<i32>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::bad_input(format!("{:?} is not a valid {kind} id", id.as_str())))
}

pub fn to_id(id: i32) -> ID {
    ID(id.to_string())
}
