//! DAILY and WEEKLY file sources. Each scheduled source carries the time of its
//! next fetch; the scheduler queues a fetch for every source that is due and
//! moves that time on, in one transaction. The guarded UPDATE is what makes it
//! safe with several workers: on PostgreSQL a second worker waits for the first
//! one's row locks and then finds the source no longer due; on SQLite writes
//! are serialised anyway.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
    TransactionTrait, sea_query::Expr,
};

use crate::entity::{
    file_source::{self, UpdateInterval},
    file_update_operation::{self, Status},
};

pub fn period(interval: UpdateInterval) -> TimeDelta {
    match interval {
        UpdateInterval::Daily => TimeDelta::days(1),
        UpdateInterval::Weekly => TimeDelta::weeks(1),
    }
}

/// Queues a fetch of every scheduled source due at `now`; returns the sources.
pub async fn queue_due_fetches(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<Vec<i32>, DbErr> {
    let txn = db.begin().await?;
    let mut due = vec![];
    for interval in [UpdateInterval::Daily, UpdateInterval::Weekly] {
        let sources = file_source::Entity::update_many()
            .col_expr(
                file_source::Column::NextFetchAt,
                // From now, not from the missed time: a worker back from a long
                // stop fetches once, not once per missed day.
                Expr::value(now + period(interval)),
            )
            .filter(file_source::Column::UpdateInterval.eq(interval))
            .filter(
                Condition::any()
                    .add(file_source::Column::NextFetchAt.is_null())
                    .add(file_source::Column::NextFetchAt.lte(now)),
            )
            .exec_with_returning(&txn)
            .await?;
        due.extend(sources.into_iter().map(|source| source.id));
    }
    if !due.is_empty() {
        file_update_operation::Entity::insert_many(due.iter().map(|source_id| {
            file_update_operation::ActiveModel {
                file_source_id: Set(*source_id),
                status: Set(Status::Pending),
                scheduled_at: Set(now),
                ..Default::default()
            }
        }))
        .exec(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(due)
}
