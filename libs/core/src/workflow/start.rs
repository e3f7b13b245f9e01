//! Starting a run (W2, W15): validation of the request, request-id dedupe and the id reuse and
//! conflict policies, and the first events.

use std::collections::{BTreeMap, BTreeSet};

use waymark_api::{
    Duration, Header, Memo, Payloads, Priority, RetryPolicy, SearchAttributes, Timestamp,
    WorkflowType,
};

use super::WorkflowTransition;
use super::state::{Status, TimerKind, Workflow};
use super::wire::*;
use crate::options::{self, MAX_ID_LENGTH};
use crate::retry;

/// Workflow tasks never get more than this to complete (Temporal's cap).
const MAX_TASK_TIMEOUT: Duration = Duration::from_secs(120);
const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(10);

/// The validated options of a new run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartOptions {
    pub workflow_type: String,
    pub task_queue: String,
    pub input: Option<Payloads>,
    pub header: Option<Header>,
    pub memo: Option<Memo>,
    pub search_attributes: Option<SearchAttributes>,
    /// Stored and echoed; runs are not retried.
    pub retry_policy: Option<RetryPolicy>,
    pub priority: Option<Priority>,
    /// As requested (zero = none); the effective run timeout is derived at start.
    pub execution_timeout: Duration,
    pub run_timeout: Duration,
    pub task_timeout: Duration,
    pub identity: String,
    pub request_id: String,
}

/// The identity of a new run, chosen by the caller (ids are random, so not the core's to pick).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewRun {
    pub namespace: String,
    pub workflow_id: String,
    pub run_id: String,
    /// The first run of a continue-as-new chain; empty for a first run (= `run_id`).
    pub first_execution_run_id: String,
    /// The run this one continues; empty for a first run.
    pub continued_execution_run_id: String,
    /// Inherited by a continued run; a first run derives it from its execution timeout.
    pub execution_expiration: Option<Timestamp>,
}

/// Frontend validation of StartWorkflowExecution, with Temporal's messages.
pub fn validate_start(
    workflow_id: &str,
    req: &StartWorkflowExecutionRequest,
    max_payload: usize,
) -> Result<StartOptions, String> {
    if workflow_id.is_empty() {
        return Err("WorkflowId is not set on request.".into());
    }
    if workflow_id.len() > MAX_ID_LENGTH {
        return Err(format!(
            "WorkflowId length exceeds limit. Length={} Limit={MAX_ID_LENGTH}",
            workflow_id.len()
        ));
    }
    let workflow_type = req
        .workflow_type
        .as_ref()
        .map(|t| t.name.as_str())
        .unwrap_or_default();
    if workflow_type.is_empty() {
        return Err("WorkflowType is not set on request.".into());
    }
    if workflow_type.len() > MAX_ID_LENGTH {
        return Err(format!(
            "WorkflowType length exceeds limit. Length={} Limit={MAX_ID_LENGTH}",
            workflow_type.len()
        ));
    }
    let task_queue =
        options::validate_task_queue(req.task_queue.as_ref().map(|q| q.name.as_str()))?;
    if req.request_id.len() > MAX_ID_LENGTH {
        return Err(format!(
            "RequestId length exceeds limit. Length={} Limit={MAX_ID_LENGTH}",
            req.request_id.len()
        ));
    }
    let negative = |d: Option<Duration>| d.is_some_and(|d| d.is_negative());
    if negative(req.workflow_execution_timeout) {
        return Err("An invalid WorkflowExecutionTimeoutSeconds is set on request.".into());
    }
    if negative(req.workflow_run_timeout) {
        return Err("An invalid WorkflowRunTimeoutSeconds is set on request.".into());
    }
    if negative(req.workflow_task_timeout) {
        return Err("An invalid WorkflowTaskTimeoutSeconds is set on request.".into());
    }
    if !req.cron_schedule.is_empty() {
        return Err("cronSchedule is not supported".into());
    }
    if req.workflow_start_delay.is_some_and(|d| !d.is_zero()) {
        return Err("workflowStartDelay is not supported".into());
    }
    let retry_policy = match &req.retry_policy {
        Some(p) => {
            let p = retry::with_defaults(Some(p));
            retry::validate(&p)?;
            Some(p)
        }
        None => None,
    };
    if let Some(p) = &req.priority {
        options::validate_priority(p)?;
    }
    options::check_blob("input", req.input.as_ref(), max_payload)?;
    Ok(StartOptions {
        workflow_type: workflow_type.to_owned(),
        task_queue,
        input: req.input.clone(),
        header: req.header.clone(),
        memo: req.memo.clone(),
        search_attributes: req.search_attributes.clone(),
        retry_policy,
        priority: req.priority.clone(),
        execution_timeout: req.workflow_execution_timeout.unwrap_or_default(),
        run_timeout: req.workflow_run_timeout.unwrap_or_default(),
        task_timeout: req.workflow_task_timeout.unwrap_or_default(),
        identity: req.identity.clone(),
        request_id: req.request_id.clone(),
    })
}

