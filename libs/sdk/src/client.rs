//! The client: starts standalone activities and acts on them (result, describe, cancel,
//! terminate), and completes, fails, cancels or heartbeats an activity by task token or by id.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use waymark_api as api;
use waymark_api::{
    ActivityExecutionStatus, ActivityIdConflictPolicy, ActivityIdReusePolicy, PendingActivityState,
};

use crate::error::{ActivityError, ActivityFailure, Error};
use crate::payload::{self, PayloadError};
use crate::transport::{Call, Transport};

/// How long [`ActivityHandle::result`] waits per long poll (the server caps it at 60 s).
const OUTCOME_POLL: Duration = Duration::from_secs(50);

/// One operation of the HTTP API by method and path, for [`Client::send`].
///
/// ```
/// use waymark_sdk::ApiRequest;
/// let list = ApiRequest::get(["namespaces", "default", "workflows"]).query("query", "WorkflowType='Order'");
/// ```
#[derive(Clone, Debug)]
pub struct ApiRequest {
    /// The HTTP method.
    pub method: Method,
    /// Path segments below `/api/v1`, percent-encoded by the client.
    pub path: Vec<String>,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// The JSON body.
    pub body: Option<serde_json::Value>,
    /// A long poll's deadline, sent as `Grpc-Timeout`: the request may take that long.
    pub wait: Option<Duration>,
}

impl ApiRequest {
    /// A request without query or body.
    pub fn new<S: Into<String>>(method: Method, path: impl IntoIterator<Item = S>) -> Self {
        ApiRequest {
            method,
            path: path.into_iter().map(Into::into).collect(),
            query: Vec::new(),
            body: None,
            wait: None,
        }
    }

    /// A `GET` of `path`.
    pub fn get<S: Into<String>>(path: impl IntoIterator<Item = S>) -> Self {
        Self::new(Method::GET, path)
    }

    /// A `POST` of `body` to `path`.
    pub fn post<S: Into<String>>(
        path: impl IntoIterator<Item = S>,
        body: serde_json::Value,
    ) -> Self {
        Self::new(Method::POST, path).body(body)
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Sets the JSON body.
    pub fn body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Makes it a long poll that the server may hold for up to `wait`.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }
}

/// Settings of a [`Client`]. `Debug` never prints the API key.
#[derive(Clone)]
pub struct ClientOptions {
    /// The namespace every call goes to. Default `default`.
    pub namespace: String,
    /// Who is calling, recorded by the server on starts, cancels and worker reports.
    /// Default `<pid>@<host>`.
    pub identity: String,
    /// Sent as `Authorization: Bearer <key>` on every request. Default: `WAYMARK_API_KEY` when
    /// set, so that a worker or a script is given its key by its environment.
    pub api_key: Option<String>,
    /// Timeout of a request that is not a long poll. Default 30 s.
    pub request_timeout: Duration,
    /// PEM CA certificate(s) trusted for `https://` besides the system's: a server with a
    /// self-signed or private-CA certificate.
    pub ca_cert_pem: Option<Vec<u8>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            namespace: "default".into(),
            identity: default_identity(),
            api_key: std::env::var("WAYMARK_API_KEY")
                .ok()
                .filter(|k| !k.is_empty()),
            request_timeout: Duration::from_secs(30),
            ca_cert_pem: None,
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("namespace", &self.namespace)
            .field("identity", &self.identity)
            .field("api_key", &self.api_key.as_ref().map(|_| ".."))
            .field("request_timeout", &self.request_timeout)
            .field("ca_cert_pem", &self.ca_cert_pem.as_ref().map(|_| ".."))
            .finish()
    }
}

impl ClientOptions {
    /// Sets the namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets the identity.
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = identity.into();
        self
    }

    /// Sets the API key.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Trusts the CA certificate(s) of `pem` too (e.g. `std::fs::read("ca.pem")?`), for a
    /// server whose certificate no system CA signed.
    pub fn ca_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_cert_pem = Some(pem.into());
        self
    }
}

fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{}@{host}", std::process::id())
}

