//! Seeding: rows go straight in through sea-orm, many per statement and one
//! transaction per table, because going through HTTP would take hours for a
//! million revisions.

use std::time::Instant;

use anyhow::ensure;
use chrono::{DateTime, Duration, Utc};
use iodide_server::{
    auth::api_token,
    entity::{file, notebook, revision, user},
};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    TransactionTrait,
};

/// Rows per INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 bound
/// parameters, and small enough that a statement of 20 KB revisions stays
/// around 2 MB (the process's peak memory, which the bench reports, includes
/// the seeding: each statement is held in a few copies while it is built).
const ROWS_PER_STATEMENT: usize = 100;

pub const FILE_BYTES: usize = 1024 * 1024;

pub struct SeedPlan {
    pub users: u32,
    pub notebooks: u32,
    pub revisions_per_notebook: u32,
    pub revision_bytes: usize,
    pub files: u32,
    /// Users that autosave, each into a notebook of its own: ids 1..=writers.
    pub writers: u32,
}

/// What the scenarios need to know about the seeded data.
pub struct Seeded {
    pub notebooks: u32,
    /// (notebook id, API token) of each writer.
    pub writers: Vec<(i32, String)>,
    /// (notebook id, filename) of each 1 MiB file.
    pub files: Vec<(i32, String)>,
    pub seconds: f64,
}

pub fn username(id: u32) -> String {
    format!("bench-user-{id}")
}

pub async fn seed(db: &DatabaseConnection, plan: &SeedPlan) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    ensure!(
        notebook::Entity::find().count(db).await? == 0,
        "the database already holds notebooks: the benchmark needs an empty one"
    );
    // Every writer owns a notebook: notebook n belongs to user ((n - 1) mod users) + 1.
    let users = plan.users.max(plan.writers).max(1);
    let notebooks = plan.notebooks.max(plan.writers).max(1);
    let now = Utc::now();
    insert_users(db, users, now).await?;
    insert_notebooks(db, notebooks, users, now).await?;
    let rounds = plan.revisions_per_notebook.max(1);
    for round in 0..rounds {
        insert_revision_round(db, notebooks, round, plan.revision_bytes, now).await?;
        eprintln!(
            "bench: revisions {}/{rounds} of every notebook inserted",
            round + 1
        );
    }
    let files = insert_files(db, plan.files.min(notebooks), now).await?;
    let mut writers = Vec::new();
    for id in 1..=plan.writers {
        writers.push((id as i32, api_token::create(db, &username(id)).await?));
    }
    update_planner_statistics(db).await?;
    Ok(Seeded {
        notebooks,
        writers,
        files,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Inserts `rows` in multi-row statements inside one transaction.
async fn insert_all<A>(
    db: &DatabaseConnection,
    rows: impl IntoIterator<Item = A>,
) -> anyhow::Result<()>
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let txn = db.begin().await?;
    let mut batch = Vec::with_capacity(ROWS_PER_STATEMENT);
    for row in rows {
        batch.push(row);
        if batch.len() == ROWS_PER_STATEMENT {
            A::Entity::insert_many(std::mem::take(&mut batch))
                .exec_without_returning(&txn)
                .await?;
        }
    }
    if !batch.is_empty() {
        A::Entity::insert_many(batch)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

async fn insert_users(
    db: &DatabaseConnection,
    users: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    insert_all(
        db,
        (1..=users).map(|id| user::ActiveModel {
            username: Set(username(id)),
            is_staff: Set(false),
            can_create_on_behalf_of_others: Set(false),
            created_at: Set(now),
            ..Default::default()
        }),
    )
    .await
}

fn notebook_title(id: u32) -> String {
    format!("Benchmark notebook {id}")
}

/// Older ids get older timestamps, as in a real table.
fn age(now: DateTime<Utc>, notebooks: u32, id: u32) -> DateTime<Utc> {
    now - Duration::seconds(i64::from(notebooks - id))
}

async fn insert_notebooks(
    db: &DatabaseConnection,
    notebooks: u32,
    users: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    insert_all(
        db,
        (1..=notebooks).map(|id| notebook::ActiveModel {
            owner_id: Set(((id - 1) % users + 1) as i32),
            title: Set(notebook_title(id)),
            created_at: Set(age(now, notebooks, id)),
            updated_at: Set(age(now, notebooks, id)),
            ..Default::default()
        }),
    )
    .await
}

/// One revision for every notebook; the last round holds each notebook's latest.
async fn insert_revision_round(
    db: &DatabaseConnection,
    notebooks: u32,
    round: u32,
    bytes: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let filler = "x".repeat(bytes);
    insert_all(
        db,
        (1..=notebooks).map(|id| revision::ActiveModel {
            notebook_id: Set(id as i32),
            title: Set(notebook_title(id)),
            content: Set(revision_content(&filler, id, round)),
            is_draft: Set(false),
            created_at: Set(age(now, notebooks, id)),
            ..Default::default()
        }),
    )
    .await
}

/// About `filler.len()` bytes, different for every revision.
fn revision_content(filler: &str, notebook: u32, round: u32) -> String {
    let head = format!("%% md\n# Notebook {notebook}, revision {round}\n");
    let rest = filler.len().saturating_sub(head.len());
    head + &filler[..rest]
}

async fn insert_files(
    db: &DatabaseConnection,
    files: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<(i32, String)>> {
    let content: Vec<u8> = (0..FILE_BYTES).map(|i| (i % 251) as u8).collect();
    let placed: Vec<(i32, String)> = (1..=files)
        .map(|id| (id as i32, format!("bench-{id}.bin")))
        .collect();
    insert_all(
        db,
        placed
            .iter()
            .map(|(notebook_id, filename)| file::ActiveModel {
                notebook_id: Set(*notebook_id),
                filename: Set(filename.clone()),
                content: Set(content.clone()),
                size: Set(FILE_BYTES as i64),
                last_updated: Set(now),
                ..Default::default()
            }),
    )
    .await?;
    Ok(placed)
}

/// A database that grew over time has statistics; one just bulk-loaded has none
/// until autovacuum gets to it, and without them PostgreSQL plans list pages of
/// a large table badly (docs/performance.md).
async fn update_planner_statistics(db: &DatabaseConnection) -> anyhow::Result<()> {
    db.execute_unprepared("ANALYZE").await?;
    Ok(())
}

/// Revisions in the database, to check that none that was acknowledged is lost.
pub async fn count_revisions(db: &DatabaseConnection) -> anyhow::Result<u64> {
    Ok(revision::Entity::find().count(db).await?)
}
