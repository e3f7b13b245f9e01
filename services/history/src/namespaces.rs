//! Namespaces: register, describe, update, list, and follow their changes. `default` is created
//! at first start.

use serde_json::json;
use std::collections::BTreeMap;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;
use waymark_api::{
    DescribeNamespaceResponse, Duration, ListNamespacesResponse, NamespaceChangesResponse,
    NamespaceConfig, NamespaceInfo, NamespaceState, RegisterNamespaceRequest,
    UpdateNamespaceRequest,
};
use waymark_store::{NamespaceRecord, StoreError};

use crate::{History, HistoryError};

/// Retention when the request names none (Temporal's default: 3 days).
const DEFAULT_RETENTION_SECS: i64 = 3 * 24 * 3600;

impl History {
    /// Creates the namespace unless it exists (used at start for `default`).
    pub async fn ensure_namespace_exists(&self, name: &str) -> Result<(), HistoryError> {
        match self
            .register(RegisterNamespaceRequest {
                namespace: name.into(),
                ..Default::default()
            })
            .await
        {
            Ok(()) | Err(HistoryError::NamespaceExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn register(&self, req: RegisterNamespaceRequest) -> Result<(), HistoryError> {
        waymark_core::text::validate_namespace_name(&req.namespace)
            .map_err(HistoryError::InvalidArgument)?;
        let retention = req
            .workflow_execution_retention_period
            .unwrap_or(Duration::from_secs(DEFAULT_RETENTION_SECS));
        // A negative retention is below the minimum too: Temporal's one message for both.
        self.limits
            .check_retention(retention)
            .map_err(HistoryError::InvalidArgument)?;
        let record = NamespaceRecord {
            name: req.namespace.clone(),
            id: uuid::Uuid::new_v4().to_string(),
            description: req.description,
            owner_email: req.owner_email,
            retention_secs: retention.as_nanos() / 1_000_000_000,
            data: serde_json::to_string(&req.data)?,
            created_ns: self.now().as_nanos(),
        };
        match self.store.create_namespace(&record).await {
            Ok(()) => {
                self.namespaces
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(record.name);
                Ok(())
            }
            Err(StoreError::AlreadyExists) => Err(HistoryError::NamespaceExists(req.namespace)),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn describe_ns(
        &self,
        name: &str,
    ) -> Result<DescribeNamespaceResponse, HistoryError> {
        let record = self
            .store
            .get_namespace(name)
            .await?
            .ok_or_else(|| HistoryError::NamespaceNotFound(name.into()))?;
        Ok(describe(&record))
    }

    /// Changes what `req` gives, as Temporal does: a non-empty description or owner replaces
    /// the old one, `data` entries are merged in, a retention replaces the old one.
    pub(crate) async fn update_ns(
        &self,
        req: UpdateNamespaceRequest,
    ) -> Result<DescribeNamespaceResponse, HistoryError> {
        let mut record = self
            .store
            .get_namespace(&req.namespace)
            .await?
            .ok_or_else(|| HistoryError::NamespaceNotFound(req.namespace.clone()))?;
        if let Some(info) = req.update_info {
            if !info.description.is_empty() {
                record.description = info.description;
            }
            if !info.owner_email.is_empty() {
                record.owner_email = info.owner_email;
            }
            if !info.data.is_empty() {
                let mut data: BTreeMap<String, String> =
                    serde_json::from_str(&record.data).unwrap_or_default();
                data.extend(info.data);
                record.data = serde_json::to_string(&data)?;
            }
        }
        if let Some(retention) = req.config.and_then(|c| c.workflow_execution_retention_ttl) {
            self.limits
                .check_retention(retention)
                .map_err(HistoryError::InvalidArgument)?;
            record.retention_secs = retention.as_nanos() / 1_000_000_000;
        }
        match self.store.update_namespace(&record).await? {
            true => Ok(describe(&record)),
            false => Err(HistoryError::NamespaceNotFound(req.namespace)),
        }
    }

    pub(crate) async fn list_ns(&self) -> Result<ListNamespacesResponse, HistoryError> {
        let records = self.store.list_namespaces().await?;
        Ok(ListNamespacesResponse {
            namespaces: records.iter().map(describe).collect(),
            next_page_token: String::new(),
        })
    }
}

/// Waymark archives nothing.
const ARCHIVAL_DISABLED: &str = "ARCHIVAL_STATE_DISABLED";

fn describe(r: &NamespaceRecord) -> DescribeNamespaceResponse {
    DescribeNamespaceResponse {
        namespace_info: Some(NamespaceInfo {
            name: r.name.clone(),
            state: NamespaceState::Registered,
            description: r.description.clone(),
            owner_email: r.owner_email.clone(),
            data: serde_json::from_str(&r.data).unwrap_or_default(),
            id: r.id.clone(),
            capabilities: Some(json!({
                "standaloneActivities": true,
                "standaloneActivityStartDelay": true,
                "standaloneActivityOperatorCommands": true,
            })),
            supports_schedules: false,
        }),
        config: Some(NamespaceConfig {
            workflow_execution_retention_ttl: Some(Duration::from_secs(r.retention_secs)),
            bad_binaries: Some(json!({})),
            history_archival_state: ARCHIVAL_DISABLED.into(),
            visibility_archival_state: ARCHIVAL_DISABLED.into(),
            ..Default::default()
        }),
        // One cluster, as Temporal's dev server describes itself (the `temporal` CLI reads it).
        replication_config: Some(json!({
            "activeClusterName": "active",
            "clusters": [{"clusterName": "active"}],
        })),
        ..Default::default()
    }
}

impl History {
    /// A long poll on the namespace's executions: answers a token at once when `after` is empty
    /// or older than the namespace's state, else when one of its executions next changes or
    /// `wait` passes. A token is this instance's own (its epoch and a count); another's only
    /// waits for the next change, so that callers moved between instances do not spin.
    pub(crate) async fn namespace_changes(
        &self,
        ns: &str,
        after: &str,
        wait: StdDuration,
    ) -> Result<NamespaceChangesResponse, HistoryError> {
        self.ensure_namespace(ns).await?;
        let changes = self.watchers.namespace(ns);
        let token = |count: u64| NamespaceChangesResponse {
            token: format!("{:x}-{count}", self.epoch),
        };
        let notified = changes.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let count = changes.count.load(Ordering::Relaxed);
        let seen = after
            .split_once('-')
            .filter(|(epoch, _)| u64::from_str_radix(epoch, 16) == Ok(self.epoch))
            .and_then(|(_, count)| count.parse::<u64>().ok());
        if after.is_empty() || seen.is_some_and(|seen| seen != count) {
            return Ok(token(count));
        }
        let deadline = tokio::time::Instant::now() + wait;
        self.woken_before(deadline, notified).await;
        Ok(token(changes.count.load(Ordering::Relaxed)))
    }
}
