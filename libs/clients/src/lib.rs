//! The service traits through which the four services call each other. Each has two
//! implementations: the service itself in process (embedded mode) and an HTTP client on the
//! `/internal/v1/...` routes (distributed mode). Errors travel as the public API error.

// `remote::internal_calls!` reads its lists one argument at a time.
#![recursion_limit = "256"]

pub mod remote;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use waymark_api::workflow as wf;
use waymark_api::*;
use waymark_queue::ActivityTask;

pub type ApiResult<T> = Result<T, ApiError>;

/// How a worker's call names its activity: by task token, by id (optionally a run), or by the
/// id of a workflow's activity (optionally the workflow's run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityRef {
    Token(String),
    Id {
        activity_id: String,
        run_id: String,
    },
    WorkflowActivity {
        workflow_id: String,
        activity_id: String,
        run_id: String,
    },
}

/// The poller a task is handed to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollerInfo {
    pub identity: String,
    pub request_id: String,
}

/// A durable timer row that came due.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueTimer {
    pub id: i64,
    pub namespace: String,
    pub run_id: String,
    pub kind: String,
    pub attempt: i32,
}

/// A key to store: the frontend drew it and checked that its caller may create it. Only the
/// secret's hash travels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub id: String,
    pub hash: String,
    pub namespace: String,
    pub role: String,
    pub description: String,
    pub expire_time: Timestamp,
}

/// Executions and their state transitions.
#[async_trait]
pub trait HistoryApi: Send + Sync + 'static {
    async fn register_namespace(&self, req: RegisterNamespaceRequest) -> ApiResult<()>;
    async fn describe_namespace(&self, namespace: &str) -> ApiResult<DescribeNamespaceResponse>;
    /// Changes what the request gives; answers the namespace as described after.
    async fn update_namespace(
        &self,
        req: UpdateNamespaceRequest,
    ) -> ApiResult<DescribeNamespaceResponse>;
    async fn list_namespaces(&self) -> ApiResult<ListNamespacesResponse>;
    /// The namespace's activities over the last hour, a minute at a time.
    async fn activity_throughput(&self, namespace: &str) -> ApiResult<ActivityThroughputResponse>;
    /// A long poll on the namespace's executions (see `NamespaceChangesQuery`).
    async fn namespace_changes(
        &self,
        namespace: &str,
        after: &str,
        wait: std::time::Duration,
    ) -> ApiResult<NamespaceChangesResponse>;

    async fn create_api_key(&self, key: NewApiKey) -> ApiResult<ApiKeyInfo>;
    /// Every key, or `namespace`'s keys.
    async fn list_api_keys(&self, namespace: Option<String>) -> ApiResult<ListApiKeysResponse>;
    async fn describe_api_key(&self, id: &str) -> ApiResult<ApiKeyInfo>;
    async fn set_api_key_disabled(&self, id: &str, disabled: bool) -> ApiResult<()>;
    async fn delete_api_key(&self, id: &str) -> ApiResult<()>;
    /// The key `id` if its secret's hash is `hash` and it is enabled and not expired, noting
    /// its use; `None` otherwise, whichever the reason.
    async fn authenticate_api_key(&self, id: &str, hash: &str) -> ApiResult<Option<ApiKeyInfo>>;
    /// Whether a usable `system:admin` key is stored (the bootstrap key works until then).
    async fn has_system_admin_key(&self) -> ApiResult<bool>;

    async fn start_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: StartActivityExecutionRequest,
    ) -> ApiResult<StartActivityExecutionResponse>;
    /// With a long-poll token, waits up to `wait` for a change; `None` when nothing changed.
    async fn describe_activity(
        &self,
        ns: &str,
        activity_id: &str,
        query: DescribeActivityExecutionQuery,
        wait: std::time::Duration,
    ) -> ApiResult<Option<DescribeActivityExecutionResponse>>;
    /// Waits up to `wait` for the outcome; `None` when it did not come.
    async fn poll_activity_outcome(
        &self,
        ns: &str,
        activity_id: &str,
        run_id: &str,
        wait: std::time::Duration,
    ) -> ApiResult<Option<PollActivityExecutionResponse>>;
    async fn list_activities(
        &self,
        ns: &str,
        query: ListActivityExecutionsQuery,
    ) -> ApiResult<ListActivityExecutionsResponse>;
    async fn count_activities(
        &self,
        ns: &str,
        query: &str,
    ) -> ApiResult<CountActivityExecutionsResponse>;
    async fn request_cancel_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: RequestCancelActivityExecutionRequest,
    ) -> ApiResult<()>;
    async fn terminate_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: TerminateActivityExecutionRequest,
    ) -> ApiResult<()>;
    async fn pause_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: PauseActivityExecutionRequest,
    ) -> ApiResult<()>;
    async fn unpause_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: UnpauseActivityExecutionRequest,
    ) -> ApiResult<()>;
    async fn reset_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: ResetActivityExecutionRequest,
    ) -> ApiResult<()>;
    async fn update_activity_options(
        &self,
        ns: &str,
        activity_id: &str,
        req: UpdateActivityExecutionOptionsRequest,
    ) -> ApiResult<UpdateActivityExecutionOptionsResponse>;

    async fn record_heartbeat(
        &self,
        ns: &str,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<RecordActivityTaskHeartbeatResponse>;
    async fn respond_completed(
        &self,
        ns: &str,
        target: ActivityRef,
        result: Option<Payloads>,
        identity: String,
    ) -> ApiResult<()>;
    async fn respond_failed(
        &self,
        ns: &str,
        target: ActivityRef,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<RespondActivityTaskFailedResponse>;
    async fn respond_canceled(
        &self,
        ns: &str,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<()>;

    /// Records that a worker took `task`. `None`: the task is stale and must be dropped.
    async fn record_activity_task_started(
        &self,
        task: &ActivityTask,
        poller: &PollerInfo,
    ) -> ApiResult<Option<PollActivityTaskQueueResponse>>;
    async fn fire_timer(&self, timer: DueTimer) -> ApiResult<()>;

    async fn start_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::StartWorkflowExecutionRequest,
    ) -> ApiResult<wf::StartWorkflowExecutionResponse>;
    async fn signal_with_start_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::SignalWithStartWorkflowExecutionRequest,
    ) -> ApiResult<wf::SignalWithStartWorkflowExecutionResponse>;
    async fn describe_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> ApiResult<wf::DescribeWorkflowExecutionResponse>;
    /// Long-polls (up to `wait`) when the query asks to wait for new events or the close event.
    async fn get_workflow_history(
        &self,
        ns: &str,
        workflow_id: &str,
        query: wf::GetWorkflowExecutionHistoryQuery,
        wait: std::time::Duration,
    ) -> ApiResult<wf::GetWorkflowExecutionHistoryResponse>;
    async fn list_workflows(
        &self,
        ns: &str,
        query: wf::ListWorkflowExecutionsQuery,
    ) -> ApiResult<wf::ListWorkflowExecutionsResponse>;
    async fn count_workflows(
        &self,
        ns: &str,
        query: &str,
    ) -> ApiResult<CountActivityExecutionsResponse>;
    async fn request_cancel_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::RequestCancelWorkflowExecutionRequest,
    ) -> ApiResult<()>;
    async fn terminate_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::TerminateWorkflowExecutionRequest,
    ) -> ApiResult<()>;
    async fn signal_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::SignalWorkflowExecutionRequest,
    ) -> ApiResult<wf::SignalWorkflowExecutionResponse>;
    /// Records that a worker took a workflow task. `None`: stale, drop it.
    async fn record_workflow_task_started(
        &self,
        task: &ActivityTask,
        poller: &PollerInfo,
    ) -> ApiResult<Option<wf::PollWorkflowTaskQueueResponse>>;
    async fn respond_workflow_task_completed(
        &self,
        ns: &str,
        req: wf::RespondWorkflowTaskCompletedRequest,
    ) -> ApiResult<()>;
    async fn respond_workflow_task_failed(
        &self,
        ns: &str,
        req: wf::RespondWorkflowTaskFailedRequest,
    ) -> ApiResult<()>;
    /// Asks a worker of the run's workflow task queue (`QueryWorkflow`), waiting up to `wait`
    /// for its answer.
    async fn query_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::QueryWorkflowRequest,
        wait: std::time::Duration,
    ) -> ApiResult<wf::QueryWorkflowResponse>;
    /// A worker's answer to a query task, for whoever waits for it.
    async fn respond_query_task_completed(
        &self,
        ns: &str,
        req: wf::RespondQueryTaskCompletedRequest,
    ) -> ApiResult<()>;
}

