//! API tokens' users kept in this process on SQLite, for as long as nobody has
//! committed anything to the database file since they were read.
//!
//! The in-process cache cannot hear `iodide-server token revoke`, which runs in
//! a process of its own; SQLite can: `PRAGMA data_version` changes whenever any
//! other connection, of this process or another, commits to the file. The
//! check runs on a connection of its own, called in place (a read of the WAL
//! index in shared memory, a few microseconds), where the token's row was read
//! through the pool: a wait for a pooled connection and two hand-offs to sqlx's
//! worker thread. Any commit (an autosave too) empties the kept users, which
//! costs the next request of each token one lookup; a revocation is seen by the
//! next request, as with the SQL lookup.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sea_orm::{DatabaseBackend, DatabaseConnection};

use crate::entity::user;

/// Users kept at most; past it the map starts over (a flood of valid tokens
/// is the only way to fill it).
const MAX_KEPT: usize = 10_000;

/// Shared by every request and subscription of the process; empty (every
/// lookup in SQL or Redis) off SQLite or for a database that is not a file.
#[derive(Clone, Default)]
pub struct TokenUsers(Option<Arc<Watched>>);

struct Watched {
    version: Mutex<sqlite::DataVersion>,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    version: i64,
    users: HashMap<String, user::Model>,
}

/// The database as it stood when a lookup began: a user loaded after this
/// was read is kept under it.
#[derive(Clone, Copy)]
pub struct Version(i64);

impl TokenUsers {
    pub fn for_database(db: &DatabaseConnection, url: &str) -> Self {
        if db.get_database_backend() != DatabaseBackend::Sqlite {
            return TokenUsers(None);
        }
        let watched = sqlite::DataVersion::open(url).map(|version| Watched {
            version: Mutex::new(version),
            kept: Mutex::default(),
        });
        TokenUsers(watched.map(Arc::new))
    }

    /// The database's version now, when this process can tell it.
    pub fn version(&self) -> Option<Version> {
        let watched = self.0.as_ref()?;
        let mut version = watched.version.lock().unwrap_or_else(|e| e.into_inner());
        version.read().map(Version)
    }

    /// The user of `key_hash`, if kept at `version` (the database's version
    /// now): nothing was committed since it was read.
    pub fn get(&self, version: Version, key_hash: &str) -> Option<user::Model> {
        let kept = self.kept()?;
        if kept.version != version.0 {
            return None;
        }
        kept.users.get(key_hash).cloned()
    }

    /// Keeps `user`, read by a lookup that began at `version`. A newer version
    /// drops what was kept under older ones; an older one keeps nothing.
    pub fn keep(&self, version: Version, key_hash: &str, user: &user::Model) {
        let Some(mut kept) = self.kept() else {
            return;
        };
        if version.0 > kept.version || kept.users.len() >= MAX_KEPT {
            kept.users.clear();
            kept.version = version.0.max(kept.version);
        }
        if version.0 == kept.version {
            kept.users.insert(key_hash.to_string(), user.clone());
        }
    }

    fn kept(&self) -> Option<std::sync::MutexGuard<'_, Kept>> {
        let watched = self.0.as_ref()?;
        Some(watched.kept.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

mod sqlite {
    use std::{
        ffi::{CString, c_int},
        ptr,
        str::FromStr,
    };

    use libsqlite3_sys as ffi;
    use sea_orm::sqlx::sqlite::SqliteConnectOptions;

    /// A read-write connection of its own (read-only ones cannot open a WAL
    /// database whose shared-memory file they may not write) that never
    /// writes: every commit to the file is another connection's.
    pub struct DataVersion {
        db: *mut ffi::sqlite3,
        statement: *mut ffi::sqlite3_stmt,
    }

    // SAFETY: the connection is opened without SQLite's own mutex; it is only
    // used behind the Mutex of `Watched`, by one thread at a time.
    unsafe impl Send for DataVersion {}

    impl DataVersion {
        /// `None` for an in-memory database or one that cannot be opened:
        /// lookups then stay in SQL.
        pub fn open(url: &str) -> Option<Self> {
            let options = SqliteConnectOptions::from_str(url).ok()?;
            let path = options.get_filename();
            if !path.is_file() {
                return None;
            }
            let path = CString::new(path.to_str()?).ok()?;
            let mut watch = DataVersion {
                db: ptr::null_mut(),
                statement: ptr::null_mut(),
            };
            let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX;
            // SAFETY: valid C strings and out-pointers; on failure `watch` is
            // dropped, which closes whatever was opened.
            let opened = unsafe {
                ffi::sqlite3_open_v2(path.as_ptr(), &mut watch.db, flags, ptr::null())
                    == ffi::SQLITE_OK
                    && ffi::sqlite3_prepare_v3(
                        watch.db,
                        c"PRAGMA data_version".as_ptr(),
                        -1,
                        ffi::SQLITE_PREPARE_PERSISTENT,
                        &mut watch.statement,
                        ptr::null_mut(),
                    ) == ffi::SQLITE_OK
            };
            if !opened {
                tracing::warn!("could not watch the SQLite file; API tokens are looked up in SQL");
                return None;
            }
            Some(watch)
        }

        /// The version now; `None` when SQLite is busy (recovering the WAL):
        /// the caller then reads the token's row.
        pub fn read(&mut self) -> Option<i64> {
            // SAFETY: the statement belongs to this open connection, which
            // only this (locked) value uses.
            unsafe {
                let version = (ffi::sqlite3_step(self.statement) == ffi::SQLITE_ROW)
                    .then(|| ffi::sqlite3_column_int64(self.statement, 0));
                let reset: c_int = ffi::sqlite3_reset(self.statement);
                version.filter(|_| reset == ffi::SQLITE_OK)
            }
        }
    }

    impl Drop for DataVersion {
        fn drop(&mut self) {
            // SAFETY: both were made by open() and are released only here;
            // either may be null, which SQLite accepts.
            unsafe {
                ffi::sqlite3_finalize(self.statement);
                ffi::sqlite3_close(self.db);
            }
        }
    }
}
