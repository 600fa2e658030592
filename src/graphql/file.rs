use async_graphql::{Context, ID, InputObject, Object, Upload};

use super::{
    context::{db, events, load_required, parse_id, statements, to_id, viewer},
    guards::CanRead,
    loaders::NotebookById,
    notebook::Notebook,
};
use crate::{
    entity::file::FileMeta,
    error::{Error, Result},
    files::{self, UploadedBytes},
};

pub struct File(pub FileMeta);

/// The characters that must be escaped in one path segment.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Bytes attached to a notebook (at most 10 MiB), under a filename unique in
/// the notebook. Readable by whoever may read the notebook; only its owner may
/// upload, change or delete files.
#[Object]
impl File {
    /// The file's id: a database integer, as a string.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The notebook that the file is attached to.
    async fn notebook(&self, ctx: &Context<'_>) -> async_graphql::Result<Notebook> {
        Ok(Notebook::from(
            load_required(ctx, NotebookById(self.0.notebook_id)).await?,
        ))
    }

    /// The file's name, unique in its notebook: at most 120 characters, no slash.
    async fn filename(&self) -> &str {
        &self.0.filename
    }

    /// In bytes (at most 10 MiB).
    async fn size(&self) -> i32 {
        i32::try_from(self.0.size).unwrap_or(i32::MAX)
    }

    /// Guessed from the filename; the raw bytes are served with it.
    async fn content_type(&self) -> String {
        files::content_type(&self.0.filename)
    }

    /// When the bytes were last written: uploaded, replaced or fetched.
    async fn last_updated(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.last_updated
    }

    /// Path of the raw bytes: /notebooks/{notebookId}/files/{filename}
    async fn url(&self) -> String {
        let filename = percent_encoding::utf8_percent_encode(&self.0.filename, SEGMENT);
        format!("/notebooks/{}/files/{filename}", self.0.notebook_id)
    }
}

/// An upload's bytes, where the multipart parser left them: in a temporary file,
/// which it stopped writing past the size limit.
fn uploaded_bytes(ctx: &Context<'_>, upload: &Upload) -> Result<UploadedBytes> {
    upload
        .value(ctx)
        .and_then(|value| UploadedBytes::new(value.content))
        .map_err(|_| Error::bad_input("The uploaded file could not be read"))
}

#[derive(Default)]
pub struct FileQuery;

#[Object]
impl FileQuery {
    /// The file with this id, of any notebook; null if there is none.
    #[graphql(guard = "CanRead")]
    async fn file(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file's id.")] id: ID,
    ) -> async_graphql::Result<Option<File>> {
        let id = parse_id(&id, "file")?;
        Ok(files::get_meta(db(ctx), id).await?.map(File))
    }
}

/// A new file for a notebook. The bytes come as a part of a multipart request
/// (see Upload).
#[derive(InputObject)]
pub struct UploadFileInput {
    /// The notebook to attach the file to; the viewer must own it.
    notebook_id: ID,
    /// At most 120 characters, unique in the notebook; no slash.
    filename: String,
    /// The bytes, at most 10 MiB, as a multipart part (see Upload).
    file: Upload,
}

/// Changes to a file: a new name, new bytes, or both.
#[derive(InputObject)]
pub struct UpdateFileInput {
    /// The file to change; the viewer must own its notebook.
    id: ID,
    /// A new name: at most 120 characters, unique in the notebook; no slash.
    /// Omit to keep the name.
    filename: Option<String>,
    /// New bytes, at most 10 MiB, as a multipart part (see Upload). Omit to keep
    /// the bytes.
    file: Option<Upload>,
}

#[derive(Default)]
pub struct FileMutation;

#[Object]
impl FileMutation {
    /// Attaches a file to a notebook that the viewer owns. Send it as a multipart
    /// request (see Upload).
    async fn upload_file(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notebook, the filename and the bytes.")] input: UploadFileInput,
    ) -> async_graphql::Result<File> {
        let notebook_id = parse_id(&input.notebook_id, "notebook")?;
        let bytes = uploaded_bytes(ctx, &input.file)?;
        let meta = files::upload(
            db(ctx),
            statements(ctx),
            events(ctx),
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
        #[graphql(desc = "The file, and what to change.")] input: UpdateFileInput,
    ) -> async_graphql::Result<File> {
        let id = parse_id(&input.id, "file")?;
        let bytes = match &input.file {
            Some(upload) => Some(uploaded_bytes(ctx, upload)?),
            None => None,
        };
        let meta = files::update(
            db(ctx),
            statements(ctx),
            events(ctx),
            viewer(ctx),
            id,
            input.filename,
            bytes,
        )
        .await?;
        Ok(File(meta))
    }

    /// Deletes a file; returns its id.
    async fn delete_file(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file's id.")] id: ID,
    ) -> async_graphql::Result<ID> {
        let file_id = parse_id(&id, "file")?;
        files::delete(db(ctx), events(ctx), viewer(ctx), file_id).await?;
        Ok(id)
    }
}
