//! `HistoryApi`: each operation of the trait, answered by the history method that owns it
//! (standalone activities in `activities.rs`, workflows in `workflows.rs`, queries in
//! `queries.rs`, namespaces in `namespaces.rs`).

use std::time::Duration as StdDuration;

use async_trait::async_trait;
use waymark_api::workflow as wf;
use waymark_api::*;
use waymark_clients::{ActivityRef, ApiResult, DueTimer, HistoryApi, NewApiKey, PollerInfo};
use waymark_queue::ActivityTask;

use crate::History;

#[async_trait]
impl HistoryApi for History {
    async fn register_namespace(&self, req: RegisterNamespaceRequest) -> ApiResult<()> {
        Ok(self.register(req).await?)
    }

    async fn describe_namespace(&self, namespace: &str) -> ApiResult<DescribeNamespaceResponse> {
        Ok(self.describe_ns(namespace).await?)
    }

    async fn update_namespace(
        &self,
        req: UpdateNamespaceRequest,
    ) -> ApiResult<DescribeNamespaceResponse> {
        Ok(self.update_ns(req).await?)
    }

    async fn list_namespaces(&self) -> ApiResult<ListNamespacesResponse> {
        Ok(self.list_ns().await?)
    }

    async fn create_api_key(&self, key: NewApiKey) -> ApiResult<ApiKeyInfo> {
        Ok(self.create_key(key).await?)
    }

    async fn list_api_keys(&self, namespace: Option<String>) -> ApiResult<ListApiKeysResponse> {
        Ok(self.list_keys(namespace.as_deref()).await?)
    }

    async fn activity_throughput(&self, namespace: &str) -> ApiResult<ActivityThroughputResponse> {
        Ok(History::activity_throughput(self, namespace).await?)
    }

    async fn namespace_changes(
        &self,
        namespace: &str,
        after: &str,
        wait: StdDuration,
    ) -> ApiResult<NamespaceChangesResponse> {
        Ok(History::namespace_changes(self, namespace, after, wait).await?)
    }

    async fn describe_api_key(&self, id: &str) -> ApiResult<ApiKeyInfo> {
        Ok(self.describe_key(id).await?)
    }

    async fn set_api_key_disabled(&self, id: &str, disabled: bool) -> ApiResult<()> {
        Ok(self.disable_key(id, disabled).await?)
    }

    async fn delete_api_key(&self, id: &str) -> ApiResult<()> {
        Ok(self.delete_key(id).await?)
    }

    async fn authenticate_api_key(&self, id: &str, hash: &str) -> ApiResult<Option<ApiKeyInfo>> {
        Ok(self.authenticate_key(id, hash).await?)
    }

    async fn has_system_admin_key(&self) -> ApiResult<bool> {
        Ok(self.has_system_admin().await?)
    }