/// What a start request does, given the latest run of its workflow id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartDecision {
    Create,
    /// Answer with an existing run; `started` as the answer's flag.
    Existing {
        run_id: String,
        started: bool,
    },
    /// Terminate the running run, then create a new one.
    TerminateAndCreate {
        run_id: String,
    },
    /// Refuse: 409 WorkflowExecutionAlreadyStarted with this message.
    AlreadyStarted {
        message: String,
        start_request_id: String,
        run_id: String,
        first_execution_run_id: String,
    },
}

/// Request-id dedupe comes first (also against a closed run), then the policies (W15).
pub fn decide_start(
    latest: Option<&Workflow>,
    request_id: &str,
    reuse: WorkflowIdReusePolicy,
    conflict: WorkflowIdConflictPolicy,
) -> StartDecision {
    let Some(run) = latest else {
        return StartDecision::Create;
    };
    if !request_id.is_empty() && run.request_id == request_id {
        return StartDecision::Existing {
            run_id: run.run_id.clone(),
            started: true,
        };
    }
    let (wid, rid) = (&run.workflow_id, &run.run_id);
    let reject = |message: String| StartDecision::AlreadyStarted {
        message,
        start_request_id: run.request_id.clone(),
        run_id: rid.clone(),
        first_execution_run_id: run.first_execution_run_id.clone(),
    };
    if run.is_running() {
        return match (conflict, reuse) {
            (WorkflowIdConflictPolicy::UseExisting, _) => StartDecision::Existing {
                run_id: rid.clone(),
                started: false,
            },
            (WorkflowIdConflictPolicy::TerminateExisting, _)
            | (_, WorkflowIdReusePolicy::TerminateIfRunning) => StartDecision::TerminateAndCreate {
                run_id: rid.clone(),
            },
            _ => reject(format!(
                "Workflow execution is already running. WorkflowId: {wid}, RunId: {rid}."
            )),
        };
    }
    let failed = matches!(
        run.status,
        Status::Failed | Status::Canceled | Status::Terminated | Status::TimedOut
    );
    match reuse {
        WorkflowIdReusePolicy::RejectDuplicate => reject(format!(
            "Workflow execution already finished. WorkflowId: {wid}, RunId: {rid}. Workflow Id reuse policy: reject duplicate workflow Id."
        )),
        WorkflowIdReusePolicy::AllowDuplicateFailedOnly if !failed => reject(format!(
            "Workflow execution already finished successfully. WorkflowId: {wid}, RunId: {rid}. Workflow Id reuse policy: allow duplicate workflow Id if last run failed."
        )),
        _ => StartDecision::Create,
    }
}

