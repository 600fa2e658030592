//! Revision content compressed with LZ4 on PostgreSQL (14 and later, when built
//! with it): every autosave compresses about 20 KB, and the default (pglz) was
//! the largest cost of a save inside PostgreSQL. Rows already stored keep their
//! compression until rewritten. Nothing changes on SQLite, or on a PostgreSQL
//! without LZ4.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const LZ4_AVAILABLE: &str = "SELECT 1 FROM pg_settings \
    WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "lz4").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "pglz").await
    }
}

async fn set_compression(manager: &SchemaManager<'_>, method: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    if db.query_one_raw(statement(LZ4_AVAILABLE)).await?.is_none() {
        return Ok(());
    }
    db.execute_raw(statement(&format!(
        "ALTER TABLE revisions ALTER COLUMN content SET COMPRESSION {method}"
    )))
    .await?;
    Ok(())
}

fn statement(sql: &str) -> sea_orm_migration::sea_orm::Statement {
    sea_orm_migration::sea_orm::Statement::from_string(DatabaseBackend::Postgres, sql)
}
