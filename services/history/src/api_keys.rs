//! API keys: stored, listed, disabled, deleted, and checked for the frontend. Who may do what
//! with a key is the frontend's check (`waymark_core::auth`); this owns the rows and the clock.

use waymark_api::{ApiKeyInfo, ListApiKeysResponse, Timestamp};
use waymark_clients::NewApiKey;
use waymark_core::auth::{ApiKey, Grant};
use waymark_store::{ApiKeyRecord, StoreError};

use crate::{History, HistoryError};

/// A key in constant use has its `lastUsedTime` written at most this often.
const LAST_USED_PERIOD_NS: i64 = 60 * 1_000_000_000;

impl History {
    pub(crate) async fn create_key(&self, key: NewApiKey) -> Result<ApiKeyInfo, HistoryError> {
        let grant = Grant::new(&key.namespace, &key.role)
            .map_err(|e| HistoryError::InvalidArgument(e.to_string()))?;
        let now = self.now();
        if key.expire_time <= now {
            return Err(HistoryError::InvalidArgument(format!(
                "expireTime {} is not in the future",
                key.expire_time
            )));
        }
        if let Some(namespace) = grant.sole_namespace() {
            self.describe_ns(namespace).await?;
        }
        let record = ApiKeyRecord {
            id: key.id,
            hash: key.hash,
            namespace: key.namespace,
            role: key.role,
            description: key.description,
            expire_time_ns: key.expire_time.as_nanos(),
            disabled: false,
            last_used_ns: None,
            create_time_ns: now.as_nanos(),
        };
        match self.store.create_api_key(&record).await {
            // Ids are 64 random bits: a clash is a bug, not something to retry.
            Err(StoreError::AlreadyExists) => Err(HistoryError::InvalidArgument(format!(
                "api key id {} is taken",
                record.id
            ))),
            other => other.map(|()| info(&record)).map_err(HistoryError::from),
        }
    }

    pub(crate) async fn list_keys(
        &self,
        namespace: Option<&str>,
    ) -> Result<ListApiKeysResponse, HistoryError> {
        let records = self.store.list_api_keys(namespace).await?;
        Ok(ListApiKeysResponse {
            api_keys: records.iter().map(info).collect(),
        })
    }

    pub(crate) async fn describe_key(&self, id: &str) -> Result<ApiKeyInfo, HistoryError> {
        let record = self.store.get_api_key(id).await?;
        record
            .map(|r| info(&r))
            .ok_or_else(|| HistoryError::ApiKeyNotFound(id.into()))
    }

    pub(crate) async fn disable_key(&self, id: &str, disabled: bool) -> Result<(), HistoryError> {
        match self.store.set_api_key_disabled(id, disabled).await? {
            true => Ok(()),
            false => Err(HistoryError::ApiKeyNotFound(id.into())),
        }
    }

    pub(crate) async fn delete_key(&self, id: &str) -> Result<(), HistoryError> {
        match self.store.delete_api_key(id).await? {
            true => Ok(()),
            false => Err(HistoryError::ApiKeyNotFound(id.into())),
        }
    }

    pub(crate) async fn authenticate_key(
        &self,
        id: &str,
        hash: &str,
    ) -> Result<Option<ApiKeyInfo>, HistoryError> {
        let Some(record) = self.store.get_api_key(id).await? else {
            return Ok(None);
        };
        let now = self.now().as_nanos();
        let usable = ApiKey::hash_matches(hash, &record.hash)
            && !record.disabled
            && now < record.expire_time_ns;
        if !usable {
            return Ok(None);
        }
        self.store
            .touch_api_key(id, now, now - LAST_USED_PERIOD_NS)
            .await?;
        Ok(Some(info(&record)))
    }

    pub(crate) async fn has_system_admin(&self) -> Result<bool, HistoryError> {
        Ok(self
            .store
            .has_system_admin_key(self.now().as_nanos())
            .await?)
    }
}

fn info(r: &ApiKeyRecord) -> ApiKeyInfo {
    ApiKeyInfo {
        id: r.id.clone(),
        namespace: r.namespace.clone(),
        role: r.role.clone(),
        description: r.description.clone(),
        expire_time: Some(Timestamp::from_nanos(r.expire_time_ns)),
        disabled: r.disabled,
        last_used_time: r.last_used_ns.map(Timestamp::from_nanos),
        create_time: Some(Timestamp::from_nanos(r.create_time_ns)),
    }
}
