//! The frontend against fake history and matching services: routes, the wire rules it
//! enforces (bodies, queries, deadlines, errors), what it hands the services, and `run` on a
//! real socket.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use waymark_api::workflow as wf;
use waymark_api::*;
use waymark_clients::{
    ActivityRef, ApiResult, DueTimer, HistoryApi, MatchingApi, NewApiKey, PollerInfo,
};
use waymark_frontend::{AppState, FrontendConfig, router, run};
use waymark_queue::ActivityTask;

/// Records each call as one line, `op ns details`.
#[derive(Default)]
struct Calls(Mutex<Vec<String>>);

impl Calls {
    fn push(&self, call: String) {
        self.0.lock().unwrap().push(call);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

#[derive(Default)]
struct FakeHistory {
    calls: Calls,
}

#[async_trait]
impl HistoryApi for FakeHistory {
    async fn register_namespace(&self, req: RegisterNamespaceRequest) -> ApiResult<()> {
        self.calls.push(format!("register {}", req.namespace));
        Ok(())
    }

    async fn describe_namespace(&self, namespace: &str) -> ApiResult<DescribeNamespaceResponse> {
        self.calls.push(format!("describe_namespace {namespace}"));
        if namespace == "missing" {
            return Err(ApiError::namespace_not_found(namespace));
        }
        assert_ne!(namespace, "panics", "a bug reached by a request");
        let info = NamespaceInfo {
            name: namespace.into(),
            ..Default::default()
        };
        Ok(DescribeNamespaceResponse {
            namespace_info: Some(info),
            ..Default::default()
        })
    }

    async fn update_namespace(
        &self,
        req: UpdateNamespaceRequest,
    ) -> ApiResult<DescribeNamespaceResponse> {
        self.calls
            .push(format!("update_namespace {}", req.namespace));
        Ok(DescribeNamespaceResponse::default())
    }

    async fn list_namespaces(&self) -> ApiResult<ListNamespacesResponse> {
        self.calls.push("list_namespaces".into());
        Ok(ListNamespacesResponse::default())
    }

    async fn activity_throughput(&self, ns: &str) -> ApiResult<ActivityThroughputResponse> {
        self.calls.push(format!("activity_throughput {ns}"));
        Ok(ActivityThroughputResponse::default())
    }

    async fn namespace_changes(
        &self,
        ns: &str,
        _: &str,
        _: std::time::Duration,
    ) -> ApiResult<NamespaceChangesResponse> {
        self.calls.push(format!("namespace_changes {ns}"));
        Ok(NamespaceChangesResponse::default())
    }

    // API keys: these tests run without auth.
    async fn create_api_key(&self, _: NewApiKey) -> ApiResult<ApiKeyInfo> {
        unimplemented!()
    }

    async fn list_api_keys(&self, _: Option<String>) -> ApiResult<ListApiKeysResponse> {
        unimplemented!()
    }

    async fn describe_api_key(&self, _: &str) -> ApiResult<ApiKeyInfo> {
        unimplemented!()
    }

    async fn set_api_key_disabled(&self, _: &str, _: bool) -> ApiResult<()> {
        unimplemented!()
    }

    async fn delete_api_key(&self, _: &str) -> ApiResult<()> {
        unimplemented!()
    }

    async fn authenticate_api_key(&self, _: &str, _: &str) -> ApiResult<Option<ApiKeyInfo>> {
        unimplemented!()
    }

    async fn has_system_admin_key(&self) -> ApiResult<bool> {
        unimplemented!()
    }

    async fn start_activity(
        &self,
        ns: &str,
        id: &str,
        req: StartActivityExecutionRequest,
    ) -> ApiResult<StartActivityExecutionResponse> {
        self.calls.push(format!(
            "start {ns} {id} body={}/{} queue={:?}",
            req.namespace,
            req.activity_id,
            req.task_queue.map(|q| q.name)
        ));
        if id == "taken" {
            let detail = json!({"@type": ApiError::type_url("ActivityExecutionAlreadyStartedFailure"), "runId": "r0"});
            return Err(ApiError::already_exists(
                "activity execution already started",
                detail,
            ));
        }
        Ok(StartActivityExecutionResponse {
            run_id: "r1".into(),
            started: true,
            link: None,
        })
    }

    async fn describe_activity(
        &self,
        ns: &str,
        id: &str,
        q: DescribeActivityExecutionQuery,
        wait: Duration,
    ) -> ApiResult<Option<DescribeActivityExecutionResponse>> {
        self.calls.push(format!(
            "describe {ns} {id} run={} include_input={} wait={wait:?}",
            q.run_id, q.include_input
        ));
        // A long poll in which nothing changes.
        Ok(q.long_poll_token
            .is_empty()
            .then(|| DescribeActivityExecutionResponse {
                run_id: "r1".into(),
                ..Default::default()
            }))
    }

    async fn poll_activity_outcome(
        &self,
        ns: &str,
        id: &str,
        run_id: &str,
        wait: Duration,
    ) -> ApiResult<Option<PollActivityExecutionResponse>> {
        self.calls
            .push(format!("outcome {ns} {id} run={run_id} wait={wait:?}"));
        Ok(None)
    }

    async fn list_activities(
        &self,
        ns: &str,
        q: ListActivityExecutionsQuery,
    ) -> ApiResult<ListActivityExecutionsResponse> {
        self.calls
            .push(format!("list {ns} size={} query={}", q.page_size, q.query));
        Ok(ListActivityExecutionsResponse::default())
    }

    async fn count_activities(
        &self,
        ns: &str,
        query: &str,
    ) -> ApiResult<CountActivityExecutionsResponse> {
        self.calls.push(format!("count {ns} {query}"));
        Ok(CountActivityExecutionsResponse {
            count: 16,
            groups: vec![],
        })
    }

    async fn request_cancel_activity(
        &self,
        ns: &str,
        id: &str,
        req: RequestCancelActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.calls
            .push(format!("cancel {ns} {id} reason={}", req.reason));
        Ok(())
    }

    async fn terminate_activity(
        &self,
        ns: &str,
        id: &str,
        _: TerminateActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.calls.push(format!("terminate {ns} {id}"));
        Ok(())
    }

    async fn pause_activity(
        &self,
        ns: &str,
        id: &str,
        _: PauseActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.calls.push(format!("pause {ns} {id}"));
        Ok(())
    }

    async fn unpause_activity(
        &self,
        ns: &str,
        id: &str,
        _: UnpauseActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.calls.push(format!("unpause {ns} {id}"));
        Ok(())
    }

    async fn reset_activity(
        &self,
        ns: &str,
        id: &str,
        _: ResetActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.calls.push(format!("reset {ns} {id}"));
        Err(ApiError::failed_precondition(
            "cannot reset an activity with a pending reset",
        ))
    }

    async fn update_activity_options(
        &self,
        ns: &str,
        id: &str,
        req: UpdateActivityExecutionOptionsRequest,
    ) -> ApiResult<UpdateActivityExecutionOptionsResponse> {
        self.calls.push(format!(
            "update_options {ns} {id} mask={:?}",
            req.update_mask
        ));
        Ok(UpdateActivityExecutionOptionsResponse {
            activity_options: req.activity_options,
        })
    }

    async fn record_heartbeat(
        &self,
        ns: &str,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<RecordActivityTaskHeartbeatResponse> {
        self.calls.push(format!(
            "heartbeat {ns} {target:?} details={:?} identity={identity}",
            details.map(|d| d.0.len())
        ));
        Ok(RecordActivityTaskHeartbeatResponse {
            cancel_requested: true,
            ..Default::default()
        })
    }

    async fn respond_completed(
        &self,
        ns: &str,
        target: ActivityRef,
        result: Option<Payloads>,
        _: String,
    ) -> ApiResult<()> {
        self.calls.push(format!(
            "complete {ns} {target:?} result={:?}",
            result.map(|r| r.0.len())
        ));
        Ok(())
    }

    async fn respond_failed(
        &self,
        ns: &str,
        target: ActivityRef,
        failure: Option<Failure>,
        _: Option<Payloads>,
        _: String,
    ) -> ApiResult<RespondActivityTaskFailedResponse> {
        self.calls.push(format!(
            "fail {ns} {target:?} failure={:?}",
            failure.map(|f| f.message)
        ));
        Ok(RespondActivityTaskFailedResponse::default())
    }

    async fn respond_canceled(
        &self,
        ns: &str,
        target: ActivityRef,
        _: Option<Payloads>,
        _: String,
    ) -> ApiResult<()> {
        self.calls.push(format!("canceled {ns} {target:?}"));
        Ok(())
    }

    async fn record_activity_task_started(
        &self,
        _: &ActivityTask,
        _: &PollerInfo,
    ) -> ApiResult<Option<PollActivityTaskQueueResponse>> {
        Err(ApiError::unimplemented("not called by the frontend"))
    }

    async fn fire_timer(&self, _: DueTimer) -> ApiResult<()> {
        Err(ApiError::unimplemented("not called by the frontend"))
    }

    // Workflows: not exercised by these tests yet.
    async fn start_workflow(
        &self,
        _: &str,
        _: &str,
        _: wf::StartWorkflowExecutionRequest,
    ) -> ApiResult<wf::StartWorkflowExecutionResponse> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn signal_with_start_workflow(
        &self,
        _: &str,
        _: &str,
        _: wf::SignalWithStartWorkflowExecutionRequest,
    ) -> ApiResult<wf::SignalWithStartWorkflowExecutionResponse> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn describe_workflow(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> ApiResult<wf::DescribeWorkflowExecutionResponse> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn get_workflow_history(
        &self,
        _: &str,
        _: &str,
        _: wf::GetWorkflowExecutionHistoryQuery,
        _: Duration,
    ) -> ApiResult<wf::GetWorkflowExecutionHistoryResponse> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn list_workflows(
        &self,
        _: &str,
        _: wf::ListWorkflowExecutionsQuery,
    ) -> ApiResult<wf::ListWorkflowExecutionsResponse> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn count_workflows(
        &self,
        _: &str,
        _: &str,
    ) -> ApiResult<CountActivityExecutionsResponse> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn request_cancel_workflow(
        &self,
        _: &str,
        _: &str,
        _: wf::RequestCancelWorkflowExecutionRequest,
    ) -> ApiResult<()> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn terminate_workflow(
        &self,
        _: &str,
        _: &str,
        _: wf::TerminateWorkflowExecutionRequest,
    ) -> ApiResult<()> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn signal_workflow(
        &self,
        _: &str,
        _: &str,
        _: wf::SignalWorkflowExecutionRequest,
    ) -> ApiResult<wf::SignalWorkflowExecutionResponse> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn record_workflow_task_started(
        &self,
        _: &ActivityTask,
        _: &PollerInfo,
    ) -> ApiResult<Option<wf::PollWorkflowTaskQueueResponse>> {
        Err(ApiError::unimplemented("not called by the frontend"))
    }

    async fn respond_workflow_task_completed(
        &self,
        _: &str,
        _: wf::RespondWorkflowTaskCompletedRequest,
    ) -> ApiResult<()> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn respond_workflow_task_failed(
        &self,
        _: &str,
        _: wf::RespondWorkflowTaskFailedRequest,
    ) -> ApiResult<()> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn query_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::QueryWorkflowRequest,
        wait: Duration,
    ) -> ApiResult<wf::QueryWorkflowResponse> {
        let query_type = req.query.map(|q| q.query_type).unwrap_or_default();
        self.calls.push(format!(
            "query_workflow {ns} {workflow_id} {query_type} wait={}s",
            wait.as_secs()
        ));
        Ok(wf::QueryWorkflowResponse::default())
    }

    async fn respond_query_task_completed(
        &self,
        _: &str,
        _: wf::RespondQueryTaskCompletedRequest,
    ) -> ApiResult<()> {
        Err(ApiError::unimplemented("not faked"))
    }
}

#[derive(Default)]
struct FakeMatching {
    calls: Calls,
}

#[async_trait]
impl MatchingApi for FakeMatching {
    async fn add_activity_task(&self, _: ActivityTask) -> ApiResult<()> {
        Err(ApiError::unimplemented("not called by the frontend"))
    }

    async fn poll_activity_task(
        &self,
        ns: &str,
        req: PollActivityTaskQueueRequest,
        wait: Duration,
    ) -> ApiResult<Option<PollActivityTaskQueueResponse>> {
        self.calls
            .push(format!("poll {ns} body_ns={} wait={wait:?}", req.namespace));
        if ns == "idle" {
            // A poller that waits for a task that never comes.
            std::future::pending::<()>().await;
        }
        Ok(None)
    }

    async fn queue_backlog(&self, _ns: &str, _task_queue: &str) -> ApiResult<u64> {
        Ok(0)
    }

    async fn list_task_queues(&self, _ns: &str) -> ApiResult<ListTaskQueuesResponse> {
        Ok(ListTaskQueuesResponse::default())
    }

    async fn describe_task_queue(
        &self,
        ns: &str,
        task_queue: &str,
        q: DescribeTaskQueueQuery,
    ) -> ApiResult<DescribeTaskQueueResponse> {
        self.calls.push(format!(
            "describe_task_queue {ns} {task_queue} type={} stats={} config={}",
            q.task_queue_type, q.report_stats, q.report_config
        ));
        let poller = waymark_api::task_queue::PollerInfo {
            last_access_time: Some(Timestamp::from_unix_millis(1_500)),
            identity: "w1".into(),
            rate_per_second: 2.5,
        };
        Ok(DescribeTaskQueueResponse {
            pollers: vec![poller],
            stats: q.report_stats.then(|| TaskQueueStats {
                approximate_backlog_count: 7,
                approximate_backlog_age: Some(waymark_api::Duration::from_millis(1_250)),
                ..TaskQueueStats::default()
            }),
            stats_by_priority_key: Default::default(),
            config: None,
            effective_rate_limit: Some(EffectiveRateLimit {
                requests_per_second: 2.5,
                rate_limit_source: RateLimitSource::Worker,
            }),
        })
    }

    async fn update_task_queue_config(
        &self,
        ns: &str,
        task_queue: &str,
        req: UpdateTaskQueueConfigRequest,
    ) -> ApiResult<UpdateTaskQueueConfigResponse> {
        let update = req.update_queue_rate_limit.unwrap_or_default();
        let rps = update.rate_limit.map(|r| r.requests_per_second);
        self.calls.push(format!(
            "update_task_queue_config {ns} {task_queue} body={}/{} type={} rps={rps:?}",
            req.namespace, req.task_queue, req.task_queue_type
        ));
        if rps.is_some_and(|r| r < 0.0) {
            return Err(ApiError::invalid_argument(
                "RequestsPerSecond for UpdateQueueRateLimit rate limit must be non-negative.",
            ));
        }
        let metadata = ConfigMetadata {
            reason: update.reason,
            update_identity: req.identity,
            update_time: Some(Timestamp::from_unix_millis(2_000)),
        };
        let queue_rate_limit = RateLimitConfig {
            rate_limit: update.rate_limit,
            metadata: Some(metadata),
        };
        Ok(UpdateTaskQueueConfigResponse {
            config: Some(TaskQueueConfig {
                queue_rate_limit: Some(queue_rate_limit),
                ..TaskQueueConfig::default()
            }),
        })
    }

    async fn add_workflow_task(&self, _: ActivityTask) -> ApiResult<()> {
        Err(ApiError::unimplemented("not called by the frontend"))
    }

    async fn poll_workflow_task(
        &self,
        _: &str,
        _: wf::PollWorkflowTaskQueueRequest,
        _: Duration,
    ) -> ApiResult<Option<wf::PollWorkflowTaskQueueResponse>> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn query_workflow(
        &self,
        _: ActivityTask,
        _: Duration,
    ) -> ApiResult<Option<wf::RespondQueryTaskCompletedRequest>> {
        Err(ApiError::unimplemented("not faked"))
    }

    async fn answer_query(
        &self,
        _: &str,
        _: wf::RespondQueryTaskCompletedRequest,
    ) -> ApiResult<()> {
        Err(ApiError::unimplemented("not faked"))
    }
}

struct Env {
    app: Router,
    state: AppState,
    history: Arc<FakeHistory>,
    matching: Arc<FakeMatching>,
}

fn env_with(cfg: FrontendConfig) -> Env {
    let history = Arc::new(FakeHistory::default());
    let matching = Arc::new(FakeMatching::default());
    let state = AppState::new(history.clone(), matching.clone(), cfg);
    Env {
        app: router(state.clone()),
        state,
        history,
        matching,
    }
}

fn env() -> Env {
    env_with(FrontendConfig::default())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri).body(body.into()).unwrap()
}

fn with_timeout(mut req: Request<Body>, timeout: &str) -> Request<Body> {
    req.headers_mut()
        .insert("grpc-timeout", timeout.parse().unwrap());
    req
}

/// Sends one request; every answer must be JSON.
async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    assert_eq!(
        resp.headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "{status}"
    );
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn invalid(message: &str) -> Value {
    json!({"code": 3, "message": message})
}

#[tokio::test]
async fn both_prefixes_reach_the_same_handler() {
    let e = env();
    let a = call(&e.app, get("/api/v1/namespaces/default")).await;
    let b = call(&e.app, get("/namespaces/default")).await;
    assert_eq!(
        a,
        (
            StatusCode::OK,
            json!({"namespaceInfo": {"name": "default"}})
        )
    );
    assert_eq!(a, b);
    assert_eq!(
        e.history.calls.take(),
        ["describe_namespace default", "describe_namespace default"]
    );

    for uri in [
        "/api/v1/namespaces/default/activity-count?query=x",
        "/namespaces/default/activity-count?query=x",
    ] {
        assert_eq!(
            call(&e.app, get(uri)).await,
            (StatusCode::OK, json!({"count": "16"}))
        );
    }
    assert_eq!(
        e.history.calls.take(),
        ["count default x", "count default x"]
    );
}

#[tokio::test]
async fn health_is_only_at_the_top_level() {
    let e = env();
    assert_eq!(
        call(&e.app, get("/healthz")).await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    assert_eq!(
        call(&e.app, get("/api/v1/healthz")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, ready) = call(&e.app, get("/readyz")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        ready["warning"]
            .as_str()
            .is_some_and(|w| w.starts_with("authentication is off")),
        "no key needed here: {ready}"
    );
    e.state.shutdown.cancel();
    assert_eq!(
        call(&e.app, get("/readyz")).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"code": 14, "message": "shutting down"})
        )
    );
}

#[tokio::test]
async fn not_ready_while_a_dependency_of_the_process_is_out_of_reach() {
    let mut state = env().state;
    state.ready = Some(Arc::new(|| {
        Box::pin(async { Err("the database does not answer".to_owned()) })
    }));
    assert_eq!(
        call(&router(state), get("/readyz")).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"code": 14, "message": "the database does not answer"})
        )
    );
}

