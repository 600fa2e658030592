//! The GraphQL API: one module per type, each with its queries and mutations.
//!
//! Resolvers ask [`crate::policy`] through guards and visibility helpers, call the
//! domain services, and load related rows through one request-scoped DataLoader.
//! Errors are turned into SERVER.md's codes once, by [`Executor`], which runs
//! every request.

mod connection;
mod context;
mod descriptions;
mod documents;
mod errors;
mod executor;
mod file;
mod file_source;
mod guards;
mod hidden_schema;
mod library_limits;
pub mod limits;
mod loaders;
pub mod mutation_accounting;
mod notebook;
pub mod persisted;
mod revision;
mod subscription;
mod user;

use async_graphql::{MergedObject, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

use std::sync::Arc;

use crate::{
    cache::{Cache, ReadLog},
    clock::Clock,
    db::{self, StatementCounter, WriteQueue},
    events::Events,
    policy::ApiMode,
    viewer::Viewer,
};

use documents::ParsedDocuments;
pub use errors::{RETRY_AFTER, server_error};
pub use executor::{Executor, Operation, Operations};
pub use loaders::DbLoader;

/// Everything that can be read. On a public server anyone may read everything; on
/// a private one (RESTRICT_API=1) every field but viewer needs a signed-in user or
/// a token, and answers UNAUTHENTICATED without one. Errors carry a code in
/// extensions.code: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BAD_USER_INPUT,
/// CONFLICT, PAYLOAD_TOO_LARGE, RATE_LIMITED, QUERY_TOO_COMPLEX or INTERNAL.
#[derive(MergedObject, Default)]
pub struct Query(
    user::UserQuery,
    notebook::NotebookQuery,
    revision::RevisionQuery,
    file::FileQuery,
    file_source::FileSourceQuery,
);

/// Everything that can be changed. Every field needs a signed-in user or a token
/// (UNAUTHENTICATED without one) and changes only the viewer's own notebooks
/// (FORBIDDEN otherwise, staff included). Every mutation field counts against the
/// client's rate limit (RATE_LIMITED when it is spent), and one request may hold
/// at most 10 of them.
#[derive(MergedObject, Default)]
pub struct Mutation(
    notebook::NotebookMutation,
    revision::RevisionMutation,
    file::FileMutation,
    file_source::FileSourceMutation,
);

pub use subscription::Subscription;

pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    let builder = Schema::build(Query::default(), Mutation::default(), Subscription);
    library_limits::bound(descriptions::describe_library_types(builder)).disable_suggestions()
}

pub fn build_executor(
    db: DatabaseConnection,
    statements: Arc<StatementCounter>,
    cache: Cache,
    events: Events,
    clock: Clock,
    writes: WriteQueue,
    mode: ApiMode,
) -> Executor {
    let with_data = |builder: SchemaBuilder<_, _, _>| {
        builder
            .data(db.clone())
            .data(statements.clone())
            .data(cache.clone())
            .data(events.clone())
            .data(clock.clone())
            .data(writes.clone())
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
/// nothing cached outlives the request or crosses between viewers. With a
/// recording, the request reads through its handles instead of the schema's.
pub fn request_data(
    request: async_graphql::Request,
    viewer: Viewer,
    db: &DatabaseConnection,
    writes: bool,
    recording: Option<&Recording>,
) -> async_graphql::Request {
    let request = request.data(viewer);
    match recording {
        None => request.data(loaders::request_loader(db.clone(), writes)),
        // Request data comes before the schema's in every lookup.
        Some(recording) => request
            .data(loaders::request_loader(recording.db.clone(), writes))
            .data(recording.db.clone())
            .data(recording.cache.clone())
            .data(recording.reads.clone()),
    }
}

/// What a request whose answer may be kept (see `cache::ResponseCache`) reads
/// through: a handle on the pool that notes every statement, a cache that
/// notes every value it serves, and the viewer noted by `context::viewer`.
/// Every read of a resolver goes through one of the three, so `reads` knows
/// whether the answer rests on cache keys alone.
pub struct Recording {
    pub reads: Arc<ReadLog>,
    db: DatabaseConnection,
    cache: Cache,
}

impl Recording {
    pub fn new(db: &DatabaseConnection, statements: Arc<StatementCounter>, cache: &Cache) -> Self {
        let reads = Arc::new(ReadLog::default());
        let noted = reads.clone();
        Recording {
            db: db::observed(db, statements, move || noted.uncovered()),
            cache: cache.recording(reads.clone()),
            reads,
        }
    }
}
