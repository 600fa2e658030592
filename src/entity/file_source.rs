use sea_orm::entity::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum UpdateInterval {
    #[sea_orm(string_value = "daily")]
    Daily,
    #[sea_orm(string_value = "weekly")]
    Weekly,
}

/// A URL that the worker fetches into the notebook's file `filename`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "file_sources")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub notebook_id: i32,
    pub filename: String,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    pub update_interval: Option<UpdateInterval>,
    pub created_at: DateTimeUtc,
    /// When the scheduler next queues a fetch; null with an interval: at once.
    pub next_fetch_at: Option<DateTimeUtc>,
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
    #[sea_orm(has_many = "super::file_update_operation::Entity")]
    FileUpdateOperation,
}

impl Related<super::notebook::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Notebook.def()
    }
}

impl Related<super::file_update_operation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::FileUpdateOperation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