/// A connection to a Waymark server, for one namespace. Cheap to clone; clones share the
/// connection pool.
///
/// ```no_run
/// use std::time::Duration;
/// use waymark_sdk::{ActivityOptions, Client, ClientOptions};
///
/// # async fn run() -> Result<(), waymark_sdk::Error> {
/// let client = Client::connect("http://127.0.0.1:7243", ClientOptions::default()).await?;
/// let handle = client
///     .start_activity(
///         "SimpleActivity",
///         "hello",
///         ActivityOptions::new("demo").start_to_close_timeout(Duration::from_secs(10)),
///     )
///     .await?;
/// let result: String = handle.result().await?;
/// println!("{result}");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    namespace: String,
    identity: String,
}

impl Client {
    /// A client of the server at `url` (e.g. `http://127.0.0.1:7243`, or `https://...`), without
    /// contacting it.
    pub fn new(url: &str, options: ClientOptions) -> Result<Client, Error> {
        if options.namespace.is_empty() {
            return Err(Error::Config("the namespace must not be empty".into()));
        }
        let transport = Transport::new(url, &options)?;
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                namespace: options.namespace,
                identity: options.identity,
            }),
        })
    }

    /// Connects to the server at `url` and checks that the namespace exists.
    pub async fn connect(url: &str, options: ClientOptions) -> Result<Client, Error> {
        let client = Client::new(url, options)?;
        let ns = client.namespace().to_owned();
        let _: serde_json::Value = client
            .call(Method::GET, &[], &[], None, None::<&()>, &|| {
                format!("describe namespace {ns}")
            })
            .await?;
        Ok(client)
    }

    /// The namespace of every call.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The identity sent with calls.
    pub fn identity(&self) -> &str {
        &self.inner.identity
    }

    /// Sends `request` to the HTTP API as it is and answers the JSON the server sent: for
    /// operations this client has no method of its own for, and for tools that show the API's
    /// objects as they are (the `waymark` CLI). An answer other than 2xx is an error.
    pub async fn send(&self, request: ApiRequest) -> Result<serde_json::Value, Error> {
        let path: Vec<&str> = request.path.iter().map(String::as_str).collect();
        let query: Vec<(&str, &str)> = request
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let operation = || format!("{} /api/v1/{}", request.method, request.path.join("/"));
        let call = Call {
            method: request.method.clone(),
            path: &path,
            namespaced: false,
            query: &query,
            wait: request.wait,
            timeout: None,
            operation: &operation,
        };
        self.inner.transport.send(call, request.body.as_ref()).await
    }

    pub(crate) async fn call<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        wait: Option<Duration>,
        body: Option<&B>,
        operation: &(dyn Fn() -> String + Sync),
    ) -> Result<R, Error> {
        let call = self.call_traced(method, path, query, wait, body, operation);
        Ok(call.await?.0)
    }

    /// As `call`, with the trace context the answer carries (a polled task's).
    pub(crate) async fn call_traced<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        wait: Option<Duration>,
        body: Option<&B>,
        operation: &(dyn Fn() -> String + Sync),
    ) -> Result<(R, Option<String>), Error> {
        let call = Call {
            method,
            path,
            namespaced: true,
            query,
            wait,
            timeout: None,
            operation,
        };
        self.inner.transport.send_traced(call, body).await
    }

    /// A POST with a request timeout of its own (heartbeats use the throttle interval).
    pub(crate) async fn post_within<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        path: &[&str],
        body: &B,
        timeout: Duration,
        operation: &(dyn Fn() -> String + Sync),
    ) -> Result<R, Error> {
        let call = Call {
            method: Method::POST,
            path,
            namespaced: true,
            query: &[],
            wait: None,
            timeout: Some(timeout),
            operation,
        };
        self.inner.transport.send(call, Some(body)).await
    }

    /// Starts a standalone activity of type `activity_type` with `args` as its input
    /// (`()` for none, a tuple for several, any other value for one; see [`crate::payload`]).
    ///
    /// Without [`ActivityOptions::id`] the id is a fresh UUID; without a request id one is
    /// generated, so that the same call sent twice starts one activity.
    pub async fn start_activity<A: Serialize>(
        &self,
        activity_type: &str,
        args: A,
        options: ActivityOptions,
    ) -> Result<ActivityHandle, Error> {
        let input = payload::to_payloads(&args, "activity input")?;
        let id = options
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let request = api::StartActivityExecutionRequest {
            identity: self.identity().to_owned(),
            request_id: options
                .request_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            activity_type: Some(api::ActivityType {
                name: activity_type.to_owned(),
            }),
            task_queue: Some(api::TaskQueue {
                name: options.task_queue.clone(),
                ..Default::default()
            }),
            schedule_to_close_timeout: options
                .schedule_to_close_timeout
                .map(api::Duration::from_std),
            schedule_to_start_timeout: options
                .schedule_to_start_timeout
                .map(api::Duration::from_std),
            start_to_close_timeout: options.start_to_close_timeout.map(api::Duration::from_std),
            heartbeat_timeout: options.heartbeat_timeout.map(api::Duration::from_std),
            retry_policy: options.retry_policy.as_ref().map(RetryPolicy::to_api),
            input: Some(input),
            id_reuse_policy: options.id_reuse_policy,
            id_conflict_policy: options.id_conflict_policy,
            start_delay: options.start_delay.map(api::Duration::from_std),
            ..Default::default()
        };
        let started: api::StartActivityExecutionResponse = self
            .call(
                Method::POST,
                &["activities", &id],
                &[],
                None,
                Some(&request),
                &|| format!("start activity {id}"),
            )
            .await?;
        Ok(ActivityHandle::new(self.clone(), id, Some(started.run_id)))
    }

    /// A handle on an existing activity; `run_id` `None` means its latest run.
    pub fn activity_handle(
        &self,
        activity_id: impl Into<String>,
        run_id: Option<String>,
    ) -> ActivityHandle {
        ActivityHandle::new(
            self.clone(),
            activity_id.into(),
            run_id.filter(|r| !r.is_empty()),
        )
    }

    /// Describes activity task queue `task_queue`: its backlog (`stats`), recent pollers, the
    /// rate limit in force and where it comes from (API, worker or system).
    pub async fn describe_task_queue(
        &self,
        task_queue: &str,
    ) -> Result<api::DescribeTaskQueueResponse, Error> {
        let query = [
            ("taskQueueType", "TASK_QUEUE_TYPE_ACTIVITY"),
            ("reportStats", "true"),
            ("reportConfig", "true"),
        ];
        self.call(
            Method::GET,
            &["task-queues", task_queue],
            &query,
            None,
            None::<&()>,
            &|| format!("describe task queue {task_queue}"),
        )
        .await
    }

    /// Completes a running activity with `result` (encoded like an input), by task token or by
    /// id: what another process does to finish an activity that returned
    /// [`ActivityError::ResultPending`].
    ///
    /// ```no_run
    /// # async fn run(client: waymark_sdk::Client) -> Result<(), waymark_sdk::Error> {
    /// use waymark_sdk::{ActivityTarget, TaskToken};
    /// let token: TaskToken = std::env::var("TOKEN").unwrap().into();
    /// client.complete_activity(&token, "approved").await?;
    /// client.complete_activity(ActivityTarget::id("order-17"), "approved").await?;
    /// # Ok(()) }
    /// ```
    pub async fn complete_activity<R: Serialize>(
        &self,
        target: impl Into<ActivityTarget>,
        result: R,
    ) -> Result<(), Error> {
        let result = payload::to_payloads(&result, "activity result")?;
        self.complete_with(&target.into(), self.identity(), result)
            .await
    }

    pub(crate) async fn complete_with(
        &self,
        target: &ActivityTarget,
        identity: &str,
        result: api::Payloads,
    ) -> Result<(), Error> {
        let identity = identity.to_owned();
        let _: serde_json::Value = match target {
            ActivityTarget::TaskToken(token) => {
                let body = api::RespondActivityTaskCompletedRequest {
                    task_token: token.0.clone(),
                    result: Some(result),
                    identity,
                    ..Default::default()
                };
                self.call(
                    Method::POST,
                    &["activity-complete"],
                    &[],
                    None,
                    Some(&body),
                    &|| format!("complete {target}"),
                )
                .await?
            }
            ActivityTarget::Id {
                activity_id,
                run_id,
            } => {
                let body = api::RespondActivityTaskCompletedByIdRequest {
                    run_id: run_id.clone().unwrap_or_default(),
                    result: Some(result),
                    identity,
                    ..Default::default()
                };
                let path = ["activities", activity_id.as_str(), "complete"];
                self.call(Method::POST, &path, &[], None, Some(&body), &|| {
                    format!("complete {target}")
                })
                .await?
            }
        };
        Ok(())
    }

    /// Fails the running attempt of an activity with `error` (an [`ActivityError::application`]
    /// error; the other variants are reported as a non-retryable `Cancelled` or `ResultPending`
    /// application error), by task token or by id. The server retries it as its retry policy says.
    pub async fn fail_activity(
        &self,
        target: impl Into<ActivityTarget>,
        error: ActivityError,
    ) -> Result<(), Error> {
        let failure = error.to_failure().unwrap_or_else(|| {
            let kind = if matches!(error, ActivityError::ResultPending) {
                "ResultPending"
            } else {
                "Cancelled"
            };
            ActivityError::application(kind, error.to_string())
                .non_retryable()
                .to_failure()
                .expect("application error")
        });
        self.fail_with(&target.into(), self.identity(), failure, None)
            .await
    }

    pub(crate) async fn fail_with(
        &self,
        target: &ActivityTarget,
        identity: &str,
        failure: api::Failure,
        last_heartbeat_details: Option<api::Payloads>,
    ) -> Result<(), Error> {
        let identity = identity.to_owned();
        let _: serde_json::Value = match target {
            ActivityTarget::TaskToken(token) => {
                let body = api::RespondActivityTaskFailedRequest {
                    task_token: token.0.clone(),
                    failure: Some(failure),
                    identity,
                    last_heartbeat_details,
                    ..Default::default()
                };
                self.call(
                    Method::POST,
                    &["activity-fail"],
                    &[],
                    None,
                    Some(&body),
                    &|| format!("fail {target}"),
                )
                .await?
            }
            ActivityTarget::Id {
                activity_id,
                run_id,
            } => {
                let body = api::RespondActivityTaskFailedByIdRequest {
                    run_id: run_id.clone().unwrap_or_default(),
                    failure: Some(failure),
                    identity,
                    last_heartbeat_details,
                    ..Default::default()
                };
                let path = ["activities", activity_id.as_str(), "fail"];
                self.call(Method::POST, &path, &[], None, Some(&body), &|| {
                    format!("fail {target}")
                })
                .await?
            }
        };
        Ok(())
    }

    /// Reports a running activity as cancelled, with `details` (`()` for none), by task token
    /// or by id. The server accepts it only after a cancel was requested.
    pub async fn report_activity_cancelled<D: Serialize>(
        &self,
        target: impl Into<ActivityTarget>,
        details: D,
    ) -> Result<(), Error> {
        let details = payload::to_payloads(&details, "cancellation details")?;
        self.cancelled_with(&target.into(), self.identity(), Some(details))
            .await
    }

    pub(crate) async fn cancelled_with(
        &self,
        target: &ActivityTarget,
        identity: &str,
        details: Option<api::Payloads>,
    ) -> Result<(), Error> {
        let identity = identity.to_owned();
        let details = details.filter(|d| !d.is_empty());
        let _: serde_json::Value = match target {
            ActivityTarget::TaskToken(token) => {
                let body = api::RespondActivityTaskCanceledRequest {
                    task_token: token.0.clone(),
                    details,
                    identity,
                    ..Default::default()
                };
                let path = ["activity-resolve-as-canceled"];
                self.call(Method::POST, &path, &[], None, Some(&body), &|| {
                    format!("report {target} cancelled")
                })
                .await?
            }
            ActivityTarget::Id {
                activity_id,
                run_id,
            } => {
                let body = api::RespondActivityTaskCanceledByIdRequest {
                    run_id: run_id.clone().unwrap_or_default(),
                    details,
                    identity,
                    ..Default::default()
                };
                let path = ["activities", activity_id.as_str(), "resolve-as-canceled"];
                self.call(Method::POST, &path, &[], None, Some(&body), &|| {
                    format!("report {target} cancelled")
                })
                .await?
            }
        };
        Ok(())
    }

    /// Records a heartbeat with `details` for a running activity, by task token or by id
    /// (unthrottled: inside an activity use [`crate::ActivityContext::heartbeat`]). The answer
    /// says whether a cancel was requested.
    pub async fn heartbeat_activity<D: Serialize>(
        &self,
        target: impl Into<ActivityTarget>,
        details: D,
    ) -> Result<HeartbeatResponse, Error> {
        let details = payload::to_payloads(&details, "heartbeat details")?;
        self.heartbeat_with(&target.into(), self.identity(), details, None)
            .await
    }

    pub(crate) async fn heartbeat_with(
        &self,
        target: &ActivityTarget,
        identity: &str,
        details: api::Payloads,
        timeout: Option<Duration>,
    ) -> Result<HeartbeatResponse, Error> {
        let identity = identity.to_owned();
        let timeout = timeout.unwrap_or(Duration::from_secs(30));
        let operation = || format!("heartbeat {target}");
        match target {
            ActivityTarget::TaskToken(token) => {
                let body = api::RecordActivityTaskHeartbeatRequest {
                    task_token: token.0.clone(),
                    details: Some(details),
                    identity,
                    ..Default::default()
                };
                self.post_within(&["activity-heartbeat"], &body, timeout, &operation)
                    .await
            }
            ActivityTarget::Id {
                activity_id,
                run_id,
            } => {
                let body = api::RecordActivityTaskHeartbeatByIdRequest {
                    run_id: run_id.clone().unwrap_or_default(),
                    details: Some(details),
                    identity,
                    ..Default::default()
                };
                self.post_within(
                    &["activities", activity_id.as_str(), "heartbeat"],
                    &body,
                    timeout,
                    &operation,
                )
                .await
            }
        }
    }
}

