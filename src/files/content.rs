//! The statements that carry a file's uploaded bytes, run on sqlx's pool rather
//! than through sea-orm. sea-query copies every bound value while it builds a
//! statement and sea-orm hands sqlx another copy of the statement's values, so
//! a 10 MiB upload was held four or five times at once.
//!
//! On SQLite the bytes never enter memory whole: the row is written with
//! zeroblob(size), which SQLite's incremental blob I/O then fills from the
//! upload's temporary file a chunk at a time, in the same transaction. SQLite
//! leaves that blob unexpanded because `content` is the table's last column
//! (migration m20261128_000005); bound as a value, the bytes were copied twice
//! more inside SQLite, the bound value and the row built from it. On
//! PostgreSQL the bytes are read and moved into sqlx's arguments, which encode
//! them into the message.
//!
//! sea-orm's statement counter does not see these statements, so they are
//! counted here the way sea-orm counts them: once a statement ran, failed or
//! not; BEGIN and COMMIT, which sea-orm does not count either, are left out.

use std::{fs::File, io};

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnAcquireErr, DatabaseBackend, DatabaseConnection, DbErr, RuntimeErr,
    sqlx::{self, PgPool, SqlitePool},
};

use crate::db::StatementCounter;

/// An upload's bytes, still in the temporary file that the request was parsed
/// into.
#[derive(Debug)]
pub struct UploadedBytes {
    file: File,
    len: u64,
}

impl UploadedBytes {
    pub fn new(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(UploadedBytes { file, len })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads `buf.len()` bytes from `offset`. Not from the file's position: the
    /// multipart parser hands out duplicates of one handle, which share it, and
    /// one part of a request may fill two variables.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
        }
        #[cfg(not(unix))]
        {
            use std::io::{Read, Seek};
            let mut file = &self.file;
            file.seek(io::SeekFrom::Start(offset))?;
            file.read_exact(buf)
        }
    }

    /// All the bytes, for a driver that takes them whole.
    async fn read_all(self) -> io::Result<Vec<u8>> {
        let len = usize::try_from(self.len).map_err(io::Error::other)?;
        // Allocated on this runtime thread, which also frees it (once it is
        // bound): mimalloc keeps a freed block for the thread that allocated it
        // until that thread allocates again, which a blocking-pool thread that
        // goes idle after the read would not do, keeping the 10 MiB.
        let mut bytes = vec![0; len];
        tokio::task::spawn_blocking(move || {
            self.read_exact_at(&mut bytes, 0)?;
            Ok(bytes)
        })
        .await
        .map_err(io::Error::other)?
    }
}

#[derive(Debug)]
pub enum WriteError {
    Database(DbErr),
    /// The upload's temporary file could not be read.
    Read(io::Error),
}

impl From<DbErr> for WriteError {
    fn from(err: DbErr) -> Self {
        WriteError::Database(err)
    }
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
    bytes: UploadedBytes,
) -> Result<i32, WriteError> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            sqlite::insert(db.get_sqlite_connection_pool(), statements, file, bytes).await
        }
        DatabaseBackend::Postgres => {
            postgres::insert(db.get_postgres_connection_pool(), statements, file, bytes).await
        }
        backend => Err(unsupported(backend).into()),
    }
}

/// Gives file `id` a name and new bytes; a file deleted meanwhile stays
/// deleted.
pub async fn replace(
    db: &DatabaseConnection,
    statements: &StatementCounter,
    id: i32,
    filename: &str,
    last_updated: DateTime<Utc>,
    bytes: UploadedBytes,
) -> Result<(), WriteError> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            sqlite::replace(pool, statements, id, filename, last_updated, bytes).await
        }
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            postgres::replace(pool, statements, id, filename, last_updated, bytes).await
        }
        backend => Err(unsupported(backend).into()),
    }
}

fn unsupported(backend: DatabaseBackend) -> DbErr {
    DbErr::BackendNotSupported {
        db: backend.as_str(),
        ctx: "file content",
    }
}

/// As sea-orm reports a connection that it could not get, so that an
/// unreachable database is told from a failed statement the same way.
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

mod postgres {
    use super::*;

