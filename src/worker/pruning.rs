//! The pruning job. Its queue is the `prune_revisions_at` marker that each save
//! sets on the notebook (see notebooks::revisions). A worker claims a due
//! notebook by clearing the marker, prunes, and sets the marker again if young
//! drafts remain, all in one transaction: a worker that dies rolls it back and
//! the marker is there for the next one. On PostgreSQL, FOR UPDATE SKIP LOCKED
//! lets several workers prune different notebooks at once and skips a notebook
//! that is being saved.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::{Expr, LockBehavior, LockType, Query},
};

use super::WorkerError;
use crate::{
    cache::{Cache, CacheKey},
    entity::notebook,
    notebooks::{self, pruning::Pruned},
};

/// Prunes the notebook due first at `now`, if any; returns its id and what was
/// done.
pub async fn prune_next(
    db: &DatabaseConnection,
    cache: &Cache,
    now: DateTime<Utc>,
) -> Result<Option<(i32, Pruned)>, WorkerError> {
    let txn = db.begin().await?;
    let Some(notebook_id) = claim_due(&txn, now).await? else {
        return Ok(None);
    };
    let pruned = notebooks::pruning::prune(&txn, notebook_id, now).await?;
    if let Some(due) = pruned.next_due {
        notebook::Entity::update_many()
            .col_expr(notebook::Column::PruneRevisionsAt, Expr::value(due))
            .filter(notebook::Column::Id.eq(notebook_id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    if pruned.changed_anything() {
        // The cached latest revision may have stopped being a draft.
        cache
            .invalidate(CacheKey::showing_notebooks(&[notebook_id]))
            .await;
    }
    Ok(Some((notebook_id, pruned)))
}

async fn claim_due(
    txn: &impl sea_orm::ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Option<i32>, DbErr> {
    let due_first = Query::select()
        .column(notebook::Column::Id)
        .from(notebook::Entity)
        .and_where(notebook::Column::PruneRevisionsAt.lte(now))
        .order_by(notebook::Column::PruneRevisionsAt, sea_orm::Order::Asc)
        .limit(1)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .to_owned();
    let claimed: Vec<i32> = notebook::Entity::update_many()
        .col_expr(
            notebook::Column::PruneRevisionsAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(notebook::Column::Id.in_subquery(due_first))
        .filter(notebook::Column::PruneRevisionsAt.lte(now))
        .exec_with_returning(txn)
        .await?
        .into_iter()
        .map(|notebook| notebook.id)
        .collect();
    Ok(claimed.first().copied())
}
