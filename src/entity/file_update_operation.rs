use sea_orm::entity::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Status {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// One fetch of a file source. The table is also the worker's queue: a worker
/// claims a pending operation by marking it running.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "file_update_operations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub file_source_id: i32,
    pub status: Status,
    pub scheduled_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub failure_reason: Option<String>,
    /// How many times a worker started this fetch; also tells a worker whether
    /// the job is still the one it claimed.
    pub attempts: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::file_source::Entity",
        from = "Column::FileSourceId",
        to = "super::file_source::Column::Id",
        on_delete = "Cascade"
    )]
    FileSource,
}

impl Related<super::file_source::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::FileSource.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
