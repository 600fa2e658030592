//! Pruning draft revisions (SERVER.md): the editor autosaves every 30 s, so
//! a notebook's history would fill with near-copies. Of the drafts older than
//! 60 s, the first of each 60-second window is kept and marked not a draft; the
//! others are deleted, and so is a draft identical to the revision before it.
//!
//! Windows are fixed ("tumbling", as in the original server): second 0-59 of
//! each minute since the epoch, so that pruning twice gives the same history.
//! Two revisions are never deleted: the notebook's latest (the editor saves
//! with it as the parent) and one that a fork started from.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

use crate::{
    entity::{notebook, revision},
    error::Result,
};

/// The window length, and the age before which a draft is left alone.
pub const WINDOW: TimeDelta = TimeDelta::seconds(60);

/// When a revision saved at `saved_at` can be pruned: once it is older than a
/// window (with a second to spare).
pub fn due_after_save(saved_at: DateTime<Utc>) -> DateTime<Utc> {
    saved_at + WINDOW + TimeDelta::seconds(1)
}

/// What one pruning did, and when the notebook should be pruned again.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub deleted: Vec<i32>,
    /// Drafts kept and marked not drafts.
    pub kept: Vec<i32>,
    /// Drafts too young to prune yet: when the oldest of them can be.
    pub next_due: Option<DateTime<Utc>>,
}

impl Pruned {
    pub fn changed_anything(&self) -> bool {
        !self.deleted.is_empty() || !self.kept.is_empty()
    }
}

/// Prunes one notebook's drafts as they stand at `now`. Run it in a transaction
/// that holds the notebook's row, so that no save interleaves.
pub async fn prune(
    db: &impl ConnectionTrait,
    notebook_id: i32,
    now: DateTime<Utc>,
) -> Result<Pruned> {
    let history = history_since_first_draft(db, notebook_id).await?;
    let draft_ids = history.iter().filter(|r| r.is_draft).map(|r| r.id);
    let forked_from = forked_from(db, draft_ids.collect()).await?;
    let pruned = decide(&history, &forked_from, now);
    if !pruned.deleted.is_empty() {
        revision::Entity::delete_many()
            .filter(revision::Column::Id.is_in(pruned.deleted.iter().copied()))
            .exec(db)
            .await?;
    }
    if !pruned.kept.is_empty() {
        revision::Entity::update_many()
            .col_expr(revision::Column::IsDraft, Expr::value(false))
            .filter(revision::Column::Id.is_in(pruned.kept.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(pruned)
}

/// The decision, apart from the database. `history` is in saving order and
/// starts before the first draft; its last revision is the notebook's latest.
fn decide(history: &[revision::Model], forked_from: &HashSet<i32>, now: DateTime<Utc>) -> Pruned {
    let mut pruned = Pruned::default();
    let Some(latest) = history.last() else {
        return pruned;
    };
    let cutoff = now - WINDOW;
    let mut previous: Option<&revision::Model> = None;
    let mut windows_taken = HashSet::new();
    for revision in history {
        let window = revision
            .created_at
            .timestamp()
            .div_euclid(WINDOW.num_seconds());
        if !revision.is_draft || revision.created_at >= cutoff {
            if revision.is_draft {
                let due = due_after_save(revision.created_at);
                pruned.next_due =
                    Some(pruned.next_due.map_or(due, |next| std::cmp::min(next, due)));
            }
            windows_taken.insert(window);
            previous = Some(revision);
            continue;
        }
        let unchanged =
            previous.is_some_and(|p| p.title == revision.title && p.content == revision.content);
        let redundant = unchanged || windows_taken.contains(&window);
        let protected = revision.id == latest.id || forked_from.contains(&revision.id);
        match (redundant, protected) {
            (true, false) => pruned.deleted.push(revision.id),
            // Left a draft, to be reconsidered once it is no longer protected.
            (true, true) => previous = Some(revision),
            (false, _) => {
                pruned.kept.push(revision.id);
                windows_taken.insert(window);
                previous = Some(revision);
            }
        }
    }
    pruned
}

/// The notebook's drafts with the revision saved just before the first of them,
/// oldest first.
async fn history_since_first_draft(
    db: &impl ConnectionTrait,
    notebook_id: i32,
) -> Result<Vec<revision::Model>> {
    let first_draft: Option<i32> = revision::Entity::find()
        .select_only()
        .column_as(revision::Column::Id.min(), "id")
        .filter(revision::Column::NotebookId.eq(notebook_id))
        .filter(revision::Column::IsDraft.eq(true))
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    let Some(first_draft) = first_draft else {
        return Ok(vec![]);
    };
    let before: Option<i32> = revision::Entity::find()
        .select_only()
        .column_as(revision::Column::Id.max(), "id")
        .filter(revision::Column::NotebookId.eq(notebook_id))
        .filter(revision::Column::Id.lt(first_draft))
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    Ok(revision::Entity::find()
        .filter(revision::Column::NotebookId.eq(notebook_id))
        .filter(revision::Column::Id.gte(before.unwrap_or(first_draft)))
        .order_by_asc(revision::Column::Id)
        .all(db)
        .await?)
}

/// Which of these revisions a notebook was forked from.
async fn forked_from(db: &impl ConnectionTrait, revision_ids: Vec<i32>) -> Result<HashSet<i32>> {
    let ids: Vec<Option<i32>> = notebook::Entity::find()
        .select_only()
        .column(notebook::Column::ForkedFromId)
        .filter(notebook::Column::ForkedFromId.is_in(revision_ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn draft(id: i32, seconds: i64, content: &str) -> revision::Model {
        revision::Model {
            id,
            notebook_id: 1,
            title: "t".into(),
            content: content.into(),
            is_draft: true,
            created_at: at(seconds),
        }
    }

    #[test]
    fn the_first_draft_of_each_window_is_kept() {
        // at(0) starts a window: 1_800_000_000 is a multiple of 60.
        let history = [
            draft(1, 0, "a"),
            draft(2, 30, "b"),
            draft(3, 61, "c"),
            draft(4, 200, "d"),
        ];
        let pruned = decide(&history, &HashSet::new(), at(230));
        assert_eq!(pruned.kept, [1, 3]);
        assert_eq!(pruned.deleted, [2]);
        assert_eq!(pruned.next_due, Some(due_after_save(at(200))));
    }

    #[test]
    fn the_latest_and_forked_revisions_stay() {
        let history = [draft(1, 0, "a"), draft(2, 20, "b"), draft(3, 40, "c")];
        let forked = HashSet::from([2]);
        let pruned = decide(&history, &forked, at(500));
        assert_eq!(pruned.kept, [1]);
        assert!(pruned.deleted.is_empty(), "{pruned:?}");
        assert_eq!(pruned.next_due, None);
    }
}
