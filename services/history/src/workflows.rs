//! Workflow executions: the `HistoryApi` workflow operations and the workflow side of worker
//! calls, each a load → `Workflow::apply` → one transaction (state, events, timers, outbox).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use waymark_api::workflow::{self as wf, EventType, HistoryEvent, HistoryEventFilterType};
use waymark_api::{
    CountActivityExecutionsResponse, CountGroup, Payload, RecordActivityTaskHeartbeatResponse,
    Timestamp,
};
use waymark_clients::{ActivityRef, ApiResult, PollerInfo};
use waymark_core::options::TaskPriority;
use waymark_core::task_token::TaskToken;
use waymark_core::visibility::{self, Attr, Scope};
use waymark_core::workflow::{
    ActivityOperation, ActivityTarget, NewRun, StartDecision, StickyQueue, TaskCompletion,
    TimerKind, Workflow, WorkflowCommand, WorkflowError, WorkflowTaskRef, WorkflowTransition,
    decide_start, validate_start,
};
use waymark_queue::ActivityTask;
use waymark_store::workflows::NewEvent;
use waymark_store::{
    ACTIVITY_TASK, Effects, NewDispatch, NewTimer, PageCursor, StoreError, WORKFLOW_TASK,
    WorkflowRecord,
};
use waymark_telemetry::trace;

use crate::cache::{EVENTS_KEPT, EventLog};
use crate::{History, HistoryError, RunRef, check_run_id, observe, run_ref};

/// A completion's request for stickiness, if it names a queue and a timeout.
fn sticky_queue(attributes: wf::StickyExecutionAttributes) -> Option<StickyQueue> {
    let name = attributes.worker_task_queue?.name;
    let schedule_to_start = attributes.schedule_to_start_timeout?;
    let positive = !schedule_to_start.is_negative() && !schedule_to_start.is_zero();
    (!name.is_empty() && positive).then_some(StickyQueue {
        name,
        schedule_to_start,
    })
}

/// Default and largest page of a workflow list.
const MAX_PAGE_SIZE: i32 = 1000;
/// Default and largest page of a history read.
const MAX_HISTORY_PAGE: i64 = 1000;
/// Why a run is terminated to make room for a new start (TERMINATE_EXISTING / TERMINATE_IF_RUNNING).
const TERMINATED_BY_START: &str = "terminated by a new start of the same workflow id";

/// What a committed workflow transition tells the caller.
pub(crate) struct Applied {
    pub workflow: Workflow,
    /// The worker's answer failed its workflow task: 400 with this message (after commit).
    pub rejected: Option<String>,
    /// For a worker's call on an activity attempt: what its heartbeat answers.
    pub heartbeat: RecordActivityTaskHeartbeatResponse,
}

fn started_link(ns: &str, workflow_id: &str, run_id: &str) -> serde_json::Value {
    json!({"workflowEvent": {"namespace": ns, "workflowId": workflow_id, "runId": run_id,
        "eventRef": {"eventId": "1", "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"}}})
}

impl History {
    pub(crate) async fn load_workflow(
        &self,
        ns: &str,
        run: &RunRef<'_>,
    ) -> Result<(WorkflowRecord, Workflow), HistoryError> {
        let kept = self.workflow_rows.get().and_then(|rows| rows.find(ns, run));
        let record = match (kept, run) {
            (Some(kept), _) => Some(kept),
            (None, RunRef::Latest { id }) => self.store.latest_workflow(ns, id).await?,
            (None, RunRef::Run { id, run_id }) => self.store.get_workflow(ns, id, run_id).await?,
            (None, RunRef::ByRun { run_id }) => self
                .store
                .get_workflow_by_run(run_id)
                .await?
                .filter(|r| r.namespace == ns),
        };
        let Some(record) = record else {
            return Err(match run {
                // W14: a run id of no run names the workflow only if that workflow exists.
                RunRef::Run { id, run_id }
                    if self.store.latest_workflow(ns, id).await?.is_some() =>
                {
                    HistoryError::WorkflowRunNotFound {
                        workflow_id: id.to_string(),
                        run_id: run_id.to_string(),
                    }
                }
                RunRef::Latest { id } | RunRef::Run { id, .. } => {
                    HistoryError::WorkflowNotFound(id.to_string())
                }
                RunRef::ByRun { run_id } => HistoryError::WorkflowNotFound(run_id.to_string()),
            });
        };
        let workflow = serde_json::from_str(&record.state)?;
        Ok((record, workflow))
    }

