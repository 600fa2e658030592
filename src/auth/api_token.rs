//! `Authorization: Token KEY`: secrets that an administrator creates for a
//! third-party service. Keys are random, carry a recognisable prefix (so that a
//! leaked key is easy to spot in a scan), and only their SHA-256 is stored: the key
//! has enough entropy that a slow hash would add nothing.
//!
//! On SQLite, a token's user is kept in the process until anything is
//! committed to the database file (see token_users). Otherwise, with a shared
//! cache (Redis), it is cached under the key's hash, and revoking the token (or
//! changing its user) invalidates that entry before the command returns: every
//! instance refuses a revoked token from its next request on. The in-process
//! cache is not told of a revocation made by the command line, so on PostgreSQL
//! without Redis every request reads the token's row.

use chrono::Utc;
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};

use super::{AuthMethod, TokenUsers, Viewer, token_users::Version};
use crate::{
    cache::{Cache, CacheKey},
    entity::{api_token, user},
    error::{AuthScheme, Error, Result},
};

pub const KEY_PREFIX: &str = "iod_";
const RANDOM_CHARS: usize = 40;
/// What is stored in the clear: the marker and eight random characters.
const SHOWN_CHARS: usize = KEY_PREFIX.len() + 8;

pub struct TokenListing {
    pub prefix: String,
    pub username: String,
    pub created_at: chrono::DateTime<Utc>,
}

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn looks_like_a_key(key: &str) -> bool {
    key.len() == KEY_PREFIX.len() + RANDOM_CHARS
        && key.starts_with(KEY_PREFIX)
        && key[KEY_PREFIX.len()..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
}

pub async fn authenticate(
    db: &DatabaseConnection,
    cache: &Cache,
    kept: &TokenUsers,
    key: &str,
) -> Result<Viewer> {
    let invalid = || Error::InvalidCredentials {
        scheme: AuthScheme::Token,
        message: "The API token is invalid or has been revoked".into(),
    };
    if !looks_like_a_key(key) {
        return Err(invalid());
    }
    let key_hash = hash(key);
    let found = if let Some(version) = kept.version() {
        kept_or_load(db, kept, version, &key_hash).await?
    } else if cache.reaches_every_process() {
        cache
            .get_or_load(&CacheKey::ApiToken(key_hash.clone()), || {
                user_of(db, &key_hash)
            })
            .await?
    } else {
        user_of(db, &key_hash).await?
    };
    match found {
        Some(user) => Ok(Viewer::user(user, AuthMethod::ApiToken)),
        None => Err(invalid()),
    }
}

async fn kept_or_load(
    db: &DatabaseConnection,
    kept: &TokenUsers,
    version: Version,
    key_hash: &str,
) -> Result<Option<user::Model>> {
    if let Some(user) = kept.get(version, key_hash) {
        return Ok(Some(user));
    }
    let found = user_of(db, key_hash).await?;
    if let Some(user) = &found {
        kept.keep(version, key_hash, user);
    }
    Ok(found)
}

async fn user_of(db: &DatabaseConnection, key_hash: &str) -> Result<Option<user::Model>> {
    let found = api_token::Entity::find()
        .filter(api_token::Column::KeyHash.eq(key_hash))
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    Ok(found.and_then(|(_, user)| user))
}

/// Creates a token for `username` and returns the key, which is never shown again.
pub async fn create(db: &DatabaseConnection, username: &str) -> Result<String> {
    let user = crate::users::find_by_username(db, username)
        .await?
        .ok_or_else(|| Error::not_found(format!("User {username:?}")))?;
    let key = format!(
        "{KEY_PREFIX}{}",
        Alphanumeric.sample_string(&mut rand::rng(), RANDOM_CHARS)
    );
    api_token::ActiveModel {
        user_id: Set(user.id),
        prefix: Set(key[..SHOWN_CHARS].to_string()),
        key_hash: Set(hash(&key)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(key)
}

/// Revokes a token given its whole key, or the prefix that `token list` shows.
/// `cache` is the servers' cache, which may hold the token.
pub async fn revoke(db: &DatabaseConnection, cache: &Cache, key_or_prefix: &str) -> Result<()> {
    let condition = if looks_like_a_key(key_or_prefix) {
        api_token::Column::KeyHash.eq(hash(key_or_prefix))
    } else {
        api_token::Column::Prefix.eq(key_or_prefix)
    };
    let matching = api_token::Entity::find().filter(condition).all(db).await?;
    match matching.as_slice() {
        [] => Err(Error::not_found("A token with that key or prefix")),
        [token] => {
            api_token::Entity::delete_by_id(token.id).exec(db).await?;
            // After the delete: a reader that misses now loads nothing, and one
            // that loaded the row before cannot fill the entry (generations).
            cache
                .invalidate([CacheKey::ApiToken(token.key_hash.clone())])
                .await;
            Ok(())
        }
        _ => Err(Error::bad_input(
            "Several tokens share that prefix; revoke by the whole key",
        )),
    }
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<TokenListing>> {
    let tokens = api_token::Entity::find()
        .find_also_related(user::Entity)
        .order_by_asc(api_token::Column::Id)
        .all(db)
        .await?;
    Ok(tokens
        .into_iter()
        .map(|(token, user)| TokenListing {
            prefix: token.prefix,
            username: user.map(|u| u.username).unwrap_or_default(),
            created_at: token.created_at,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape_is_checked_before_any_lookup() {
        let key = format!("{KEY_PREFIX}{}", "a".repeat(RANDOM_CHARS));
        assert!(looks_like_a_key(&key));
        assert!(!looks_like_a_key(&key[1..]));
        assert!(!looks_like_a_key(&format!("{key}a")));
        assert!(!looks_like_a_key(&key.replace('a', "é")));
        assert!(!looks_like_a_key(""));
    }

    proptest::proptest! {
        #[test]
        fn any_header_value_is_checked_without_panicking(text in "\\PC{0,60}") {
            let _ = looks_like_a_key(&text);
        }

        #[test]
        fn a_wrong_length_or_prefix_is_never_a_key(text in "[a-zA-Z0-9_]{0,43}") {
            proptest::prop_assert!(!looks_like_a_key(&text));
        }
    }
}