/// The server's answer to a heartbeat: whether the activity should stop.
pub type HeartbeatResponse = api::RecordActivityTaskHeartbeatResponse;

/// A task token: the opaque handle of one attempt of an activity, given to the worker that
/// runs it ([`crate::ActivityInfo::task_token`]). Any process holding it can complete, fail,
/// cancel or heartbeat that attempt. It is text (base64), safe to print and pass around.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TaskToken(String);

impl TaskToken {
    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for TaskToken {
    fn from(s: String) -> Self {
        TaskToken(s.trim().to_owned())
    }
}

impl From<&str> for TaskToken {
    fn from(s: &str) -> Self {
        TaskToken(s.trim().to_owned())
    }
}

impl std::fmt::Display for TaskToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which activity a completion, failure, cancellation or heartbeat is for: one attempt by its
/// task token, or the running attempt of an activity by its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActivityTarget {
    /// The attempt the token was issued for.
    TaskToken(TaskToken),
    /// The running attempt of activity `activity_id` (its latest run if `run_id` is `None`).
    Id {
        /// The activity id.
        activity_id: String,
        /// A specific run.
        run_id: Option<String>,
    },
}

impl ActivityTarget {
    /// The latest run of activity `activity_id`.
    pub fn id(activity_id: impl Into<String>) -> Self {
        ActivityTarget::Id {
            activity_id: activity_id.into(),
            run_id: None,
        }
    }

