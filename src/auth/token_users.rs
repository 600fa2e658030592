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

impl Kept {
    fn get(&self, version: Version, key_hash: &str) -> Option<user::Model> {
        (self.version == version.0)
            .then(|| self.users.get(key_hash).cloned())
            .flatten()
    }

    /// A newer version drops what was kept under older ones; an older one
    /// keeps nothing.
    fn keep(&mut self, version: Version, key_hash: &str, user: &user::Model) {
        if version.0 > self.version || self.users.len() >= MAX_KEPT {
            self.users.clear();
            self.version = version.0.max(self.version);
        }
        if version.0 == self.version {
            self.users.insert(key_hash.to_string(), user.clone());
        }
    }
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
        self.kept()?.get(version, key_hash)
    }

    /// Keeps `user`, read by a lookup that began at `version`.
    pub fn keep(&self, version: Version, key_hash: &str, user: &user::Model) {
        if let Some(mut kept) = self.kept() {
            kept.keep(version, key_hash, user);
        }
    }

    fn kept(&self) -> Option<std::sync::MutexGuard<'_, Kept>> {
        let watched = self.0.as_ref()?;
        Some(watched.kept.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

mod sqlite {
    use std::str::FromStr;

    use rusqlite::{Connection, OpenFlags};
    use sea_orm::sqlx::sqlite::SqliteConnectOptions;

    /// A read-write connection of its own (read-only ones cannot open a WAL
    /// database whose shared-memory file they may not write) that never
    /// writes: every commit to the file is another connection's.
    pub struct DataVersion(Connection);

    impl DataVersion {
        /// `None` for an in-memory database or one that cannot be opened:
        /// lookups then stay in SQL.
        pub fn open(url: &str) -> Option<Self> {
            let options = SqliteConnectOptions::from_str(url).ok()?;
            let path = options.get_filename();
            if !path.is_file() {
                return None;
            }
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            match Connection::open_with_flags(path, flags) {
                Ok(connection) => Some(DataVersion(connection)),
                Err(err) => {
                    tracing::warn!(%err, "could not watch the SQLite file; API tokens are looked up in SQL");
                    None
                }
            }
        }

        /// The version now; `None` when SQLite is busy (recovering the WAL):
        /// the caller then reads the token's row.
        pub fn read(&mut self) -> Option<i64> {
            let mut statement = self.0.prepare_cached("PRAGMA data_version").ok()?;
            statement.query_row([], |row| row.get(0)).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i32) -> user::Model {
        user::Model::example(id)
    }

    #[test]
    fn a_user_is_served_only_at_the_version_it_was_read_at() {
        let mut kept = Kept::default();
        kept.keep(Version(3), "a", &user(1));
        assert_eq!(kept.get(Version(3), "a").map(|user| user.id), Some(1));
        assert!(kept.get(Version(4), "a").is_none(), "a commit since");

        // A lookup that began before a commit keeps nothing after it.
        kept.keep(Version(4), "b", &user(2));
        kept.keep(Version(3), "a", &user(1));
        assert!(kept.get(Version(4), "a").is_none());
        assert_eq!(kept.get(Version(4), "b").map(|user| user.id), Some(2));
    }

    #[test]
    fn at_most_max_kept_users_are_held() {
        let mut kept = Kept::default();
        for i in 0..=MAX_KEPT {
            kept.keep(Version(1), &i.to_string(), &user(1));
        }
        assert!(kept.users.len() <= MAX_KEPT, "{}", kept.users.len());
        assert!(kept.get(Version(1), &MAX_KEPT.to_string()).is_some());
    }
}
