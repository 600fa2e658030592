use sea_orm::entity::prelude::*;

/// A file's bytes live in the database, as in the original server. Listings read
/// [`FileMeta`] so that they never load the bytes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub notebook_id: i32,
    pub filename: String,
    #[sea_orm(column_type = "Blob")]
    pub content: Vec<u8>,
    pub size: i64,
    pub last_updated: DateTimeUtc,
}

/// Everything of a file but its bytes.
#[derive(Clone, Debug, PartialEq, Eq, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub struct FileMeta {
    pub id: i32,
    pub notebook_id: i32,
    pub filename: String,
    pub size: i64,
    pub last_updated: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::notebook::Entity",
        from = "Column::NotebookId",
        to = "super::notebook::Column::Id",
        on_delete = "Cascade"
    )]
    Notebook,
}

impl Related<super::notebook::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Notebook.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