#[tokio::test]
async fn metrics_are_served_in_the_openmetrics_text_format() {
    let e = env();
    call(&e.app, get("/api/v1/namespaces")).await;
    let response = e.app.clone().oneshot(get("/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        waymark_telemetry::CONTENT_TYPE
    );
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let listed =
        r#"waymark_http_requests_total{route="/api/v1/namespaces",method="GET",status="200"}"#;
    assert!(text.lines().any(|l| l.starts_with(listed)), "{text}");
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_501() {
    let e = env();
    let not_found = (
        StatusCode::NOT_FOUND,
        json!({"code": 5, "message": "Not Found"}),
    );
    for uri in [
        "/nope",
        "/api/v1",
        "/api/v1/namespaces/default/activities/a1/nope",
        "/api/v2/namespaces",
    ] {
        assert_eq!(call(&e.app, get(uri)).await, not_found, "{uri}");
    }
    let not_allowed = (
        StatusCode::NOT_IMPLEMENTED,
        json!({"code": 12, "message": "Method Not Allowed"}),
    );
    let delete = |uri: &str| Request::delete(uri).body(Body::empty()).unwrap();
    for req in [
        delete("/api/v1/namespaces/default/activities/a1"),
        delete("/namespaces/default/activities/a1"),
        get("/api/v1/namespaces/default/activity-heartbeat"),
        post("/healthz", ""),
        // A long-expired deadline does not hide the wrong method.
        with_timeout(post("/namespaces/default", ""), "1n"),
    ] {
        assert_eq!(call(&e.app, req).await, not_allowed);
    }
    assert!(e.history.calls.take().is_empty());
}

#[tokio::test]
async fn bad_bodies_are_invalid_argument_json() {
    let e = env();
    let uri = "/api/v1/namespaces/default/activities/a1";
    for (body, fragment) in [
        // The messages of Temporal's HTTP API for the same bodies.
        (
            "{bogus",
            "invalid character 'b' looking for beginning of object key string",
        ),
        (
            r#"{"bogusField": 1}"#,
            r#"temporalproto: (line 1:2): unknown field "bogusField""#,
        ),
        (
            r#"{"identity": 5}"#,
            "temporalproto: (line 1:14): invalid value for string type: 5",
        ),
        (
            r#"{"idReusePolicy": "X"}"#,
            r#"temporalproto: (line 1:19): invalid value for enum type: "X""#,
        ),
        (
            r#"{"startToCloseTimeout": "10x"}"#,
            r#"temporalproto: (line 1:25): invalid google.protobuf.Duration value "10x" (a duration is seconds with an `s` suffix and at most 9 decimals, from -315576000000s to 315576000000s, e.g. "60s", "0.5s" or "3600s")"#,
        ),
        (
            "[]",
            "temporalproto: syntax error (line 1:1): unexpected token [",
        ),
        (
            "null",
            "temporalproto: syntax error (line 1:1): unexpected token null",
        ),
        ("x", "invalid character 'x' looking for beginning of value"),
        ("{} {}", "invalid character '{' after top-level value"),
    ] {
        let (status, body) = call(&e.app, post(uri, body)).await;
        assert_eq!(
            (status, &body["code"]),
            (StatusCode::BAD_REQUEST, &json!(3)),
            "{body}"
        );
        assert_eq!(body["message"], fragment, "{body}");
    }
    assert!(e.history.calls.take().is_empty());
}

#[tokio::test]
async fn any_content_type_and_an_empty_body_are_accepted() {
    let e = env();
    let mut req = post(
        "/namespaces/default/activities/a1",
        r#"{"taskQueue": {"name": "q"}}"#,
    );
    req.headers_mut()
        .insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
    assert_eq!(
        call(&e.app, req).await,
        (StatusCode::OK, json!({"runId": "r1", "started": true}))
    );
    assert_eq!(
        call(&e.app, post("/namespaces/default/activities/a2", ""))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &e.app,
            post("/namespaces/default/activities/a3/cancel", " \n")
        )
        .await,
        (StatusCode::OK, json!({}))
    );
    assert_eq!(
        e.history.calls.take(),
        [
            "start default a1 body=default/a1 queue=Some(\"q\")",
            "start default a2 body=default/a2 queue=None",
            "cancel default a3 reason=",
        ]
    );
}

#[tokio::test]
async fn an_oversized_body_is_413_json() {
    let e = env_with(FrontendConfig {
        max_body_bytes: 64,
        ..Default::default()
    });
    let body = format!(r#"{{"identity": "{}"}}"#, "x".repeat(100));
    let too_large = |message: &str| {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"code": 8, "message": message}),
        )
    };
    assert_eq!(
        call(
            &e.app,
            post("/namespaces/default/activities/a1", body.clone())
        )
        .await,
        too_large("request body of 116 bytes exceeds the limit of 64 bytes")
    );
    // Also when the body streams in without a length.
    let chunks = streamed(body.into_bytes());
    assert_eq!(
        call(
            &e.app,
            post("/namespaces/default/activity-heartbeat", chunks)
        )
        .await,
        too_large("request body exceeds the limit of 64 bytes")
    );
    assert_eq!(
        call(
            &e.app,
            post("/namespaces/default/activities/a1", r#"{"identity": "me"}"#)
        )
        .await
        .0,
        StatusCode::OK
    );
}