    // The bytes are the last parameter: the argument buffer is then sized to
    // them once, where a value encoded after them would make it double.
    const INSERT: &str = "INSERT INTO files (notebook_id, filename, size, last_updated, content) \
                          VALUES ($1, $2, $3, $4, $5) RETURNING id";
    const REPLACE: &str = "UPDATE files \
                           SET filename = $2, size = $3, last_updated = $4, content = $5 \
                           WHERE id = $1";

    pub async fn insert(
        pool: &PgPool,
        statements: &StatementCounter,
        file: NewFile<'_>,
        bytes: UploadedBytes,
    ) -> Result<i32, WriteError> {
        let size = bytes.len() as i64;
        let bytes = bytes.read_all().await.map_err(WriteError::Read)?;
        let mut conn = pool.acquire().await.map_err(acquire_error)?;
        let inserted = sqlx::query_scalar::<_, i32>(INSERT)
            .bind(file.notebook_id)
            .bind(file.filename)
            .bind(size)
            .bind(file.last_updated)
            .bind(bytes)
            .fetch_one(&mut *conn)
            .await;
        statements.add_one();
        Ok(inserted.map_err(statement_error)?)
    }

    pub async fn replace(
        pool: &PgPool,
        statements: &StatementCounter,
        id: i32,
        filename: &str,
        last_updated: DateTime<Utc>,
        bytes: UploadedBytes,
    ) -> Result<(), WriteError> {
        let size = bytes.len() as i64;
        let bytes = bytes.read_all().await.map_err(WriteError::Read)?;
        let mut conn = pool.acquire().await.map_err(acquire_error)?;
        let replaced = sqlx::query(REPLACE)
            .bind(id)
            .bind(filename)
            .bind(size)
            .bind(last_updated)
            .bind(bytes)
            .execute(&mut *conn)
            .await;
        statements.add_one();
        replaced.map_err(statement_error)?;
        Ok(())
    }
}

mod sqlite {
    use std::{ffi::c_int, ptr};

    use libsqlite3_sys as ffi;
    use sea_orm::sqlx::{Sqlite, Transaction, sqlite::LockedSqliteHandle};

    use super::*;

    // zeroblob($3): a blob of the file's size for the incremental blob I/O to
    // fill, which SQLite does not build in memory while `content` is the last
    // column. sqlx numbers `$n` parameters on SQLite as PostgreSQL does, so
    // `$3` is bound once.
    const INSERT: &str = "INSERT INTO files (notebook_id, filename, size, last_updated, content) \
                          VALUES ($1, $2, $3, $4, zeroblob($3)) RETURNING id";
    const REPLACE: &str = "UPDATE files \
                           SET filename = $2, size = $3, last_updated = $4, content = zeroblob($3) \
                           WHERE id = $1";

    /// What is read from the temporary file and written to the blob at a time.
    const CHUNK: usize = 256 * 1024;

    pub async fn insert(
        pool: &SqlitePool,
        statements: &StatementCounter,
        file: NewFile<'_>,
        bytes: UploadedBytes,
    ) -> Result<i32, WriteError> {
        let mut tx = pool.begin().await.map_err(begin_error)?;
        let inserted = sqlx::query_scalar::<_, i32>(INSERT)
            .bind(file.notebook_id)
            .bind(file.filename)
            .bind(bytes.len() as i64)
            .bind(file.last_updated)
            .fetch_one(&mut *tx)
            .await;
        statements.add_one();
        let id = inserted.map_err(statement_error)?;
        let tx = fill_blob(tx, id, bytes).await?;
        tx.commit().await.map_err(statement_error)?;
        Ok(id)
    }

    pub async fn replace(
        pool: &SqlitePool,
        statements: &StatementCounter,
        id: i32,
        filename: &str,
        last_updated: DateTime<Utc>,
        bytes: UploadedBytes,
    ) -> Result<(), WriteError> {
        let mut tx = pool.begin().await.map_err(begin_error)?;
        let replaced = sqlx::query(REPLACE)
            .bind(id)
            .bind(filename)
            .bind(bytes.len() as i64)
            .bind(last_updated)
            .execute(&mut *tx)
            .await;
        statements.add_one();
        if replaced.map_err(statement_error)?.rows_affected() == 0 {
            return Ok(());
        }
        let tx = fill_blob(tx, id, bytes).await?;
        tx.commit().await.map_err(statement_error)?;
        Ok(())
    }

