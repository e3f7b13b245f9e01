//! The services' traits over HTTP: each call is one `POST /internal/v1/<service>` whose JSON body
//! names the method and its arguments. `dispatch_*` serves a call with any implementation; the
//! `Http*` clients make calls. Internal routes need the shared secret header.

use std::borrow::Cow;
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use waymark_api::workflow as wf;
use waymark_api::*;
use waymark_queue::ActivityTask;
use waymark_telemetry::trace::{self, SpanKind, TRACEPARENT_HEADER};

use crate::{ActivityRef, ApiResult, DueTimer, HistoryApi, MatchingApi, PollerInfo, TimerApi};

/// Header carrying the shared secret of internal calls.
pub const SECRET_HEADER: &str = "x-waymark-internal-secret";
/// Slack over a long poll's own wait before the HTTP call itself gives up.
const LONG_POLL_SLACK: Duration = Duration::from_secs(5);
/// Timeout of an ordinary internal call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

// A call is built once, serialized and dropped: boxing its large requests would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum HistoryCall {
    RegisterNamespace {
        req: RegisterNamespaceRequest,
    },
    DescribeNamespace {
        namespace: String,
    },
    ListNamespaces,
    StartActivity {
        ns: String,
        activity_id: String,
        req: StartActivityExecutionRequest,
    },
    DescribeActivity {
        ns: String,
        activity_id: String,
        query: DescribeActivityExecutionQuery,
        wait: Duration,
    },
    PollActivityOutcome {
        ns: String,
        activity_id: String,
        run_id: String,
        wait: Duration,
    },
    ListActivities {
        ns: String,
        query: ListActivityExecutionsQuery,
    },
    CountActivities {
        ns: String,
        query: String,
    },
    RequestCancelActivity {
        ns: String,
        activity_id: String,
        req: RequestCancelActivityExecutionRequest,
    },
    TerminateActivity {
        ns: String,
        activity_id: String,
        req: TerminateActivityExecutionRequest,
    },
    PauseActivity {
        ns: String,
        activity_id: String,
        req: PauseActivityExecutionRequest,
    },
    UnpauseActivity {
        ns: String,
        activity_id: String,
        req: UnpauseActivityExecutionRequest,
    },
    ResetActivity {
        ns: String,
        activity_id: String,
        req: ResetActivityExecutionRequest,
    },
    UpdateActivityOptions {
        ns: String,
        activity_id: String,
        req: UpdateActivityExecutionOptionsRequest,
    },
    RecordHeartbeat {
        ns: String,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    },
    RespondCompleted {
        ns: String,
        target: ActivityRef,
        result: Option<Payloads>,
        identity: String,
    },
    RespondFailed {
        ns: String,
        target: ActivityRef,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: String,
    },
    RespondCanceled {
        ns: String,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    },
    RecordActivityTaskStarted {
        task: ActivityTask,
        poller: PollerInfo,
    },
    FireTimer {
        timer: DueTimer,
    },
    StartWorkflow {
        ns: String,
        workflow_id: String,
        req: wf::StartWorkflowExecutionRequest,
    },
    SignalWithStartWorkflow {
        ns: String,
        workflow_id: String,
        req: wf::SignalWithStartWorkflowExecutionRequest,
    },
    DescribeWorkflow {
        ns: String,
        workflow_id: String,
        run_id: String,
    },
    GetWorkflowHistory {
        ns: String,
        workflow_id: String,
        query: wf::GetWorkflowExecutionHistoryQuery,
        wait: Duration,
    },
    ListWorkflows {
        ns: String,
        query: wf::ListWorkflowExecutionsQuery,
    },
    CountWorkflows {
        ns: String,
        query: String,
    },
    RequestCancelWorkflow {
        ns: String,
        workflow_id: String,
        req: wf::RequestCancelWorkflowExecutionRequest,
    },
    TerminateWorkflow {
        ns: String,
        workflow_id: String,
        req: wf::TerminateWorkflowExecutionRequest,
    },
    SignalWorkflow {
        ns: String,
        workflow_id: String,
        req: wf::SignalWorkflowExecutionRequest,
    },
    RecordWorkflowTaskStarted {
        task: ActivityTask,
        poller: PollerInfo,
    },
    RespondWorkflowTaskCompleted {
        ns: String,
        req: wf::RespondWorkflowTaskCompletedRequest,
    },
    RespondWorkflowTaskFailed {
        ns: String,
        req: wf::RespondWorkflowTaskFailedRequest,
    },
    QueryWorkflow {
        ns: String,
        workflow_id: String,
        req: wf::QueryWorkflowRequest,
        wait: Duration,
    },
    RespondQueryTaskCompleted {
        ns: String,
        req: wf::RespondQueryTaskCompletedRequest,
    },
}

