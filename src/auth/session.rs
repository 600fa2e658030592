//! Browser sessions after sign-in: tower-sessions for the cookie and its life,
//! over a store of our own in the database (PostgreSQL or SQLite alike).
//!
//! The cookie is HttpOnly, SameSite=Lax, Secure when SERVER_URI is https, and
//! host-only (no Domain), so that the eval-frame origin never receives it.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TryInsertResult,
    sea_query::OnConflict,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tower_sessions::{
    Expiry, Session, SessionManagerLayer,
    cookie::SameSite,
    session::Record,
    session_store::{self, SessionStore},
};

/// A session's id, as its cookie carries it.
pub use tower_sessions::session::Id;

use crate::{config::Config, entity::session};

pub const COOKIE_NAME: &str = "iodide_session";
/// A session ends after this long without a request.
pub const IDLE_LIFETIME: time::Duration = time::Duration::days(14);
/// Renewing the expiry costs a write, so an active session is renewed at most
/// this often.
const RENEW_AFTER: time::Duration = time::Duration::days(1);

const USER_ID: &str = "user_id";

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: DatabaseConnection,
}

impl DbSessionStore {
    pub fn new(db: DatabaseConnection) -> Self {
        DbSessionStore { db }
    }

    /// Deletes sessions that had expired at `now`; returns how many.
    pub async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64, sea_orm::DbErr> {
        let deleted = session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected)
    }
}

fn hash(id: &Id) -> String {
    hex::encode(Sha256::digest(id.to_string().as_bytes()))
}

fn backend(err: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

fn to_chrono(at: OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(at.unix_timestamp(), at.nanosecond()).unwrap_or_default()
}

fn to_time(at: DateTime<Utc>) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(at.timestamp()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn active_model(record: &Record) -> session_store::Result<session::ActiveModel> {
    Ok(session::ActiveModel {
        id_hash: Set(hash(&record.id)),
        data: Set(serde_json::to_string(&record.data)
            .map_err(|err| session_store::Error::Encode(err.to_string()))?),
        expires_at: Set(to_chrono(record.expiry_date)),
    })
}

#[async_trait::async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A collision of random 128-bit ids is not expected; if one happens, draw again.
        loop {
            let inserted = session::Entity::insert(active_model(record)?)
                .on_conflict_do_nothing_on([session::Column::IdHash])
                .exec_without_returning(&self.db)
                .await
                .map_err(backend)?;
            if matches!(inserted, TryInsertResult::Inserted(1)) {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        session::Entity::insert(active_model(record)?)
            .on_conflict(
                OnConflict::column(session::Column::IdHash)
                    .update_columns([session::Column::Data, session::Column::ExpiresAt])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let found = session::Entity::find_by_id(hash(id))
            .filter(session::Column::ExpiresAt.gt(Utc::now()))
            .one(&self.db)
            .await
            .map_err(backend)?;
        found
            .map(|row| {
                Ok(Record {
                    id: *id,
                    data: serde_json::from_str(&row.data)
                        .map_err(|err| session_store::Error::Decode(err.to_string()))?,
                    expiry_date: to_time(row.expires_at),
                })
            })
            .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        session::Entity::delete_by_id(hash(id))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

pub fn layer(db: DatabaseConnection, config: &Config) -> SessionManagerLayer<DbSessionStore> {
    SessionManagerLayer::new(DbSessionStore::new(db))
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.server_uri.scheme() == "https")
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(IDLE_LIFETIME))
}

/// The signed-in user's id, renewing the session's expiry now and then.
pub async fn user_id(session: &Session) -> Result<Option<i32>, tower_sessions::session::Error> {
    let user_id = session.get::<i32>(USER_ID).await?;
    if user_id.is_some()
        && session.expiry_date() - OffsetDateTime::now_utc() < IDLE_LIFETIME - RENEW_AFTER
    {
        session.set_expiry(Some(Expiry::OnInactivity(IDLE_LIFETIME)));
    }
    Ok(user_id)
}

/// The user that session `id` is signed in as now: None once it signed out or
/// expired. For a connection that outlives the request that opened it.
pub async fn signed_in_user(
    db: &DatabaseConnection,
    id: &Id,
) -> session_store::Result<Option<i32>> {
    let record = DbSessionStore::new(db.clone()).load(id).await?;
    Ok(record
        .and_then(|record| record.data.get(USER_ID).cloned())
        .and_then(|user_id| serde_json::from_value(user_id).ok()))
}

/// Signs the user in with a fresh session id, so that an id planted before
/// sign-in is worthless after it (no session fixation).
pub async fn sign_in(
    session: &Session,
    user_id: i32,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(USER_ID, user_id).await
}

pub async fn sign_out(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.flush().await
}
