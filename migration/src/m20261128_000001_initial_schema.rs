//! Users, API tokens, notebooks, revisions, files, file sources and file update
//! operations, with the cascades of SERVER.md: deleting a notebook deletes its
//! revisions, files and sources; a fork keeps existing with forked_from set to null.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    Username,
    Email,
    FullName,
    Avatar,
    IsStaff,
    CanCreateOnBehalfOfOthers,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiTokens {
    Table,
    Id,
    UserId,
    Prefix,
    KeyHash,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Notebooks {
    Table,
    Id,
    OwnerId,
    Title,
    ForkedFromId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Revisions {
    Table,
    Id,
    NotebookId,
    Title,
    Content,
    IsDraft,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Files {
    Table,
    Id,
    NotebookId,
    Filename,
    Content,
    Size,
    LastUpdated,
}

#[derive(DeriveIden, Clone, Copy)]
enum FileSources {
    Table,
    Id,
    NotebookId,
    Filename,
    Url,
    UpdateInterval,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum FileUpdateOperations {
    Table,
    Id,
    FileSourceId,
    Status,
    ScheduledAt,
    StartedAt,
    EndedAt,
    FailureReason,
}

/// `notebooks.forked_from_id -> revisions.id` and `revisions.notebook_id ->
/// notebooks.id` point at each other. SQLite accepts a reference to a table that
/// does not exist yet but cannot add a constraint later; PostgreSQL is the other
/// way round. So the fork constraint is declared inline on SQLite and added after
/// both tables exist on PostgreSQL.
fn fork_foreign_key() -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name("fk_notebooks_forked_from")
        .from(Notebooks::Table, Notebooks::ForkedFromId)
        .to(Revisions::Table, Revisions::Id)
        .on_delete(ForeignKeyAction::SetNull)
        .to_owned()
}

fn cascade_to(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sqlite = manager.get_database_backend() == sea_orm::DatabaseBackend::Sqlite;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_auto(Users::Id))
                    .col(string_len_uniq(Users::Username, 150))
                    .col(string_len_null(Users::Email, 254))
                    .col(string_len_null(Users::FullName, 255))
                    .col(text_null(Users::Avatar))
                    .col(boolean(Users::IsStaff).default(false))
                    .col(boolean(Users::CanCreateOnBehalfOfOthers).default(false))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(pk_auto(ApiTokens::Id))
                    .col(integer(ApiTokens::UserId))
                    .col(string_len(ApiTokens::Prefix, 16))
                    .col(string_len_uniq(ApiTokens::KeyHash, 64))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .foreign_key(&mut cascade_to(
                        "fk_api_tokens_user",
                        (ApiTokens::Table, ApiTokens::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "idx_api_tokens_user",
            ApiTokens::Table,
            &[ApiTokens::UserId],
        )
        .await?;

        let mut notebooks = Table::create()
            .table(Notebooks::Table)
            .col(pk_auto(Notebooks::Id))
            .col(integer(Notebooks::OwnerId))
            .col(string_len(Notebooks::Title, 255))
            .col(integer_null(Notebooks::ForkedFromId))
            .col(timestamp_with_time_zone(Notebooks::CreatedAt))
            .col(timestamp_with_time_zone(Notebooks::UpdatedAt))
            .foreign_key(&mut cascade_to(
                "fk_notebooks_owner",
                (Notebooks::Table, Notebooks::OwnerId),
                (Users::Table, Users::Id),
            ))
            .to_owned();
        if sqlite {
            notebooks.foreign_key(&mut fork_foreign_key());
        }
        manager.create_table(notebooks).await?;
        create_index(
            manager,
            "idx_notebooks_owner_id",
            Notebooks::Table,
            &[Notebooks::OwnerId, Notebooks::Id],
        )
        .await?;
        create_index(
            manager,
            "idx_notebooks_forked_from",
            Notebooks::Table,
            &[Notebooks::ForkedFromId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Revisions::Table)
                    .col(pk_auto(Revisions::Id))
                    .col(integer(Revisions::NotebookId))
                    .col(string_len(Revisions::Title, 255))
                    .col(text(Revisions::Content))
                    .col(boolean(Revisions::IsDraft).default(true))
                    .col(timestamp_with_time_zone(Revisions::CreatedAt))
                    .foreign_key(&mut cascade_to(
                        "fk_revisions_notebook",
                        (Revisions::Table, Revisions::NotebookId),
                        (Notebooks::Table, Notebooks::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // A notebook's revisions newest first, and its latest revision, come from this index.
        create_index(
            manager,
            "idx_revisions_notebook_id",
            Revisions::Table,
            &[Revisions::NotebookId, Revisions::Id],
        )
        .await?;
        if !sqlite {
            manager.create_foreign_key(fork_foreign_key()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Files::Table)
                    .col(pk_auto(Files::Id))
                    .col(integer(Files::NotebookId))
                    .col(string_len(Files::Filename, 120))
                    .col(blob(Files::Content))
                    .col(big_integer(Files::Size))
                    .col(timestamp_with_time_zone(Files::LastUpdated))
                    .foreign_key(&mut cascade_to(
                        "fk_files_notebook",
                        (Files::Table, Files::NotebookId),
                        (Notebooks::Table, Notebooks::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        create_unique_index(
            manager,
            "uniq_files_notebook_filename",
            Files::Table,
            &[Files::NotebookId, Files::Filename],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(FileSources::Table)
                    .col(pk_auto(FileSources::Id))
                    .col(integer(FileSources::NotebookId))
                    .col(string_len(FileSources::Filename, 120))
                    .col(text(FileSources::Url))
                    .col(string_len_null(FileSources::UpdateInterval, 16))
                    .col(timestamp_with_time_zone(FileSources::CreatedAt))
                    .foreign_key(&mut cascade_to(
                        "fk_file_sources_notebook",
                        (FileSources::Table, FileSources::NotebookId),
                        (Notebooks::Table, Notebooks::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        create_unique_index(
            manager,
            "uniq_file_sources_notebook_filename",
            FileSources::Table,
            &[FileSources::NotebookId, FileSources::Filename],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(FileUpdateOperations::Table)
                    .col(pk_auto(FileUpdateOperations::Id))
                    .col(integer(FileUpdateOperations::FileSourceId))
                    .col(string_len(FileUpdateOperations::Status, 16))
                    .col(timestamp_with_time_zone(FileUpdateOperations::ScheduledAt))
                    .col(timestamp_with_time_zone_null(
                        FileUpdateOperations::StartedAt,
                    ))
                    .col(timestamp_with_time_zone_null(FileUpdateOperations::EndedAt))
                    .col(text_null(FileUpdateOperations::FailureReason))
                    .foreign_key(&mut cascade_to(
                        "fk_file_update_operations_source",
                        (
                            FileUpdateOperations::Table,
                            FileUpdateOperations::FileSourceId,
                        ),
                        (FileSources::Table, FileSources::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "idx_file_update_operations_source",
            FileUpdateOperations::Table,
            &[FileUpdateOperations::FileSourceId, FileUpdateOperations::Id],
        )
        .await?;
        // The worker's queue: pending operations, oldest first.
        create_index(
            manager,
            "idx_file_update_operations_queue",
            FileUpdateOperations::Table,
            &[
                FileUpdateOperations::Status,
                FileUpdateOperations::ScheduledAt,
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
            manager
                .drop_foreign_key(
                    ForeignKey::drop()
                        .name("fk_notebooks_forked_from")
                        .table(Notebooks::Table)
                        .to_owned(),
                )
                .await?;
        }
        for table in [
            FileUpdateOperations::Table.into_iden(),
            FileSources::Table.into_iden(),
            Files::Table.into_iden(),
            Revisions::Table.into_iden(),
            Notebooks::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn create_index<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    columns: &[T],
) -> Result<(), DbErr> {
    manager.create_index(index(name, table, columns)).await
}

async fn create_unique_index<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    columns: &[T],
) -> Result<(), DbErr> {
    manager
        .create_index(index(name, table, columns).unique().to_owned())
        .await
}

fn index<T: IntoIden + Copy + 'static>(
    name: &str,
    table: impl IntoIden,
    columns: &[T],
) -> IndexCreateStatement {
    let mut index = Index::create().name(name).table(table).to_owned();
    for column in columns {
        index.col(*column);
    }
    index
}
