//! Notebooks: the rules of SERVER.md for creating, listing, renaming and deleting
//! them. A notebook's title is its latest revision's title.

pub mod pruning;
pub mod revisions;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set, TransactionTrait,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};

use serde::{Deserialize, Serialize};

use crate::{
    cache::{Cache, CacheKey},
    clock::Clock,
    db::WriteQueue,
    entity::{notebook, revision, user},
    error::{Error, Result},
    events::{Event, Events},
    pagination::{MAX_PAGE_SIZE, Page, PageRequest},
    policy::{self, NotebookOwner},
    users,
    viewer::Viewer,
};

pub const MAX_TITLE_CHARS: usize = 255;

pub struct NewNotebook {
    pub title: String,
    pub content: String,
    pub forked_from: Option<i32>,
    pub owner: Option<String>,
}

/// Which notebooks a list shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NotebookFilter {
    pub owner_id: Option<i32>,
    pub search: Option<String>,
}

pub fn validate_title(title: &str) -> Result<()> {
    without_nul("title", title)?;
    if title.trim().is_empty() {
        return Err(Error::bad_input("The title cannot be empty"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(Error::bad_input(format!(
            "The title is longer than {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(())
}

/// A notebook's text as both databases store it: PostgreSQL's text cannot
/// hold U+0000, so no database is given one (SQLite would keep it, and a
/// notebook would then not move between them).
pub fn validate_content(content: &str) -> Result<()> {
    without_nul("content", content)
}

fn without_nul(what: &str, text: &str) -> Result<()> {
    match text.contains('\0') {
        true => Err(Error::bad_input(format!(
            "The {what} contains the character U+0000 (NUL), which cannot be stored"
        ))),
        false => Ok(()),
    }
}

pub async fn get(db: &impl ConnectionTrait, id: i32) -> Result<Option<notebook::Model>> {
    Ok(notebook::Entity::find_by_id(id).one(db).await?)
}

/// What the editor opens, and so what is cached: a notebook, its text and its
/// owner.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NotebookWithLatest {
    pub notebook: notebook::Model,
    pub latest_revision: revision::Model,
    pub owner: user::Model,
}

pub async fn get_with_latest(
    db: &impl ConnectionTrait,
    cache: &Cache,
    id: i32,
) -> Result<Option<NotebookWithLatest>> {
    cache
        .get_or_load(&CacheKey::Notebook(id), || async {
            let Some(notebook) = get(db, id).await? else {
                return Ok(None);
            };
            let latest = revisions::latest_for(db, &[id]).await?.remove(&id);
            let owner = users::by_id(db, notebook.owner_id).await?;
            Ok(latest
                .zip(owner)
                .map(|(latest_revision, owner)| NotebookWithLatest {
                    notebook,
                    latest_revision,
                    owner,
                }))
        })
        .await
}

/// Notebooks forked from any of these revisions: deleting the revisions sets
/// their `forked_from` to null.
async fn forks_of(db: &impl ConnectionTrait, revision_ids: Vec<i32>) -> Result<Vec<i32>> {
    Ok(notebook::Entity::find()
        .select_only()
        .column(notebook::Column::Id)
        .filter(notebook::Column::ForkedFromId.is_in(revision_ids))
        .into_tuple()
        .all(db)
        .await?)
}

pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<std::collections::HashMap<i32, notebook::Model>> {
    let notebooks = notebook::Entity::find()
        .filter(notebook::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(notebooks.into_iter().map(|nb| (nb.id, nb)).collect())
}

/// The notebook, if it exists and the viewer may change it.
pub async fn editable(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
) -> Result<notebook::Model> {
    policy::signed_in(viewer)?;
    let notebook = get(db, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Notebook {id}")))?;
    policy::ensure_can_edit_notebook(viewer, &notebook)?;
    Ok(notebook)
}

pub async fn create(
    db: &DatabaseConnection,
    cache: &Cache,
    clock: &Clock,
    viewer: &Viewer,
    new: NewNotebook,
) -> Result<notebook::Model> {
    let now = clock.now();
    validate_title(&new.title)?;
    validate_content(&new.content)?;
    let owner = match policy::notebook_owner(viewer, new.owner.as_deref())? {
        NotebookOwner::Viewer(user) => user.clone(),
        NotebookOwner::OnBehalfOf(username) => users::find_or_create(db, username).await?,
    };
    if let Some(revision_id) = new.forked_from
        && revision::Entity::find_by_id(revision_id)
            .one(db)
            .await?
            .is_none()
    {
        return Err(Error::not_found(format!("Revision {revision_id}")));
    }
    let txn = db.begin().await?;
    let notebook = notebook::ActiveModel {
        owner_id: Set(owner.id),
        title: Set(new.title.clone()),
        forked_from_id: Set(new.forked_from),
        created_at: Set(now),
        updated_at: Set(now),
        prune_revisions_at: Set(Some(pruning::due_after_save(now))),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    revisions::insert(&txn, notebook.id, new.title, new.content, now).await?;
    txn.commit().await?;
    cache.invalidate([CacheKey::FirstNotebookPage]).await;
    Ok(notebook)
}

/// Renames by saving a new revision with the same content, so that the title
/// stays the latest revision's and the history shows the rename.
// The same services as revisions::create, which it calls, and the rename.
#[allow(clippy::too_many_arguments)]
pub async fn update_title(
    db: &DatabaseConnection,
    writes: &WriteQueue,
    cache: &Cache,
    clock: &Clock,
    events: &Events,
    viewer: &Viewer,
    id: i32,
    title: String,
) -> Result<notebook::Model> {
    let notebook = editable(db, viewer, id).await?;
    if notebook.title == title {
        return Ok(notebook);
    }
    let latest = revisions::latest_for(db, &[id]).await?.remove(&id);
    let content = latest.map(|revision| revision.content).unwrap_or_default();
    revisions::create(
        db,
        writes,
        cache,
        clock,
        events,
        viewer,
        revisions::NewRevision {
            notebook_id: id,
            title,
            content,
            parent_revision_id: None,
        },
    )
    .await?;
    get(db, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Notebook {id}")))
}

/// Deletes the notebook with its revisions, files and sources (cascades in the
/// schema); forks keep existing with `forked_from` set to null.
pub async fn delete(
    db: &DatabaseConnection,
    cache: &Cache,
    events: &Events,
    viewer: &Viewer,
    id: i32,
) -> Result<()> {
    editable(db, viewer, id).await?;
    let revision_ids: Vec<i32> = revision::Entity::find()
        .select_only()
        .column(revision::Column::Id)
        .filter(revision::Column::NotebookId.eq(id))
        .into_tuple()
        .all(db)
        .await?;
    let forks = forks_of(db, revision_ids).await?;
    notebook::Entity::delete_by_id(id).exec(db).await?;
    let deleted = Event::NotebookChanged {
        notebook_id: id,
        deleted: true,
    };
    let stale = CacheKey::showing_notebooks(&[&forks[..], &[id]].concat());
    events
        .publish_after_invalidating(cache, stale, deleted)
        .await;
    tell_unlinked(events, &forks).await;
    Ok(())
}

/// Tells the subscribers of these forks that they no longer come from a
/// revision (it was deleted): their `forkedFrom` is now null.
async fn tell_unlinked(events: &Events, forks: &[i32]) {
    for &notebook_id in forks {
        let unlinked = Event::NotebookChanged {
            notebook_id,
            deleted: false,
        };
        events.publish(unlinked).await;
    }
}

/// A page of notebooks, with what is already known of their owners and latest
/// revisions (the front page is cached with them).
pub struct Listed {
    pub page: Page<notebook::Model>,
    pub owners: Vec<user::Model>,
    pub latest_heads: Vec<revision::Head>,
}

pub async fn list(
    db: &impl ConnectionTrait,
    cache: &Cache,
    filter: &NotebookFilter,
    page: &PageRequest,
) -> Result<Listed> {
    if *filter == NotebookFilter::default() && page.is_first_forward_page() {
        let FrontPage {
            notebooks,
            owners,
            latest_heads,
        } = front_page(db, cache).await?;
        let rows = notebooks
            .into_iter()
            .take(page.limit as usize + 1)
            .collect();
        return Ok(Listed {
            page: page.finish(rows),
            owners,
            latest_heads,
        });
    }
    let select = page.apply(filtered(filter), notebook::Column::Id);
    Ok(Listed {
        page: page.finish(select.all(db).await?),
        owners: vec![],
        latest_heads: vec![],
    })
}

/// The newest notebooks, cached once for every page size (the largest page and
/// the one row that tells whether another page follows), with what the list
/// shows of them.
#[derive(Default, Serialize, Deserialize)]
struct FrontPage {
    notebooks: Vec<notebook::Model>,
    owners: Vec<user::Model>,
    latest_heads: Vec<revision::Head>,
}

async fn front_page(db: &impl ConnectionTrait, cache: &Cache) -> Result<FrontPage> {
    let largest = PageRequest::new(Some(MAX_PAGE_SIZE), None, None, None)?;
    let front = cache
        .get_or_load(&CacheKey::FirstNotebookPage, || async {
            let select = largest.apply(notebook::Entity::find(), notebook::Column::Id);
            let notebooks = select.all(db).await?;
            let ids: Vec<i32> = notebooks.iter().map(|nb| nb.id).collect();
            let owner_ids: Vec<i32> = notebooks.iter().map(|nb| nb.owner_id).collect();
            let owners = users::by_ids(db, &owner_ids).await?.into_values().collect();
            let latest_heads = revisions::latest_heads_for(db, &ids)
                .await?
                .into_values()
                .collect();
            Ok::<_, Error>(Some(FrontPage {
                notebooks,
                owners,
                latest_heads,
            }))
        })
        .await?;
    Ok(front.unwrap_or_default())
}

pub async fn count(db: &impl ConnectionTrait, filter: &NotebookFilter) -> Result<u64> {
    Ok(filtered(filter).count(db).await?)
}

/// The id of `username`, or `None` when nobody has that name (an empty list).
pub async fn owner_filter(
    db: &impl ConnectionTrait,
    cache: &Cache,
    username: &str,
) -> Result<Option<i32>> {
    Ok(users::cached_by_username(db, cache, username)
        .await?
        .map(|user| user.id))
}

fn filtered(filter: &NotebookFilter) -> sea_orm::Select<notebook::Entity> {
    let mut select = notebook::Entity::find();
    if let Some(owner_id) = filter.owner_id {
        select = select.filter(notebook::Column::OwnerId.eq(owner_id));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        select = select.filter(
            Expr::expr(Func::lower(Expr::col(notebook::Column::Title)))
                .like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    select
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::NotebookWithLatest;
    use crate::{
        cache::{decode, encode},
        entity::{notebook, revision, user},
    };

    /// Times as SQLite keeps them, to the nanosecond.
    fn time(nanos: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(1_800_000_000_123_456_789 + nanos)
    }

    #[test]
    fn a_cached_notebook_decodes_to_exactly_what_was_stored() {
        let stored = NotebookWithLatest {
            notebook: notebook::Model {
                id: 7,
                owner_id: 3,
                title: "Ünïcode \"title\"".into(),
                forked_from_id: None,
                created_at: time(0),
                updated_at: time(1),
                prune_revisions_at: Some(time(2)),
            },
            latest_revision: revision::Model {
                id: 11,
                notebook_id: 7,
                title: String::new(),
                content: "%% js\nconsole.log(1)\n".repeat(100),
                is_draft: true,
                created_at: time(3),
            },
            owner: user::Model {
                id: 3,
                username: "ada".into(),
                email: None,
                full_name: Some("Ada L.".into()),
                avatar: None,
                is_staff: false,
                can_create_on_behalf_of_others: true,
                created_at: time(4),
                last_login_at: None,
            },
        };
        let decoded: NotebookWithLatest = decode(&encode(&stored).unwrap()).unwrap();
        assert_eq!(decoded.notebook, stored.notebook);
        assert_eq!(decoded.latest_revision, stored.latest_revision);
        assert_eq!(decoded.owner, stored.owner);
    }
}
