//! The fetch queue: the file_update_operations table. A worker claims the oldest
//! pending operation by marking it running, in one statement that several
//! workers can run at once: on PostgreSQL the candidate row is locked with
//! FOR UPDATE SKIP LOCKED, so each worker takes a different one; on SQLite
//! writes are serialised and the `status = 'pending'` guard does the same.
//!
//! `attempts` counts the claims of an operation and identifies the current one:
//! a worker that was too slow and lost its job to another cannot finish it.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query},
};

use crate::entity::{
    file_source,
    file_update_operation::{self, Status},
};

/// A job that killed its worker this many times is failed rather than retried.
pub const MAX_ATTEMPTS: i32 = 3;

/// A claimed operation and the source it fetches.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub operation: file_update_operation::Model,
    pub source: file_source::Model,
}

/// Claims the oldest pending operation due at `now`, if any.
pub async fn claim_next(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Option<Claimed>, DbErr> {
    let claimed = claim_statement(now).exec_with_returning(db).await?;
    let Some(operation) = claimed.into_iter().next() else {
        return Ok(None);
    };
    // The source cannot vanish under a running operation: deleting it deletes
    // the operation too, and the finish below then changes nothing.
    let source = file_source::Entity::find_by_id(operation.file_source_id)
        .one(db)
        .await?
        .ok_or_else(|| {
            DbErr::RecordNotFound(format!("file source {}", operation.file_source_id))
        })?;
    Ok(Some(Claimed { operation, source }))
}

/// Marks the claimed operation completed or failed. False when the claim was
/// lost (the job was handed to another worker, or its source deleted): the
/// caller then rolls back what it wrote.
pub async fn finish(
    db: &impl ConnectionTrait,
    operation: &file_update_operation::Model,
    failure: Option<String>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let status = if failure.is_some() {
        Status::Failed
    } else {
        Status::Completed
    };
    let updated = still_claimed(file_update_operation::Entity::update_many(), operation)
        .col_expr(file_update_operation::Column::Status, Expr::value(status))
        .col_expr(file_update_operation::Column::EndedAt, Expr::value(now))
        .col_expr(
            file_update_operation::Column::FailureReason,
            Expr::value(failure),
        )
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Puts a claimed operation back in the queue, as if never started: the worker
/// is shutting down in the middle of it.
pub async fn release(
    db: &impl ConnectionTrait,
    operation: &file_update_operation::Model,
) -> Result<(), DbErr> {
    still_claimed(file_update_operation::Entity::update_many(), operation)
        .col_expr(
            file_update_operation::Column::Status,
            Expr::value(Status::Pending),
        )
        .col_expr(
            file_update_operation::Column::StartedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            file_update_operation::Column::Attempts,
            Expr::value(operation.attempts - 1),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Hands back the jobs of workers that died: running for longer than `timeout`.
/// A job that already took its last attempt fails instead, so that a fetch that
/// crashes workers does not crash them forever. Returns what it did, so that
/// the operations' watchers can be told.
pub async fn reclaim_abandoned(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    timeout: TimeDelta,
) -> Result<Reclaimed, DbErr> {
    let abandoned = || {
        file_update_operation::Entity::update_many()
            .filter(file_update_operation::Column::Status.eq(Status::Running))
            .filter(file_update_operation::Column::StartedAt.lt(now - timeout))
    };
    let failed = abandoned()
        .filter(file_update_operation::Column::Attempts.gte(MAX_ATTEMPTS))
        .col_expr(
            file_update_operation::Column::Status,
            Expr::value(Status::Failed),
        )
        .col_expr(file_update_operation::Column::EndedAt, Expr::value(now))
        .col_expr(
            file_update_operation::Column::FailureReason,
            Expr::value("The fetch was interrupted too many times; refresh to try again"),
        )
        .exec_with_returning(db)
        .await?;
    let requeued = abandoned()
        .col_expr(
            file_update_operation::Column::Status,
            Expr::value(Status::Pending),
        )
        .exec_with_returning(db)
        .await?;
    Ok(Reclaimed {
        requeued: requeued.iter().map(|operation| operation.id).collect(),
        failed: failed.iter().map(|operation| operation.id).collect(),
    })
}

/// The abandoned operations, by what became of them.
#[derive(Debug, Default)]
pub struct Reclaimed {
    /// Back in the queue, for another attempt.
    pub requeued: Vec<i32>,
    /// Out of attempts.
    pub failed: Vec<i32>,
}

fn claim_statement(now: DateTime<Utc>) -> sea_orm::UpdateMany<file_update_operation::Entity> {
    let oldest_pending = Query::select()
        .column(file_update_operation::Column::Id)
        .from(file_update_operation::Entity)
        .and_where(file_update_operation::Column::Status.eq(Status::Pending))
        .and_where(file_update_operation::Column::ScheduledAt.lte(now))
        .order_by(
            file_update_operation::Column::ScheduledAt,
            sea_orm::Order::Asc,
        )
        .order_by(file_update_operation::Column::Id, sea_orm::Order::Asc)
        .limit(1)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .to_owned();
    file_update_operation::Entity::update_many()
        .col_expr(
            file_update_operation::Column::Status,
            Expr::value(Status::Running),
        )
        .col_expr(file_update_operation::Column::StartedAt, Expr::value(now))
        .col_expr(
            file_update_operation::Column::Attempts,
            Expr::col(file_update_operation::Column::Attempts).add(1),
        )
        .filter(file_update_operation::Column::Id.in_subquery(oldest_pending))
        .filter(file_update_operation::Column::Status.eq(Status::Pending))
}

fn still_claimed(
    update: sea_orm::UpdateMany<file_update_operation::Entity>,
    operation: &file_update_operation::Model,
) -> sea_orm::UpdateMany<file_update_operation::Entity> {
    update
        .filter(file_update_operation::Column::Id.eq(operation.id))
        .filter(file_update_operation::Column::Status.eq(Status::Running))
        .filter(file_update_operation::Column::Attempts.eq(operation.attempts))
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, QueryTrait};

    use super::*;

    #[test]
    fn postgres_workers_skip_each_others_claims_and_sqlite_is_guarded() {
        let postgres = claim_statement(Utc::now())
            .build(DbBackend::Postgres)
            .to_string();
        assert!(postgres.contains("FOR UPDATE SKIP LOCKED"), "{postgres}");
        let sqlite = claim_statement(Utc::now())
            .build(DbBackend::Sqlite)
            .to_string();
        assert!(!sqlite.contains("FOR UPDATE"), "{sqlite}");
        assert!(sqlite.contains("\"status\" = 'pending'"), "{sqlite}");
    }
}
