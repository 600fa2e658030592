//! Files: bytes attached to a notebook, at most 10 MiB each, names unique per
//! notebook. Their bytes live in the database, as in the original server.

mod content;
pub mod sources;

pub use content::UploadedBytes;

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

use crate::{
    config::MAX_FILE_BYTES,
    db::StatementCounter,
    entity::file::{self, FileMeta},
    error::{Error, Result},
    events::{Event, Events},
    notebooks,
    viewer::Viewer,
};

pub const MAX_FILENAME_CHARS: usize = 120;

/// A name that is safe as the last segment of /notebooks/{id}/files/{filename}.
pub fn validate_filename(filename: &str) -> Result<()> {
    let problem = if filename.trim().is_empty() {
        Some("it is empty")
    } else if filename.chars().count() > MAX_FILENAME_CHARS {
        Some("it is longer than 120 characters")
    } else if filename.contains(['/', '\\']) {
        Some("it contains a slash")
    } else if filename == "." || filename == ".." {
        Some("it is a relative path")
    } else if filename.chars().any(char::is_control) {
        Some("it contains control characters")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::bad_input(format!(
            "{filename:?} is not a valid filename: {problem}"
        ))),
        None => Ok(()),
    }
}

pub fn validate_size(bytes: &[u8]) -> Result<()> {
    validate_len(bytes.len() as u64)
}

