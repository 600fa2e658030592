use std::io::Read;

use async_graphql::{Context, ID, InputObject, Object, Upload};

use super::{
    context::{db, load_required, parse_id, statements, to_id, viewer},
    guards::CanRead,
    loaders::NotebookById,
    notebook::Notebook,
};
use crate::{
    config::MAX_FILE_BYTES,
    entity::file::FileMeta,
    error::{Error, Result},
    files,
};

pub struct File(pub FileMeta);

/// The characters that must be escaped in one path segment.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[Object]
impl File {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn notebook(&self, ctx: &Context<'_>) -> async_graphql::Result<Notebook> {
        Ok(Notebook::from(
            load_required(ctx, NotebookById(self.0.notebook_id)).await?,
        ))
    }

    async fn filename(&self) -> &str {
        &self.0.filename
    }

    /// In bytes.
    async fn size(&self) -> i32 {
        i32::try_from(self.0.size).unwrap_or(i32::MAX)
    }

    /// Guessed from the filename; the raw bytes are served with it.
    async fn content_type(&self) -> String {
        files::content_type(&self.0.filename)
    }

    async fn last_updated(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.last_updated
    }

    /// Path of the raw bytes: /notebooks/{notebookId}/files/{filename}
    async fn url(&self) -> String {
        let filename = percent_encoding::utf8_percent_encode(&self.0.filename, SEGMENT);
        format!("/notebooks/{}/files/{filename}", self.0.notebook_id)
    }
}

/// Reads an upload, refusing more than a file may hold. The multipart parser has
/// already stopped oversized parts while streaming; this guards the other paths.
async fn read_upload(ctx: &Context<'_>, upload: &Upload) -> Result<Vec<u8>> {
    let value = upload
        .value(ctx)
        .map_err(|_| Error::bad_input("The uploaded file could not be read"))?;
    // Sized once: growing by doubling would hold up to 16 MiB, and twice that
    // while a reallocation copies.
    let capacity = value
        .size()
        .map_or(0, |size| size.min(MAX_FILE_BYTES as u64 + 1));
    let read = tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::with_capacity(capacity as usize);
        value
            .into_read()
            .take(MAX_FILE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map(|_| bytes)
    })
    .await
    .map_err(|err| Error::Internal(err.to_string()))?;
    let bytes = read.map_err(|_| Error::bad_input("The uploaded file could not be read"))?;
    files::validate_size(&bytes)?;
    Ok(bytes)
}

#[derive(Default)]
pub struct FileQuery;

#[Object]
impl FileQuery {
    #[graphql(guard = "CanRead")]
    async fn file(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<File>> {
        let id = parse_id(&id, "file")?;
        Ok(files::get_meta(db(ctx), id).await?.map(File))
    }
}

#[derive(InputObject)]
pub struct UploadFileInput {
    notebook_id: ID,
    /// At most 120 characters, unique in the notebook.
    filename: String,
    /// At most 10 MiB.
    file: Upload,
}

#[derive(InputObject)]
pub struct UpdateFileInput {
    id: ID,
    /// A new name.
    filename: Option<String>,
    /// New bytes.
    file: Option<Upload>,
}

#[derive(Default)]
pub struct FileMutation;

#[Object]
impl FileMutation {
    async fn upload_file(
        &self,
        ctx: &Context<'_>,
        input: UploadFileInput,
    ) -> async_graphql::Result<File> {
        let notebook_id = parse_id(&input.notebook_id, "notebook")?;
        let bytes = read_upload(ctx, &input.file).await?;
        let meta = files::upload(
            db(ctx),
            statements(ctx),
            viewer(ctx),
            notebook_id,
            input.filename,
            bytes,
        )
        .await?;
        Ok(File(meta))
    }

    /// Renames a file, replaces its bytes, or both.
    async fn update_file(
        &self,
        ctx: &Context<'_>,
        input: UpdateFileInput,
    ) -> async_graphql::Result<File> {
        let id = parse_id(&input.id, "file")?;
        let bytes = match &input.file {
            Some(upload) => Some(read_upload(ctx, upload).await?),
            None => None,
        };
        let meta = files::update(
            db(ctx),
            statements(ctx),
            viewer(ctx),
            id,
            input.filename,
            bytes,
        )
        .await?;
        Ok(File(meta))
    }

    /// Deletes a file; returns its id.
    async fn delete_file(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let file_id = parse_id(&id, "file")?;
        files::delete(db(ctx), viewer(ctx), file_id).await?;
        Ok(id)
    }
}
