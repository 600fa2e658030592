//! Refresh tokens revoked by signing out. A refresh token issued to a browser
//! session names the session's token family; signing out records the family
//! here, where every web process sees it, until its last token would have
//! expired anyway.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum RevokedTokenFamilies {
    Table,
    Family,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RevokedTokenFamilies::Table)
                    .col(string_len(RevokedTokenFamilies::Family, 64).primary_key())
                    .col(timestamp_with_time_zone(RevokedTokenFamilies::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        // Rows past their expiry are deleted in bulk.
        manager
            .create_index(
                Index::create()
                    .name("idx_revoked_token_families_expires_at")
                    .table(RevokedTokenFamilies::Table)
                    .col(RevokedTokenFamilies::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RevokedTokenFamilies::Table).to_owned())
            .await
    }
}
