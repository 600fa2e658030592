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
        input: UpdateFileInput,
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
    async fn delete_file(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let file_id = parse_id(&id, "file")?;
        files::delete(db(ctx), events(ctx), viewer(ctx), file_id).await?;
        Ok(id)
    }
}