impl HistoryCall {
    /// How long the call may legitimately take.
    fn timeout(&self) -> Duration {
        match self {
            HistoryCall::DescribeActivity { wait, .. }
            | HistoryCall::PollActivityOutcome { wait, .. }
            | HistoryCall::GetWorkflowHistory { wait, .. }
            | HistoryCall::QueryWorkflow { wait, .. } => *wait + LONG_POLL_SLACK,
            _ => CALL_TIMEOUT,
        }
    }
}

// As `HistoryCall`: built once, serialized and dropped.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum MatchingCall {
    AddActivityTask {
        task: ActivityTask,
    },
    PollActivityTask {
        ns: String,
        req: PollActivityTaskQueueRequest,
        wait: Duration,
    },
    QueueBacklog {
        ns: String,
        task_queue: String,
    },
    DescribeTaskQueue {
        ns: String,
        task_queue: String,
        query: DescribeTaskQueueQuery,
    },
    UpdateTaskQueueConfig {
        ns: String,
        task_queue: String,
        req: UpdateTaskQueueConfigRequest,
    },
    AddWorkflowTask {
        task: ActivityTask,
    },
    PollWorkflowTask {
        ns: String,
        req: wf::PollWorkflowTaskQueueRequest,
        wait: Duration,
    },
    QueryWorkflow {
        task: ActivityTask,
        wait: Duration,
    },
    AnswerQuery {
        id: String,
        answer: wf::RespondQueryTaskCompletedRequest,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum TimerCall {
    TimerWritten { due_ns: i64 },
}

fn json<T: Serialize>(r: ApiResult<T>) -> ApiResult<Value> {
    r.and_then(|v| serde_json::to_value(v).map_err(|_| ApiError::internal()))
}

/// Serves one history call with `api`.
pub async fn dispatch_history(api: &dyn HistoryApi, call: HistoryCall) -> ApiResult<Value> {
    use HistoryCall::*;
    match call {
        RegisterNamespace { req } => json(api.register_namespace(req).await),
        DescribeNamespace { namespace } => json(api.describe_namespace(&namespace).await),
        ListNamespaces => json(api.list_namespaces().await),
        StartActivity {
            ns,
            activity_id,
            req,
        } => json(api.start_activity(&ns, &activity_id, req).await),
        DescribeActivity {
            ns,
            activity_id,
            query,
            wait,
        } => json(api.describe_activity(&ns, &activity_id, query, wait).await),
        PollActivityOutcome {
            ns,
            activity_id,
            run_id,
            wait,
        } => json(
            api.poll_activity_outcome(&ns, &activity_id, &run_id, wait)
                .await,
        ),
        ListActivities { ns, query } => json(api.list_activities(&ns, query).await),
        CountActivities { ns, query } => json(api.count_activities(&ns, &query).await),
        RequestCancelActivity {
            ns,
            activity_id,
            req,
        } => json(api.request_cancel_activity(&ns, &activity_id, req).await),
        TerminateActivity {
            ns,
            activity_id,
            req,
        } => json(api.terminate_activity(&ns, &activity_id, req).await),
        PauseActivity {
            ns,
            activity_id,
            req,
        } => json(api.pause_activity(&ns, &activity_id, req).await),
        UnpauseActivity {
            ns,
            activity_id,
            req,
        } => json(api.unpause_activity(&ns, &activity_id, req).await),
        ResetActivity {
            ns,
            activity_id,
            req,
        } => json(api.reset_activity(&ns, &activity_id, req).await),
        UpdateActivityOptions {
            ns,
            activity_id,
            req,
        } => json(api.update_activity_options(&ns, &activity_id, req).await),
        RecordHeartbeat {
            ns,
            target,
            details,
            identity,
        } => json(api.record_heartbeat(&ns, target, details, identity).await),
        RespondCompleted {
            ns,
            target,
            result,
            identity,
        } => json(api.respond_completed(&ns, target, result, identity).await),
        RespondFailed {
            ns,
            target,
            failure,
            last_heartbeat_details,
            identity,
        } => json(
            api.respond_failed(&ns, target, failure, last_heartbeat_details, identity)
                .await,
        ),
        RespondCanceled {
            ns,
            target,
            details,
            identity,
        } => json(api.respond_canceled(&ns, target, details, identity).await),
        RecordActivityTaskStarted { task, poller } => {
            json(api.record_activity_task_started(&task, &poller).await)
        }
        FireTimer { timer } => json(api.fire_timer(timer).await),
        StartWorkflow {
            ns,
            workflow_id,
            req,
        } => json(api.start_workflow(&ns, &workflow_id, req).await),
        SignalWithStartWorkflow {
            ns,
            workflow_id,
            req,
        } => json(api.signal_with_start_workflow(&ns, &workflow_id, req).await),
        DescribeWorkflow {
            ns,
            workflow_id,
            run_id,
        } => json(api.describe_workflow(&ns, &workflow_id, &run_id).await),
        GetWorkflowHistory {
            ns,
            workflow_id,
            query,
            wait,
        } => json(
            api.get_workflow_history(&ns, &workflow_id, query, wait)
                .await,
        ),
        ListWorkflows { ns, query } => json(api.list_workflows(&ns, query).await),
        CountWorkflows { ns, query } => json(api.count_workflows(&ns, &query).await),
        RequestCancelWorkflow {
            ns,
            workflow_id,
            req,
        } => json(api.request_cancel_workflow(&ns, &workflow_id, req).await),
        TerminateWorkflow {
            ns,
            workflow_id,
            req,
        } => json(api.terminate_workflow(&ns, &workflow_id, req).await),
        SignalWorkflow {
            ns,
            workflow_id,
            req,
        } => json(api.signal_workflow(&ns, &workflow_id, req).await),
        RecordWorkflowTaskStarted { task, poller } => {
            json(api.record_workflow_task_started(&task, &poller).await)
        }
        RespondWorkflowTaskCompleted { ns, req } => {
            json(api.respond_workflow_task_completed(&ns, req).await)
        }
        RespondWorkflowTaskFailed { ns, req } => {
            json(api.respond_workflow_task_failed(&ns, req).await)
        }
        QueryWorkflow {
            ns,
            workflow_id,
            req,
            wait,
        } => json(api.query_workflow(&ns, &workflow_id, req, wait).await),
        RespondQueryTaskCompleted { ns, req } => {
            json(api.respond_query_task_completed(&ns, req).await)
        }
    }
}

/// Serves one matching call with `api`.
pub async fn dispatch_matching(api: &dyn MatchingApi, call: MatchingCall) -> ApiResult<Value> {
    match call {
        MatchingCall::AddActivityTask { task } => json(api.add_activity_task(task).await),
        MatchingCall::PollActivityTask { ns, req, wait } => {
            json(api.poll_activity_task(&ns, req, wait).await)
        }
        MatchingCall::QueueBacklog { ns, task_queue } => {
            json(api.queue_backlog(&ns, &task_queue).await)
        }
        MatchingCall::DescribeTaskQueue {
            ns,
            task_queue,
            query,
        } => json(api.describe_task_queue(&ns, &task_queue, query).await),
        MatchingCall::UpdateTaskQueueConfig {
            ns,
            task_queue,
            req,
        } => json(api.update_task_queue_config(&ns, &task_queue, req).await),
        MatchingCall::AddWorkflowTask { task } => json(api.add_workflow_task(task).await),
        MatchingCall::PollWorkflowTask { ns, req, wait } => {
            json(api.poll_workflow_task(&ns, req, wait).await)
        }
        MatchingCall::QueryWorkflow { task, wait } => json(api.query_workflow(task, wait).await),
        MatchingCall::AnswerQuery { id, answer } => json(api.answer_query(&id, answer).await),
    }
}

/// Serves one timer call with `api`.
pub async fn dispatch_timer(api: &dyn TimerApi, call: TimerCall) -> ApiResult<Value> {
    match call {
        TimerCall::TimerWritten { due_ns } => json(api.timer_written(due_ns).await),
    }
}

/// An HTTP client of one internal service.
#[derive(Clone)]
pub struct Remote {
    http: reqwest::Client,
    url: String,
    secret: String,
}

impl Remote {
    /// `base` is the service's address (`http://history:7233`); `service` names its route.
    pub fn new(http: reqwest::Client, base: &str, service: &str, secret: &str) -> Remote {
        Remote {
            http,
            url: format!("{}/internal/v1/{service}", base.trim_end_matches('/')),
            secret: secret.to_owned(),
        }
    }

    async fn call<C: Serialize, T: DeserializeOwned>(
        &self,
        call: &C,
        timeout: Duration,
    ) -> ApiResult<T> {
        let unavailable = |e: reqwest::Error| {
            ApiError::unavailable(format!("internal call to {} failed: {e}", self.url))
        };
        let mut request = self
            .http
            .post(&self.url)
            .header(SECRET_HEADER, &self.secret)
            .timeout(timeout)
            .json(call);
        if let Some(traceparent) = trace::current() {
            request = request.header(TRACEPARENT_HEADER, traceparent);
        }
        let response = request.send().await.map_err(unavailable)?;
        if let Some(answer) = response.headers().get(TRACEPARENT_HEADER)
            && let Ok(answer) = answer.to_str()
        {
            trace::answer_with(answer.to_owned());
        }
        let ok = response.status().is_success();
        let body = response.bytes().await.map_err(unavailable)?;
        if ok {
            serde_json::from_slice(&body)
                .map_err(|e| ApiError::unavailable(format!("bad internal answer: {e}")))
        } else {
            Err(serde_json::from_slice(&body)
                .unwrap_or_else(|_| ApiError::unavailable(String::from_utf8_lossy(&body))))
        }
    }
}

/// `HistoryApi` over HTTP.
pub struct HttpHistory(pub Remote);
/// `MatchingApi` over HTTP.
pub struct HttpMatching(pub Remote);
/// `TimerApi` over HTTP.
pub struct HttpTimer(pub Remote);

impl HttpHistory {
    async fn call<T: DeserializeOwned>(&self, call: HistoryCall) -> ApiResult<T> {
        let timeout = call.timeout();
        self.0.call(&call, timeout).await
    }
}

#[async_trait]
impl HistoryApi for HttpHistory {
    async fn register_namespace(&self, req: RegisterNamespaceRequest) -> ApiResult<()> {
        self.call(HistoryCall::RegisterNamespace { req }).await
    }
    async fn describe_namespace(&self, namespace: &str) -> ApiResult<DescribeNamespaceResponse> {
        self.call(HistoryCall::DescribeNamespace {
            namespace: namespace.into(),
        })
        .await
    }
    async fn list_namespaces(&self) -> ApiResult<ListNamespacesResponse> {
        self.call(HistoryCall::ListNamespaces).await
    }
    async fn start_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: StartActivityExecutionRequest,
    ) -> ApiResult<StartActivityExecutionResponse> {
        self.call(HistoryCall::StartActivity {
            ns: ns.into(),
            activity_id: activity_id.into(),
            req,
        })
        .await
    }
    async fn describe_activity(
        &self,
        ns: &str,
        activity_id: &str,
        query: DescribeActivityExecutionQuery,
        wait: Duration,
    ) -> ApiResult<Option<DescribeActivityExecutionResponse>> {
        self.call(HistoryCall::DescribeActivity {
            ns: ns.into(),
            activity_id: activity_id.into(),
            query,
            wait,
        })
        .await
    }
    async fn poll_activity_outcome(
        &self,
        ns: &str,
        activity_id: &str,
        run_id: &str,
        wait: Duration,
    ) -> ApiResult<Option<PollActivityExecutionResponse>> {
        self.call(HistoryCall::PollActivityOutcome {
            ns: ns.into(),
            activity_id: activity_id.into(),
            run_id: run_id.into(),
            wait,
        })
        .await
    }
    async fn list_activities(
        &self,
        ns: &str,
        query: ListActivityExecutionsQuery,
    ) -> ApiResult<ListActivityExecutionsResponse> {
        self.call(HistoryCall::ListActivities {
            ns: ns.into(),
            query,
        })
        .await
    }
    async fn count_activities(
        &self,
        ns: &str,
        query: &str,
    ) -> ApiResult<CountActivityExecutionsResponse> {
        self.call(HistoryCall::CountActivities {
            ns: ns.into(),
            query: query.into(),
        })
        .await
    }
    async fn request_cancel_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: RequestCancelActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.call(HistoryCall::RequestCancelActivity {
            ns: ns.into(),
            activity_id: activity_id.into(),
            req,
        })
        .await
    }
    async fn terminate_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: TerminateActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.call(HistoryCall::TerminateActivity {
            ns: ns.into(),
            activity_id: activity_id.into(),
            req,
        })
        .await
    }
    async fn pause_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: PauseActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.call(HistoryCall::PauseActivity {
            ns: ns.into(),
            activity_id: activity_id.into(),
            req,
        })
        .await
    }
    async fn unpause_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: UnpauseActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.call(HistoryCall::UnpauseActivity {
            ns: ns.into(),
            activity_id: activity_id.into(),
            req,
        })
        .await
    }
    async fn reset_activity(
        &self,
        ns: &str,
        activity_id: &str,
        req: ResetActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.call(HistoryCall::ResetActivity {
            ns: ns.into(),
            activity_id: activity_id.into(),
            req,
        })
        .await
    }
    async fn update_activity_options(
        &self,
        ns: &str,
        activity_id: &str,
        req: UpdateActivityExecutionOptionsRequest,
    ) -> ApiResult<UpdateActivityExecutionOptionsResponse> {
        self.call(HistoryCall::UpdateActivityOptions {
            ns: ns.into(),
            activity_id: activity_id.into(),
            req,
        })
        .await
    }
    async fn record_heartbeat(
        &self,
        ns: &str,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<RecordActivityTaskHeartbeatResponse> {
        self.call(HistoryCall::RecordHeartbeat {
            ns: ns.into(),
            target,
            details,
            identity,
        })
        .await
    }
    async fn respond_completed(
        &self,
        ns: &str,
        target: ActivityRef,
        result: Option<Payloads>,
        identity: String,
    ) -> ApiResult<()> {
        self.call(HistoryCall::RespondCompleted {
            ns: ns.into(),
            target,
            result,
            identity,
        })
        .await
    }
    async fn respond_failed(
        &self,
        ns: &str,
        target: ActivityRef,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<RespondActivityTaskFailedResponse> {
        self.call(HistoryCall::RespondFailed {
            ns: ns.into(),
            target,
            failure,
            last_heartbeat_details,
            identity,
        })
        .await
    }
    async fn respond_canceled(
        &self,
        ns: &str,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<()> {
        self.call(HistoryCall::RespondCanceled {
            ns: ns.into(),
            target,
            details,
            identity,
        })
        .await
    }
    async fn record_activity_task_started(
        &self,
        task: &ActivityTask,
        poller: &PollerInfo,
    ) -> ApiResult<Option<PollActivityTaskQueueResponse>> {
        self.call(HistoryCall::RecordActivityTaskStarted {
            task: task.clone(),
            poller: poller.clone(),
        })
        .await
    }
    async fn fire_timer(&self, timer: DueTimer) -> ApiResult<()> {
        self.call(HistoryCall::FireTimer { timer }).await
    }
    async fn start_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::StartWorkflowExecutionRequest,
    ) -> ApiResult<wf::StartWorkflowExecutionResponse> {
        self.call(HistoryCall::StartWorkflow {
            ns: ns.into(),
            workflow_id: workflow_id.into(),
            req,
        })
        .await
    }
    async fn signal_with_start_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::SignalWithStartWorkflowExecutionRequest,
    ) -> ApiResult<wf::SignalWithStartWorkflowExecutionResponse> {
        self.call(HistoryCall::SignalWithStartWorkflow {
            ns: ns.into(),
            workflow_id: workflow_id.into(),
            req,
        })
        .await
    }
    async fn describe_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> ApiResult<wf::DescribeWorkflowExecutionResponse> {
        self.call(HistoryCall::DescribeWorkflow {
            ns: ns.into(),
            workflow_id: workflow_id.into(),
            run_id: run_id.into(),
        })
        .await
    }
    async fn get_workflow_history(
        &self,
        ns: &str,
        workflow_id: &str,
        query: wf::GetWorkflowExecutionHistoryQuery,
        wait: Duration,
    ) -> ApiResult<wf::GetWorkflowExecutionHistoryResponse> {
        self.call(HistoryCall::GetWorkflowHistory {
            ns: ns.into(),
            workflow_id: workflow_id.into(),
            query,
            wait,
        })
        .await
    }
    async fn list_workflows(
        &self,
        ns: &str,
        query: wf::ListWorkflowExecutionsQuery,
    ) -> ApiResult<wf::ListWorkflowExecutionsResponse> {
        self.call(HistoryCall::ListWorkflows {
            ns: ns.into(),
            query,
        })
        .await
    }
    async fn count_workflows(
        &self,
        ns: &str,
        query: &str,
    ) -> ApiResult<CountActivityExecutionsResponse> {
        self.call(HistoryCall::CountWorkflows {
            ns: ns.into(),
            query: query.into(),
        })
        .await
    }
    async fn request_cancel_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::RequestCancelWorkflowExecutionRequest,
    ) -> ApiResult<()> {
        self.call(HistoryCall::RequestCancelWorkflow {
            ns: ns.into(),
            workflow_id: workflow_id.into(),
            req,
        })
        .await
    }
    async fn terminate_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::TerminateWorkflowExecutionRequest,
    ) -> ApiResult<()> {
        self.call(HistoryCall::TerminateWorkflow {
            ns: ns.into(),
            workflow_id: workflow_id.into(),
            req,
        })
        .await
    }
    async fn signal_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::SignalWorkflowExecutionRequest,
    ) -> ApiResult<wf::SignalWorkflowExecutionResponse> {
        self.call(HistoryCall::SignalWorkflow {
            ns: ns.into(),
            workflow_id: workflow_id.into(),
            req,
        })
        .await
    }
    async fn record_workflow_task_started(
        &self,
        task: &ActivityTask,
        poller: &PollerInfo,
    ) -> ApiResult<Option<wf::PollWorkflowTaskQueueResponse>> {
        self.call(HistoryCall::RecordWorkflowTaskStarted {
            task: task.clone(),
            poller: poller.clone(),
        })
        .await
    }
    async fn respond_workflow_task_completed(
        &self,
        ns: &str,
        req: wf::RespondWorkflowTaskCompletedRequest,
    ) -> ApiResult<()> {
        self.call(HistoryCall::RespondWorkflowTaskCompleted { ns: ns.into(), req })
            .await
    }
    async fn respond_workflow_task_failed(
        &self,
        ns: &str,
        req: wf::RespondWorkflowTaskFailedRequest,
    ) -> ApiResult<()> {
        self.call(HistoryCall::RespondWorkflowTaskFailed { ns: ns.into(), req })
            .await
    }
    async fn query_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::QueryWorkflowRequest,
        wait: Duration,
    ) -> ApiResult<wf::QueryWorkflowResponse> {
        self.call(HistoryCall::QueryWorkflow {
            ns: ns.into(),
            workflow_id: workflow_id.into(),
            req,
            wait,
        })
        .await
    }
    async fn respond_query_task_completed(
        &self,
        ns: &str,
        req: wf::RespondQueryTaskCompletedRequest,
    ) -> ApiResult<()> {
        self.call(HistoryCall::RespondQueryTaskCompleted { ns: ns.into(), req })
            .await
    }
}