    /// Loads the run, applies the command `make` builds, commits; retried on a lost race.
    pub(crate) async fn workflow_transition(
        &self,
        ns: &str,
        run: RunRef<'_>,
        fired_timer: Option<i64>,
        make: impl Fn(&Workflow) -> Result<WorkflowCommand, HistoryError>,
    ) -> Result<Applied, HistoryError> {
        for _ in 0..crate::MAX_CONFLICT_RETRIES {
            let (record, workflow) = self.load_workflow(ns, &run).await?;
            let command = make(&workflow)?;
            let (before, cause, now) = (
                observe::PendingBefore::of(&workflow),
                observe::Cause::of_workflow(&command),
                self.now(),
            );
            let t = workflow.apply_within(command, now, &self.limits.history)?;
            if t.noop {
                if let Some(id) = fired_timer {
                    self.store.delete_timer(id).await?;
                }
                return Ok(Applied {
                    workflow: t.workflow,
                    rejected: t.rejected,
                    heartbeat: t.heartbeat,
                });
            }
            let observed =
                observe::observe_workflow(before, cause, &t.workflow, &t.new_events, now);
            let limit_exceeded = t.history_limit_exceeded;
            match self
                .commit_workflow(Some(&record), None, t, fired_timer)
                .await
            {
                Err(HistoryError::Store(StoreError::Conflict)) => {
                    if let Some(rows) = self.workflow_rows.get() {
                        rows.forget(&record.run_id);
                    }
                    continue;
                }
                Ok(applied) => {
                    for (task_queue, o) in &observed {
                        o.record(
                            &applied.workflow.namespace,
                            task_queue,
                            &self.throughput,
                            now,
                        );
                    }
                    if let Some(reason) = limit_exceeded {
                        return Err(HistoryError::HistoryLimitExceeded(reason));
                    }
                    return Ok(applied);
                }
                other => return other,
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// Commits a transition: over `previous` (an existing run), or as a new run following
    /// `latest_run`. Then dispatches, wakes long polls and starts a continued run.
    async fn commit_workflow(
        &self,
        previous: Option<&WorkflowRecord>,
        latest_run: Option<&str>,
        t: WorkflowTransition,
        fired_timer: Option<i64>,
    ) -> Result<Applied, HistoryError> {
        let mut span = trace::Span::start("workflow transition", trace::SpanKind::Internal);
        span.set_str("waymark.workflow_id", &t.workflow.workflow_id);
        if let Some(last) = t.new_events.last() {
            span.set_str("waymark.last_event", last.event_type.as_str());
        }
        span.set_attribute("waymark.new_events", t.new_events.len() as i64);
        span.run(self.commit_workflow_in_span(previous, latest_run, t, fired_timer))
            .await
    }

    async fn commit_workflow_in_span(
        &self,
        previous: Option<&WorkflowRecord>,
        latest_run: Option<&str>,
        t: WorkflowTransition,
        fired_timer: Option<i64>,
    ) -> Result<Applied, HistoryError> {
        let w = t.workflow;
        let mut dispatches: Vec<NewDispatch> = t
            .activity_dispatches
            .iter()
            .map(|d| NewDispatch {
                task_queue: d.task_queue.clone(),
                kind: ACTIVITY_TASK,
                scheduled_event_id: d.scheduled_event_id,
                attempt: d.attempt,
                priority: d.priority.clone(),
            })
            .collect();
        if let Some(d) = &t.workflow_task_dispatch {
            dispatches.push(NewDispatch {
                task_queue: d.task_queue.clone(),
                kind: WORKFLOW_TASK,
                scheduled_event_id: d.scheduled_event_id,
                attempt: d.attempt,
                priority: d.priority.clone(),
            });
        }
        let timers: Vec<NewTimer> = t
            .timers
            .iter()
            .map(|tm| {
                let (kind, attempt) = tm.kind.encode();
                NewTimer {
                    kind,
                    attempt,
                    due_ns: tm.due.as_nanos(),
                }
            })
            .collect();
        let effects = Effects {
            timers,
            dispatches,
            fired_timer,
            clear_timers: t.closed,
            now_ns: self.now().as_nanos(),
            quiet: t.continued_as_new.is_some(),
        };
        let events = t
            .new_events
            .iter()
            .map(|e| Ok((e.event_id, serde_json::to_string(e)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        let record = WorkflowRecord {
            namespace: w.namespace.clone(),
            workflow_id: w.workflow_id.clone(),
            run_id: w.run_id.clone(),
            workflow_type: w.workflow_type.clone(),
            task_queue: w.task_queue.clone(),
            status: w.status.visibility_status().into(),
            request_id: w.request_id.clone(),
            start_time_ns: w.start_time.as_nanos(),
            close_time_ns: w.close_time.map(Timestamp::as_nanos),
            execution_time_ns: w.start_time.as_nanos(),
            attempt: w.highest_pending_attempt(),
            state: serde_json::to_string(&w)?,
            version: previous.map_or(1, |p| p.version + 1),
        };
        let outbox = match previous {
            Some(p) => {
                crate::timed(
                    "workflow_update",
                    true,
                    self.store
                        .update_workflow(&record, p.version, &events, &effects),
                )
                .await?
            }
            None => {
                let create = self
                    .store
                    .create_workflow(&record, latest_run, &events, &effects);
                crate::timed("workflow_create", latest_run.is_some(), create).await?
            }
        };
        self.keep_events(&record, previous.map(|p| p.version), events);
        if let Some(rows) = self.workflow_rows.get() {
            rows.committed(record);
        }
        if let Some(next) = t.continued_as_new {
            // The closed run is the latest: the new run replaces it. It exists before anyone
            // waiting on the closed run wakes up, so that following the chain finds it.
            let started = Workflow::start(next.run, next.options, self.now());
            Box::pin(self.commit_workflow(None, Some(&w.run_id), started, None)).await?;
        }
        self.after_commit(&w.namespace, &w.workflow_id, &effects, outbox)
            .await;
        Ok(Applied {
            workflow: w,
            rejected: t.rejected,
            heartbeat: t.heartbeat,
        })
    }

    /// Waits until `ready` holds for the run (re-read on every change) or `wait` passes.
    pub(crate) async fn wait_workflow(
        &self,
        ns: &str,
        workflow_id: &str,
        run_id: &str,
        wait: StdDuration,
        ready: impl Fn(&Workflow) -> bool,
    ) -> Result<(Workflow, bool), HistoryError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notify = self.watchers.subscribe(ns, workflow_id);
            let step = async {
                let notified = notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let (_, w) = self
                    .load_workflow(
                        ns,
                        &RunRef::Run {
                            id: workflow_id,
                            run_id,
                        },
                    )
                    .await?;
                let done = ready(&w);
                let again = !done && self.read_again(deadline, notified).await;
                Ok::<_, HistoryError>((w, done, again))
            };
            let result = step.await;
            self.watchers.unsubscribe(ns, workflow_id, notify);
            let (w, done, again) = result?;
            if !again {
                return Ok((w, done));
            }
        }
    }

    async fn events(
        &self,
        run_id: &str,
        from: i64,
        limit: i64,
    ) -> Result<Vec<HistoryEvent>, HistoryError> {
        let rows = self
            .store
            .workflow_events(run_id, from, limit.max(0) as u64)
            .await?;
        Ok(rows
            .iter()
            .map(|r| serde_json::from_str(r))
            .collect::<Result<_, _>>()?)
    }

    /// Workflow tasks and activities waiting for a worker, for the start-up queue rebuild.
    pub(crate) async fn redispatch_workflows(&self, limit: u64) -> Result<usize, HistoryError> {
        let now = self.now();
        let mut entries = Vec::new();
        for record in self.store.running_workflows(limit).await? {
            let w: Workflow = serde_json::from_str(&record.state)?;
            let task = |kind: &str, queue: &str, sid: i64, attempt: i32, priority: TaskPriority| {
                waymark_store::OutboxEntry {
                    id: 0,
                    namespace: w.namespace.clone(),
                    task_queue: queue.to_owned(),
                    run_id: w.run_id.clone(),
                    kind: kind.to_owned(),
                    scheduled_event_id: sid,
                    attempt,
                    created_ns: 0,
                    priority: priority.level,
                    fairness_key: priority.fairness_key,
                    fairness_weight: priority.fairness_weight,
                }
            };
            if let Some(t) = w.waiting_task() {
                entries.push(task(
                    WORKFLOW_TASK,
                    &t.task_queue,
                    t.scheduled_event_id,
                    t.attempt,
                    t.priority,
                ));
            }
            for a in w.waiting_activities(now) {
                entries.push(task(
                    ACTIVITY_TASK,
                    &a.task_queue,
                    a.scheduled_event_id,
                    a.attempt,
                    a.priority,
                ));
            }
        }
        let n = entries.len();
        self.deliver(entries).await;
        Ok(n)
    }

    // --- Client operations ---------------------------------------------------------------

    pub(crate) async fn start_workflow_run(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::StartWorkflowExecutionRequest,
    ) -> Result<wf::StartWorkflowExecutionResponse, HistoryError> {
        self.ensure_namespace(ns).await?;
        let mut options = validate_start(workflow_id, &req, self.limits.max_payload_bytes)
            .map_err(HistoryError::InvalidArgument)?;
        if options.request_id.is_empty() {
            options.request_id = uuid::Uuid::new_v4().to_string();
        }
        loop {
            let latest = self.store.latest_workflow(ns, workflow_id).await?;
            let latest_run = latest.as_ref().map(|r| r.run_id.clone());
            let latest: Option<Workflow> =
                latest.map(|r| serde_json::from_str(&r.state)).transpose()?;
            let decision = decide_start(
                latest.as_ref(),
                &options.request_id,
                req.workflow_id_reuse_policy,
                req.workflow_id_conflict_policy,
            );
            match decision {
                StartDecision::Existing { run_id, started } => {
                    let (status, first_execution_run_id) = latest
                        .map(|w| (w.status.wire(), w.first_execution_run_id))
                        .unwrap_or_default();
                    let link = Some(started_link(ns, workflow_id, &run_id));
                    return Ok(wf::StartWorkflowExecutionResponse {
                        run_id,
                        first_execution_run_id,
                        started,
                        status,
                        link,
                        ..Default::default()
                    });
                }
                StartDecision::AlreadyStarted {
                    message,
                    start_request_id,
                    run_id,
                    first_execution_run_id,
                } => {
                    return Err(HistoryError::WorkflowAlreadyStarted {
                        message,
                        start_request_id,
                        run_id,
                        first_execution_run_id,
                    });
                }
                StartDecision::TerminateAndCreate { run_id } => {
                    let terminate = WorkflowCommand::Terminate {
                        reason: TERMINATED_BY_START.into(),
                        details: None,
                        identity: options.identity.clone(),
                    };
                    self.workflow_transition(
                        ns,
                        RunRef::Run {
                            id: workflow_id,
                            run_id: &run_id,
                        },
                        None,
                        |_| Ok(terminate.clone()),
                    )
                    .await?;
                    continue;
                }
                StartDecision::Create => {}
            }
            let run_id = uuid::Uuid::now_v7().to_string();
            let run = NewRun {
                namespace: ns.into(),
                workflow_id: workflow_id.into(),
                run_id,
                ..Default::default()
            };
            let t = Workflow::start(run, options.clone(), self.now());
            match self
                .commit_workflow(None, latest_run.as_deref(), t, None)
                .await
            {
                Ok(a) => {
                    let w = a.workflow;
                    return Ok(wf::StartWorkflowExecutionResponse {
                        link: Some(started_link(ns, workflow_id, &w.run_id)),
                        run_id: w.run_id,
                        first_execution_run_id: w.first_execution_run_id,
                        started: true,
                        status: w.status.wire(),
                        ..Default::default()
                    });
                }
                Err(HistoryError::Store(StoreError::Conflict | StoreError::AlreadyExists)) => {
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) async fn signal_with_start(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::SignalWithStartWorkflowExecutionRequest,
    ) -> Result<wf::SignalWithStartWorkflowExecutionResponse, HistoryError> {
        if req.signal_name.is_empty() {
            return Err(HistoryError::InvalidArgument(
                "SignalName is not set on request.".into(),
            ));
        }
        // A running run takes the signal; otherwise a new run starts and then gets it.
        let mut start = req.start_request();
        start.workflow_id_conflict_policy = wf::WorkflowIdConflictPolicy::UseExisting;
        let started = self.start_workflow_run(ns, workflow_id, start).await?;
        let signal = WorkflowCommand::Signal {
            name: req.signal_name.clone(),
            input: req.signal_input.clone(),
            identity: req.identity.clone(),
            request_id: String::new(),
            header: req.header.clone(),
        };
        self.workflow_transition(
            ns,
            RunRef::Run {
                id: workflow_id,
                run_id: &started.run_id,
            },
            None,
            |_| Ok(signal.clone()),
        )
        .await?;
        Ok(wf::SignalWithStartWorkflowExecutionResponse {
            link: Some(started_link(ns, workflow_id, &started.run_id)),
            run_id: started.run_id,
            started: started.started,
        })
    }

    pub(crate) async fn describe_workflow_run(
        &self,
        ns: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<wf::DescribeWorkflowExecutionResponse, HistoryError> {
        self.ensure_namespace(ns).await?;
        check_run_id(run_id, "Invalid RunId.")?;
        let (_, w) = self
            .load_workflow(ns, &run_ref(workflow_id, run_id))
            .await?;
        Ok(w.describe(self.now()))
    }

    pub(crate) async fn workflow_history(
        &self,
        ns: &str,
        workflow_id: &str,
        q: wf::GetWorkflowExecutionHistoryQuery,
        wait: StdDuration,
    ) -> Result<wf::GetWorkflowExecutionHistoryResponse, HistoryError> {
        self.ensure_namespace(ns).await?;
        check_run_id(&q.run_id, "Invalid RunId.")?;
        let (_, w) = self
            .load_workflow(ns, &run_ref(workflow_id, &q.run_id))
            .await?;
        let run_id = w.run_id.clone();
        let invalid_token = || HistoryError::InvalidArgument("Invalid NextPageToken.".into());
        if q.history_event_filter_type == HistoryEventFilterType::CloseEvent {
            let (w, closed) = self
                .wait_workflow(ns, workflow_id, &run_id, wait, |w| !w.is_running())
                .await?;
            if !closed {
                return Ok(wf::GetWorkflowExecutionHistoryResponse {
                    history: Some(Default::default()),
                    ..Default::default()
                });
            }
            let events = self.events(&run_id, w.close_event_id, 1).await?;
            return Ok(wf::GetWorkflowExecutionHistoryResponse {
                history: Some(wf::History { events }),
                ..Default::default()
            });
        }
        let from: i64 = if q.next_page_token.is_empty() {
            1
        } else {
            let raw = STANDARD
                .decode(&q.next_page_token)
                .map_err(|_| invalid_token())?;
            String::from_utf8(raw)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(invalid_token)?
        };
        let page = if q.maximum_page_size <= 0 {
            MAX_HISTORY_PAGE
        } else {
            i64::from(q.maximum_page_size).min(MAX_HISTORY_PAGE)
        };
        let w = if q.wait_new_event && !q.next_page_token.is_empty() {
            // Long poll: until an event past the token exists or the run closes.
            self.wait_workflow(ns, workflow_id, &run_id, wait, |w| {
                w.history_length() >= from || !w.is_running()
            })
            .await?
            .0
        } else {
            w
        };
        let mut events = self.events(&run_id, from, page).await?;
        let next = from + events.len() as i64;
        let more = next <= w.history_length();
        let token = |n: i64| STANDARD.encode(n.to_string());
        let next_page_token = if more || (q.wait_new_event && w.is_running()) {
            token(next)
        } else {
            String::new()
        };
        if !more && !q.wait_new_event {
            events.extend(w.transient_events(false));
        }
        Ok(wf::GetWorkflowExecutionHistoryResponse {
            history: Some(wf::History { events }),
            next_page_token,
            archived: false,
        })
    }

    pub(crate) async fn list_workflow_runs(
        &self,
        ns: &str,
        q: wf::ListWorkflowExecutionsQuery,
    ) -> Result<wf::ListWorkflowExecutionsResponse, HistoryError> {
        self.ensure_namespace(ns).await?;
        let parsed = visibility::parse_in(&q.query, Scope::Workflows)
            .map_err(|e| HistoryError::InvalidArgument(e.to_string()))?;
        if parsed.group_by.is_some() {
            return Err(HistoryError::InvalidArgument(
                "invalid query: operation is not supported: 'group by' clause".into(),
            ));
        }
        let page_size = if q.page_size <= 0 {
            MAX_PAGE_SIZE
        } else {
            q.page_size.min(MAX_PAGE_SIZE)
        };
        let cursor = crate::activities::decode_cursor(&q.next_page_token)?;
        let (records, next) = self
            .store
            .list_workflows(
                ns,
                parsed.filter.as_ref(),
                page_size as u64,
                cursor.as_ref(),
            )
            .await?;
        let executions = records
            .iter()
            .map(|r| {
                Ok(serde_json::from_str::<Workflow>(&r.state)?
                    .describe(self.now())
                    .workflow_execution_info
                    .unwrap_or_default())
            })
            .collect::<Result<Vec<_>, HistoryError>>()?;
        let next_page_token = next
            .map(|c: PageCursor| crate::activities::encode_cursor(&c))
            .unwrap_or_default();
        Ok(wf::ListWorkflowExecutionsResponse {
            executions,
            next_page_token,
        })
    }

    pub(crate) async fn count_workflow_runs(
        &self,
        ns: &str,
        q: &str,
    ) -> Result<CountActivityExecutionsResponse, HistoryError> {
        self.ensure_namespace(ns).await?;
        let parsed = visibility::parse_in(q, Scope::Workflows)
            .map_err(|e| HistoryError::InvalidArgument(e.to_string()))?;
        let filter = parsed.filter.as_ref();
        if parsed.group_by == Some(Attr::ExecutionStatus) {
            let groups = self.store.count_workflows_by_status(ns, filter).await?;
            return Ok(CountActivityExecutionsResponse {
                count: groups.iter().map(|(_, n)| n).sum(),
                groups: groups
                    .into_iter()
                    .map(|(status, count)| CountGroup {
                        group_values: vec![Payload::Json(status.into())],
                        count,
                    })
                    .collect(),
            });
        }
        Ok(CountActivityExecutionsResponse {
            count: self.store.count_workflows(ns, filter).await?,
            groups: vec![],
        })
    }

    /// Applies a client command to the run `execution` names (the latest when it names none).
    pub(crate) async fn workflow_client_command(
        &self,
        ns: &str,
        workflow_id: &str,
        execution: Option<&waymark_api::WorkflowExecution>,
        command: WorkflowCommand,
    ) -> Result<Applied, HistoryError> {
        self.ensure_namespace(ns).await?;
        let run_id = execution.map(|e| e.run_id.as_str()).unwrap_or_default();
        check_run_id(run_id, "RunId is not valid UUID.")?;
        self.workflow_transition(ns, run_ref(workflow_id, run_id), None, |_| {
            Ok(command.clone())
        })
        .await
    }

    pub(crate) fn signal_link(ns: &str, w: &Workflow, request_id: &str) -> serde_json::Value {
        let mut event_ref = json!({"eventType": EventType::WorkflowExecutionSignaled.as_str()});
        if !request_id.is_empty() {
            event_ref["requestId"] = request_id.into();
        }
        json!({"workflowEvent": {"namespace": ns, "workflowId": w.workflow_id, "runId": w.run_id, "requestIdRef": event_ref}})
    }

    // --- Worker operations ---------------------------------------------------------------

    pub(crate) async fn workflow_task_started(
        &self,
        task: &ActivityTask,
        poller: &PollerInfo,
    ) -> Result<Option<wf::PollWorkflowTaskQueueResponse>, HistoryError> {
        if let Some(query) = &task.query {
            return self.query_task_started(task, query).await;
        }
        let command = WorkflowCommand::RecordTaskStarted {
            scheduled_event_id: task.scheduled_event_id,
            attempt: task.attempt,
            identity: poller.identity.clone(),
            request_id: poller.request_id.clone(),
        };
        let applied = match self
            .workflow_transition(
                &task.namespace,
                RunRef::ByRun {
                    run_id: &task.run_id,
                },
                None,
                |_| Ok(command.clone()),
            )
            .await
        {
            Ok(a) => a,
            // The run is closed (a history limit may just have closed it): no task.
            Err(
                HistoryError::Workflow(_)
                | HistoryError::WorkflowNotFound(_)
                | HistoryError::HistoryLimitExceeded(_),
            ) => return Ok(None),
            Err(e) => return Err(e),
        };
        let w = applied.workflow;
        let Some(task_ref) = w.started_task_ref() else {
            return Ok(None);
        };
        let token = TaskToken {
            namespace: w.namespace.clone(),
            run_id: w.run_id.clone(),
            attempt: task_ref.attempt,
            workflow_id: w.workflow_id.clone(),
            scheduled_event_id: task_ref.scheduled_event_id,
            started_event_id: task_ref.started_event_id,
            ..Default::default()
        };
        let history = self.history_from(&w, w.poll_history_start()).await?;
        Ok(w.poll_response(self.signer.sign(&token), history))
    }

    /// The stored events of run `w` from event `first` on, from the kept copy when this history
    /// keeps one.
    pub(crate) async fn history_from(
        &self,
        w: &Workflow,
        first: i64,
    ) -> Result<Vec<HistoryEvent>, HistoryError> {
        Ok(match self.kept_events(&w.namespace, &w.run_id) {
            Some(log) => log
                .events
                .iter()
                .skip(usize::try_from(first - 1).unwrap_or_default())
                .map(|e| serde_json::from_str(e))
                .collect::<Result<_, _>>()?,
            None => self.events(&w.run_id, first, i64::MAX).await?,
        })
    }

    /// The whole history of run `run_id` as last committed, if this history keeps it.
    fn kept_events(&self, ns: &str, run_id: &str) -> Option<Arc<EventLog>> {
        let logs = self.workflow_events.get()?;
        logs.find(ns, &RunRef::ByRun { run_id })
    }

    /// After committing `record` (over version `previous`, none for a new run) with `events`:
    /// extends the run's kept history, if it kept the whole history up to `previous`.
    fn keep_events(&self, record: &WorkflowRecord, previous: Option<i64>, events: Vec<NewEvent>) {
        let Some(logs) = self.workflow_events.get() else {
            return;
        };
        // Taken out of the cache, the log is usually not shared (a poll reading it meanwhile
        // holds it briefly), so it grows in place instead of being copied per transition.
        let kept = match previous {
            None => Some(Vec::new()),
            Some(v) => logs
                .take(&record.run_id)
                .filter(|log| log.version == v)
                .map(|log| {
                    Arc::try_unwrap(log).map_or_else(|log| log.events.clone(), |log| log.events)
                }),
        };
        match kept {
            Some(mut history) if history.len() + events.len() <= EVENTS_KEPT => {
                history.extend(events.into_iter().map(|(_, json)| json));
                logs.committed(Arc::new(EventLog {
                    namespace: record.namespace.clone(),
                    workflow_id: record.workflow_id.clone(),
                    run_id: record.run_id.clone(),
                    version: record.version,
                    events: history,
                }));
            }
            _ => logs.forget(&record.run_id),
        }
    }

    /// Decodes a workflow task token of `ns`.
    fn workflow_task_token(&self, ns: &str, encoded: &str) -> Result<TaskToken, HistoryError> {
        if encoded.is_empty() {
            return Err(HistoryError::InvalidArgument(
                "Task token not set on request.".into(),
            ));
        }
        let t = self
            .signer
            .verify(encoded)
            .map_err(|_| HistoryError::BadTaskToken)?;
        if !t.is_workflow_task() {
            return Err(HistoryError::BadTaskToken);
        }
        if t.namespace != ns {
            return Err(WorkflowError::WorkflowTaskNotFound.into());
        }
        Ok(t)
    }

    pub(crate) async fn workflow_task_completed(
        &self,
        ns: &str,
        req: wf::RespondWorkflowTaskCompletedRequest,
    ) -> Result<(), HistoryError> {
        self.ensure_namespace(ns).await?;
        let t = self.workflow_task_token(ns, &req.task_token)?;
        let task = WorkflowTaskRef {
            scheduled_event_id: t.scheduled_event_id,
            attempt: t.attempt,
            started_event_id: t.started_event_id,
        };
        let command = WorkflowCommand::CompleteTask(TaskCompletion {
            task,
            commands: req.commands,
            identity: req.identity,
            force_create_new_task: req.force_create_new_workflow_task,
            sticky: req.sticky_attributes.and_then(sticky_queue),
            new_run_id: uuid::Uuid::now_v7().to_string(),
            sdk_metadata: req.sdk_metadata,
            metering_metadata: req.metering_metadata,
        });
        let run = RunRef::Run {
            id: &t.workflow_id,
            run_id: &t.run_id,
        };
        let applied = self
            .workflow_transition(ns, run, None, |_| Ok(command.clone()))
            .await
            .map_err(task_not_found)?;
        match applied.rejected {
            Some(message) => Err(HistoryError::InvalidArgument(message)),
            None => Ok(()),
        }
    }

    pub(crate) async fn workflow_task_failed(
        &self,
        ns: &str,
        req: wf::RespondWorkflowTaskFailedRequest,
    ) -> Result<(), HistoryError> {
        self.ensure_namespace(ns).await?;
        let t = self.workflow_task_token(ns, &req.task_token)?;
        let task = WorkflowTaskRef {
            scheduled_event_id: t.scheduled_event_id,
            attempt: t.attempt,
            started_event_id: t.started_event_id,
        };
        let command = WorkflowCommand::FailTask {
            task,
            cause: req.cause,
            failure: req.failure,
            identity: req.identity,
        };
        let run = RunRef::Run {
            id: &t.workflow_id,
            run_id: &t.run_id,
        };
        let applied = self
            .workflow_transition(ns, run, None, |_| Ok(command.clone()))
            .await
            .map_err(task_not_found)?;
        match applied.rejected {
            Some(message) => Err(HistoryError::InvalidArgument(message)),
            None => Ok(()),
        }
    }

    /// A workflow activity's attempt handed to a poller.
    pub(crate) async fn workflow_activity_started(
        &self,
        task: &ActivityTask,
        poller: &PollerInfo,
    ) -> Result<Option<waymark_api::PollActivityTaskQueueResponse>, HistoryError> {
        let command = WorkflowCommand::RecordActivityStarted {
            scheduled_event_id: task.scheduled_event_id,
            attempt: task.attempt,
            identity: poller.identity.clone(),
            request_id: poller.request_id.clone(),
        };
        let applied = match self
            .workflow_transition(
                &task.namespace,
                RunRef::ByRun {
                    run_id: &task.run_id,
                },
                None,
                |_| Ok(command.clone()),
            )
            .await
        {
            Ok(a) => a,
            // The run is closed (a history limit may just have closed it): no task.
            Err(
                HistoryError::Workflow(_)
                | HistoryError::WorkflowNotFound(_)
                | HistoryError::HistoryLimitExceeded(_),
            ) => return Ok(None),
            Err(e) => return Err(e),
        };
        let w = applied.workflow;
        let Some(activity) = w.activities.get(&task.scheduled_event_id) else {
            return Ok(None);
        };
        let token = TaskToken {
            namespace: w.namespace.clone(),
            activity_id: activity.activity_id.clone(),
            run_id: w.run_id.clone(),
            attempt: activity.attempt,
            stamp: activity.stamp,
            workflow_id: w.workflow_id.clone(),
            scheduled_event_id: task.scheduled_event_id,
            ..Default::default()
        };
        Ok(w.activity_task(task.scheduled_event_id, self.signer.sign(&token)))
    }

    /// An operator's pause, unpause, reset or update of a workflow's pending activity.
    pub(crate) async fn operate_workflow_activity(
        &self,
        ns: &str,
        workflow_id: &str,
        run_id: &str,
        activity_id: &str,
        operation: ActivityOperation,
    ) -> Result<Applied, HistoryError> {
        self.ensure_namespace(ns).await?;
        check_run_id(run_id, "RunId is not valid UUID.")?;
        let command = WorkflowCommand::Operate {
            activity_id: activity_id.into(),
            operation,
        };
        self.workflow_transition(ns, run_ref(workflow_id, run_id), None, |_| {
            Ok(command.clone())
        })
        .await
    }

    /// A worker's call about a workflow's activity, named by token claims or by id.
    pub(crate) async fn workflow_activity_call(
        &self,
        ns: &str,
        target: &ActivityRef,
        token: Option<&TaskToken>,
        make: impl Fn(ActivityTarget) -> WorkflowCommand,
    ) -> Result<Applied, HistoryError> {
        let (workflow_id, run_id, activity) = match (token, target) {
            (Some(t), _) => (
                t.workflow_id.as_str(),
                t.run_id.as_str(),
                ActivityTarget::Token {
                    scheduled_event_id: t.scheduled_event_id,
                    attempt: t.attempt,
                    stamp: t.stamp,
                },
            ),
            (
                None,
                ActivityRef::WorkflowActivity {
                    workflow_id,
                    activity_id,
                    run_id,
                },
            ) => {
                check_run_id(run_id, "RunId is not valid UUID.")?;
                (
                    workflow_id.as_str(),
                    run_id.as_str(),
                    ActivityTarget::Id(activity_id.clone()),
                )
            }
            (None, _) => return Err(HistoryError::BadTaskToken),
        };
        self.workflow_transition(ns, run_ref(workflow_id, run_id), None, |_| {
            Ok(make(activity.clone()))
        })
        .await
    }

    pub(crate) async fn fire_workflow_timer(
        &self,
        timer: &waymark_clients::DueTimer,
    ) -> Result<(), HistoryError> {
        let Some(kind) = TimerKind::decode(&timer.kind, timer.attempt) else {
            tracing::warn!(kind = timer.kind, "dropping a timer of unknown kind");
            return Ok(self.store.delete_timer(timer.id).await?);
        };
        let run = RunRef::ByRun {
            run_id: &timer.run_id,
        };
        match self
            .workflow_transition(&timer.namespace, run, Some(timer.id), |_| {
                Ok(WorkflowCommand::TimerFired(kind.clone()))
            })
            .await
        {
            Err(HistoryError::WorkflowNotFound(_)) => Ok(self.store.delete_timer(timer.id).await?),
            other => other.map(drop),
        }
    }
}

/// A stale or foreign workflow task token answers Temporal's "Workflow task not found.", but a
/// fail for a closed run keeps "workflow execution already completed" (W3).
fn task_not_found(e: HistoryError) -> HistoryError {
    match e {
        HistoryError::WorkflowNotFound(_) | HistoryError::WorkflowRunNotFound { .. } => {
            WorkflowError::WorkflowTaskNotFound.into()
        }
        other => other,
    }
}

/// The client commands of a running workflow (cancel, terminate, signal).
impl History {
    pub(crate) async fn cancel_workflow_run(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::RequestCancelWorkflowExecutionRequest,
    ) -> ApiResult<()> {
        let command = WorkflowCommand::RequestCancel {
            reason: req.reason,
            identity: req.identity,
            request_id: req.request_id,
        };
        self.workflow_client_command(ns, workflow_id, req.workflow_execution.as_ref(), command)
            .await?;
        Ok(())
    }

    pub(crate) async fn terminate_workflow_run(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::TerminateWorkflowExecutionRequest,
    ) -> ApiResult<()> {
        let command = WorkflowCommand::Terminate {
            reason: req.reason,
            details: req.details,
            identity: req.identity,
        };
        self.workflow_client_command(ns, workflow_id, req.workflow_execution.as_ref(), command)
            .await?;
        Ok(())
    }

    pub(crate) async fn signal_workflow_run(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::SignalWorkflowExecutionRequest,
    ) -> ApiResult<wf::SignalWorkflowExecutionResponse> {
        if req.signal_name.is_empty() {
            return Err(
                HistoryError::InvalidArgument("SignalName is not set on request.".into()).into(),
            );
        }
        let command = WorkflowCommand::Signal {
            name: req.signal_name,
            input: req.input,
            identity: req.identity,
            request_id: req.request_id.clone(),
            header: req.header,
        };
        let applied = self
            .workflow_client_command(ns, workflow_id, req.workflow_execution.as_ref(), command)
            .await?;
        Ok(wf::SignalWorkflowExecutionResponse {
            link: Some(History::signal_link(ns, &applied.workflow, &req.request_id)),
        })
    }
}