    /// Run `run_id` of activity `activity_id`.
    pub fn run(activity_id: impl Into<String>, run_id: impl Into<String>) -> Self {
        ActivityTarget::Id {
            activity_id: activity_id.into(),
            run_id: Some(run_id.into()),
        }
    }
}

impl From<TaskToken> for ActivityTarget {
    fn from(t: TaskToken) -> Self {
        ActivityTarget::TaskToken(t)
    }
}

impl From<&TaskToken> for ActivityTarget {
    fn from(t: &TaskToken) -> Self {
        ActivityTarget::TaskToken(t.clone())
    }
}

impl std::fmt::Display for ActivityTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActivityTarget::TaskToken(_) => f.write_str("activity by task token"),
            ActivityTarget::Id {
                activity_id,
                run_id: None,
            } => write!(f, "activity {activity_id}"),
            ActivityTarget::Id {
                activity_id,
                run_id: Some(r),
            } => write!(f, "activity {activity_id} run {r}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Options

/// How to run an activity: its task queue, id, timeouts and retry policy.
///
/// At least one of `start_to_close_timeout` and `schedule_to_close_timeout` is required by the
/// server. Unset timeouts follow the server's defaulting rules.
///
/// ```
/// use std::time::Duration;
/// use waymark_sdk::{ActivityOptions, RetryPolicy};
///
/// let options = ActivityOptions::new("files")
///     .id("process-report-2024")
///     .start_to_close_timeout(Duration::from_secs(600))
///     .heartbeat_timeout(Duration::from_secs(10))
///     .retry_policy(RetryPolicy { maximum_attempts: 5, ..Default::default() });
/// assert_eq!(options.task_queue, "files");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActivityOptions {
    /// The task queue whose workers run it.
    pub task_queue: String,
    /// The activity id; a fresh UUID if `None`.
    pub id: Option<String>,
    /// Deduplicates starts: the same request id returns the run it started. Generated if `None`.
    pub request_id: Option<String>,
    /// Budget of the whole activity, all attempts included.
    pub schedule_to_close_timeout: Option<Duration>,
    /// How long one attempt may wait in the queue.
    pub schedule_to_start_timeout: Option<Duration>,
    /// How long one attempt may run.
    pub start_to_close_timeout: Option<Duration>,
    /// Largest gap allowed between heartbeats of a running attempt.
    pub heartbeat_timeout: Option<Duration>,
    /// How failed attempts are retried; the server's default policy if `None`.
    pub retry_policy: Option<RetryPolicy>,
    /// What to do when the id was used by a closed activity.
    pub id_reuse_policy: ActivityIdReusePolicy,
    /// What to do when the id is used by a running activity.
    pub id_conflict_policy: ActivityIdConflictPolicy,
    /// Delay before the first attempt is dispatched.
    pub start_delay: Option<Duration>,
}

