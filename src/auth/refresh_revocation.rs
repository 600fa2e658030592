//! Signing out revokes the refresh tokens issued to that session. The session
//! holds a random token family, which its refresh tokens name; signing out
//! records the family in the database (every web process sees it, whatever the
//! cache), and /token/refresh/ refuses a token of a recorded family.

use chrono::Utc;
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set};
use tower_sessions::{Session, session};

use super::jwt::REFRESH_LIFETIME;
use crate::entity::revoked_token_family as revoked;

const TOKEN_FAMILY: &str = "token_family";

/// The family of the refresh tokens handed to this session, made on first use.
pub async fn family_of(session: &Session) -> Result<String, session::Error> {
    if let Some(family) = session.get::<String>(TOKEN_FAMILY).await? {
        return Ok(family);
    }
    let family = Alphanumeric.sample_string(&mut rand::rng(), 32);
    session.insert(TOKEN_FAMILY, &family).await?;
    Ok(family)
}

/// The family that this session's refresh tokens name, if it was given any.
pub async fn issued_family(session: &Session) -> Result<Option<String>, session::Error> {
    session.get::<String>(TOKEN_FAMILY).await
}

/// Revokes `family` until its last token would have expired anyway, and
/// forgets families whose tokens have all expired.
pub async fn revoke(db: &DatabaseConnection, family: String) -> Result<(), DbErr> {
    let now = Utc::now();
    revoked::Entity::delete_many()
        .filter(revoked::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    let row = revoked::ActiveModel {
        family: Set(family),
        expires_at: Set(now + REFRESH_LIFETIME),
    };
    revoked::Entity::insert(row)
        .on_conflict_do_nothing_on([revoked::Column::Family])
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn is_revoked(db: &DatabaseConnection, family: &str) -> Result<bool, DbErr> {
    Ok(revoked::Entity::find_by_id(family.to_string())
        .one(db)
        .await?
        .is_some())
}