    async fn start_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: StartActivityExecutionRequest,
    ) -> ApiResult<StartActivityExecutionResponse> {
        self.start_activity_run(ns, activity_id, req).await
    }

    async fn describe_activity(
        &self,
        ns: &str,
        activity_id: &str,
        q: DescribeActivityExecutionQuery,
        wait: StdDuration,
    ) -> ApiResult<Option<DescribeActivityExecutionResponse>> {
        self.describe_activity_run(ns, activity_id, q, wait).await
    }

    async fn poll_activity_outcome(
        &self,
        ns: &str,
        activity_id: &str,
        run_id: &str,
        wait: StdDuration,
    ) -> ApiResult<Option<PollActivityExecutionResponse>> {
        self.activity_outcome(ns, activity_id, run_id, wait).await
    }

    async fn list_activities(
        &self,
        ns: &str,
        q: ListActivityExecutionsQuery,
    ) -> ApiResult<ListActivityExecutionsResponse> {
        self.list_activity_runs(ns, q).await
    }

    async fn count_activities(
        &self,
        ns: &str,
        q: &str,
    ) -> ApiResult<CountActivityExecutionsResponse> {
        self.count_activity_runs(ns, q).await
    }

    async fn request_cancel_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: RequestCancelActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.cancel_activity_run(ns, activity_id, req).await
    }

    async fn terminate_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: TerminateActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.terminate_activity_run(ns, activity_id, req).await
    }

    async fn pause_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: PauseActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.pause_activity_run(ns, activity_id, req).await
    }

    async fn unpause_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: UnpauseActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.unpause_activity_run(ns, activity_id, req).await
    }

    async fn reset_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: ResetActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.reset_activity_run(ns, activity_id, req).await
    }

    async fn update_activity_options(
        &self,
        ns: &str,
        activity_id: &str,
        req: UpdateActivityExecutionOptionsRequest,
    ) -> ApiResult<UpdateActivityExecutionOptionsResponse> {
        self.update_activity_run_options(ns, activity_id, req).await
    }

    async fn record_heartbeat(
        &self,
        ns: &str,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<RecordActivityTaskHeartbeatResponse> {
        self.heartbeat(ns, target, details, identity).await
    }

    async fn respond_completed(
        &self,
        ns: &str,
        target: ActivityRef,
        result: Option<Payloads>,
        identity: String,
    ) -> ApiResult<()> {
        self.activity_completed(ns, target, result, identity).await
    }

    async fn respond_failed(
        &self,
        ns: &str,
        target: ActivityRef,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<RespondActivityTaskFailedResponse> {
        self.activity_failed(ns, target, failure, last_heartbeat_details, identity)
            .await
    }

    async fn respond_canceled(
        &self,
        ns: &str,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<()> {
        self.activity_canceled(ns, target, details, identity).await
    }

    async fn record_activity_task_started(
        &self,
        task: &ActivityTask,
        poller: &PollerInfo,
    ) -> ApiResult<Option<PollActivityTaskQueueResponse>> {
        self.activity_task_started(task, poller).await
    }

    async fn start_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::StartWorkflowExecutionRequest,
    ) -> ApiResult<wf::StartWorkflowExecutionResponse> {
        Ok(self.start_workflow_run(ns, workflow_id, req).await?)
    }

    async fn signal_with_start_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::SignalWithStartWorkflowExecutionRequest,
    ) -> ApiResult<wf::SignalWithStartWorkflowExecutionResponse> {
        Ok(self.signal_with_start(ns, workflow_id, req).await?)
    }

    async fn describe_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> ApiResult<wf::DescribeWorkflowExecutionResponse> {
        Ok(self.describe_workflow_run(ns, workflow_id, run_id).await?)
    }

    async fn get_workflow_history(
        &self,
        ns: &str,
        workflow_id: &str,
        query: wf::GetWorkflowExecutionHistoryQuery,
        wait: StdDuration,
    ) -> ApiResult<wf::GetWorkflowExecutionHistoryResponse> {
        Ok(self.workflow_history(ns, workflow_id, query, wait).await?)
    }

    async fn list_workflows(
        &self,
        ns: &str,
        query: wf::ListWorkflowExecutionsQuery,
    ) -> ApiResult<wf::ListWorkflowExecutionsResponse> {
        Ok(self.list_workflow_runs(ns, query).await?)
    }

    async fn count_workflows(
        &self,
        ns: &str,
        query: &str,
    ) -> ApiResult<CountActivityExecutionsResponse> {
        Ok(self.count_workflow_runs(ns, query).await?)
    }

    async fn request_cancel_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::RequestCancelWorkflowExecutionRequest,
    ) -> ApiResult<()> {
        self.cancel_workflow_run(ns, workflow_id, req).await
    }

    async fn terminate_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::TerminateWorkflowExecutionRequest,
    ) -> ApiResult<()> {
        self.terminate_workflow_run(ns, workflow_id, req).await
    }

    async fn signal_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::SignalWorkflowExecutionRequest,
    ) -> ApiResult<wf::SignalWorkflowExecutionResponse> {
        self.signal_workflow_run(ns, workflow_id, req).await
    }

    async fn record_workflow_task_started(
        &self,
        task: &ActivityTask,
        poller: &PollerInfo,
    ) -> ApiResult<Option<wf::PollWorkflowTaskQueueResponse>> {
        Ok(self.workflow_task_started(task, poller).await?)
    }

    async fn respond_workflow_task_completed(
        &self,
        ns: &str,
        req: wf::RespondWorkflowTaskCompletedRequest,
    ) -> ApiResult<()> {
        Ok(self.workflow_task_completed(ns, req).await?)
    }

    async fn respond_workflow_task_failed(
        &self,
        ns: &str,
        req: wf::RespondWorkflowTaskFailedRequest,
    ) -> ApiResult<()> {
        Ok(self.workflow_task_failed(ns, req).await?)
    }

    async fn query_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::QueryWorkflowRequest,
        wait: StdDuration,
    ) -> ApiResult<wf::QueryWorkflowResponse> {
        self.query_run(ns, workflow_id, req, wait).await
    }

    async fn respond_query_task_completed(
        &self,
        ns: &str,
        req: wf::RespondQueryTaskCompletedRequest,
    ) -> ApiResult<()> {
        self.query_answered(ns, req).await
    }

    async fn fire_timer(&self, timer: DueTimer) -> ApiResult<()> {
        self.timer_fired(timer).await
    }
}
