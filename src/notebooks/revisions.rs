//! Revisions: the notebook's text over time.
//!
//! Writes to one notebook are serialised by first touching the notebook row (a row
//! lock on PostgreSQL, the write lock on SQLite), so that the stale-parent check
//! and the insert cannot interleave with another tab's save.
//!
//! Each save also tells the worker when to prune the notebook's drafts (see
//! [`super::pruning`]); the marker is written in the save's transaction, so no
//! save is ever left unpruned.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, NotSet, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::{Alias, Expr, ExprTrait, Func, Query, SelectStatement},
};

use super::{forks_of, pruning, tell_unlinked, validate_content, validate_title};
use crate::{
    cache::{Cache, CacheKey},
    clock::Clock,
    db::WriteQueue,
    entity::{notebook, revision},
    error::{Error, Result},
    events::{Event, Events},
    pagination::{Page, PageRequest},
    policy,
    viewer::Viewer,
};

pub struct NewRevision {
    pub notebook_id: i32,
    pub title: String,
    pub content: String,
    /// The revision the editor started from; a newer save elsewhere is a conflict.
    pub parent_revision_id: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RevisionFilter {
    pub notebook_id: i32,
    pub ids: Option<Vec<i32>>,
}

pub async fn get(db: &impl ConnectionTrait, id: i32) -> Result<Option<revision::Model>> {
    Ok(revision::Entity::find_by_id(id).one(db).await?)
}

pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<HashMap<i32, revision::Model>> {
    let revisions = revision::Entity::find()
        .filter(revision::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(revisions.into_iter().map(|r| (r.id, r)).collect())
}

/// The latest revision of each notebook, in one query.
pub async fn latest_for(
    db: &impl ConnectionTrait,
    notebook_ids: &[i32],
) -> Result<HashMap<i32, revision::Model>> {
    let revisions = revision::Entity::find()
        .filter(revision::Column::Id.in_subquery(latest_ids(notebook_ids)))
        .all(db)
        .await?;
    Ok(revisions.into_iter().map(|r| (r.notebook_id, r)).collect())
}

/// The notebook's revisions after `after` up to `up_to`, oldest first: what a
/// subscriber that has seen `after` missed, whatever order the events came in.
pub async fn saved_between(
    db: &impl ConnectionTrait,
    notebook_id: i32,
    after: i32,
    up_to: i32,
) -> Result<Vec<revision::Model>> {
    Ok(revision::Entity::find()
        .filter(revision::Column::NotebookId.eq(notebook_id))
        .filter(revision::Column::Id.gt(after))
        .filter(revision::Column::Id.lte(up_to))
        .order_by_asc(revision::Column::Id)
        .all(db)
        .await?)
}

/// As [`latest_for`] without the content, which a list does not show: a page of
/// 50 notebooks would otherwise read a megabyte of text for 50 titles.
pub async fn latest_heads_for(
    db: &impl ConnectionTrait,
    notebook_ids: &[i32],
) -> Result<HashMap<i32, revision::Head>> {
    let heads = revision::Entity::find()
        .filter(revision::Column::Id.in_subquery(latest_ids(notebook_ids)))
        .into_partial_model::<revision::Head>()
        .all(db)
        .await?;
    Ok(heads.into_iter().map(|r| (r.notebook_id, r)).collect())
}

fn latest_ids(notebook_ids: &[i32]) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .expr(Expr::col(revision::Column::Id).max())
        .from(revision::Entity)
        .and_where(revision::Column::NotebookId.is_in(notebook_ids.iter().copied()))
        .group_by_col(revision::Column::NotebookId)
        .to_owned()
}

/// How many revisions each notebook has, in one query; every id has an entry.
pub async fn counts_for(
    db: &impl ConnectionTrait,
    notebook_ids: &[i32],
) -> Result<HashMap<i32, i64>> {
    let counts: Vec<(i32, i64)> = revision::Entity::find()
        .select_only()
        .column(revision::Column::NotebookId)
        .column_as(revision::Column::Id.count(), "count")
        .filter(revision::Column::NotebookId.is_in(notebook_ids.iter().copied()))
        .group_by(revision::Column::NotebookId)
        .into_tuple()
        .all(db)
        .await?;
    let mut by_notebook: HashMap<i32, i64> = notebook_ids.iter().map(|id| (*id, 0)).collect();
    by_notebook.extend(counts);
    Ok(by_notebook)
}

pub async fn list(
    db: &impl ConnectionTrait,
    filter: &RevisionFilter,
    page: &PageRequest,
) -> Result<Page<revision::Model>> {
    let select = page.apply(filtered(filter), revision::Column::Id);
    Ok(page.finish(select.all(db).await?))
}

pub async fn count(db: &impl ConnectionTrait, filter: &RevisionFilter) -> Result<u64> {
    Ok(filtered(filter).count(db).await?)
}

fn filtered(filter: &RevisionFilter) -> sea_orm::Select<revision::Entity> {
    let mut select =
        revision::Entity::find().filter(revision::Column::NotebookId.eq(filter.notebook_id));
    if let Some(ids) = &filter.ids {
        select = select.filter(revision::Column::Id.is_in(ids.iter().copied()));
    }
    select
}

pub async fn create(
    db: &DatabaseConnection,
    writes: &WriteQueue,
    cache: &Cache,
    clock: &Clock,
    events: &Events,
    viewer: &Viewer,
    new: NewRevision,
) -> Result<revision::Model> {
    let now = clock.now();
    validate_title(&new.title)?;
    validate_content(&new.content)?;
    policy::signed_in(viewer)?;
    let turn = writes.turn().await;
    let txn = db.begin().await?;
    let notebook = claim_for_save(&txn, new.notebook_id, &new.title, now).await?;
    // Refused saves roll back with the transaction, the claim included.
    policy::ensure_can_edit_notebook(viewer, &notebook)?;
    let Some(inserted) = insert_unless_refused(&txn, &new, now).await? else {
        // The lock is still held: the latest revision is the one that refused.
        return Err(why_refused(&txn, &new).await?);
    };
    txn.commit().await?;
    drop(turn);
    let revision = revision::Model {
        id: inserted.id,
        notebook_id: new.notebook_id,
        title: new.title,
        content: new.content,
        is_draft: true,
        created_at: inserted.created_at,
    };
    events.keep_if_watched(&revision, inserted.previous_id.unwrap_or(0));
    let saved = Event::RevisionSaved {
        notebook_id: revision.notebook_id,
        revision_id: revision.id,
    };
    let stale = CacheKey::showing_notebooks(&[new.notebook_id]);
    events.publish_after_invalidating(cache, stale, saved).await;
    Ok(revision)
}

/// Deletes one revision; the notebook's title follows its new latest revision. A
/// notebook's only revision cannot be deleted: delete the notebook instead.
pub async fn delete(
    db: &DatabaseConnection,
    cache: &Cache,
    clock: &Clock,
    events: &Events,
    viewer: &Viewer,
    id: i32,
) -> Result<i32> {
    let revision = get(db, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Revision {id}")))?;
    super::editable(db, viewer, revision.notebook_id).await?;
    let txn = db.begin().await?;
    lock_notebook(&txn, revision.notebook_id, clock.now()).await?;
    let remaining = revision::Entity::find()
        .filter(revision::Column::NotebookId.eq(revision.notebook_id))
        .filter(revision::Column::Id.ne(id))
        .order_by_desc(revision::Column::Id)
        .limit(1)
        .one(&txn)
        .await?;
    let Some(new_latest) = remaining else {
        return Err(Error::bad_input(
            "This is the notebook's only revision; delete the notebook instead",
        ));
    };
    let forks = forks_of(&txn, vec![id]).await?;
    revision::Entity::delete_by_id(id).exec(&txn).await?;
    set_title(&txn, revision.notebook_id, &new_latest.title).await?;
    txn.commit().await?;
    let notebook_changed = Event::NotebookChanged {
        notebook_id: revision.notebook_id,
        deleted: false,
    };
    let stale = CacheKey::showing_notebooks(&[&forks[..], &[revision.notebook_id]].concat());
    events
        .publish_after_invalidating(cache, stale, notebook_changed)
        .await;
    tell_unlinked(events, &forks).await;
    Ok(revision.notebook_id)
}

/// Inserts a draft revision. Callers hold the notebook's write lock (or have
/// just created it) and have set its title and pruning time.
pub(super) async fn insert(
    db: &impl ConnectionTrait,
    notebook_id: i32,
    title: String,
    content: String,
    now: DateTime<Utc>,
) -> Result<revision::Model> {
    let mut revision = revision::Model {
        id: 0,
        notebook_id,
        title,
        content,
        is_draft: true,
        created_at: now,
    };
    let mut row = revision::ActiveModel::from(revision.clone());
    row.id = NotSet;
    // Only the id comes back: the content is not sent twice.
    revision.id = revision::Entity::insert(row).exec(db).await?.last_insert_id;
    Ok(revision)
}

/// Takes the notebook's write lock by updating its row first, and records the
/// save on it in the same statement: the title, the time, and when the worker
/// should prune drafts (an earlier due time is kept, so that a long editing
/// session is pruned as it goes).
async fn claim_for_save(
    db: &impl ConnectionTrait,
    notebook_id: i32,
    title: &str,
    now: DateTime<Utc>,
) -> Result<notebook::Model> {
    let due = pruning::due_after_save(now);
    notebook::Entity::update_many()
        .col_expr(notebook::Column::UpdatedAt, Expr::value(now))
        .col_expr(notebook::Column::Title, Expr::value(title))
        .col_expr(
            notebook::Column::PruneRevisionsAt,
            Func::coalesce([
                Expr::col(notebook::Column::PruneRevisionsAt),
                Expr::value(due),
            ])
            .into(),
        )
        .filter(notebook::Column::Id.eq(notebook_id))
        .exec_with_returning(db)
        .await?
        .pop()
        .ok_or_else(|| Error::not_found(format!("Notebook {notebook_id}")))
}

/// Why a save may not follow the notebook's latest revision: the value of
/// [`refusal`].
const STALE_PARENT: &str = "stale parent";
const UNCHANGED: &str = "unchanged";

/// The save-refusal rule, the one place it is written: on the notebook's latest
/// revision, why `new` may not follow it (a stale parent, or no change), or NULL
/// when it may. It runs in the database, so the latest content is never read
/// back.
fn refusal(new: &NewRevision) -> Expr {
    let unchanged = Expr::col(revision::Column::Title)
        .eq(new.title.as_str())
        .and(Expr::col(revision::Column::Content).eq(new.content.as_str()));
    match new.parent_revision_id {
        Some(parent) => Expr::case(Expr::col(revision::Column::Id).ne(parent), STALE_PARENT)
            .case(unchanged, UNCHANGED)
            .into(),
        None => Expr::case(unchanged, UNCHANGED).into(),
    }
}

/// The notebook's latest revision, as the subject of [`refusal`].
fn latest_of(notebook_id: i32) -> SelectStatement {
    Query::select()
        .columns([
            revision::Column::Id,
            revision::Column::Title,
            revision::Column::Content,
        ])
        .from(revision::Entity)
        .and_where(revision::Column::NotebookId.eq(notebook_id))
        .order_by(revision::Column::Id, Order::Desc)
        .limit(1)
        .to_owned()
}

/// A save as its insert returned it.
struct Inserted {
    id: i32,
    /// As stored: PostgreSQL keeps microseconds, and a subscriber handed the
    /// kept revision sees what a read would show.
    created_at: DateTime<Utc>,
    /// The notebook's latest revision before this one, if any: under the
    /// notebook's write lock no revision can come between the two.
    previous_id: Option<i32>,
}

/// Inserts the save as a draft unless the latest revision refuses it, in one
/// statement; None when refused.
async fn insert_unless_refused(
    db: &impl ConnectionTrait,
    new: &NewRevision,
    now: DateTime<Utc>,
) -> Result<Option<Inserted>> {
    let refusing_latest = Query::select()
        .expr(Expr::val(1))
        .from_subquery(latest_of(new.notebook_id), Alias::new("latest"))
        .and_where(refusal(new).is_not_null())
        .to_owned();
    let row = Query::select()
        .exprs([
            Expr::val(new.notebook_id),
            Expr::val(new.title.as_str()),
            Expr::val(new.content.as_str()),
            Expr::val(true),
            Expr::val(now),
        ])
        .and_where(Expr::exists(refusing_latest).not())
        .to_owned();
    let insert = Query::insert()
        .into_table(revision::Entity)
        .columns([
            revision::Column::NotebookId,
            revision::Column::Title,
            revision::Column::Content,
            revision::Column::IsDraft,
            revision::Column::CreatedAt,
        ])
        .select_from(row)
        .map_err(|err| Error::Internal(err.to_string()))?
        .returning(Query::returning().exprs([
            Expr::col(revision::Column::Id),
            Expr::col(revision::Column::CreatedAt),
            Expr::SubQuery(None, Box::new(previous_of(new.notebook_id).into())),
        ]))
        .to_owned();
    let Some(inserted) = db.query_one(&insert).await? else {
        return Ok(None);
    };
    Ok(Some(Inserted {
        id: inserted.try_get_by_index(0)?,
        created_at: inserted.try_get_by_index(1)?,
        previous_id: inserted.try_get_by_index(2)?,
    }))
}

/// In the RETURNING of a save's insert: the notebook's latest revision before
/// the inserted one. The inserted row is excluded by its id, as SQLite's
/// subquery may see it and PostgreSQL's does not.
fn previous_of(notebook_id: i32) -> SelectStatement {
    let earlier = Alias::new("earlier");
    Query::select()
        .expr(Expr::col((earlier.clone(), revision::Column::Id)).max())
        .from_as(revision::Entity, earlier.clone())
        .and_where(Expr::col((earlier.clone(), revision::Column::NotebookId)).eq(notebook_id))
        .and_where(
            Expr::col((earlier, revision::Column::Id))
                .lt(Expr::col((revision::Entity, revision::Column::Id))),
        )
        .to_owned()
}

/// The error for a refused save, saying which refusal by the same rule.
async fn why_refused(db: &impl ConnectionTrait, new: &NewRevision) -> Result<Error> {
    let verdict = Query::select()
        .column(revision::Column::Id)
        .expr_as(refusal(new), Alias::new("refusal"))
        .from_subquery(latest_of(new.notebook_id), Alias::new("latest"))
        .to_owned();
    let row = db
        .query_one(&verdict)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the revision that refused a save".into()))?;
    let latest_id: i32 = row.try_get("", "id")?;
    let refusal: String = row.try_get("", "refusal")?;
    Ok(match (refusal.as_str(), new.parent_revision_id) {
        (STALE_PARENT, Some(parent)) => Error::Conflict(format!(
            "This notebook was saved elsewhere since revision {parent}: the latest revision \
             is {latest_id}. Reload it, or save again without parentRevisionId to overwrite it."
        )),
        _ => Error::bad_input(
            "Nothing changed: the title and content are those of the latest revision",
        ),
    })
}

/// Takes the notebook's write lock by updating its row first.
async fn lock_notebook(
    db: &impl ConnectionTrait,
    notebook_id: i32,
    now: DateTime<Utc>,
) -> Result<()> {
    let updated = notebook::Entity::update_many()
        .col_expr(notebook::Column::UpdatedAt, Expr::value(now))
        .filter(notebook::Column::Id.eq(notebook_id))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(Error::not_found(format!("Notebook {notebook_id}")));
    }
    Ok(())
}

async fn set_title(db: &impl ConnectionTrait, notebook_id: i32, title: &str) -> Result<()> {
    notebook::Entity::update_many()
        .col_expr(notebook::Column::Title, Expr::value(title))
        .filter(notebook::Column::Id.eq(notebook_id))
        .exec(db)
        .await?;
    Ok(())
}