impl ActivityOptions {
    /// Options for task queue `task_queue`, everything else unset.
    pub fn new(task_queue: impl Into<String>) -> Self {
        ActivityOptions {
            task_queue: task_queue.into(),
            ..Default::default()
        }
    }

    /// Sets the activity id.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the request id.
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Sets the schedule-to-close timeout.
    pub fn schedule_to_close_timeout(mut self, timeout: Duration) -> Self {
        self.schedule_to_close_timeout = Some(timeout);
        self
    }

    /// Sets the schedule-to-start timeout.
    pub fn schedule_to_start_timeout(mut self, timeout: Duration) -> Self {
        self.schedule_to_start_timeout = Some(timeout);
        self
    }

    /// Sets the start-to-close timeout.
    pub fn start_to_close_timeout(mut self, timeout: Duration) -> Self {
        self.start_to_close_timeout = Some(timeout);
        self
    }

    /// Sets the heartbeat timeout.
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = Some(timeout);
        self
    }

    /// Sets the retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = Some(policy);
        self
    }

    /// Sets the id reuse policy.
    pub fn id_reuse_policy(mut self, policy: ActivityIdReusePolicy) -> Self {
        self.id_reuse_policy = policy;
        self
    }

    /// Sets the id conflict policy.
    pub fn id_conflict_policy(mut self, policy: ActivityIdConflictPolicy) -> Self {
        self.id_conflict_policy = policy;
        self
    }

    /// Sets the start delay.
    pub fn start_delay(mut self, delay: Duration) -> Self {
        self.start_delay = Some(delay);
        self
    }
}