#[async_trait]
impl MatchingApi for HttpMatching {
    async fn add_activity_task(&self, task: ActivityTask) -> ApiResult<()> {
        self.0
            .call(&MatchingCall::AddActivityTask { task }, CALL_TIMEOUT)
            .await
    }
    async fn poll_activity_task(
        &self,
        ns: &str,
        req: PollActivityTaskQueueRequest,
        wait: Duration,
    ) -> ApiResult<Option<PollActivityTaskQueueResponse>> {
        self.0
            .call(
                &MatchingCall::PollActivityTask {
                    ns: ns.into(),
                    req,
                    wait,
                },
                wait + LONG_POLL_SLACK,
            )
            .await
    }
    async fn queue_backlog(&self, ns: &str, task_queue: &str) -> ApiResult<u64> {
        self.0
            .call(
                &MatchingCall::QueueBacklog {
                    ns: ns.into(),
                    task_queue: task_queue.into(),
                },
                CALL_TIMEOUT,
            )
            .await
    }
    async fn describe_task_queue(
        &self,
        ns: &str,
        task_queue: &str,
        query: DescribeTaskQueueQuery,
    ) -> ApiResult<DescribeTaskQueueResponse> {
        let call = MatchingCall::DescribeTaskQueue {
            ns: ns.into(),
            task_queue: task_queue.into(),
            query,
        };
        self.0.call(&call, CALL_TIMEOUT).await
    }
    async fn update_task_queue_config(
        &self,
        ns: &str,
        task_queue: &str,
        req: UpdateTaskQueueConfigRequest,
    ) -> ApiResult<UpdateTaskQueueConfigResponse> {
        let call = MatchingCall::UpdateTaskQueueConfig {
            ns: ns.into(),
            task_queue: task_queue.into(),
            req,
        };
        self.0.call(&call, CALL_TIMEOUT).await
    }
    async fn add_workflow_task(&self, task: ActivityTask) -> ApiResult<()> {
        self.0
            .call(&MatchingCall::AddWorkflowTask { task }, CALL_TIMEOUT)
            .await
    }
    async fn poll_workflow_task(
        &self,
        ns: &str,
        req: wf::PollWorkflowTaskQueueRequest,
        wait: Duration,
    ) -> ApiResult<Option<wf::PollWorkflowTaskQueueResponse>> {
        self.0
            .call(
                &MatchingCall::PollWorkflowTask {
                    ns: ns.into(),
                    req,
                    wait,
                },
                wait + LONG_POLL_SLACK,
            )
            .await
    }
    async fn query_workflow(
        &self,
        task: ActivityTask,
        wait: Duration,
    ) -> ApiResult<Option<wf::RespondQueryTaskCompletedRequest>> {
        let call = MatchingCall::QueryWorkflow { task, wait };
        self.0.call(&call, wait + LONG_POLL_SLACK).await
    }
    async fn answer_query(
        &self,
        id: &str,
        answer: wf::RespondQueryTaskCompletedRequest,
    ) -> ApiResult<()> {
        let call = MatchingCall::AnswerQuery {
            id: id.into(),
            answer,
        };
        self.0.call(&call, CALL_TIMEOUT).await
    }
}

