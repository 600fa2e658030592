//! Users: looked up by name, created by administrators or on another's behalf.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, Set,
};

use crate::{
    cache::{Cache, CacheKey},
    entity::{api_token, user},
    error::{Error, Result},
};

pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub is_staff: bool,
    pub can_create_on_behalf_of_others: bool,
}

impl NewUser {
    pub fn named(username: impl Into<String>) -> Self {
        NewUser {
            username: username.into(),
            email: None,
            is_staff: false,
            can_create_on_behalf_of_others: false,
        }
    }
}

/// Usernames as GitHub and the original server allow them: letters, digits and
/// `_ . @ + -`, at most 150 characters.
pub fn validate_username(username: &str) -> Result<()> {
    let valid_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.@+-".contains(c));
    if username.is_empty() || username.chars().count() > 150 || !valid_chars {
        return Err(Error::bad_input(format!(
            "{username:?} is not a valid username: use 1 to 150 letters, digits or _ . @ + -"
        )));
    }
    Ok(())
}

pub async fn find_by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?)
}

/// A user by name, for display (the user page, a list's owner filter). Reads
/// that decide who may act use [`find_by_username`], which is never stale.
pub async fn cached_by_username(
    db: &impl ConnectionTrait,
    cache: &Cache,
    username: &str,
) -> Result<Option<user::Model>> {
    // Nobody has an invalid name, and such a name could collide with the
    // cache's own keys.
    if validate_username(username).is_err() {
        return Ok(None);
    }
    cache
        .get_or_load(&CacheKey::User(username.to_string()), || {
            find_by_username(db, username)
        })
        .await
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[i32]) -> Result<HashMap<i32, user::Model>> {
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(users.into_iter().map(|user| (user.id, user)).collect())
}

pub async fn create(db: &impl ConnectionTrait, new: NewUser) -> Result<user::Model> {
    validate_username(&new.username)?;
    let inserted = user::ActiveModel {
        username: Set(new.username.clone()),
        email: Set(new.email),
        is_staff: Set(new.is_staff),
        can_create_on_behalf_of_others: Set(new.can_create_on_behalf_of_others),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await;
    match inserted {
        Err(err) if Error::is_unique_violation(&err) => Err(Error::bad_input(format!(
            "A user named {:?} already exists",
            new.username
        ))),
        other => Ok(other?),
    }
}

/// The user of that name, created without grants if it does not exist yet. A
/// concurrent creation of the same name is not an error.
pub async fn find_or_create(db: &impl ConnectionTrait, username: &str) -> Result<user::Model> {
    validate_username(username)?;
    if let Some(user) = find_by_username(db, username).await? {
        return Ok(user);
    }
    match create(db, NewUser::named(username)).await {
        Err(Error::BadInput(_)) => find_by_username(db, username)
            .await?
            .ok_or_else(|| Error::not_found(format!("User {username:?}"))),
        other => other,
    }
}

/// Who a trusted identity provider says someone is.
pub struct ExternalProfile {
    pub username: String,
    pub full_name: Option<String>,
    pub avatar: Option<String>,
    pub email: Option<String>,
}

/// The user that a provider vouches for: created on first sight, and their name,
/// avatar and email refreshed on every sign-in after that.
pub async fn sign_in_external(
    db: &impl ConnectionTrait,
    cache: &Cache,
    profile: ExternalProfile,
) -> Result<user::Model> {
    let user = find_or_create(db, &profile.username).await?;
    let mut active = user.clone().into_active_model();
    if profile.full_name.is_some() {
        active.full_name = Set(profile.full_name);
    }
    if profile.avatar.is_some() {
        active.avatar = Set(profile.avatar);
    }
    if profile.email.is_some() {
        active.email = Set(profile.email);
    }
    active.last_login_at = Set(Some(Utc::now()));
    let updated = active.update(db).await?;
    forget(db, cache, &user, &updated).await?;
    Ok(updated)
}

pub async fn by_id(db: &impl ConnectionTrait, id: i32) -> Result<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// Changes a user's grants; `None` leaves one as it is.
pub async fn grant(
    db: &impl ConnectionTrait,
    cache: &Cache,
    username: &str,
    is_staff: Option<bool>,
    can_create_on_behalf_of_others: Option<bool>,
) -> Result<user::Model> {
    let user = find_by_username(db, username)
        .await?
        .ok_or_else(|| Error::not_found(format!("User {username:?}")))?;
    let mut active = user.clone().into_active_model();
    if let Some(value) = is_staff {
        active.is_staff = Set(value);
    }
    if let Some(value) = can_create_on_behalf_of_others {
        active.can_create_on_behalf_of_others = Set(value);
    }
    let updated = active.update(db).await?;
    forget(db, cache, &user, &updated).await?;
    Ok(updated)
}

/// The cache entries of a user's API tokens (see auth::api_token), which hold
/// the user's row.
async fn cached_tokens(db: &impl ConnectionTrait, user_id: i32) -> Result<Vec<CacheKey>> {
    let hashes: Vec<String> = api_token::Entity::find()
        .select_only()
        .column(api_token::Column::KeyHash)
        .filter(api_token::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(hashes.into_iter().map(CacheKey::ApiToken).collect())
}

/// Invalidates what the cache holds of a user: the entry by name, and, when
/// more than the sign-in time changed, the notebooks that show them as owner.
async fn forget(
    db: &impl ConnectionTrait,
    cache: &Cache,
    before: &user::Model,
    after: &user::Model,
) -> Result<()> {
    let mut keys = vec![CacheKey::User(after.username.clone())];
    // The identity layer's cached tokens carry the whole row (grants included).
    keys.extend(cached_tokens(db, after.id).await?);
    let shown = |user: &user::Model| user::Model {
        last_login_at: None,
        ..user.clone()
    };
    if shown(before) != shown(after) {
        keys.extend(CacheKey::showing_owner(db, after.id).await?);
    }
    cache.invalidate(keys).await;
    Ok(())
}
