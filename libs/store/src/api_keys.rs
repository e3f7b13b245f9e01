//! API keys: create, look up, list, disable or enable, delete, and note their last use.

use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};

use crate::entity::api_key::{self, Column as K};
use crate::{ApiKeyRecord, Store, StoreError};

impl Store {
    /// `AlreadyExists` when the id is taken.
    pub async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let inserted = api_key::Entity::insert(key.clone().into_active_model())
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(K::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists);
        }
        Ok(())
    }

    pub async fn get_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(api_key::Entity::find_by_id(id).one(&self.db).await?)
    }

    /// The keys of `namespace` (all keys when `None`), oldest first.
    pub async fn list_api_keys(
        &self,
        namespace: Option<&str>,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut query = api_key::Entity::find();
        if let Some(ns) = namespace {
            query = query.filter(K::Namespace.eq(ns));
        }
        Ok(query
            .order_by_asc(K::CreateTimeNs)
            .order_by_asc(K::Id)
            .all(&self.db)
            .await?)
    }

    /// Whether the key was there.
    pub async fn set_api_key_disabled(&self, id: &str, disabled: bool) -> Result<bool, StoreError> {
        let updated = api_key::Entity::update_many()
            .col_expr(K::Disabled, Expr::value(disabled))
            .filter(K::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected > 0)
    }

    /// Whether the key was there.
    pub async fn delete_api_key(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = api_key::Entity::delete_by_id(id).exec(&self.db).await?;
        Ok(deleted.rows_affected > 0)
    }

    /// Records a use at `now_ns`, unless one after `since_ns` is recorded already: a key in
    /// constant use is written at most once per period.
    pub async fn touch_api_key(
        &self,
        id: &str,
        now_ns: i64,
        since_ns: i64,
    ) -> Result<(), StoreError> {
        api_key::Entity::update_many()
            .col_expr(K::LastUsedNs, Expr::value(now_ns))
            .filter(K::Id.eq(id))
            .filter(K::LastUsedNs.is_null().or(K::LastUsedNs.lt(since_ns)))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Whether a usable (enabled, not expired at `now_ns`) system:admin key is stored.
    pub async fn has_system_admin_key(&self, now_ns: i64) -> Result<bool, StoreError> {
        let found = api_key::Entity::find()
            .filter(K::Role.eq(waymark_core::auth::SYSTEM_ADMIN))
            .filter(K::Disabled.eq(false))
            .filter(K::ExpireTimeNs.gt(now_ns))
            .one(&self.db)
            .await?;
        Ok(found.is_some())
    }
}
