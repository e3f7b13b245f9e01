//! `api_keys`: one row per API key; the secret is kept only as its hash.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub hash: String,
    /// Empty for `system:admin`.
    pub namespace: String,
    pub role: String,
    pub description: String,
    pub expire_time_ns: i64,
    pub disabled: bool,
    pub last_used_ns: Option<i64>,
    pub create_time_ns: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