#[async_trait]
impl TimerApi for HttpTimer {
    async fn timer_written(&self, due_ns: i64) -> ApiResult<()> {
        self.0
            .call(&TimerCall::TimerWritten { due_ns }, CALL_TIMEOUT)
            .await
    }
}

/// The internal route of one service: checks the shared secret, decodes the call, serves it.
/// Mounted next to `/healthz` and `/readyz` on the service's own listener, never on the
/// frontend's public one.
pub fn internal_router<C, F, Fut>(service: &'static str, secret: String, serve: F) -> axum::Router
where
    C: DeserializeOwned + Send + 'static,
    F: Fn(C) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ApiResult<Value>> + Send + 'static,
{
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;

    let secret = std::sync::Arc::new(secret);
    let handler = move |headers: HeaderMap, body: axum::body::Bytes| {
        let (secret, serve) = (secret.clone(), serve.clone());
        async move {
            let mut answered_in = None;
            let given = headers
                .get(SECRET_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            let answer = if !constant_time_eq(given, secret.as_bytes()) {
                Err(ApiError::new(
                    Code::PermissionDenied,
                    "internal call without the right secret",
                ))
            } else {
                let caller = headers
                    .get(TRACEPARENT_HEADER)
                    .and_then(|v| v.to_str().ok());
                match serde_json::from_slice::<C>(&body) {
                    Ok(call) => {
                        let mut span = call_span(service, caller, &body);
                        let (answer, traceparent) = trace::answering(trace::scope(
                            span.traceparent().or(caller.map(str::to_owned)),
                            serve(call),
                        ))
                        .await;
                        if let Err(e) = &answer {
                            span.set_error(&e.message);
                        }
                        answered_in = traceparent;
                        answer
                    }
                    Err(e) => Err(ApiError::invalid_argument(format!(
                        "bad internal call: {e}"
                    ))),
                }
            };
            let mut response = match answer {
                Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
                Err(e) => {
                    let status = StatusCode::from_u16(e.http_status())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    (status, axum::Json(e)).into_response()
                }
            };
            if let Some(t) = answered_in.and_then(|t| t.try_into().ok()) {
                response.headers_mut().insert(TRACEPARENT_HEADER, t);
            }
            response
        }
    };
    axum::Router::new()
        .route(
            &format!("/internal/v1/{service}"),
            axum::routing::post(handler),
        )
        // The frontend enforces the public limits; a call it forwards may be larger than axum's
        // default (payload limits are checked by history, with Temporal's messages).
        .layer(axum::extract::DefaultBodyLimit::max(INTERNAL_BODY_LIMIT))
}

/// The server span of one internal call, `<service>.<method>` (the method is read out of the
/// body only when spans are exported).
fn call_span(service: &'static str, caller: Option<&str>, body: &[u8]) -> trace::Span {
    #[derive(Deserialize)]
    struct Method<'a> {
        #[serde(borrow)]
        method: Cow<'a, str>,
    }
    let name = || {
        let method =
            serde_json::from_slice::<Method>(body).map_or(Cow::Borrowed("?"), |m| m.method);
        format!("{service}.{method}")
    };
    trace::Span::start_at(name, SpanKind::Server, caller, None)
}

/// Largest internal call body: a few times the largest public request.
const INTERNAL_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Compares secrets without leaking where they differ through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_round_trip_through_json() {
        let call = HistoryCall::PollActivityOutcome {
            ns: "n".into(),
            activity_id: "a".into(),
            run_id: String::new(),
            wait: Duration::from_millis(1500),
        };
        let back: HistoryCall =
            serde_json::from_str(&serde_json::to_string(&call).unwrap()).unwrap();
        assert!(
            matches!(back, HistoryCall::PollActivityOutcome { wait, .. } if wait == Duration::from_millis(1500))
        );
        assert_eq!(
            back.timeout(),
            Duration::from_millis(1500) + LONG_POLL_SLACK
        );
    }

    #[test]
    fn task_queue_calls_round_trip_through_json() {
        let query = DescribeTaskQueueQuery {
            task_queue_type: TaskQueueType::Activity,
            report_stats: true,
            report_config: false,
        };
        let call = MatchingCall::DescribeTaskQueue {
            ns: "n".into(),
            task_queue: "q".into(),
            query: query.clone(),
        };
        let back: MatchingCall =
            serde_json::from_str(&serde_json::to_string(&call).unwrap()).unwrap();
        assert!(matches!(back, MatchingCall::DescribeTaskQueue { query: q, .. } if q == query));
    }

    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
