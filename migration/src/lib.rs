//! Schema migrations, applied by `iodide-server migrate` (Heroku's release phase)
//! and by `serve` at start-up.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_initial_schema;
mod m20261128_000002_sessions;
mod m20261128_000003_background_work;
mod m20261128_000004_lz4_revision_content;
mod m20261128_000005_file_content_last;
mod m20261207_000006_revoked_token_families;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_initial_schema::Migration),
            Box::new(m20261128_000002_sessions::Migration),
            Box::new(m20261128_000003_background_work::Migration),
            Box::new(m20261128_000004_lz4_revision_content::Migration),
            Box::new(m20261128_000005_file_content_last::Migration),
            Box::new(m20261207_000006_revoked_token_families::Migration),
        ]
    }
}