/// Task queues and their pollers.
#[async_trait]
pub trait MatchingApi: Send + Sync + 'static {
    async fn add_activity_task(&self, task: ActivityTask) -> ApiResult<()>;
    /// Waits up to `wait` for a task; `None` when none came.
    async fn poll_activity_task(
        &self,
        ns: &str,
        req: PollActivityTaskQueueRequest,
        wait: std::time::Duration,
    ) -> ApiResult<Option<PollActivityTaskQueueResponse>>;
    /// Tasks of a queue not yet taken (or taken and not yet recorded).
    async fn queue_backlog(&self, ns: &str, task_queue: &str) -> ApiResult<u64>;
    /// The namespace's recently used queues (see `ListTaskQueuesResponse`).
    async fn list_task_queues(&self, ns: &str) -> ApiResult<ListTaskQueuesResponse>;
    /// A queue's recent pollers, backlog and the rate limit in force (`DescribeTaskQueue`).
    async fn describe_task_queue(
        &self,
        ns: &str,
        task_queue: &str,
        query: DescribeTaskQueueQuery,
    ) -> ApiResult<DescribeTaskQueueResponse>;
    /// Sets or removes a queue's API rate limit (`UpdateTaskQueueConfig`); answers the config.
    async fn update_task_queue_config(
        &self,
        ns: &str,
        task_queue: &str,
        req: UpdateTaskQueueConfigRequest,
    ) -> ApiResult<UpdateTaskQueueConfigResponse>;
    async fn add_workflow_task(&self, task: ActivityTask) -> ApiResult<()>;
    /// Waits up to `wait` for a workflow task; `None` when none came.
    async fn poll_workflow_task(
        &self,
        ns: &str,
        req: wf::PollWorkflowTaskQueueRequest,
        wait: std::time::Duration,
    ) -> ApiResult<Option<wf::PollWorkflowTaskQueueResponse>>;
    /// Hands query `task` to a poller of its workflow task queue and waits up to `wait` for
    /// the answer; `None` when none came.
    async fn query_workflow(
        &self,
        task: ActivityTask,
        wait: std::time::Duration,
    ) -> ApiResult<Option<wf::RespondQueryTaskCompletedRequest>>;
    /// The answer to query `id`, delivered to its waiter in whichever process it waits.
    async fn answer_query(
        &self,
        id: &str,
        answer: wf::RespondQueryTaskCompletedRequest,
    ) -> ApiResult<()>;
}

/// The durable timer loop.
#[async_trait]
pub trait TimerApi: Send + Sync + 'static {
    /// A timer due at `due_ns` was written: wake the loop if it sleeps past that.
    async fn timer_written(&self, due_ns: i64) -> ApiResult<()>;
}

/// Where the services read the time. Tests may supply their own.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The machine's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(std::time::SystemTime::now())
    }
}
