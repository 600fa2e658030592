//! SQLite: the files table rebuilt with the bytes as its last column. SQLite
//! builds each row as one record, columns in table order. A blob written as
//! zeroblob(n) and then filled in place (how uploads are stored) stays
//! unexpanded only when it is the last column; in the middle, SQLite allocated
//! the whole file, zero-filled, and a record as large, for every upload. Reading
//! a column after the blob (size, last_updated: every file listing) also walked
//! the blob's whole chain of overflow pages.
//!
//! The rebuild copies every file's bytes once, inside the migration's
//! transaction. PostgreSQL keeps large values out of line, so nothing changes
//! there.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

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
enum Notebooks {
    Table,
    Id,
}

/// The new table, until it takes the old one's name.
#[derive(DeriveIden, Clone, Copy)]
enum FilesRebuilt {
    Table,
}

const COLUMNS: &str = "id, notebook_id, filename, size, last_updated, content";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        // As the first migration created it, but for the order of the columns.
        manager
            .create_table(
                Table::create()
                    .table(FilesRebuilt::Table)
                    .col(pk_auto(Files::Id))
                    .col(integer(Files::NotebookId))
                    .col(string_len(Files::Filename, 120))
                    .col(big_integer(Files::Size))
                    .col(timestamp_with_time_zone(Files::LastUpdated))
                    .col(blob(Files::Content))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_files_notebook")
                            .from(FilesRebuilt::Table, Files::NotebookId)
                            .to(Notebooks::Table, Notebooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "INSERT INTO files_rebuilt ({COLUMNS}) SELECT {COLUMNS} FROM files"
        ))
        .await?;
        // AUTOINCREMENT's counter goes along, so that the ids of deleted files
        // are not handed out again.
        db.execute_unprepared("DELETE FROM sqlite_sequence WHERE name = 'files_rebuilt'")
            .await?;
        db.execute_unprepared(
            "INSERT INTO sqlite_sequence (name, seq) \
             SELECT 'files_rebuilt', seq FROM sqlite_sequence WHERE name = 'files'",
        )
        .await?;
        manager
            .drop_table(Table::drop().table(Files::Table).to_owned())
            .await?;
        manager
            .rename_table(
                Table::rename()
                    .table(FilesRebuilt::Table, Files::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uniq_files_notebook_filename")
                    .table(Files::Table)
                    .col(Files::NotebookId)
                    .col(Files::Filename)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    /// The order of columns is no part of the schema that the code reads:
    /// nothing to undo.
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }

    /// All or nothing on SQLite too, where migrations otherwise run statement by
    /// statement: a rebuild stopped halfway would leave two tables.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