/// A body whose length is not known in advance.
fn streamed(bytes: Vec<u8>) -> Body {
    Body::from_stream(Body::from(bytes).into_data_stream())
}

#[tokio::test]
async fn bad_query_strings_and_paths_are_invalid_argument_json() {
    let e = env();
    let (status, body) = call(&e.app, get("/namespaces/default/activities?pageSize=abc")).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::BAD_REQUEST, &json!(3)),
        "{body}"
    );
    let (status, body) = call(
        &e.app,
        get("/namespaces/default/activities/a1?includeInput=yes"),
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::BAD_REQUEST, &json!(3)),
        "{body}"
    );
    let (status, body) = call(&e.app, get("/namespaces/%FF/activities/a1")).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::BAD_REQUEST, &json!(3)),
        "{body}"
    );
    assert!(e.history.calls.take().is_empty());

    // Text that parses: numbers, booleans, snake_case names, percent-decoding.
    let ok = call(
        &e.app,
        get("/namespaces/default/activities?pageSize=5&query=Status%3D%27Running%27"),
    )
    .await;
    assert_eq!(ok, (StatusCode::OK, json!({})));
    let ok = call(
        &e.app,
        get("/namespaces/def%20ault/activities/a%2F1?run_id=r1&includeInput=true"),
    )
    .await;
    assert_eq!(ok, (StatusCode::OK, json!({"runId": "r1"})));
    assert_eq!(
        e.history.calls.take(),
        [
            "list default size=5 query=Status='Running'",
            "describe def ault a/1 run=r1 include_input=true wait=0ns"
        ]
    );
}

