//! What the worker needs: a per-notebook marker saying when its revisions are due
//! for pruning, when each scheduled file source is next fetched, and how many
//! times a fetch was started (so that a job that kills its worker is not retried
//! forever).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notebooks {
    Table,
    PruneRevisionsAt,
}

#[derive(DeriveIden)]
enum FileSources {
    Table,
    NextFetchAt,
}

#[derive(DeriveIden)]
enum FileUpdateOperations {
    Table,
    Attempts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Notebooks::Table)
                    .add_column(timestamp_with_time_zone_null(Notebooks::PruneRevisionsAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notebooks_prune_revisions_at")
                    .table(Notebooks::Table)
                    .col(Notebooks::PruneRevisionsAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(FileSources::Table)
                    .add_column(timestamp_with_time_zone_null(FileSources::NextFetchAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(FileUpdateOperations::Table)
                    .add_column(integer(FileUpdateOperations::Attempts).default(0))
                    .to_owned(),
            )
            .await?;
        schedule_existing_drafts(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_notebooks_prune_revisions_at")
                    .table(Notebooks::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Notebooks::Table)
                    .drop_column(Notebooks::PruneRevisionsAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(FileSources::Table)
                    .drop_column(FileSources::NextFetchAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(FileUpdateOperations::Table)
                    .drop_column(FileUpdateOperations::Attempts)
                    .to_owned(),
            )
            .await
    }
}

/// Drafts saved before this migration are pruned on the worker's first pass.
/// The timestamp is written as the application writes them (RFC 3339, UTC), so
/// that SQLite, which compares them as text, orders them right.
async fn schedule_existing_drafts(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let now = match manager.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')",
        _ => "CURRENT_TIMESTAMP",
    };
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "UPDATE notebooks SET prune_revisions_at = {now} \
             WHERE id IN (SELECT notebook_id FROM revisions WHERE is_draft)"
        ))
        .await?;
    Ok(())
}