impl Workflow {
    /// A new run: WORKFLOW_EXECUTION_STARTED and the first workflow task (W2).
    pub fn start(run: NewRun, o: StartOptions, now: Timestamp) -> WorkflowTransition {
        // Temporal's overrides: the run timeout is the smaller of run and execution timeouts,
        // the task timeout defaults to 10 s and is capped at 120 s and at the run timeout.
        let run_timeout = match (o.run_timeout.is_zero(), o.execution_timeout.is_zero()) {
            (_, true) => o.run_timeout,
            (true, false) => o.execution_timeout,
            (false, false) => o.run_timeout.min(o.execution_timeout),
        };
        let task_timeout = if o.task_timeout.is_zero() {
            DEFAULT_TASK_TIMEOUT
        } else {
            o.task_timeout
        };
        let mut task_timeout = task_timeout.min(MAX_TASK_TIMEOUT);
        if !run_timeout.is_zero() {
            task_timeout = task_timeout.min(run_timeout);
        }
        let execution_expiration = run
            .execution_expiration
            .or_else(|| (!o.execution_timeout.is_zero()).then(|| now.add(o.execution_timeout)));
        let first_execution_run_id = if run.first_execution_run_id.is_empty() {
            run.run_id.clone()
        } else {
            run.first_execution_run_id
        };
        let continued = !run.continued_execution_run_id.is_empty();
        let attributes = WorkflowExecutionStartedEventAttributes {
            workflow_type: Some(WorkflowType {
                name: o.workflow_type.clone(),
            }),
            task_queue: Some(normal_queue(&o.task_queue)),
            input: o.input.clone(),
            workflow_execution_timeout: (!o.execution_timeout.is_zero())
                .then_some(o.execution_timeout),
            workflow_run_timeout: (!run_timeout.is_zero()).then_some(run_timeout),
            workflow_task_timeout: Some(task_timeout),
            continued_execution_run_id: run.continued_execution_run_id.clone(),
            initiator: if continued {
                ContinueAsNewInitiator::Workflow
            } else {
                ContinueAsNewInitiator::Unspecified
            },
            original_execution_run_id: run.run_id.clone(),
            identity: o.identity.clone(),
            first_execution_run_id: first_execution_run_id.clone(),
            retry_policy: o.retry_policy.clone(),
            attempt: 1,
            workflow_execution_expiration_time: execution_expiration,
            first_workflow_task_backoff: Some(Duration::ZERO),
            memo: o.memo.clone(),
            search_attributes: o.search_attributes.clone(),
            header: o.header.clone(),
            workflow_id: run.workflow_id.clone(),
            priority: o.priority.clone(),
            ..Default::default()
        };
        let workflow = Workflow {
            namespace: run.namespace,
            workflow_id: run.workflow_id,
            run_id: run.run_id,
            first_execution_run_id,
            continued_execution_run_id: run.continued_execution_run_id,
            workflow_type: o.workflow_type,
            task_queue: o.task_queue,
            request_id: o.request_id,
            identity: o.identity,
            input: o.input,
            header: o.header,
            memo: o.memo,
            search_attributes: o.search_attributes,
            retry_policy: o.retry_policy,
            priority: o.priority,
            run_timeout,
            execution_timeout: o.execution_timeout,
            task_timeout,
            start_time: now,
            execution_expiration,
            status: Status::Running,
            close_time: None,
            close_event_id: 0,
            next_event_id: 1,
            last_task_id: 0,
            history_size_bytes: 0,
            task: None,
            sticky: None,
            last_completed_started_event_id: 0,
            buffered: Vec::new(),
            activities: BTreeMap::new(),
            timers: BTreeMap::new(),
            cancel_requested: false,
            signal_request_ids: BTreeSet::new(),
            state_transition_count: 1,
        };
        let mut t = WorkflowTransition::new(workflow);
        t.write(now, Attributes::WorkflowExecutionStarted(attributes));
        t.schedule_task(1, now);
        if let Some(deadline) = t.workflow.run_deadline() {
            t.timer(TimerKind::Run, deadline);
        }
        t
    }
}
