use sea_orm::entity::prelude::*;

/// `title` and `updated_at` follow the latest revision. They are kept here, written
/// in the same transaction as each revision, so that a page of the notebook list
/// needs no revision content.
///
/// Serialised only into the cache, with times as integers: decoding RFC 3339
/// text is slow enough to show in a cached list page.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "notebooks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub owner_id: i32,
    pub title: String,
    pub forked_from_id: Option<i32>,
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub created_at: DateTimeUtc,
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub updated_at: DateTimeUtc,
    /// When the worker should next prune this notebook's draft revisions; set by
    /// each save, cleared by the worker. Null: nothing to prune.
    #[serde(with = "chrono::serde::ts_nanoseconds_option")]
    pub prune_revisions_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Owner,
    #[sea_orm(has_many = "super::revision::Entity")]
    Revision,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl Related<super::revision::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Revision.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