    /// `Pool::begin` reports a connection it could not get as sqlx's pool
    /// errors, anything else as the connection's.
    fn begin_error(err: sqlx::Error) -> DbErr {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => acquire_error(err),
            err => statement_error(err),
        }
    }

    /// Writes the upload into row `id`'s zero-filled content, on a blocking
    /// thread: each chunk is a read and an SQLite write. The transaction comes
    /// back to be committed; on failure it is dropped there, which rolls it
    /// back, as it does if the request is cancelled meanwhile.
    async fn fill_blob(
        mut tx: Transaction<'static, Sqlite>,
        id: i32,
        bytes: UploadedBytes,
    ) -> Result<Transaction<'static, Sqlite>, WriteError> {
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            // The connection's handle, taken from sqlx's worker thread, which
            // waits meanwhile.
            let filled = match runtime.block_on(tx.lock_handle()) {
                Ok(mut handle) => write_blob(&mut handle, id, &bytes),
                Err(err) => Err(statement_error(err).into()),
            };
            filled.map(|()| tx)
        })
        .await
        .map_err(|err| WriteError::Database(DbErr::Custom(err.to_string())))?
    }

    /// An open blob, closed when dropped on an error path.
    struct Blob(*mut ffi::sqlite3_blob);

    impl Drop for Blob {
        fn drop(&mut self) {
            // SAFETY: the handle came from sqlite3_blob_open and is closed
            // only here, once; closing an open blob always frees it.
            unsafe { ffi::sqlite3_blob_close(self.0) };
        }
    }

    fn write_blob(
        handle: &mut LockedSqliteHandle<'_>,
        id: i32,
        bytes: &UploadedBytes,
    ) -> Result<(), WriteError> {
        let db = handle.as_raw_handle().as_ptr();
        let mut raw = ptr::null_mut();
        // SAFETY: `db` is the connection's open handle, ours while `handle` is
        // held; the names are NUL-terminated; SQLite writes the blob handle (or
        // null, on an error) to `raw`. `files.id` is the table's rowid.
        let status = unsafe {
            ffi::sqlite3_blob_open(
                db,
                c"main".as_ptr(),
                c"files".as_ptr(),
                c"content".as_ptr(),
                i64::from(id),
                1,
                &mut raw,
            )
        };
        if status != ffi::SQLITE_OK {
            return Err(sqlite_error(handle, status));
        }
        let blob = Blob(raw);
        let len = bytes.len();
        let mut chunk = vec![0; CHUNK.min(len as usize)];
        let mut offset = 0;
        while offset < len {
            let part_len = CHUNK.min((len - offset) as usize);
            let part = &mut chunk[..part_len];
            bytes
                .read_exact_at(part, offset)
                .map_err(WriteError::Read)?;
            let (Ok(part_len), Ok(at)) = (c_int::try_from(part_len), c_int::try_from(offset))
            else {
                return Err(DbErr::Custom(format!("{len} bytes is too large for a blob")).into());
            };
            // SAFETY: `blob` is open; `part` holds `part_len` bytes; the blob
            // was sized to `len`, so the write stays inside it.
            let status =
                unsafe { ffi::sqlite3_blob_write(blob.0, part.as_ptr().cast(), part_len, at) };
            if status != ffi::SQLITE_OK {
                return Err(sqlite_error(handle, status));
            }
            offset += part.len() as u64;
        }
        let blob = std::mem::ManuallyDrop::new(blob);
        // SAFETY: as in Drop, which will not run for this handle.
        let status = unsafe { ffi::sqlite3_blob_close(blob.0) };
        if status != ffi::SQLITE_OK {
            return Err(sqlite_error(handle, status));
        }
        Ok(())
    }

    fn sqlite_error(handle: &mut LockedSqliteHandle<'_>, status: c_int) -> WriteError {
        let err = match handle.last_error() {
            Some(err) => statement_error(sqlx::Error::Database(Box::new(err))),
            None => DbErr::Custom(format!("SQLite blob I/O failed with code {status}")),
        };
        WriteError::Database(err)
    }
}
