//! The two statements that carry a file's bytes, run on sqlx's pool rather than
//! through sea-orm. sea-query copies every bound value while it builds a
//! statement and sea-orm hands sqlx another copy of the statement's values, so
//! a 10 MiB upload was held four or five times at once. Here the bytes move
//! into sqlx's arguments, which SQLite binds from there and PostgreSQL encodes
//! into its message, freeing them.
//!
//! sea-orm's statement counter does not see these statements, so they are
//! counted here, the way sea-orm counts: once the statement ran, failed or not.

use chrono::{DateTime, Utc};
use sea_orm::{ConnAcquireErr, DatabaseBackend, DatabaseConnection, DbErr, RuntimeErr, sqlx};

use crate::db::StatementCounter;

// The bytes are the last parameter: PostgreSQL's argument buffer is then sized
// to them exactly, where a value encoded after them would make it double.
// sqlx numbers SQLite's `$n` parameters as PostgreSQL does.
const INSERT: &str = "INSERT INTO files (notebook_id, filename, size, last_updated, content) \
                      VALUES ($1, $2, $3, $4, $5) RETURNING id";
const REPLACE: &str = "UPDATE files SET filename = $2, size = $3, last_updated = $4, content = $5 \
                       WHERE id = $1";

/// Runs `$body` with `$conn`, a pooled connection of the database's own driver,
/// and counts the statement.
macro_rules! with_connection {
    ($db:expr, $statements:expr, |$conn:ident| $body:expr) => {
        match $db.get_database_backend() {
            DatabaseBackend::Sqlite => {
                let mut $conn = $db
                    .get_sqlite_connection_pool()
                    .acquire()
                    .await
                    .map_err(acquire_error)?;
                let result = $body;
                $statements.add_one();
                result.map_err(statement_error)
            }
            DatabaseBackend::Postgres => {
                let mut $conn = $db
                    .get_postgres_connection_pool()
                    .acquire()
                    .await
                    .map_err(acquire_error)?;
                let result = $body;
                $statements.add_one();
                result.map_err(statement_error)
            }
            backend => Err(DbErr::BackendNotSupported {
                db: backend.as_str(),
                ctx: "file content",
            }),
        }
    };
}

/// What a new file's row holds besides its bytes.
pub struct NewFile<'a> {
    pub notebook_id: i32,
    pub filename: &'a str,
    pub last_updated: DateTime<Utc>,
}

/// Inserts a file; returns its id.
pub async fn insert(
    db: &DatabaseConnection,
    statements: &StatementCounter,
    file: NewFile<'_>,
    bytes: Vec<u8>,
) -> Result<i32, DbErr> {
    let size = bytes.len() as i64;
    with_connection!(db, statements, |conn| {
        sqlx::query_scalar::<_, i32>(INSERT)
            .bind(file.notebook_id)
            .bind(file.filename)
            .bind(size)
            .bind(file.last_updated)
            .bind(bytes)
            .fetch_one(&mut *conn)
            .await
    })
}

/// Gives file `id` a name and new bytes; a file deleted meanwhile stays
/// deleted.
pub async fn replace(
    db: &DatabaseConnection,
    statements: &StatementCounter,
    id: i32,
    filename: &str,
    last_updated: DateTime<Utc>,
    bytes: Vec<u8>,
) -> Result<(), DbErr> {
    let size = bytes.len() as i64;
    with_connection!(db, statements, |conn| {
        sqlx::query(REPLACE)
            .bind(id)
            .bind(filename)
            .bind(size)
            .bind(last_updated)
            .bind(bytes)
            .execute(&mut *conn)
            .await
            .map(drop)
    })
}

/// As sea-orm reports a connection it could not get, so that the caller tells
/// an unreachable database from a failed statement the same way.
fn acquire_error(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        err => DbErr::Conn(RuntimeErr::SqlxError(err.into())),
    }
}

fn statement_error(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(err.into()))
}
