use sea_orm::entity::prelude::*;

/// A session's refresh tokens, revoked when it signed out.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revoked_token_families")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub family: String,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