#[tokio::test]
async fn grpc_timeout_is_checked_on_every_route() {
    let e = env();
    let expired = (
        StatusCode::GATEWAY_TIMEOUT,
        json!({"code": 4, "message": "context deadline exceeded"}),
    );
    assert_eq!(
        call(&e.app, with_timeout(get("/namespaces/default"), "1n")).await,
        expired
    );
    assert_eq!(
        call(&e.app, with_timeout(get("/namespaces/default"), "999u")).await,
        expired
    );
    assert_eq!(
        call(
            &e.app,
            with_timeout(post("/namespaces/default/activities/a1", "{}"), "0S")
        )
        .await,
        expired
    );
    let malformed = (
        StatusCode::BAD_REQUEST,
        invalid("invalid grpc-timeout header"),
    );
    for value in ["5", "5s", "123456789S", "1.5S"] {
        assert_eq!(
            call(&e.app, with_timeout(get("/namespaces/default"), value)).await,
            malformed,
            "{value}"
        );
    }
    assert!(e.history.calls.take().is_empty());
    assert_eq!(
        call(&e.app, with_timeout(get("/namespaces/default"), "1m"))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn long_polls_wait_until_a_second_before_the_deadline_and_answer_empty() {
    let e = env_with(FrontendConfig {
        long_poll_cap: waymark_api::Duration::from_secs(30),
        ..Default::default()
    });
    let outcome = "/namespaces/default/activities/a1/outcome?runId=r1";
    for timeout in [None, Some("5S"), Some("500m"), Some("2M")] {
        let req = timeout.map_or_else(|| get(outcome), |t| with_timeout(get(outcome), t));
        assert_eq!(call(&e.app, req).await, (StatusCode::OK, json!({})));
    }
    assert_eq!(
        e.history.calls.take(),
        [
            "outcome default a1 run=r1 wait=30s",
            "outcome default a1 run=r1 wait=4s",
            "outcome default a1 run=r1 wait=0ns",
            "outcome default a1 run=r1 wait=30s",
        ]
    );

    let describe = "/api/v1/namespaces/default/activities/a1?runId=r1&longPollToken=dG9r";
    assert_eq!(
        call(&e.app, with_timeout(get(describe), "10S")).await,
        (StatusCode::OK, json!({}))
    );
    assert_eq!(
        e.history.calls.take(),
        ["describe default a1 run=r1 include_input=false wait=9s"]
    );
}

#[tokio::test]
async fn task_polls_need_two_seconds_and_a_task_queue() {
    let e = env();
    let uri = "/api/v1/namespaces/default/activity-tasks/poll";
    let body = r#"{"namespace": "other", "taskQueue": {"name": "q"}, "identity": "w1"}"#;
    let too_short = |got: &str| {
        let message = format!(
            "Context timeout is too short. A poll's Grpc-Timeout must be at least 2s (the answer \
             comes 1s before the deadline), got {got}."
        );
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 9, "message": message}),
        )
    };
    assert_eq!(
        call(&e.app, with_timeout(post(uri, body), "1S")).await,
        too_short("1000ms")
    );
    assert_eq!(
        call(&e.app, with_timeout(post(uri, body), "1999m")).await,
        too_short("1999ms")
    );
    assert_eq!(
        call(&e.app, with_timeout(post(uri, body), "5S")).await,
        (StatusCode::OK, json!({}))
    );
    assert_eq!(
        call(&e.app, post(uri, body)).await,
        (StatusCode::OK, json!({}))
    );
    assert_eq!(
        e.matching.calls.take(),
        [
            "poll default body_ns=default wait=4s",
            "poll default body_ns=default wait=60s"
        ]
    );

    let long = "x".repeat(1001);
    for (body, message) in [
        ("{}".to_owned(), "taskQueue is not set"),
        (r#"{"taskQueue": {}}"#.to_owned(), "missing task queue name"),
        (
            format!(r#"{{"taskQueue": {{"name": "q"}}, "identity": "{long}"}}"#),
            "identity exceeds length limit. Length=1001 Limit=1000",
        ),
    ] {
        assert_eq!(
            call(&e.app, post(uri, body)).await,
            (StatusCode::BAD_REQUEST, invalid(message))
        );
    }
    assert!(e.matching.calls.take().is_empty());
}

#[tokio::test]
async fn long_polls_answer_empty_when_shutdown_begins() {
    let e = env();
    let poll = post(
        "/namespaces/idle/activity-tasks/poll",
        r#"{"taskQueue": {"name": "q"}}"#,
    );
    let pending = tokio::spawn(call_owned(e.app.clone(), poll));
    while e.matching.calls.0.lock().unwrap().is_empty() {
        tokio::task::yield_now().await;
    }
    e.state.shutdown.cancel();
    assert_eq!(pending.await.unwrap(), (StatusCode::OK, json!({})));
}

async fn call_owned(app: Router, req: Request<Body>) -> (StatusCode, Value) {
    call(&app, req).await
}

#[tokio::test]
async fn worker_calls_name_the_activity_by_token_or_by_id() {
    let e = env();
    let token_calls = [
        (
            "activity-heartbeat",
            r#"{"taskToken": "dG9r", "details": ["d"], "identity": "w"}"#,
            json!({"cancelRequested": true}),
        ),
        (
            "activity-complete",
            r#"{"task_token": "dG9r", "result": [1, 2]}"#,
            json!({}),
        ),
        (
            "activity-fail",
            r#"{"taskToken": "dG9r", "failure": {"message": "boom"}}"#,
            json!({}),
        ),
        (
            "activity-resolve-as-canceled",
            r#"{"taskToken": "dG9r"}"#,
            json!({}),
        ),
    ];
    for (path, body, answer) in token_calls {
        assert_eq!(
            call(
                &e.app,
                post(&format!("/api/v1/namespaces/ns1/{path}"), body)
            )
            .await,
            (StatusCode::OK, answer)
        );
    }
    let id_calls = [
        (
            "heartbeat",
            r#"{"runId": "r1", "identity": "w"}"#,
            json!({"cancelRequested": true}),
        ),
        ("complete", r#"{"result": []}"#, json!({})),
        (
            "fail",
            r#"{"runId": "r1", "failure": {"message": "boom"}}"#,
            json!({}),
        ),
        (
            "resolve-as-canceled",
            r#"{"activityId": "ignored"}"#,
            json!({}),
        ),
    ];
    for (path, body, answer) in id_calls {
        assert_eq!(
            call(
                &e.app,
                post(&format!("/namespaces/ns1/activities/a1/{path}"), body)
            )
            .await,
            (StatusCode::OK, answer)
        );
    }
    assert_eq!(
        e.history.calls.take(),
        [
            r#"heartbeat ns1 Token("dG9r") details=Some(1) identity=w"#,
            r#"complete ns1 Token("dG9r") result=Some(2)"#,
            r#"fail ns1 Token("dG9r") failure=Some("boom")"#,
            r#"canceled ns1 Token("dG9r")"#,
            r#"heartbeat ns1 Id { activity_id: "a1", run_id: "r1" } details=None identity=w"#,
            r#"complete ns1 Id { activity_id: "a1", run_id: "" } result=Some(0)"#,
            r#"fail ns1 Id { activity_id: "a1", run_id: "r1" } failure=Some("boom")"#,
            r#"canceled ns1 Id { activity_id: "a1", run_id: "" }"#,
        ]
    );

    let unset = (
        StatusCode::BAD_REQUEST,
        invalid("Task token not set on request."),
    );
    assert_eq!(
        call(&e.app, post("/namespaces/ns1/activity-complete", "{}")).await,
        unset
    );
    assert!(e.history.calls.take().is_empty());
}

#[tokio::test]
async fn the_url_names_the_namespace_and_activity() {
    let e = env();
    let body = r#"{"namespace": "other", "activityId": "other-id", "taskQueue": {"name": "q"}}"#;
    assert_eq!(
        call(&e.app, post("/namespaces/ns1/activities/a1", body))
            .await
            .0,
        StatusCode::OK
    );
    let update = r#"{"namespace": "other", "activity_id": "x", "updateMask": "heartbeatTimeout", "activityOptions": {"heartbeatTimeout": "5s"}}"#;
    let answer = call(
        &e.app,
        post("/namespaces/ns1/activities/a1/update-options", update),
    )
    .await;
    assert_eq!(
        answer,
        (
            StatusCode::OK,
            json!({"activityOptions": {"heartbeatTimeout": "5s"}})
        )
    );
    assert_eq!(
        e.history.calls.take(),
        [
            "start ns1 a1 body=ns1/a1 queue=Some(\"q\")",
            "update_options ns1 a1 mask=Some(\"heartbeatTimeout\")"
        ]
    );
}

#[tokio::test]
async fn every_activity_command_reaches_history() {
    let e = env();
    for op in ["cancel", "terminate", "pause", "unpause"] {
        assert_eq!(
            call(
                &e.app,
                post(&format!("/namespaces/ns1/activities/a1/{op}"), "{}")
            )
            .await,
            (StatusCode::OK, json!({}))
        );
    }
    assert_eq!(
        call(&e.app, get("/namespaces")).await,
        (StatusCode::OK, json!({}))
    );
    assert_eq!(
        call(&e.app, post("/api/v1/namespaces", r#"{"namespace": "n2"}"#)).await,
        (StatusCode::OK, json!({}))
    );
    assert_eq!(
        e.history.calls.take(),
        [
            "cancel ns1 a1 reason=",
            "terminate ns1 a1",
            "pause ns1 a1",
            "unpause ns1 a1",
            "list_namespaces",
            "register n2"
        ]
    );
}

#[tokio::test]
async fn history_errors_pass_through_with_their_status() {
    let e = env();
    let (status, body) = call(&e.app, post("/namespaces/ns1/activities/taken", "{}")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({"code": 6, "message": "activity execution already started", "details": [
            {"@type": "type.googleapis.com/temporal.api.errordetails.v1.ActivityExecutionAlreadyStartedFailure", "runId": "r0"}
        ]})
    );
    let (status, body) = call(&e.app, get("/api/v1/namespaces/missing")).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            StatusCode::NOT_FOUND,
            Some("Namespace missing is not found.")
        )
    );
    let reset = call(&e.app, post("/namespaces/ns1/activities/a1/reset", "{}")).await;
    assert_eq!(
        reset,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 9, "message": "cannot reset an activity with a pending reset"})
        )
    );
}

