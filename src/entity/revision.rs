use sea_orm::entity::prelude::*;

/// Serialised only into the cache, with times as integers: decoding RFC 3339
/// text is slow enough to show in a cached list page.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "revisions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub notebook_id: i32,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub is_draft: bool,
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub created_at: DateTimeUtc,
}

/// A revision without its content: what lists of notebooks show.
#[derive(Clone, Debug, PartialEq, Eq, DerivePartialModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(entity = "Entity")]
pub struct Head {
    pub id: i32,
    pub notebook_id: i32,
    pub title: String,
    pub is_draft: bool,
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub created_at: DateTimeUtc,
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
