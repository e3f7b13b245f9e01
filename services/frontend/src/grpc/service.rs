//! `WorkflowService` over gRPC: each RPC decodes its message into the API type of the HTTP
//! door, makes the same history or matching call, and encodes the answer. RPCs not listed here
//! answer UNIMPLEMENTED (see `mod.rs`).

use tonic::{Request, Response, Status};
use waymark_api::protojson::encode_base64;
use waymark_api::workflow as wf;
use waymark_api::{self as api, ApiError};
use waymark_proto::temporal::api::workflowservice::v1::{self as pb, workflow_service_server};

use super::bridge::{from_api, status, to_api};
use crate::api::activities::{activity_outcome, describe_activity};
use crate::api::namespaces::visible_namespaces;
use crate::api::worker::{by_id, by_token, poll_activity_task};
use crate::api::workflows::{poll_workflow_task, query_workflow, read_history};
use crate::app::AppState;
use crate::auth::{Authorized, Caller, denied};
use crate::extract::Deadline;

/// The version `GetSystemInfo` reports: Temporal's SDKs gate features on capabilities, not on it.
const SERVER_VERSION: &str = concat!("waymark-", env!("CARGO_PKG_VERSION"));

pub struct WorkflowService {
    pub state: AppState,
}

type Answer<T> = Result<Response<T>, Status>;

/// The API result as the protobuf answer.
fn answer<P: serde::de::DeserializeOwned>(
    result: Result<impl serde::Serialize, ApiError>,
) -> Answer<P> {
    let value = result.map_err(status)?;
    from_api(&value).map(Response::new)
}

/// `{}`: the answer of RPCs whose response has no fields set.
fn done<P: Default>(result: Result<(), ApiError>) -> Answer<P> {
    result.map_err(status)?;
    Ok(Response::new(P::default()))
}

/// PermissionDenied unless the caller's key (checked by `Edge`, which notes what the RPC needs)
/// may call the RPC in `namespace`. No note: no `Edge` ran, and the call is refused.
fn authorize<T>(request: &Request<T>, namespace: &str) -> Result<Caller, Status> {
    let authorized = request.extensions().get::<Authorized>();
    match authorized.map(|a| a.check(namespace)) {
        Some(Ok(caller)) => Ok(caller.clone()),
        Some(Err(e)) => Err(status(e)),
        None => Err(status(denied())),
    }
}

/// The caller's deadline (`grpc-timeout`), read as the HTTP door reads its header.
fn deadline<T>(request: &Request<T>) -> Result<Deadline, Status> {
    let value = request.metadata().get("grpc-timeout").map(|v| v.as_bytes());
    Deadline::from_header(value).map_err(status)
}

/// A workflow id and run id from a request's `WorkflowExecution`.
fn execution(
    e: Option<waymark_proto::temporal::api::common::v1::WorkflowExecution>,
) -> (String, String) {
    e.map(|e| (e.workflow_id, e.run_id)).unwrap_or_default()
}

#[tonic::async_trait]
impl workflow_service_server::WorkflowService for WorkflowService {
    async fn get_system_info(
        &self,
        request: Request<pb::GetSystemInfoRequest>,
    ) -> Answer<pb::GetSystemInfoResponse> {
        authorize(&request, "")?;
        use pb::get_system_info_response::Capabilities;
        // Only what Waymark really does: failures and heartbeat details are kept verbatim,
        // signals and queries carry headers, the SDK's metadata is recorded in history, counts
        // group by status. No schedules, versioning, eager start, memo upserts or Nexus.
        let capabilities = Capabilities {
            signal_and_query_header: true,
            internal_error_differentiation: true,
            activity_failure_include_heartbeat: true,
            encoded_failure_attributes: true,
            sdk_metadata: true,
            count_group_by_execution_status: true,
            ..Default::default()
        };
        Ok(Response::new(pb::GetSystemInfoResponse {
            server_version: SERVER_VERSION.to_owned(),
            capabilities: Some(capabilities),
        }))
    }