/// Sends one raw HTTP/1.1 request and returns the whole answer.
async fn exchange(addr: std::net::SocketAddr, request: String) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

fn raw_post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn run_serves_until_shutdown_and_ends_parked_long_polls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let e = env_with(FrontendConfig {
        max_body_bytes: 32,
        ..Default::default()
    });
    let shutdown = CancellationToken::new();
    let listener = waymark_frontend::conn::Listener {
        tcp: listener,
        tls: None,
    };
    let server = tokio::spawn(run(e.state.clone(), listener, shutdown.clone()));

    let health = exchange(
        addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert!(
        health.contains("content-type: application/json\r\n")
            && health.ends_with(r#"{"status":"ok"}"#),
        "{health}"
    );

    let big = exchange(
        addr,
        raw_post(
            "/api/v1/namespaces",
            &format!(r#"{{"namespace":"{}"}}"#, "n".repeat(40)),
        ),
    )
    .await;
    assert!(big.starts_with("HTTP/1.1 413 "), "{big}");
    assert!(
        big.ends_with(
            r#"{"code":8,"message":"request body of 56 bytes exceeds the limit of 32 bytes"}"#
        ),
        "{big}"
    );

    // This poll would wait forever; shutdown answers it at once.
    let poll = tokio::spawn(exchange(
        addr,
        raw_post(
            "/namespaces/idle/activity-tasks/poll",
            r#"{"taskQueue":{"name":"q"}}"#,
        ),
    ));
    while e.matching.calls.0.lock().unwrap().is_empty() {
        tokio::task::yield_now().await;
    }
    shutdown.cancel();
    let answer = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("the poll ended")
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200 OK\r\n") && answer.ends_with("{}"),
        "{answer}"
    );
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("run returned")
        .unwrap()
        .unwrap();
    // History was only asked whether the namespace exists.
    assert!(
        e.history
            .calls
            .take()
            .iter()
            .all(|c| c.starts_with("describe_namespace"))
    );
}

#[tokio::test]
async fn task_queues_are_described_under_both_prefixes() {
    let e = env();
    let query = "taskQueueType=TASK_QUEUE_TYPE_ACTIVITY&reportStats=true&reportConfig=true";
    let want = json!({
        "pollers": [{"lastAccessTime": "1970-01-01T00:00:01.500Z", "identity": "w1", "ratePerSecond": 2.5}],
        "stats": {"approximateBacklogCount": "7", "approximateBacklogAge": "1.250s"},
        "effectiveRateLimit": {"requestsPerSecond": 2.5, "rateLimitSource": "RATE_LIMIT_SOURCE_WORKER"},
    });
    for prefix in ["/api/v1", ""] {
        let uri = format!("{prefix}/namespaces/ns1/task-queues/my%2Fqueue?{query}");
        assert_eq!(
            call(&e.app, get(&uri)).await,
            (StatusCode::OK, want.clone())
        );
    }
    let (_, plain) = call(&e.app, get("/namespaces/ns1/task-queues/q")).await;
    assert_eq!(plain.get("stats"), None, "stats only with reportStats");
    let described =
        "describe_task_queue ns1 my/queue type=TASK_QUEUE_TYPE_ACTIVITY stats=true config=true";
    assert_eq!(
        e.matching.calls.take(),
        [
            described,
            described,
            "describe_task_queue ns1 q type=TASK_QUEUE_TYPE_UNSPECIFIED stats=false config=false"
        ]
    );
}

#[tokio::test]
async fn update_config_takes_the_namespace_and_queue_from_the_url() {
    let e = env();
    let body = json!({
        "namespace": "other", "taskQueue": "other", "taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY",
        "identity": "op", "updateQueueRateLimit": {"rateLimit": {"requestsPerSecond": 5}, "reason": "slow"}
    });
    let want = json!({"config": {"queueRateLimit": {
        "rateLimit": {"requestsPerSecond": 5},
        "metadata": {"reason": "slow", "updateIdentity": "op", "updateTime": "1970-01-01T00:00:02Z"}
    }}});
    for prefix in ["/api/v1", ""] {
        let uri = format!("{prefix}/namespaces/ns1/task-queues/q1/update-config");
        let answer = call(&e.app, post(&uri, body.to_string())).await;
        assert_eq!(answer, (StatusCode::OK, want.clone()));
    }
    // Removing the limit: no `rateLimit`.
    let removal = json!({"taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY", "updateQueueRateLimit": {}});
    let (status, answer) = call(
        &e.app,
        post(
            "/namespaces/ns1/task-queues/q1/update-config",
            removal.to_string(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["config"]["queueRateLimit"].get("rateLimit"), None);
    let set =
        "update_task_queue_config ns1 q1 body=ns1/q1 type=TASK_QUEUE_TYPE_ACTIVITY rps=Some(5.0)";
    assert_eq!(
        e.matching.calls.take(),
        [
            set,
            set,
            "update_task_queue_config ns1 q1 body=ns1/q1 type=TASK_QUEUE_TYPE_ACTIVITY rps=None"
        ]
    );
}

#[tokio::test]
async fn task_queue_routes_check_the_namespace_and_the_request() {
    let e = env();
    for req in [
        get("/api/v1/namespaces/missing/task-queues/q"),
        post("/namespaces/missing/task-queues/q/update-config", "{}"),
    ] {
        let (status, body) = call(&e.app, req).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (
                StatusCode::NOT_FOUND,
                Some("Namespace missing is not found.")
            )
        );
    }
    let (status, body) = call(
        &e.app,
        get("/namespaces/ns1/task-queues/q?taskQueueType=TASK_QUEUE_TYPE_BOGUS"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Temporal's words for it.
    assert_eq!(
        body["message"],
        r#"parsing field "task_queue_type": "TASK_QUEUE_TYPE_BOGUS" is not a valid value"#
    );
    let uri = "/namespaces/ns1/task-queues/q/update-config";
    for (body, fragment) in [
        (r#"{"bogusField": 1}"#, r#"unknown field "bogusField""#),
        (
            r#"{"updateQueueRateLimit": {"rateLimit": {"requestsPerSecond": "fast"}}}"#,
            "invalid value for float type",
        ),
    ] {
        let (status, answer) = call(&e.app, post(uri, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(fragment), "{body}: {message}");
    }
    assert!(e.matching.calls.take().is_empty());
    // Matching's refusal passes through.
    let negative = r#"{"updateQueueRateLimit": {"rateLimit": {"requestsPerSecond": -1}}}"#;
    assert_eq!(
        call(&e.app, post(uri, negative)).await,
        (
            StatusCode::BAD_REQUEST,
            invalid("RequestsPerSecond for UpdateQueueRateLimit rate limit must be non-negative.")
        )
    );
    let wrong_method = Request::delete(uri).body(Body::empty()).unwrap();
    assert_eq!(
        call(&e.app, wrong_method).await.0,
        StatusCode::NOT_IMPLEMENTED
    );
}

#[tokio::test]
async fn a_query_takes_its_type_from_the_path_and_waits_until_a_second_before_the_deadline() {
    let e = env();
    let req = post(
        "/api/v1/namespaces/default/workflows/wf1/query/state",
        r#"{"query":{"queryArgs":[1]}}"#,
    );
    assert_eq!(
        call(&e.app, with_timeout(req, "10S")).await,
        (StatusCode::OK, json!({}))
    );
    assert_eq!(
        e.history.calls.take(),
        ["query_workflow default wf1 state wait=9s"]
    );
}

#[tokio::test]
async fn a_panicking_handler_answers_500_internal_and_the_server_carries_on() {
    let e = env();
    assert_eq!(
        call(&e.app, get("/api/v1/namespaces/panics")).await,
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"code": 13, "message": "internal error"})
        )
    );
    assert_eq!(
        call(&e.app, get("/api/v1/namespaces/default")).await.0,
        StatusCode::OK
    );
}