/// How the server retries failed attempts. Unset (zero) fields take the server's defaults:
/// initial interval 1 s, coefficient 2, maximum interval 100 × initial, unlimited attempts.
///
/// ```
/// use std::time::Duration;
/// use waymark_sdk::RetryPolicy;
///
/// let no_retries = RetryPolicy { maximum_attempts: 1, ..Default::default() };
/// let patient = RetryPolicy {
///     initial_interval: Some(Duration::from_millis(200)),
///     backoff_coefficient: Some(1.5),
///     non_retryable_error_types: vec!["InvalidInput".into()],
///     ..Default::default()
/// };
/// # let _ = (no_retries, patient);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub initial_interval: Option<Duration>,
    /// Growth of the delay per retry (≥ 1).
    pub backoff_coefficient: Option<f64>,
    /// Cap of the delay.
    pub maximum_interval: Option<Duration>,
    /// Attempts in all, the first included; 0 is unlimited.
    pub maximum_attempts: u32,
    /// Application error types that are never retried.
    pub non_retryable_error_types: Vec<String>,
}

impl RetryPolicy {
    /// The wire form.
    pub fn to_api(&self) -> api::RetryPolicy {
        api::RetryPolicy {
            initial_interval: self.initial_interval.map(api::Duration::from_std),
            backoff_coefficient: self.backoff_coefficient.unwrap_or_default(),
            maximum_interval: self.maximum_interval.map(api::Duration::from_std),
            maximum_attempts: i32::try_from(self.maximum_attempts).unwrap_or(i32::MAX),
            non_retryable_error_types: self.non_retryable_error_types.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Handles

/// One activity (a run of it, or its latest run): await its result, describe, cancel or
/// terminate it, or act as its worker by id.
#[derive(Clone, Debug)]
pub struct ActivityHandle {
    client: Client,
    activity_id: String,
    run_id: Option<String>,
    /// One request id per handle, so repeating `cancel()` or `terminate()` is a no-op.
    request_id: String,
}

impl ActivityHandle {
    fn new(client: Client, activity_id: String, run_id: Option<String>) -> Self {
        ActivityHandle {
            client,
            activity_id,
            run_id,
            request_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// The activity id.
    pub fn id(&self) -> &str {
        &self.activity_id
    }

    /// The run this handle is for (`None`: the latest run).
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// The client the handle calls through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn run_query(&self) -> Vec<(&str, &str)> {
        self.run_id
            .as_deref()
            .map(|r| vec![("runId", r)])
            .unwrap_or_default()
    }

    /// Waits for the activity to close (long-polling its outcome) and decodes its result.
    /// An activity that failed, timed out, was cancelled or terminated gives
    /// [`Error::ActivityFailed`].
    pub async fn result<T: DeserializeOwned>(&self) -> Result<T, Error> {
        match self.outcome().await? {
            Ok(result) => Ok(payload::from_payloads(Some(&result), "activity result")?),
            Err(failure) => Err(Error::ActivityFailed(Box::new(failure))),
        }
    }

    /// Waits for the activity to close: its result payloads, or how it failed.
    pub async fn outcome(&self) -> Result<Result<api::Payloads, ActivityFailure>, Error> {
        let id = &self.activity_id;
        loop {
            let query = self.run_query();
            let answer: api::PollActivityExecutionResponse = self
                .client
                .call(
                    Method::GET,
                    &["activities", id, "outcome"],
                    &query,
                    Some(OUTCOME_POLL),
                    None::<&()>,
                    &|| format!("wait for the outcome of activity {id}"),
                )
                .await?;
            let Some(outcome) = answer.outcome else {
                continue;
            };
            return Ok(match (outcome.result, outcome.failure) {
                (_, Some(failure)) => Err(ActivityFailure::new(
                    id.clone(),
                    answer.run_id,
                    failure,
                    outcome.retry_state,
                )),
                (result, None) => Ok(result.unwrap_or_default()),
            });
        }
    }

    /// Describes the activity: status, attempt, heartbeat details, last failure, outcome.
    pub async fn describe(&self) -> Result<ActivityDescription, Error> {
        let mut query = self.run_query();
        query.extend([
            ("includeHeartbeatDetails", "true"),
            ("includeLastFailure", "true"),
            ("includeOutcome", "true"),
        ]);
        let id = &self.activity_id;
        let raw: api::DescribeActivityExecutionResponse = self
            .client
            .call(
                Method::GET,
                &["activities", id],
                &query,
                None,
                None::<&()>,
                &|| format!("describe activity {id}"),
            )
            .await?;
        Ok(ActivityDescription { raw })
    }

    /// Requests cancellation. An activity not yet started is cancelled at once; a running one
    /// learns it from its next heartbeat. Repeating the call on this handle is a no-op.
    pub async fn cancel(&self) -> Result<(), Error> {
        self.cancel_with_reason("").await
    }

    /// [`cancel`](Self::cancel) with a reason, recorded on the activity.
    pub async fn cancel_with_reason(&self, reason: &str) -> Result<(), Error> {
        let body = api::RequestCancelActivityExecutionRequest {
            run_id: self.run_id.clone().unwrap_or_default(),
            identity: self.client.identity().to_owned(),
            request_id: self.request_id.clone(),
            reason: reason.to_owned(),
            ..Default::default()
        };
        let id = &self.activity_id;
        let _: serde_json::Value = self
            .client
            .call(
                Method::POST,
                &["activities", id, "cancel"],
                &[],
                None,
                Some(&body),
                &|| format!("cancel activity {id}"),
            )
            .await?;
        Ok(())
    }

    /// Terminates the activity at once; its worker's later reports are refused.
    pub async fn terminate(&self) -> Result<(), Error> {
        self.terminate_with_reason("").await
    }

    /// [`terminate`](Self::terminate) with a reason (the failure's message).
    pub async fn terminate_with_reason(&self, reason: &str) -> Result<(), Error> {
        let body = api::TerminateActivityExecutionRequest {
            run_id: self.run_id.clone().unwrap_or_default(),
            identity: self.client.identity().to_owned(),
            request_id: self.request_id.clone(),
            reason: reason.to_owned(),
            ..Default::default()
        };
        let id = &self.activity_id;
        let _: serde_json::Value = self
            .client
            .call(
                Method::POST,
                &["activities", id, "terminate"],
                &[],
                None,
                Some(&body),
                &|| format!("terminate activity {id}"),
            )
            .await?;
        Ok(())
    }

    fn target(&self) -> ActivityTarget {
        ActivityTarget::Id {
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone(),
        }
    }

    /// Completes the running attempt by id (see [`Client::complete_activity`]).
    pub async fn complete<R: Serialize>(&self, result: R) -> Result<(), Error> {
        self.client.complete_activity(self.target(), result).await
    }

    /// Fails the running attempt by id (see [`Client::fail_activity`]).
    pub async fn fail(&self, error: ActivityError) -> Result<(), Error> {
        self.client.fail_activity(self.target(), error).await
    }

    /// Reports the running attempt cancelled by id (see [`Client::report_activity_cancelled`]).
    pub async fn report_cancelled<D: Serialize>(&self, details: D) -> Result<(), Error> {
        self.client
            .report_activity_cancelled(self.target(), details)
            .await
    }

    /// Heartbeats the running attempt by id (see [`Client::heartbeat_activity`]).
    pub async fn heartbeat<D: Serialize>(&self, details: D) -> Result<HeartbeatResponse, Error> {
        self.client.heartbeat_activity(self.target(), details).await
    }
}

/// What [`ActivityHandle::describe`] answers.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityDescription {
    raw: api::DescribeActivityExecutionResponse,
}

impl ActivityDescription {
    fn info_ref(&self) -> Option<&api::ActivityExecutionInfo> {
        self.raw.info.as_ref()
    }

    /// The run described.
    pub fn run_id(&self) -> &str {
        &self.raw.run_id
    }

    /// `RUNNING`, `COMPLETED`, `FAILED`, ...
    pub fn status(&self) -> ActivityExecutionStatus {
        self.info_ref().map(|i| i.status).unwrap_or_default()
    }

    /// While running: `SCHEDULED` (waiting in the queue or in backoff), `STARTED`,
    /// `CANCEL_REQUESTED`, ...; unspecified once closed.
    pub fn run_state(&self) -> PendingActivityState {
        self.info_ref().map(|i| i.run_state).unwrap_or_default()
    }

    /// The current attempt (the next one while waiting in backoff).
    pub fn attempt(&self) -> u32 {
        self.info_ref()
            .map_or(0, |i| u32::try_from(i.attempt).unwrap_or(0))
    }

    /// The last heartbeat details, decoded; `Ok(None)` if there are none.
    pub fn heartbeat_details<T: DeserializeOwned>(&self) -> Result<Option<T>, PayloadError> {
        payload::optional(
            self.info_ref().and_then(|i| i.heartbeat_details.as_ref()),
            "heartbeat details",
        )
    }

    /// Heartbeats recorded over all attempts.
    pub fn heartbeat_count(&self) -> u64 {
        self.info_ref()
            .map_or(0, |i| u64::try_from(i.total_heartbeat_count).unwrap_or(0))
    }

    /// The failure of the last failed attempt.
    pub fn last_failure(&self) -> Option<&api::Failure> {
        self.info_ref().and_then(|i| i.last_failure.as_ref())
    }

    /// Every field the server reported.
    pub fn info(&self) -> Option<&api::ActivityExecutionInfo> {
        self.info_ref()
    }

    /// The outcome, once closed.
    pub fn outcome(&self) -> Option<&api::ActivityExecutionOutcome> {
        self.raw.outcome.as_ref()
    }

    /// The answer as the server sent it.
    pub fn raw(&self) -> &api::DescribeActivityExecutionResponse {
        &self.raw
    }
}
