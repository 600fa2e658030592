//! The GraphQL API: one module per type, each with its queries and mutations.
//!
//! Resolvers ask [`crate::policy`] through guards and visibility helpers, call the
//! domain services, and load related rows through one request-scoped DataLoader.
//! Errors are turned into SERVER.md's codes once, by [`Executor`], which runs
//! every request.

mod connection;
mod context;
mod documents;
mod errors;
mod executor;
mod file;
mod file_source;
mod guards;
pub mod limits;
mod loaders;
mod notebook;
pub mod persisted;
mod revision;
mod user;

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

use std::sync::Arc;

use crate::{cache::Cache, db::StatementCounter, policy::ApiMode, viewer::Viewer};

use documents::ParsedDocuments;
pub use errors::RETRY_AFTER;
pub use executor::Executor;
pub use loaders::DbLoader;

#[derive(MergedObject, Default)]
pub struct Query(
    user::UserQuery,
    notebook::NotebookQuery,
    revision::RevisionQuery,
    file::FileQuery,
    file_source::FileSourceQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    notebook::NotebookMutation,
    revision::RevisionMutation,
    file::FileMutation,
    file_source::FileSourceMutation,
);

pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(limits::MAX_DEPTH)
        .limit_complexity(limits::MAX_COMPLEXITY)
        .disable_suggestions()
}

pub fn build_executor(
    db: DatabaseConnection,
    statements: Arc<StatementCounter>,
    cache: Cache,
    mode: ApiMode,
) -> Executor {
    let with_data = |builder: SchemaBuilder<_, _, _>| {
        builder
            .data(db.clone())
            .data(statements.clone())
            .data(cache.clone())
            .data(mode)
            .finish()
    };
    Executor::new(
        with_data(builder()),
        with_data(builder().extension(limits::BatchComplexity)),
        ParsedDocuments::default(),
    )
}

/// The SDL of the API, as committed in schema.graphql.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// What one request brings to the schema: who asks, and a fresh loader so that
/// nothing cached outlives the request or crosses between viewers.
pub fn request_data(
    request: async_graphql::Request,
    viewer: Viewer,
    db: &DatabaseConnection,
    writes: bool,
) -> async_graphql::Request {
    request
        .data(viewer)
        .data(loaders::request_loader(db.clone(), writes))
}