    async fn register_namespace(
        &self,
        request: Request<pb::RegisterNamespaceRequest>,
    ) -> Answer<pb::RegisterNamespaceResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req = to_api(request.get_ref())?;
        done(self.state.history.register_namespace(req).await)
    }

    async fn describe_namespace(
        &self,
        request: Request<pb::DescribeNamespaceRequest>,
    ) -> Answer<pb::DescribeNamespaceResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let ns = &request.get_ref().namespace;
        if ns.is_empty() {
            return Err(Status::invalid_argument("Namespace not set on request."));
        }
        answer(self.state.history.describe_namespace(ns).await)
    }

    async fn update_namespace(
        &self,
        request: Request<pb::UpdateNamespaceRequest>,
    ) -> Answer<pb::UpdateNamespaceResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req = to_api(request.get_ref())?;
        answer(self.state.history.update_namespace(req).await)
    }

    async fn list_namespaces(
        &self,
        request: Request<pb::ListNamespacesRequest>,
    ) -> Answer<pb::ListNamespacesResponse> {
        let caller = authorize(&request, "")?;
        answer(visible_namespaces(&self.state, &caller).await)
    }

    async fn start_workflow_execution(
        &self,
        request: Request<pb::StartWorkflowExecutionRequest>,
    ) -> Answer<pb::StartWorkflowExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let mut message = request.into_inner();
        // Eager start is optional for a server: the task then comes through a poll.
        message.request_eager_execution = false;
        let req: wf::StartWorkflowExecutionRequest = to_api(&message)?;
        let (ns, id) = (req.namespace.clone(), req.workflow_id.clone());
        answer(self.state.history.start_workflow(&ns, &id, req).await)
    }

    async fn signal_with_start_workflow_execution(
        &self,
        request: Request<pb::SignalWithStartWorkflowExecutionRequest>,
    ) -> Answer<pb::SignalWithStartWorkflowExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: wf::SignalWithStartWorkflowExecutionRequest = to_api(request.get_ref())?;
        let (ns, id) = (req.namespace.clone(), req.workflow_id.clone());
        answer(
            self.state
                .history
                .signal_with_start_workflow(&ns, &id, req)
                .await,
        )
    }

    async fn signal_workflow_execution(
        &self,
        request: Request<pb::SignalWorkflowExecutionRequest>,
    ) -> Answer<pb::SignalWorkflowExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: wf::SignalWorkflowExecutionRequest = to_api(request.get_ref())?;
        let ns = req.namespace.clone();
        let id = workflow_id(req.workflow_execution.as_ref());
        answer(self.state.history.signal_workflow(&ns, &id, req).await)
    }

    async fn request_cancel_workflow_execution(
        &self,
        request: Request<pb::RequestCancelWorkflowExecutionRequest>,
    ) -> Answer<pb::RequestCancelWorkflowExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: wf::RequestCancelWorkflowExecutionRequest = to_api(request.get_ref())?;
        let ns = req.namespace.clone();
        let id = workflow_id(req.workflow_execution.as_ref());
        done(
            self.state
                .history
                .request_cancel_workflow(&ns, &id, req)
                .await,
        )
    }

    async fn terminate_workflow_execution(
        &self,
        request: Request<pb::TerminateWorkflowExecutionRequest>,
    ) -> Answer<pb::TerminateWorkflowExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: wf::TerminateWorkflowExecutionRequest = to_api(request.get_ref())?;
        let ns = req.namespace.clone();
        let id = workflow_id(req.workflow_execution.as_ref());
        done(self.state.history.terminate_workflow(&ns, &id, req).await)
    }

    async fn describe_workflow_execution(
        &self,
        request: Request<pb::DescribeWorkflowExecutionRequest>,
    ) -> Answer<pb::DescribeWorkflowExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req = request.into_inner();
        let (id, run_id) = execution(req.execution);
        answer(
            self.state
                .history
                .describe_workflow(&req.namespace, &id, &run_id)
                .await,
        )
    }

    async fn get_workflow_execution_history(
        &self,
        request: Request<pb::GetWorkflowExecutionHistoryRequest>,
    ) -> Answer<pb::GetWorkflowExecutionHistoryResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let deadline = deadline(&request)?;
        let req = request.into_inner();
        let (id, run_id) = execution(req.execution);
        let filter = pb_enum(req.history_event_filter_type)?;
        let query = wf::GetWorkflowExecutionHistoryQuery {
            run_id,
            maximum_page_size: req.maximum_page_size,
            next_page_token: encode_base64(&req.next_page_token),
            wait_new_event: req.wait_new_event,
            history_event_filter_type: filter,
            skip_archival: req.skip_archival,
        };
        answer(read_history(&self.state, deadline, &req.namespace, &id, query).await)
    }

    async fn list_workflow_executions(
        &self,
        request: Request<pb::ListWorkflowExecutionsRequest>,
    ) -> Answer<pb::ListWorkflowExecutionsResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req = request.into_inner();
        let query = wf::ListWorkflowExecutionsQuery {
            page_size: req.page_size,
            next_page_token: encode_base64(&req.next_page_token),
            query: req.query,
        };
        answer(
            self.state
                .history
                .list_workflows(&req.namespace, query)
                .await,
        )
    }

    async fn count_workflow_executions(
        &self,
        request: Request<pb::CountWorkflowExecutionsRequest>,
    ) -> Answer<pb::CountWorkflowExecutionsResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req = request.into_inner();
        answer(
            self.state
                .history
                .count_workflows(&req.namespace, &req.query)
                .await,
        )
    }

    async fn poll_workflow_task_queue(
        &self,
        request: Request<pb::PollWorkflowTaskQueueRequest>,
    ) -> Answer<pb::PollWorkflowTaskQueueResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let deadline = deadline(&request)?;
        let req: wf::PollWorkflowTaskQueueRequest = to_api(request.get_ref())?;
        let ns = req.namespace.clone();
        answer(poll_workflow_task(&self.state, deadline, &ns, req).await)
    }

    async fn respond_workflow_task_completed(
        &self,
        request: Request<pb::RespondWorkflowTaskCompletedRequest>,
    ) -> Answer<pb::RespondWorkflowTaskCompletedResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: wf::RespondWorkflowTaskCompletedRequest = to_api(request.get_ref())?;
        let ns = req.namespace.clone();
        // The next task comes through a poll and activities through their queues: the
        // answer's `workflowTask` and eager `activityTasks` are optional for a server.
        done(
            self.state
                .history
                .respond_workflow_task_completed(&ns, req)
                .await,
        )
    }

    async fn respond_workflow_task_failed(
        &self,
        request: Request<pb::RespondWorkflowTaskFailedRequest>,
    ) -> Answer<pb::RespondWorkflowTaskFailedResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: wf::RespondWorkflowTaskFailedRequest = to_api(request.get_ref())?;
        let ns = req.namespace.clone();
        done(
            self.state
                .history
                .respond_workflow_task_failed(&ns, req)
                .await,
        )
    }

    async fn query_workflow(
        &self,
        request: Request<pb::QueryWorkflowRequest>,
    ) -> Answer<pb::QueryWorkflowResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let deadline = deadline(&request)?;
        let req: wf::QueryWorkflowRequest = to_api(request.get_ref())?;
        let ns = req.namespace.clone();
        let id = workflow_id(req.execution.as_ref());
        answer(query_workflow(&self.state, deadline, &ns, &id, req).await)
    }

    async fn respond_query_task_completed(
        &self,
        request: Request<pb::RespondQueryTaskCompletedRequest>,
    ) -> Answer<pb::RespondQueryTaskCompletedResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let mut message = request.into_inner();
        newer_than_served(&mut message.cause);
        newer_than_served(&mut message.poller_group_id);
        let req: wf::RespondQueryTaskCompletedRequest = to_api(&message)?;
        let ns = req.namespace.clone();
        done(
            self.state
                .history
                .respond_query_task_completed(&ns, req)
                .await,
        )
    }

    async fn poll_activity_task_queue(
        &self,
        request: Request<pb::PollActivityTaskQueueRequest>,
    ) -> Answer<pb::PollActivityTaskQueueResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let deadline = deadline(&request)?;
        let req: api::PollActivityTaskQueueRequest = to_api(request.get_ref())?;
        let ns = req.namespace.clone();
        answer(poll_activity_task(&self.state, deadline, &ns, req).await)
    }

    async fn record_activity_task_heartbeat(
        &self,
        request: Request<pb::RecordActivityTaskHeartbeatRequest>,
    ) -> Answer<pb::RecordActivityTaskHeartbeatResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let r: api::RecordActivityTaskHeartbeatRequest = to_api(request.get_ref())?;
        let target = by_token(r.task_token).map_err(status)?;
        answer(
            self.state
                .history
                .record_heartbeat(&r.namespace, target, r.details, r.identity)
                .await,
        )
    }

    async fn record_activity_task_heartbeat_by_id(
        &self,
        request: Request<pb::RecordActivityTaskHeartbeatByIdRequest>,
    ) -> Answer<pb::RecordActivityTaskHeartbeatByIdResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let r: api::RecordActivityTaskHeartbeatByIdRequest = to_api(request.get_ref())?;
        let target = by_id(some(r.workflow_id), r.activity_id, r.run_id);
        answer(
            self.state
                .history
                .record_heartbeat(&r.namespace, target, r.details, r.identity)
                .await,
        )
    }

    async fn respond_activity_task_completed(
        &self,
        request: Request<pb::RespondActivityTaskCompletedRequest>,
    ) -> Answer<pb::RespondActivityTaskCompletedResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let r: api::RespondActivityTaskCompletedRequest = to_api(request.get_ref())?;
        let target = by_token(r.task_token).map_err(status)?;
        done(
            self.state
                .history
                .respond_completed(&r.namespace, target, r.result, r.identity)
                .await,
        )
    }

    async fn respond_activity_task_completed_by_id(
        &self,
        request: Request<pb::RespondActivityTaskCompletedByIdRequest>,
    ) -> Answer<pb::RespondActivityTaskCompletedByIdResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let r: api::RespondActivityTaskCompletedByIdRequest = to_api(request.get_ref())?;
        let target = by_id(some(r.workflow_id), r.activity_id, r.run_id);
        done(
            self.state
                .history
                .respond_completed(&r.namespace, target, r.result, r.identity)
                .await,
        )
    }

    async fn respond_activity_task_failed(
        &self,
        request: Request<pb::RespondActivityTaskFailedRequest>,
    ) -> Answer<pb::RespondActivityTaskFailedResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let mut message = request.into_inner();
        newer_than_served(&mut message.cause);
        let r: api::RespondActivityTaskFailedRequest = to_api(&message)?;
        let target = by_token(r.task_token).map_err(status)?;
        answer(
            self.state
                .history
                .respond_failed(
                    &r.namespace,
                    target,
                    r.failure,
                    r.last_heartbeat_details,
                    r.identity,
                )
                .await,
        )
    }

    async fn respond_activity_task_failed_by_id(
        &self,
        request: Request<pb::RespondActivityTaskFailedByIdRequest>,
    ) -> Answer<pb::RespondActivityTaskFailedByIdResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let mut message = request.into_inner();
        newer_than_served(&mut message.cause);
        let r: api::RespondActivityTaskFailedByIdRequest = to_api(&message)?;
        let target = by_id(some(r.workflow_id), r.activity_id, r.run_id);
        answer(
            self.state
                .history
                .respond_failed(
                    &r.namespace,
                    target,
                    r.failure,
                    r.last_heartbeat_details,
                    r.identity,
                )
                .await,
        )
    }

    async fn respond_activity_task_canceled(
        &self,
        request: Request<pb::RespondActivityTaskCanceledRequest>,
    ) -> Answer<pb::RespondActivityTaskCanceledResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let r: api::RespondActivityTaskCanceledRequest = to_api(request.get_ref())?;
        let target = by_token(r.task_token).map_err(status)?;
        done(
            self.state
                .history
                .respond_canceled(&r.namespace, target, r.details, r.identity)
                .await,
        )
    }

    async fn respond_activity_task_canceled_by_id(
        &self,
        request: Request<pb::RespondActivityTaskCanceledByIdRequest>,
    ) -> Answer<pb::RespondActivityTaskCanceledByIdResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let r: api::RespondActivityTaskCanceledByIdRequest = to_api(request.get_ref())?;
        let target = by_id(some(r.workflow_id), r.activity_id, r.run_id);
        done(
            self.state
                .history
                .respond_canceled(&r.namespace, target, r.details, r.identity)
                .await,
        )
    }

    async fn shutdown_worker(
        &self,
        request: Request<pb::ShutdownWorkerRequest>,
    ) -> Answer<pb::ShutdownWorkerResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        // A worker's polls end with its connection; nothing is held for it by name.
        Ok(Response::new(pb::ShutdownWorkerResponse::default()))
    }

    async fn describe_task_queue(
        &self,
        request: Request<pb::DescribeTaskQueueRequest>,
    ) -> Answer<pb::DescribeTaskQueueResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req = request.into_inner();
        let queue = req.task_queue.map(|q| q.name).unwrap_or_default();
        let query = api::DescribeTaskQueueQuery {
            task_queue_type: pb_enum(req.task_queue_type)?,
            report_stats: req.report_stats,
            report_config: req.report_config,
        };
        answer(
            self.state
                .matching
                .describe_task_queue(&req.namespace, &queue, query)
                .await,
        )
    }

    async fn update_task_queue_config(
        &self,
        request: Request<pb::UpdateTaskQueueConfigRequest>,
    ) -> Answer<pb::UpdateTaskQueueConfigResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: api::UpdateTaskQueueConfigRequest = to_api(request.get_ref())?;
        let (ns, queue) = (req.namespace.clone(), req.task_queue.clone());
        answer(
            self.state
                .matching
                .update_task_queue_config(&ns, &queue, req)
                .await,
        )
    }

    async fn start_activity_execution(
        &self,
        request: Request<pb::StartActivityExecutionRequest>,
    ) -> Answer<pb::StartActivityExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: api::StartActivityExecutionRequest = to_api(request.get_ref())?;
        let (ns, id) = (req.namespace.clone(), req.activity_id.clone());
        answer(self.state.history.start_activity(&ns, &id, req).await)
    }

    async fn describe_activity_execution(
        &self,
        request: Request<pb::DescribeActivityExecutionRequest>,
    ) -> Answer<pb::DescribeActivityExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let deadline = deadline(&request)?;
        let req = request.into_inner();
        let query = api::DescribeActivityExecutionQuery {
            run_id: req.run_id,
            include_input: req.include_input,
            include_outcome: req.include_outcome,
            include_heartbeat_details: req.include_heartbeat_details,
            include_last_failure: req.include_last_failure,
            long_poll_token: encode_base64(&req.long_poll_token),
        };
        let (ns, id) = (&req.namespace, &req.activity_id);
        answer(describe_activity(&self.state, deadline, ns, id, query).await)
    }

    async fn poll_activity_execution(
        &self,
        request: Request<pb::PollActivityExecutionRequest>,
    ) -> Answer<pb::PollActivityExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let deadline = deadline(&request)?;
        let req = request.into_inner();
        let (ns, id) = (&req.namespace, &req.activity_id);
        answer(activity_outcome(&self.state, deadline, ns, id, &req.run_id).await)
    }

    async fn list_activity_executions(
        &self,
        request: Request<pb::ListActivityExecutionsRequest>,
    ) -> Answer<pb::ListActivityExecutionsResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req = request.into_inner();
        let query = api::ListActivityExecutionsQuery {
            page_size: req.page_size,
            next_page_token: encode_base64(&req.next_page_token),
            query: req.query,
        };
        answer(
            self.state
                .history
                .list_activities(&req.namespace, query)
                .await,
        )
    }

    async fn count_activity_executions(
        &self,
        request: Request<pb::CountActivityExecutionsRequest>,
    ) -> Answer<pb::CountActivityExecutionsResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req = request.into_inner();
        answer(
            self.state
                .history
                .count_activities(&req.namespace, &req.query)
                .await,
        )
    }

    async fn request_cancel_activity_execution(
        &self,
        request: Request<pb::RequestCancelActivityExecutionRequest>,
    ) -> Answer<pb::RequestCancelActivityExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: api::RequestCancelActivityExecutionRequest = to_api(request.get_ref())?;
        let (ns, id) = (req.namespace.clone(), req.activity_id.clone());
        done(
            self.state
                .history
                .request_cancel_activity(&ns, &id, req)
                .await,
        )
    }

    async fn terminate_activity_execution(
        &self,
        request: Request<pb::TerminateActivityExecutionRequest>,
    ) -> Answer<pb::TerminateActivityExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: api::TerminateActivityExecutionRequest = to_api(request.get_ref())?;
        let (ns, id) = (req.namespace.clone(), req.activity_id.clone());
        done(self.state.history.terminate_activity(&ns, &id, req).await)
    }

    async fn pause_activity_execution(
        &self,
        request: Request<pb::PauseActivityExecutionRequest>,
    ) -> Answer<pb::PauseActivityExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: api::PauseActivityExecutionRequest = to_api(request.get_ref())?;
        let (ns, id) = (req.namespace.clone(), req.activity_id.clone());
        done(self.state.history.pause_activity(&ns, &id, req).await)
    }

    async fn unpause_activity_execution(
        &self,
        request: Request<pb::UnpauseActivityExecutionRequest>,
    ) -> Answer<pb::UnpauseActivityExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: api::UnpauseActivityExecutionRequest = to_api(request.get_ref())?;
        let (ns, id) = (req.namespace.clone(), req.activity_id.clone());
        done(self.state.history.unpause_activity(&ns, &id, req).await)
    }

    async fn reset_activity_execution(
        &self,
        request: Request<pb::ResetActivityExecutionRequest>,
    ) -> Answer<pb::ResetActivityExecutionResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: api::ResetActivityExecutionRequest = to_api(request.get_ref())?;
        let (ns, id) = (req.namespace.clone(), req.activity_id.clone());
        done(self.state.history.reset_activity(&ns, &id, req).await)
    }

    async fn update_activity_execution_options(
        &self,
        request: Request<pb::UpdateActivityExecutionOptionsRequest>,
    ) -> Answer<pb::UpdateActivityExecutionOptionsResponse> {
        authorize(&request, &request.get_ref().namespace)?;
        let req: api::UpdateActivityExecutionOptionsRequest = to_api(request.get_ref())?;
        let (ns, id) = (req.namespace.clone(), req.activity_id.clone());
        answer(
            self.state
                .history
                .update_activity_options(&ns, &id, req)
                .await,
        )
    }
}

/// Drops a field of a newer API than the Temporal release Waymark follows (1.32), as a 1.32
/// server's protobuf decoding drops fields it does not know: newer SDKs set them.
fn newer_than_served<T: Default>(field: &mut T) {
    *field = T::default();
}

/// The workflow id of a request's `workflowExecution` (empty when missing: history says so).
fn workflow_id(execution: Option<&api::WorkflowExecution>) -> String {
    execution.map(|e| e.workflow_id.clone()).unwrap_or_default()
}

/// A by-id call names a workflow's activity when it names a workflow.
fn some(workflow_id: String) -> Option<String> {
    (!workflow_id.is_empty()).then_some(workflow_id)
}

/// A protobuf enum number as the API enum, refusing numbers outside it as protojson would.
fn pb_enum<E: serde::de::DeserializeOwned>(n: i32) -> Result<E, Status> {
    serde_json::from_value(n.into())
        .map_err(|_| Status::invalid_argument(format!("invalid enum value {n}")))
}
