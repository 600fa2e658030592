use sea_orm::entity::prelude::*;

/// Serialised only into the cache, with times as integers: decoding RFC 3339
/// text is slow enough to show in a cached list page.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub username: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub avatar: Option<String>,
    pub is_staff: bool,
    pub can_create_on_behalf_of_others: bool,
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub created_at: DateTimeUtc,
    #[serde(with = "chrono::serde::ts_nanoseconds_option")]
    pub last_login_at: Option<DateTimeUtc>,
}

#[cfg(test)]
impl Model {
    /// A user for unit tests: `user{id}`, not staff, without grants.
    pub fn example(id: i32) -> Self {
        Model {
            id,
            username: format!("user{id}"),
            email: None,
            full_name: None,
            avatar: None,
            is_staff: false,
            can_create_on_behalf_of_others: false,
            created_at: chrono::Utc::now(),
            last_login_at: None,
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::notebook::Entity")]
    Notebook,
    #[sea_orm(has_many = "super::api_token::Entity")]
    ApiToken,
}

impl Related<super::notebook::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Notebook.def()
    }
}

impl Related<super::api_token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ApiToken.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