fn validate_len(len: u64) -> Result<()> {
    if len > MAX_FILE_BYTES as u64 {
        return Err(Error::PayloadTooLarge(format!(
            "Files may be at most {} MiB",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}

/// The Content-Type that a file is served with, guessed from its name.
pub fn content_type(filename: &str) -> String {
    mime_guess::from_path(filename)
        .first_or_octet_stream()
        .essence_str()
        .to_string()
}

fn duplicate_name(filename: &str) -> Error {
    Error::bad_input(format!(
        "This notebook already has a file named {filename:?}; rename or delete that one first"
    ))
}

fn map_unique(filename: &str) -> impl FnOnce(DbErr) -> Error + '_ {
    move |err| {
        if Error::is_unique_violation(&err) {
            duplicate_name(filename)
        } else {
            Error::Database(err)
        }
    }
}

fn map_write_error(filename: &str) -> impl FnOnce(content::WriteError) -> Error + '_ {
    move |err| match err {
        content::WriteError::Database(err) => map_unique(filename)(err),
        content::WriteError::Read(err) => {
            tracing::error!(%err, "an upload's temporary file could not be read");
            Error::bad_input("The uploaded file could not be read")
        }
    }
}

pub async fn get_meta(db: &impl ConnectionTrait, id: i32) -> Result<Option<FileMeta>> {
    Ok(file::Entity::find_by_id(id)
        .into_partial_model::<FileMeta>()
        .one(db)
        .await?)
}

/// The files of each notebook, by name, without their bytes; every id has an
/// entry.
pub async fn metas_for(
    db: &impl ConnectionTrait,
    notebook_ids: &[i32],
) -> Result<HashMap<i32, Vec<FileMeta>>> {
    let metas = file::Entity::find()
        .filter(file::Column::NotebookId.is_in(notebook_ids.iter().copied()))
        .order_by_asc(file::Column::Filename)
        .into_partial_model::<FileMeta>()
        .all(db)
        .await?;
    let mut by_notebook: HashMap<i32, Vec<FileMeta>> =
        notebook_ids.iter().map(|id| (*id, Vec::new())).collect();
    for meta in metas {
        by_notebook.entry(meta.notebook_id).or_default().push(meta);
    }
    Ok(by_notebook)
}

/// A file's bytes, for GET /notebooks/{id}/files/{filename}.
pub async fn read(
    db: &impl ConnectionTrait,
    notebook_id: i32,
    filename: &str,
) -> Result<Option<file::Model>> {
    Ok(file::Entity::find()
        .filter(file::Column::NotebookId.eq(notebook_id))
        .filter(file::Column::Filename.eq(filename))
        .one(db)
        .await?)
}

pub async fn upload(
    db: &DatabaseConnection,
    statements: &StatementCounter,
    events: &Events,
    viewer: &Viewer,
    notebook_id: i32,
    filename: String,
    bytes: UploadedBytes,
) -> Result<FileMeta> {
    validate_filename(&filename)?;
    validate_len(bytes.len())?;
    notebooks::editable(db, viewer, notebook_id).await?;
    let size = bytes.len() as i64;
    // As stored: PostgreSQL keeps microseconds, so SQLite gets the same.
    let last_updated = Utc::now().trunc_subsecs(6);
    let new = content::NewFile {
        notebook_id,
        filename: &filename,
        last_updated,
    };
    let id = content::insert(db, statements, new, bytes)
        .await
        .map_err(map_write_error(&filename))?;
    events.publish(files_changed(notebook_id)).await;
    Ok(FileMeta {
        id,
        notebook_id,
        filename,
        size,
        last_updated,
    })
}

/// Writes a file's changed columns without reading the row back: RETURNING
/// every column would bring its bytes back too.
async fn write_changes(
    db: &impl ConnectionTrait,
    id: i32,
    changes: file::ActiveModel,
) -> std::result::Result<(), DbErr> {
    file::Entity::update_many()
        .set(changes)
        .filter(file::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Renames a file, replaces its bytes, or both.
pub async fn update(
    db: &DatabaseConnection,
    statements: &StatementCounter,
    events: &Events,
    viewer: &Viewer,
    id: i32,
    filename: Option<String>,
    bytes: Option<UploadedBytes>,
) -> Result<FileMeta> {
    let existing = editable(db, viewer, id).await?;
    let name = filename.unwrap_or(existing.filename);
    validate_filename(&name)?;
    let last_updated = Utc::now();
    match bytes {
        Some(bytes) => {
            validate_len(bytes.len())?;
            // A file deleted meanwhile is reported by the read below.
            content::replace(db, statements, id, &name, last_updated, bytes)
                .await
                .map_err(map_write_error(&name))?;
        }
        None => {
            let active = file::ActiveModel {
                filename: Set(name.clone()),
                last_updated: Set(last_updated),
                ..Default::default()
            };
            write_changes(db, id, active)
                .await
                .map_err(map_unique(&name))?;
        }
    }
    events.publish(files_changed(existing.notebook_id)).await;
    get_meta(db, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("File {id}")))
}

/// The event of a file or a file source added, replaced, renamed or removed;
/// the worker sends it too, after its transaction.
pub fn files_changed(notebook_id: i32) -> Event {
    Event::NotebookChanged {
        notebook_id,
        deleted: false,
    }
}

/// Creates the notebook's file `filename`, or replaces its bytes: a file source
/// filled by the worker, which acts for the notebook's owner.
pub async fn put(
    db: &impl ConnectionTrait,
    notebook_id: i32,
    filename: &str,
    bytes: Vec<u8>,
    now: DateTime<Utc>,
) -> Result<FileMeta> {
    validate_size(&bytes)?;
    // As stored: PostgreSQL keeps microseconds, so the answer says the same.
    let now = now.trunc_subsecs(6);
    let existing = file::Entity::find()
        .filter(file::Column::NotebookId.eq(notebook_id))
        .filter(file::Column::Filename.eq(filename))
        .into_partial_model::<FileMeta>()
        .one(db)
        .await?;
    let size = bytes.len() as i64;
    let active = file::ActiveModel {
        notebook_id: Set(notebook_id),
        filename: Set(filename.to_string()),
        size: Set(size),
        content: Set(bytes),
        last_updated: Set(now),
        ..Default::default()
    };
    let id = match existing {
        Some(meta) => write_changes(db, meta.id, active).await.map(|()| meta.id),
        None => file::Entity::insert(active)
            .exec(db)
            .await
            .map(|inserted| inserted.last_insert_id),
    }
    .map_err(map_unique(filename))?;
    Ok(FileMeta {
        id,
        notebook_id,
        filename: filename.to_string(),
        size,
        last_updated: now,
    })
}

pub async fn delete(
    db: &DatabaseConnection,
    events: &Events,
    viewer: &Viewer,
    id: i32,
) -> Result<()> {
    let meta = editable(db, viewer, id).await?;
    file::Entity::delete_by_id(id).exec(db).await?;
    events.publish(files_changed(meta.notebook_id)).await;
    Ok(())
}

async fn editable(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> Result<FileMeta> {
    let meta = get_meta(db, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("File {id}")))?;
    notebooks::editable(db, viewer, meta.notebook_id).await?;
    Ok(meta)
}
