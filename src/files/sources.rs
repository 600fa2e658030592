//! File sources: a URL that the worker fetches into a notebook's file, on demand,
//! daily or weekly. This module keeps the records and queues fetches; the fetching
//! and the schedule belong to the worker (src/worker/).

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set,
    sea_query::{Expr, ExprTrait, Query},
};
use url::Url;

use super::validate_filename;
use crate::{
    entity::{
        file_source::{self, UpdateInterval},
        file_update_operation::{self, Status},
    },
    error::{Error, Result},
    events::{Event, Events},
    notebooks,
    viewer::Viewer,
};

pub const MAX_URL_CHARS: usize = 2048;

pub struct NewFileSource {
    pub notebook_id: i32,
    pub filename: String,
    pub url: String,
    pub update_interval: Option<UpdateInterval>,
}

/// Changes to a source; `None` leaves a field as it is. `update_interval` is
/// doubly optional: `Some(None)` turns the schedule off.
pub struct FileSourceChanges {
    pub filename: Option<String>,
    pub url: Option<String>,
    pub update_interval: Option<Option<UpdateInterval>>,
}

pub fn validate_url(url: &str) -> Result<()> {
    let parsed = Url::parse(url)
        .map_err(|err| Error::bad_input(format!("{url:?} is not a valid URL: {err}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::bad_input(
            "A file source's URL must be an http or https URL with a host",
        ));
    }
    if url.len() > MAX_URL_CHARS {
        return Err(Error::bad_input(format!(
            "The URL is longer than {MAX_URL_CHARS} characters"
        )));
    }
    Ok(())
}

fn duplicate_name(err: DbErr, filename: &str) -> Error {
    if Error::is_unique_violation(&err) {
        Error::bad_input(format!(
            "This notebook already has a file source for {filename:?}"
        ))
    } else {
        Error::Database(err)
    }
}

pub async fn get(db: &impl ConnectionTrait, id: i32) -> Result<Option<file_source::Model>> {
    Ok(file_source::Entity::find_by_id(id).one(db).await?)
}

pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<HashMap<i32, file_source::Model>> {
    let sources = file_source::Entity::find()
        .filter(file_source::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(sources.into_iter().map(|s| (s.id, s)).collect())
}

pub async fn for_notebooks(
    db: &impl ConnectionTrait,
    notebook_ids: &[i32],
) -> Result<HashMap<i32, Vec<file_source::Model>>> {
    let sources = file_source::Entity::find()
        .filter(file_source::Column::NotebookId.is_in(notebook_ids.iter().copied()))
        .order_by_asc(file_source::Column::Filename)
        .all(db)
        .await?;
    let mut by_notebook: HashMap<i32, Vec<file_source::Model>> =
        notebook_ids.iter().map(|id| (*id, Vec::new())).collect();
    for source in sources {
        by_notebook
            .entry(source.notebook_id)
            .or_default()
            .push(source);
    }
    Ok(by_notebook)
}

pub async fn operation(
    db: &impl ConnectionTrait,
    id: i32,
) -> Result<Option<file_update_operation::Model>> {
    Ok(file_update_operation::Entity::find_by_id(id)
        .one(db)
        .await?)
}

/// The newest operation of each source, in one query.
pub async fn latest_operations(
    db: &impl ConnectionTrait,
    source_ids: &[i32],
) -> Result<HashMap<i32, file_update_operation::Model>> {
    let latest_ids = Query::select()
        .expr(Expr::col(file_update_operation::Column::Id).max())
        .from(file_update_operation::Entity)
        .and_where(file_update_operation::Column::FileSourceId.is_in(source_ids.iter().copied()))
        .group_by_col(file_update_operation::Column::FileSourceId)
        .to_owned();
    let operations = file_update_operation::Entity::find()
        .filter(file_update_operation::Column::Id.in_subquery(latest_ids))
        .all(db)
        .await?;
    Ok(operations
        .into_iter()
        .map(|op| (op.file_source_id, op))
        .collect())
}

pub async fn create(
    db: &DatabaseConnection,
    events: &Events,
    viewer: &Viewer,
    new: NewFileSource,
) -> Result<file_source::Model> {
    validate_filename(&new.filename)?;
    validate_url(&new.url)?;
    notebooks::editable(db, viewer, new.notebook_id).await?;
    let created = file_source::ActiveModel {
        notebook_id: Set(new.notebook_id),
        filename: Set(new.filename.clone()),
        url: Set(new.url),
        update_interval: Set(new.update_interval),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|err| duplicate_name(err, &new.filename))?;
    events
        .publish(super::files_changed(created.notebook_id))
        .await;
    Ok(created)
}

pub async fn update(
    db: &DatabaseConnection,
    events: &Events,
    viewer: &Viewer,
    id: i32,
    changes: FileSourceChanges,
) -> Result<file_source::Model> {
    let source = editable(db, viewer, id).await?;
    let filename = changes.filename.unwrap_or(source.filename.clone());
    validate_filename(&filename)?;
    let mut active = file_source::ActiveModel {
        id: Set(id),
        filename: Set(filename.clone()),
        ..Default::default()
    };
    if let Some(url) = changes.url {
        validate_url(&url)?;
        active.url = Set(url);
    }
    if let Some(interval) = changes.update_interval
        && interval != source.update_interval
    {
        active.update_interval = Set(interval);
        // A new schedule starts with a fetch at once.
        active.next_fetch_at = Set(None);
    }
    let updated = active
        .update(db)
        .await
        .map_err(|err| duplicate_name(err, &filename))?;
    events
        .publish(super::files_changed(updated.notebook_id))
        .await;
    Ok(updated)
}

pub async fn delete(
    db: &DatabaseConnection,
    events: &Events,
    viewer: &Viewer,
    id: i32,
) -> Result<()> {
    let source = editable(db, viewer, id).await?;
    file_source::Entity::delete_by_id(id).exec(db).await?;
    events
        .publish(super::files_changed(source.notebook_id))
        .await;
    Ok(())
}

/// Queues a fetch of the source's URL now.
pub async fn refresh(
    db: &DatabaseConnection,
    events: &Events,
    viewer: &Viewer,
    id: i32,
) -> Result<file_update_operation::Model> {
    editable(db, viewer, id).await?;
    let operation = file_update_operation::ActiveModel {
        file_source_id: Set(id),
        status: Set(Status::Pending),
        scheduled_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    events
        .publish(Event::OperationChanged {
            operation_id: operation.id,
        })
        .await;
    Ok(operation)
}

async fn editable(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> Result<file_source::Model> {
    let source = get(db, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("File source {id}")))?;
    notebooks::editable(db, viewer, source.notebook_id).await?;
    Ok(source)
}
