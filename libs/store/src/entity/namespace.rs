//! `namespaces`: one row per namespace.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "namespaces")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub id: String,
    pub description: String,
    pub owner_email: String,
    pub retention_secs: i64,
    /// Everything else about the namespace, as JSON.
    #[sea_orm(column_type = "Text")]
    pub data: String,
    pub created_ns: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
