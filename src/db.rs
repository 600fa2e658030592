//! Connecting to the database and applying migrations.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use migration::{IntoSchemaManagerConnection, Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    Statement, TransactionTrait,
};

use crate::config::DatabaseConfig;

/// Counts SQL statements, so that tests and the benchmark can prove a constant
/// number per request.
#[derive(Debug, Default)]
pub struct StatementCounter(AtomicU64);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// One statement more: for those run on sqlx's pool, which sea-orm does not
    /// see.
    pub fn add_one(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// On SQLite, the saves of this process take turns here before they write.
/// SQLite lets one writer in at a time; the others would spin in its busy
/// handler, which sleeps up to 100 ms between tries and wakes in no particular
/// order, so at 32 concurrent saves a few waited hundreds of milliseconds while
/// the lock sat free. Queued here they are served first come, first served, as
/// soon as the writer before them commits. PostgreSQL locks rows, not the
/// database: no queue.
#[derive(Clone, Default)]
pub struct WriteQueue(Option<Arc<tokio::sync::Mutex<()>>>);

impl WriteQueue {
    pub fn for_database(db: &DatabaseConnection) -> Self {
        match db.get_database_backend() {
            DatabaseBackend::Sqlite => WriteQueue(Some(Arc::default())),
            _ => WriteQueue(None),
        }
    }

    /// Waits for this process's turn to write; the turn lasts as long as the
    /// guard, which should outlive the transaction's commit.
    pub async fn turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.0 {
            Some(queue) => Some(queue.lock().await),
            None => None,
        }
    }
}

/// Opens the pool. For an SQLite file its folder is created, WAL is on (readers do
/// not wait for the writer) and writers wait for each other instead of failing.
pub async fn connect(
    config: &DatabaseConfig,
    counter: Arc<StatementCounter>,
) -> Result<DatabaseConnection, DbErr> {
    create_sqlite_folder(&config.url);
    let mut options = ConnectOptions::new(config.url.clone());
    options
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        // While the database is away, fail fast so that clients get a 503 to
        // retry instead of hanging.
        .connect_timeout(config.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(std::time::Duration::from_secs(10))
                .foreign_keys(true)
        })
        .map_sqlx_postgres_pool_opts(|pool| pool.after_release(shrink_buffers));
    let mut db = Database::connect(options).await?;
    db.set_metric_callback(move |_| counter.add_one());
    Ok(db)
}

/// A connection's socket buffers grow to the largest message it has sent or
/// received (a 10 MiB file) and sqlx never shrinks them by itself: ten pooled
/// connections would keep 200 MB. Below 8 KiB this is a comparison, no more.
fn shrink_buffers(
    connection: &mut sea_orm::sqlx::PgConnection,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<bool, sea_orm::sqlx::Error>> {
    sea_orm::sqlx::Connection::shrink_buffers(connection);
    Box::pin(std::future::ready(Ok(true)))
}

/// The same pool, counting each statement as `connect` does and also telling
/// `observer`: for one request that must know whether it read the database
/// (sea-orm keeps the callback per handle, so other handles are untouched).
pub fn observed(
    db: &DatabaseConnection,
    counter: Arc<StatementCounter>,
    observer: impl Fn() + Send + Sync + 'static,
) -> DatabaseConnection {
    let mut db = db.clone();
    db.set_metric_callback(move |_| {
        counter.add_one();
        observer();
    });
    db
}

fn create_sqlite_folder(url: &str) {
    let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return;
    };
    let path = path.split('?').next().unwrap_or_default();
    if let Some(folder) = std::path::Path::new(path).parent()
        && !folder.as_os_str().is_empty()
        && let Err(err) = std::fs::create_dir_all(folder)
    {
        tracing::warn!(folder = %folder.display(), %err, "could not create the database folder");
    }
}

/// An arbitrary constant that names this application's migration lock.
const MIGRATION_LOCK_KEY: i64 = 0x0010_d1de_5e7e;

/// Applies pending migrations and returns their names (sea_orm_migration logs
/// each as it runs). On
/// PostgreSQL an advisory lock held for the transaction makes instances that
/// start together apply them one at a time (the second finds none pending);
/// PostgreSQL's DDL is transactional, so a failure leaves nothing half-done.
pub async fn migrate(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let txn = db.begin().await?;
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [MIGRATION_LOCK_KEY.into()],
            ))
            .await?;
            let applied = apply_pending(&txn).await?;
            txn.commit().await?;
            Ok(applied)
        }
        _ => apply_pending(db).await,
    }
}

async fn apply_pending<'c, C>(db: &'c C) -> Result<Vec<String>, DbErr>
where
    C: ConnectionTrait,
    &'c C: IntoSchemaManagerConnection<'c>,
{
    let pending: Vec<String> = Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|migration| migration.name().to_string())
        .collect();
    Migrator::up(db, None).await?;
    Ok(pending)
}

/// `SELECT 1`, for the heartbeat.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.ping().await
}
