//! State machine tests: each plays the workflow worker, the activity worker and the timer
//! service by hand with a manual clock, and checks the history against WORKFLOWS.md's.

use serde_json::{Value, json};
use waymark_api::{Duration, Payloads, RecordActivityTaskHeartbeatResponse, Timestamp};

use super::wire::*;
use super::*;
use crate::limits::{HISTORY_COUNT_EXCEEDED, HISTORY_SIZE_EXCEEDED};

const T0: i64 = 1_800_000_000_000_000_000;
const WORKER: &str = "wf-worker";
const ACTIVITY_WORKER: &str = "act-worker";

fn secs(s: i64) -> Duration {
    Duration::from_secs(s)
}

fn payloads(v: Value) -> Option<Payloads> {
    Some(serde_json::from_value(v).unwrap())
}

fn merged(mut base: Value, extra: Value) -> Value {
    base.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    base
}

fn schedule(id: &str, extra: Value) -> Value {
    let attributes = json!({"activityId": id, "activityType": {"name": "SimpleActivity"}, "taskQueue": {"name": "Q"},
                            "input": ["x"], "startToCloseTimeout": "10s"});
    json!({"commandType": "COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK",
           "scheduleActivityTaskCommandAttributes": merged(attributes, extra)})
}

fn complete_workflow(result: Value) -> Value {
    json!({"commandType": "COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION",
           "completeWorkflowExecutionCommandAttributes": {"result": result}})
}

fn start_timer(id: &str, timeout: &str) -> Value {
    json!({"commandType": "COMMAND_TYPE_START_TIMER",
           "startTimerCommandAttributes": {"timerId": id, "startToFireTimeout": timeout}})
}

fn cancel_timer(id: &str) -> Value {
    json!({"commandType": "COMMAND_TYPE_CANCEL_TIMER", "cancelTimerCommandAttributes": {"timerId": id}})
}

fn cancel_activity(scheduled_event_id: i64) -> Value {
    json!({"commandType": "COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK",
           "requestCancelActivityTaskCommandAttributes": {"scheduledEventId": scheduled_event_id.to_string()}})
}

/// Short names of event types, as WORKFLOWS.md writes histories.
fn abbrev(t: EventType) -> &'static str {
    use EventType::*;
    match t {
        WorkflowExecutionStarted => "WES",
        WorkflowTaskScheduled => "WTS",
        WorkflowTaskStarted => "WTST",
        WorkflowTaskCompleted => "WTC",
        WorkflowTaskFailed => "WTF",
        WorkflowTaskTimedOut => "WTTO",
        ActivityTaskScheduled => "ATS",
        ActivityTaskStarted => "ATST",
        ActivityTaskCompleted => "ATC",
        ActivityTaskFailed => "ATF",
        ActivityTaskTimedOut => "ATTO",
        ActivityTaskCancelRequested => "ATCR",
        ActivityTaskCanceled => "ATCD",
        TimerStarted => "TS",
        TimerFired => "TF",
        TimerCanceled => "TC",
        WorkflowExecutionSignaled => "SIG",
        WorkflowExecutionCancelRequested => "WECR",
        WorkflowExecutionCompleted => "WEC",
        WorkflowExecutionFailed => "WEF",
        WorkflowExecutionCanceled => "WECD",
        WorkflowExecutionTerminated => "WET",
        WorkflowExecutionTimedOut => "WETO",
        WorkflowExecutionContinuedAsNew => "WECAN",
        MarkerRecorded => "MR",
        Unspecified => "?",
    }
}

/// A manual clock, the run under test, its stored history and what transitions asked for.
struct Harness {
    now: Timestamp,
    workflow: Option<Workflow>,
    history: Vec<HistoryEvent>,
    timers: Vec<Timer>,
    activity_dispatches: Vec<ActivityDispatch>,
    task_dispatch: Option<WorkflowTaskDispatch>,
    rejected: Option<String>,
    history_limit_exceeded: Option<&'static str>,
    heartbeat: RecordActivityTaskHeartbeatResponse,
    continued: Option<ContinuedAsNew>,
    polls: u32,
    limits: HistoryLimits,
}

impl Harness {
    /// Starts run `run1` of `wf1` (type W, queue Q) from a start request plus `extra` fields.
    fn start(extra: Value) -> Harness {
        let request = json!({"workflowType": {"name": "W"}, "taskQueue": {"name": "Q"}, "input": ["in"],
                             "identity": "starter", "requestId": "rq1"});
        let request: StartWorkflowExecutionRequest =
            serde_json::from_value(merged(request, extra)).unwrap();
        let options =
            validate_start("wf1", &request, crate::limits::DEFAULT_MAX_PAYLOAD_BYTES).unwrap();
        let run = NewRun {
            namespace: "default".into(),
            workflow_id: "wf1".into(),
            run_id: "run1".into(),
            ..Default::default()
        };
        let now = Timestamp::from_nanos(T0);
        let mut h = Harness {
            now,
            workflow: None,
            history: vec![],
            timers: vec![],
            activity_dispatches: vec![],
            task_dispatch: None,
            rejected: None,
            history_limit_exceeded: None,
            heartbeat: Default::default(),
            continued: None,
            polls: 0,
            limits: HistoryLimits::default(),
        };
        h.take(Workflow::start(run, options, now));
        h
    }

    fn take(&mut self, t: WorkflowTransition) {
        for e in &t.new_events {
            assert_eq!(
                e.event_id,
                self.history.len() as i64 + 1,
                "event ids are consecutive"
            );
            self.history.push(e.clone());
        }
        self.timers.extend(t.timers);
        self.activity_dispatches.extend(t.activity_dispatches);
        if t.workflow_task_dispatch.is_some() {
            self.task_dispatch = t.workflow_task_dispatch;
        }
        self.rejected = t.rejected;
        self.history_limit_exceeded = t.history_limit_exceeded;
        self.heartbeat = t.heartbeat.clone();
        self.continued = t.continued_as_new.or(self.continued.take());
        // What the store persists reads back as the same state.
        let stored = serde_json::to_string(&t.workflow).unwrap();
        assert_eq!(
            serde_json::from_str::<Workflow>(&stored).unwrap(),
            t.workflow
        );
        self.workflow = Some(t.workflow);
    }

    fn wf(&self) -> &Workflow {
        self.workflow.as_ref().unwrap()
    }

    fn advance(&mut self, d: Duration) {
        self.now = self.now.add(d);
    }

    /// Applies a command; true if it changed something.
    fn try_apply(&mut self, c: WorkflowCommand) -> Result<bool, WorkflowError> {
        let t = self.wf().clone().apply_within(c, self.now, &self.limits)?;
        let changed = !t.noop;
        self.take(t);
        Ok(changed)
    }

    fn apply(&mut self, c: WorkflowCommand) {
        self.try_apply(c).unwrap();
    }

    fn types(&self) -> Vec<&'static str> {
        self.history.iter().map(|e| abbrev(e.event_type)).collect()
    }

    fn event(&self, id: i64) -> &HistoryEvent {
        &self.history[id as usize - 1]
    }

    /// The attributes object of event `id`, as JSON.
    fn attrs(&self, id: i64) -> Value {
        let v = serde_json::to_value(self.event(id)).unwrap();
        v.as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.ends_with("EventAttributes"))
            .unwrap()
            .1
            .clone()
    }

    fn describe(&self) -> Value {
        serde_json::to_value(self.wf().describe(self.now)).unwrap()
    }

    /// A worker polls the dispatched workflow task.
    fn poll(&mut self) -> Value {
        let d = self
            .task_dispatch
            .take()
            .expect("a dispatched workflow task");
        self.polls += 1;
        let request_id = format!("poll-{}", self.polls);
        let (scheduled_event_id, attempt) = (d.scheduled_event_id, d.attempt);
        self.apply(WorkflowCommand::RecordTaskStarted {
            scheduled_event_id,
            attempt,
            identity: WORKER.into(),
            request_id,
        });
        serde_json::to_value(
            self.wf()
                .poll_response("tok".into(), self.history.clone())
                .unwrap(),
        )
        .unwrap()
    }

    fn task(&self) -> WorkflowTaskRef {
        self.wf()
            .started_task_ref()
            .expect("a started workflow task")
    }

    fn try_complete_with(
        &mut self,
        task: WorkflowTaskRef,
        commands: Value,
    ) -> Result<bool, WorkflowError> {
        let commands = serde_json::from_value(commands).unwrap();
        let identity = WORKER.into();
        let new_run_id = "run2".into();
        self.try_apply(WorkflowCommand::CompleteTask(TaskCompletion {
            task,
            commands,
            identity,
            force_create_new_task: false,
            sticky: None,
            new_run_id,
            sdk_metadata: None,
            metering_metadata: None,
        }))
    }

    fn complete(&mut self, commands: Value) {
        self.try_complete_with(self.task(), commands).unwrap();
        assert_eq!(self.rejected, None);
    }

    /// Completes the task with an answer that fails it; returns the 400 message.
    fn complete_rejected(&mut self, commands: Value) -> String {
        self.try_complete_with(self.task(), commands).unwrap();
        self.rejected.clone().expect("the answer is rejected")
    }

    fn signal(&mut self, request_id: &str) {
        let (name, identity, request_id) = ("sig".into(), "sender".into(), request_id.into());
        self.apply(WorkflowCommand::Signal {
            name,
            input: payloads(json!(["s"])),
            identity,
            request_id,
            header: None,
        });
    }

    /// The activity worker polls activity `sid`'s dispatched attempt.
    fn start_activity(&mut self, sid: i64) {
        let i = self
            .activity_dispatches
            .iter()
            .position(|d| d.scheduled_event_id == sid)
            .expect("a dispatched attempt");
        let d = self.activity_dispatches.remove(i);
        let request_id = format!("apoll-{sid}-{}", d.attempt);
        let identity = ACTIVITY_WORKER.into();
        self.apply(WorkflowCommand::RecordActivityStarted {
            scheduled_event_id: sid,
            attempt: d.attempt,
            identity,
            request_id,
        });
    }

    fn token(&self, sid: i64) -> ActivityTarget {
        ActivityTarget::Token {
            scheduled_event_id: sid,
            attempt: self.wf().activities[&sid].attempt,
            stamp: self.wf().activities[&sid].stamp,
        }
    }

    fn complete_activity(&mut self, sid: i64) {
        let target = self.token(sid);
        let identity = ACTIVITY_WORKER.into();
        self.apply(WorkflowCommand::CompleteActivity {
            target,
            result: payloads(json!(["done"])),
            identity,
        });
    }

    fn fail_activity(&mut self, sid: i64, message: &str) {
        let failure = serde_json::from_value(
            json!({"message": message, "applicationFailureInfo": {"type": "X"}}),
        )
        .unwrap();
        let target = self.token(sid);
        let identity = ACTIVITY_WORKER.into();
        self.apply(WorkflowCommand::FailActivity {
            target,
            failure: Some(failure),
            last_heartbeat_details: None,
            identity,
        });
    }

    /// Fires the latest pending timer that `pick` selects, at its due time, like the timer
    /// service; true if it changed something.
    fn fire(&mut self, pick: impl Fn(&TimerKind) -> bool) -> bool {
        let i = self
            .timers
            .iter()
            .rposition(|t| pick(&t.kind))
            .expect("such a timer");
        let timer = self.timers.remove(i);
        self.now = self.now.max(timer.due);
        self.try_apply(WorkflowCommand::TimerFired(timer.kind))
            .unwrap()
    }

    fn fire_activity(&mut self, sid: i64, which: ActivityTimer) -> bool {
        self.fire(|k| matches!(k, TimerKind::Activity { scheduled_event_id, timer, .. } if *scheduled_event_id == sid && *timer == which))
    }

    fn fire_task_timeout(&mut self) -> bool {
        self.fire(|k| matches!(k, TimerKind::WorkflowTask { .. }))
    }
}

#[test]
fn a_start_writes_the_started_event_and_schedules_the_first_task() {
    let h = Harness::start(json!({"memo": {"fields": {"m": "v"}}}));
    assert_eq!(h.types(), ["WES", "WTS"]);
    assert_eq!(
        h.attrs(1),
        json!({"workflowType": {"name": "W"}, "taskQueue": {"name": "Q", "kind": "TASK_QUEUE_KIND_NORMAL"},
               "input": ["in"], "workflowTaskTimeout": "10s", "originalExecutionRunId": "run1", "identity": "starter",
               "firstExecutionRunId": "run1", "attempt": 1, "firstWorkflowTaskBackoff": "0s",
               "memo": {"fields": {"m": "v"}}, "workflowId": "wf1"})
    );
    assert_eq!(
        h.attrs(2),
        json!({"taskQueue": {"name": "Q", "kind": "TASK_QUEUE_KIND_NORMAL"}, "startToCloseTimeout": "10s", "attempt": 1})
    );
    let d = h.task_dispatch.as_ref().unwrap();
    assert_eq!(
        (d.scheduled_event_id, d.attempt, d.task_queue.as_str()),
        (2, 1, "Q")
    );
    assert!(h.timers.is_empty(), "no run timeout");
}

#[test]
fn a_workflow_runs_one_activity_to_completion() {
    let mut h = Harness::start(json!({}));
    let answer = h.poll();
    assert_eq!(answer["startedEventId"], "3");
    assert_eq!(answer["attempt"], 1);
    assert_eq!(
        answer.get("previousStartedEventId"),
        None,
        "no task completed yet"
    );
    assert_eq!(answer["history"]["events"].as_array().unwrap().len(), 3);
    assert_eq!(answer["scheduledTime"], json!(h.event(2).event_time));
    assert_eq!(answer["startedTime"], json!(h.event(3).event_time));
    assert_eq!(
        answer["workflowExecution"],
        json!({"workflowId": "wf1", "runId": "run1"})
    );
    assert_eq!(
        answer["workflowExecutionTaskQueue"],
        json!({"name": "Q", "kind": "TASK_QUEUE_KIND_NORMAL"})
    );
    assert_eq!(h.attrs(3)["scheduledEventId"], "2");
    assert_eq!(h.attrs(3)["identity"], WORKER);

    h.complete(json!([schedule("a1", json!({}))]));
    assert_eq!(
        h.attrs(4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "identity": WORKER})
    );
    assert_eq!(
        h.attrs(5),
        json!({"activityId": "a1", "activityType": {"name": "SimpleActivity"},
               "taskQueue": {"name": "Q", "kind": "TASK_QUEUE_KIND_NORMAL"}, "input": ["x"],
               "scheduleToCloseTimeout": "0s", "scheduleToStartTimeout": "0s", "startToCloseTimeout": "10s",
               "heartbeatTimeout": "0s", "workflowTaskCompletedEventId": "4",
               "retryPolicy": {"initialInterval": "1s", "backoffCoefficient": 2, "maximumInterval": "100s"}})
    );
    assert!(
        h.task_dispatch.is_none(),
        "scheduling an activity wakes no task"
    );
    h.advance(secs(1));
    h.start_activity(5);
    assert_eq!(h.types().len(), 5, "no event when an attempt starts");
    assert_eq!(
        h.describe()["pendingActivities"][0]["state"],
        "PENDING_ACTIVITY_STATE_STARTED"
    );

    let task = serde_json::to_value(h.wf().activity_task(5, "atok".into()).unwrap()).unwrap();
    assert_eq!(task["workflowType"], json!({"name": "W"}));
    assert_eq!(
        task["workflowExecution"],
        json!({"workflowId": "wf1", "runId": "run1"})
    );
    assert_eq!(task["scheduledTime"], json!(h.event(5).event_time));
    assert_eq!(
        (task["attempt"].clone(), task["startToCloseTimeout"].clone()),
        (json!(1), json!("10s"))
    );
    assert_eq!(task.get("activityRunId"), None);

    let started_at = h.now;
    h.advance(secs(2));
    h.complete_activity(5);
    assert_eq!(
        h.types(),
        ["WES", "WTS", "WTST", "WTC", "ATS", "ATST", "ATC", "WTS"]
    );
    assert_eq!(
        h.attrs(6),
        json!({"scheduledEventId": "5", "identity": ACTIVITY_WORKER, "requestId": "apoll-5-1", "attempt": 1})
    );
    assert_eq!(
        h.event(6).event_time,
        started_at,
        "Started carries the real start time"
    );
    assert_eq!(
        h.attrs(7),
        json!({"result": ["done"], "scheduledEventId": "5", "startedEventId": "6", "identity": ACTIVITY_WORKER})
    );
    assert!(h.describe().get("pendingActivities").is_none());

    let answer = h.poll();
    assert_eq!(
        (
            answer["startedEventId"].clone(),
            answer["previousStartedEventId"].clone()
        ),
        (json!("9"), json!("3"))
    );
    h.complete(json!([complete_workflow(json!(["ok"]))]));
    assert_eq!(h.types()[8..], ["WTST", "WTC", "WEC"]);
    assert_eq!(
        h.attrs(11),
        json!({"result": ["ok"], "workflowTaskCompletedEventId": "10"})
    );
    let info = &h.describe()["workflowExecutionInfo"];
    assert_eq!(info["status"], "WORKFLOW_EXECUTION_STATUS_COMPLETED");
    assert_eq!(info["historyLength"], "11");
    assert_eq!(info["closeTime"], json!(h.event(11).event_time));
}

#[test]
fn three_activities_scheduled_in_one_task_complete_out_of_order() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([
        schedule("a1", json!({})),
        schedule("a2", json!({})),
        schedule("a3", json!({}))
    ]));
    for sid in [5, 6, 7] {
        h.start_activity(sid);
    }
    h.complete_activity(7);
    // A second completion while the task is scheduled goes before its Started event.
    h.complete_activity(5);
    h.poll();
    // A completion while the task is started is held back, but leaves describe at once.
    h.complete_activity(6);
    assert_eq!(h.describe()["workflowExecutionInfo"]["historyLength"], "13");
    assert!(h.describe().get("pendingActivities").is_none());
    h.complete(json!([]));
    assert_eq!(
        h.types(),
        [
            "WES", "WTS", "WTST", "WTC", "ATS", "ATS", "ATS", "ATST", "ATC", "WTS", "ATST", "ATC",
            "WTST", "WTC", "ATST", "ATC", "WTS"
        ]
    );
    assert_eq!(
        h.attrs(16)["startedEventId"],
        "15",
        "the held-back Started event's id is filled in"
    );
    assert_eq!(h.attrs(16)["scheduledEventId"], "6");
    h.poll();
    h.complete(json!([complete_workflow(json!(null))]));
    assert_eq!(
        h.attrs(20),
        json!({"workflowTaskCompletedEventId": "19"}),
        "without a result the key is absent"
    );
}

#[test]
fn an_activity_failing_twice_then_succeeding_writes_one_started_event_with_attempt_three() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule(
        "a1",
        json!({"retryPolicy": {"initialInterval": "1s"}})
    )]));
    h.start_activity(5);
    h.fail_activity(5, "first");
    assert_eq!(h.history.len(), 5, "a retried attempt writes nothing");
    assert!(h.task_dispatch.is_none(), "and wakes no workflow task");
    let pending = &h.describe()["pendingActivities"][0];
    let retry_at = json!(h.now.add(secs(1)));
    assert_eq!(pending["state"], "PENDING_ACTIVITY_STATE_SCHEDULED");
    assert_eq!(pending["attempt"], 2);
    assert_eq!(pending["lastFailure"]["message"], "first");
    assert_eq!(pending["currentRetryInterval"], "1s");
    assert_eq!(
        (
            pending["nextAttemptScheduleTime"].clone(),
            pending["scheduledTime"].clone()
        ),
        (retry_at.clone(), retry_at)
    );
    assert_eq!(pending.get("lastStartedTime"), None);
    let early = WorkflowCommand::RecordActivityStarted {
        scheduled_event_id: 5,
        attempt: 2,
        identity: "w".into(),
        request_id: "early".into(),
    };
    assert_eq!(
        h.try_apply(early),
        Err(WorkflowError::StaleTask),
        "not before the backoff ends"
    );
    h.advance(secs(1));
    let due = &h.describe()["pendingActivities"][0];
    assert_eq!(
        (
            due.get("currentRetryInterval"),
            due.get("nextAttemptScheduleTime")
        ),
        (None, None),
        "shown only while the backoff runs, as Temporal does"
    );

    assert!(h.fire_activity(5, ActivityTimer::Retry));
    h.start_activity(5);
    h.fail_activity(5, "second");
    assert_eq!(
        h.describe()["pendingActivities"][0]["currentRetryInterval"],
        "2s"
    );
    h.fire_activity(5, ActivityTimer::Retry);
    h.start_activity(5);
    h.complete_activity(5);
    assert_eq!(h.types()[4..], ["ATS", "ATST", "ATC", "WTS"]);
    assert_eq!(
        h.attrs(6),
        json!({"scheduledEventId": "5", "identity": ACTIVITY_WORKER, "requestId": "apoll-5-3", "attempt": 3,
               "lastFailure": {"message": "second", "applicationFailureInfo": {"type": "X"}}})
    );
}

#[test]
fn an_activity_timing_out_fails_the_workflow() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule(
        "a1",
        json!({"startToCloseTimeout": "1s", "retryPolicy": {"maximumAttempts": 1}})
    )]));
    h.start_activity(5);
    assert!(h.fire_activity(5, ActivityTimer::StartToClose));
    assert_eq!(h.types()[4..], ["ATS", "ATST", "ATTO", "WTS"]);
    assert_eq!(
        h.attrs(7),
        json!({"failure": {"message": "activity StartToClose timeout", "source": "Server",
                           "timeoutFailureInfo": {"timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE"}},
               "scheduledEventId": "5", "startedEventId": "6", "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"})
    );
    assert_eq!(h.event(7).event_time, h.event(6).event_time.add(secs(1)));
    h.poll();
    let failure = json!({"message": "boom", "applicationFailureInfo": {"type": "X"}});
    h.complete(
        json!([{"commandType": "COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION",
                       "failWorkflowExecutionCommandAttributes": {"failure": failure}}]),
    );
    assert_eq!(h.types()[8..], ["WTST", "WTC", "WEF"]);
    assert_eq!(
        h.attrs(11),
        json!({"failure": failure, "retryState": "RETRY_STATE_RETRY_POLICY_NOT_SET", "workflowTaskCompletedEventId": "10"})
    );
    assert_eq!(h.wf().status, Status::Failed);
}

#[test]
fn cancelling_a_scheduled_activity_cancels_it_at_once() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule("a1", json!({}))]));
    h.signal("");
    h.poll();
    h.complete(json!([cancel_activity(5)]));
    assert_eq!(
        h.types()[4..],
        ["ATS", "SIG", "WTS", "WTST", "WTC", "ATCR", "ATCD", "WTS"]
    );
    assert_eq!(
        h.attrs(10),
        json!({"scheduledEventId": "5", "workflowTaskCompletedEventId": "9"})
    );
    assert_eq!(
        h.attrs(11),
        json!({"details": ["ACTIVITY_ID_NOT_STARTED"], "latestCancelRequestedEventId": "10", "scheduledEventId": "5",
               "identity": WORKER})
    );
    assert!(h.describe().get("pendingActivities").is_none());
}

#[test]
fn a_queued_task_of_a_canceled_activity_is_never_delivered() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule("a1", json!({}))]));
    h.signal("");
    h.poll();
    h.complete(json!([cancel_activity(5)]));
    let stale = WorkflowCommand::RecordActivityStarted {
        scheduled_event_id: 5,
        attempt: 1,
        identity: "w".into(),
        request_id: "p".into(),
    };
    assert_eq!(h.try_apply(stale), Err(WorkflowError::StaleTask));
}

#[test]
fn cancelling_a_started_activity_only_requests_it_until_the_worker_resolves_it() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule("a1", json!({}))]));
    h.start_activity(5);
    let resolve = |h: &mut Harness| {
        let target = h.token(5);
        h.try_apply(WorkflowCommand::ResolveActivityCanceled {
            target,
            details: payloads(json!(["bye"])),
            identity: ACTIVITY_WORKER.into(),
        })
    };
    assert_eq!(
        resolve(&mut h).unwrap_err().to_string(),
        "unable to mark activity as canceled without activity being request canceled first"
    );
    h.signal("");
    h.poll();
    h.complete(json!([cancel_activity(5)]));
    assert_eq!(h.types()[8..], ["WTC", "ATCR"]);
    assert!(
        h.task_dispatch.is_none(),
        "no workflow task until the activity resolves"
    );
    assert_eq!(
        h.describe()["pendingActivities"][0]["state"],
        "PENDING_ACTIVITY_STATE_CANCEL_REQUESTED"
    );
    let target = h.token(5);
    h.apply(WorkflowCommand::ActivityHeartbeat {
        target,
        details: None,
    });
    assert!(
        h.heartbeat.cancel_requested,
        "the heartbeat answers cancelRequested"
    );

    resolve(&mut h).unwrap();
    assert_eq!(h.types()[8..], ["WTC", "ATCR", "ATST", "ATCD", "WTS"]);
    assert_eq!(
        h.attrs(12),
        json!({"details": ["bye"], "latestCancelRequestedEventId": "10", "scheduledEventId": "5",
               "startedEventId": "11", "identity": ACTIVITY_WORKER})
    );
}

#[test]
fn a_failure_after_a_cancel_request_is_not_retried() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule("a1", json!({}))]));
    h.start_activity(5);
    h.signal("");
    h.poll();
    h.complete(json!([cancel_activity(5)]));
    h.fail_activity(5, "late");
    assert_eq!(h.types()[9..], ["ATCR", "ATST", "ATF", "WTS"]);
    assert_eq!(h.attrs(12)["retryState"], "RETRY_STATE_CANCEL_REQUESTED");
}

#[test]
fn a_not_started_activity_canceled_by_the_closing_answer_gets_no_canceled_event() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule("a1", json!({}))]));
    h.signal("");
    h.poll();
    h.complete(json!([
        cancel_activity(5),
        complete_workflow(json!(["ok"]))
    ]));
    assert_eq!(h.types()[8..], ["WTC", "ATCR", "WEC"]);
    assert!(h.task_dispatch.is_none());
}

#[test]
fn a_workflow_cancel_request_is_written_once_and_the_worker_cancels_the_run() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([]));
    let cancel = |h: &mut Harness, request_id: &str| {
        let (reason, identity, request_id) = ("why".into(), "canceller".into(), request_id.into());
        h.try_apply(WorkflowCommand::RequestCancel {
            reason,
            identity,
            request_id,
        })
        .unwrap()
    };
    assert!(cancel(&mut h, "c1"));
    assert!(
        !cancel(&mut h, "c2"),
        "only the first request writes an event"
    );
    assert_eq!(h.types()[3..], ["WTC", "WECR", "WTS"]);
    assert_eq!(h.attrs(5), json!({"cause": "why", "identity": "canceller"}));
    h.poll();
    h.complete(
        json!([{"commandType": "COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION",
                       "cancelWorkflowExecutionCommandAttributes": {"details": ["d"]}}]),
    );
    assert_eq!(h.types()[6..], ["WTST", "WTC", "WECD"]);
    assert_eq!(
        h.attrs(9),
        json!({"workflowTaskCompletedEventId": "8", "details": ["d"]})
    );
    assert_eq!(
        h.describe()["workflowExecutionInfo"]["status"],
        "WORKFLOW_EXECUTION_STATUS_CANCELED"
    );
    assert!(
        !cancel(&mut h, "c3"),
        "a closed run answers {{}} and writes nothing"
    );
}

/// Found by the simulation: a pending retry's backoff fields vanished from a closed run.
#[test]
fn a_closed_run_describes_the_same_ever_after() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule(
        "a1",
        json!({"retryPolicy": {"initialInterval": "10s"}})
    )]));
    h.start_activity(5);
    h.fail_activity(5, "first");
    h.try_apply(WorkflowCommand::Terminate {
        reason: "stop".into(),
        details: None,
        identity: "admin".into(),
    })
    .unwrap();
    let closed = h.describe();
    assert_eq!(
        closed["pendingActivities"][0]["currentRetryInterval"],
        "10s"
    );
    h.advance(secs(60));
    assert_eq!(h.describe(), closed);
}

#[test]
fn terminate_with_a_pending_activity_writes_only_the_terminated_event() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule("a1", json!({}))]));
    h.start_activity(5);
    let terminate = |h: &mut Harness| {
        let (reason, identity) = ("stop".into(), "admin".into());
        h.try_apply(WorkflowCommand::Terminate {
            reason,
            details: None,
            identity,
        })
    };
    terminate(&mut h).unwrap();
    assert_eq!(h.types(), ["WES", "WTS", "WTST", "WTC", "ATS", "WET"]);
    assert_eq!(h.attrs(6), json!({"reason": "stop", "identity": "admin"}));
    assert_eq!(h.wf().status, Status::Terminated);
    let target = ActivityTarget::Token {
        scheduled_event_id: 5,
        attempt: 1,
        stamp: 0,
    };
    let complete = WorkflowCommand::CompleteActivity {
        target: target.clone(),
        result: None,
        identity: "w".into(),
    };
    assert_eq!(h.try_apply(complete), Err(WorkflowError::AlreadyCompleted));
    assert_eq!(
        h.try_apply(WorkflowCommand::ActivityHeartbeat {
            target,
            details: None
        }),
        Err(WorkflowError::AlreadyCompleted)
    );
    let signal = WorkflowCommand::Signal {
        name: "s".into(),
        input: None,
        identity: String::new(),
        request_id: String::new(),
        header: None,
    };
    assert_eq!(h.try_apply(signal), Err(WorkflowError::AlreadyCompleted));
    assert_eq!(terminate(&mut h), Err(WorkflowError::AlreadyCompleted));
    assert_eq!(
        WorkflowError::AlreadyCompleted.to_string(),
        "workflow execution already completed"
    );
}

#[test]
fn terminate_during_a_started_task_fails_it_first_and_writes_held_back_events() {
    let mut h = Harness::start(json!({}));
    h.poll();
    let task = h.task();
    h.signal("");
    h.apply(WorkflowCommand::Terminate {
        reason: "stop".into(),
        details: payloads(json!(["d"])),
        identity: "admin".into(),
    });
    assert_eq!(h.types(), ["WES", "WTS", "WTST", "WTF", "SIG", "WET"]);
    assert_eq!(
        h.attrs(4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "cause": "WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND",
               "identity": "history-service"})
    );
    assert_eq!(
        h.try_complete_with(task, json!([])),
        Err(WorkflowError::WorkflowTaskNotFound)
    );
    let fail = WorkflowCommand::FailTask {
        task,
        cause: WorkflowTaskFailedCause::Unspecified,
        failure: None,
        identity: WORKER.into(),
    };
    assert_eq!(h.try_apply(fail), Err(WorkflowError::AlreadyCompleted));
}

#[test]
fn a_signal_before_the_first_poll_lands_between_scheduled_and_started() {
    let mut h = Harness::start(json!({}));
    h.signal("r1");
    h.signal("r1");
    let answer = h.poll();
    assert_eq!(h.types(), ["WES", "WTS", "SIG", "WTST"]);
    assert_eq!(answer["startedEventId"], "4");
    assert_eq!(
        h.attrs(3),
        json!({"signalName": "sig", "input": ["s"], "identity": "sender", "requestId": "r1"})
    );
    assert_eq!(h.attrs(4)["scheduledEventId"], "2");
}

#[test]
fn a_signal_during_a_started_task_is_held_back_until_after_the_command_events() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.signal("");
    assert_eq!(h.history.len(), 3, "held back: not in history");
    assert_eq!(h.describe()["workflowExecutionInfo"]["historyLength"], "3");
    h.complete(json!([start_timer("t1", "10s")]));
    assert_eq!(h.types(), ["WES", "WTS", "WTST", "WTC", "TS", "SIG", "WTS"]);
    assert_eq!(h.attrs(7)["attempt"], 1);
    assert_eq!(
        h.attrs(6),
        json!({"signalName": "sig", "input": ["s"], "identity": "sender"})
    );
}

#[test]
fn closing_while_events_are_held_back_is_an_unhandled_command() {
    let mut h = Harness::start(json!({}));
    h.poll();
    let task = h.task();
    h.signal("");
    let message = h.complete_rejected(json!([
        schedule("a1", json!({})),
        complete_workflow(json!(["ok"]))
    ]));
    assert_eq!(message, "UnhandledCommand");
    assert_eq!(h.types(), ["WES", "WTS", "WTST", "WTF", "SIG", "WTS"]);
    assert_eq!(
        h.attrs(4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "cause": "WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND",
               "failure": {"message": "UnhandledCommand", "serverFailureInfo": {}}, "identity": WORKER})
    );
    assert_eq!(
        h.attrs(6)["attempt"],
        1,
        "this failure does not count as a retry"
    );
    assert!(
        h.activity_dispatches.is_empty() && h.wf().activities.is_empty(),
        "none of the commands took effect"
    );
    assert_eq!(
        h.try_complete_with(task, json!([])),
        Err(WorkflowError::WorkflowTaskNotFound)
    );
    h.poll();
    h.complete(json!([complete_workflow(json!(["ok"]))]));
    assert_eq!(h.wf().status, Status::Completed);
}

#[test]
fn a_timer_fires_and_another_is_canceled() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([start_timer("t1", "1s"), start_timer("t2", "5s")]));
    assert_eq!(
        h.attrs(5),
        json!({"timerId": "t1", "startToFireTimeout": "1s", "workflowTaskCompletedEventId": "4"})
    );
    let started = h.now;
    assert!(h.fire(|k| matches!(k, TimerKind::User { timer_id, .. } if timer_id == "t1")));
    assert_eq!(h.types()[3..], ["WTC", "TS", "TS", "TF", "WTS"]);
    assert_eq!(h.attrs(7), json!({"timerId": "t1", "startedEventId": "5"}));
    assert_eq!(h.event(7).event_time, started.add(secs(1)));
    h.poll();
    h.complete(json!([cancel_timer("t2")]));
    assert_eq!(h.types()[8..], ["WTST", "WTC", "TC"]);
    assert_eq!(
        h.attrs(11),
        json!({"timerId": "t2", "startedEventId": "6", "workflowTaskCompletedEventId": "10", "identity": WORKER})
    );
    assert!(
        !h.fire(|k| matches!(k, TimerKind::User { timer_id, .. } if timer_id == "t2")),
        "a canceled timer is stale"
    );
}

#[test]
fn a_timer_without_a_timeout_fires_at_once() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([{"commandType": "COMMAND_TYPE_START_TIMER", "startTimerCommandAttributes": {"timerId": "t0"}}]));
    assert_eq!(
        h.attrs(5),
        json!({"timerId": "t0", "workflowTaskCompletedEventId": "4"})
    );
    assert_eq!(h.timers.last().unwrap().due, h.now);
}

#[test]
fn canceling_a_timer_whose_fire_is_held_back_drops_the_fire() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([start_timer("t1", "1s")]));
    h.signal("");
    h.poll();
    assert!(h.fire(|k| matches!(k, TimerKind::User { .. })));
    h.complete(json!([cancel_timer("t1")]));
    assert_eq!(
        h.types()[3..],
        ["WTC", "TS", "SIG", "WTS", "WTST", "WTC", "TC"]
    );
    assert!(h.task_dispatch.is_none(), "nothing was left to see");
}

#[test]
fn a_workflow_task_timing_out_twice_then_completing_records_only_the_first_timeout() {
    let mut h = Harness::start(json!({"workflowTaskTimeout": "1s"}));
    h.poll();
    let first = h.task();
    assert!(h.fire_task_timeout());
    assert_eq!(h.types(), ["WES", "WTS", "WTST", "WTTO"]);
    assert_eq!(
        h.attrs(4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE"})
    );
    let d = h.task_dispatch.as_ref().unwrap();
    assert_eq!(
        (d.scheduled_event_id, d.attempt),
        (5, 2),
        "attempt 2 at once, no backoff"
    );
    let described = h.describe();
    assert_eq!(described["workflowExecutionInfo"]["historyLength"], "4");
    assert_eq!(described["pendingWorkflowTask"]["attempt"], 2);
    assert_eq!(
        described["pendingWorkflowTask"]["state"],
        "PENDING_WORKFLOW_TASK_STATE_SCHEDULED"
    );
    assert_eq!(
        h.wf().transient_events(false).len(),
        1,
        "GET history shows the Scheduled one at once"
    );

    let answer = h.poll();
    assert_eq!(
        (answer["startedEventId"].clone(), answer["attempt"].clone()),
        (json!("6"), json!(2))
    );
    assert_eq!(answer.get("previousStartedEventId"), None);
    let events = answer["history"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 6);
    assert_eq!(
        events[4]["workflowTaskScheduledEventAttributes"]["attempt"],
        2
    );
    assert_eq!(
        events[5]["workflowTaskStartedEventAttributes"]["identity"],
        WORKER
    );
    let tail = serde_json::to_value(h.wf().transient_events(false)).unwrap();
    assert_eq!(
        tail[1]["workflowTaskStartedEventAttributes"].get("identity"),
        None,
        "GET shows no identity"
    );
    assert_eq!(
        h.try_complete_with(first, json!([])),
        Err(WorkflowError::WorkflowTaskNotFound)
    );

    assert!(h.fire_task_timeout());
    assert_eq!(
        h.history.len(),
        4,
        "a transient attempt's timeout writes nothing"
    );
    let answer = h.poll();
    assert_eq!(
        (answer["startedEventId"].clone(), answer["attempt"].clone()),
        (json!("6"), json!(3))
    );
    h.complete(json!([complete_workflow(json!(["ok"]))]));
    assert_eq!(
        h.types(),
        ["WES", "WTS", "WTST", "WTTO", "WTS", "WTST", "WTC", "WEC"]
    );
    assert_eq!(h.attrs(5)["attempt"], 3);
    assert_eq!(h.attrs(6)["identity"], WORKER);
    assert_eq!(
        h.attrs(7),
        json!({"scheduledEventId": "5", "startedEventId": "6", "identity": WORKER})
    );
}

#[test]
fn a_failed_workflow_task_is_recorded_verbatim_and_retried_transiently() {
    let mut h = Harness::start(json!({}));
    h.poll();
    let fail = |h: &mut Harness, cause, failure: Option<Value>| {
        let failure = failure.map(|f| serde_json::from_value(f).unwrap());
        let task = h.task();
        h.try_apply(WorkflowCommand::FailTask {
            task,
            cause,
            failure,
            identity: WORKER.into(),
        })
    };
    let failure = json!({"message": "panic", "applicationFailureInfo": {"type": "PanicError"}});
    fail(
        &mut h,
        WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure,
        Some(failure.clone()),
    )
    .unwrap();
    assert_eq!(
        h.attrs(4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "cause": "WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE",
               "failure": failure, "identity": WORKER})
    );
    h.poll();
    let second = h.task();
    fail(&mut h, WorkflowTaskFailedCause::Unspecified, None).unwrap();
    assert_eq!(h.history.len(), 4, "only the first failure is recorded");
    assert_eq!(h.task_dispatch.as_ref().unwrap().attempt, 3);
    let stale = WorkflowCommand::FailTask {
        task: second,
        cause: WorkflowTaskFailedCause::Unspecified,
        failure: None,
        identity: WORKER.into(),
    };
    assert_eq!(h.try_apply(stale), Err(WorkflowError::WorkflowTaskNotFound));
}

#[test]
fn a_failure_without_cause_or_failure_omits_both_keys() {
    let mut h = Harness::start(json!({}));
    h.poll();
    let task = h.task();
    h.apply(WorkflowCommand::FailTask {
        task,
        cause: WorkflowTaskFailedCause::Unspecified,
        failure: None,
        identity: WORKER.into(),
    });
    assert_eq!(
        h.attrs(4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "identity": WORKER})
    );
}

#[test]
fn a_signal_while_a_transient_task_waits_makes_it_a_new_first_attempt() {
    let mut h = Harness::start(json!({"workflowTaskTimeout": "1s"}));
    h.poll();
    h.fire_task_timeout();
    h.signal("");
    assert!(
        h.wf().transient_events(false).is_empty(),
        "its reserved ids were taken"
    );
    let answer = h.poll();
    assert_eq!(
        h.types(),
        ["WES", "WTS", "WTST", "WTTO", "SIG", "WTS", "WTST"]
    );
    assert_eq!(h.attrs(6)["attempt"], 1);
    assert_eq!(
        (answer["startedEventId"].clone(), answer["attempt"].clone()),
        (json!("7"), json!(1))
    );
}

#[test]
fn complete_by_id_force_completes_a_scheduled_activity() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([
        schedule("a1", json!({})),
        schedule("a2", json!({}))
    ]));
    let by_id = |id: &str| ActivityTarget::Id(id.into());
    let heartbeat = WorkflowCommand::ActivityHeartbeat {
        target: by_id("a1"),
        details: None,
    };
    assert_eq!(
        h.try_apply(heartbeat),
        Err(WorkflowError::ActivityTaskNotFound),
        "a1 never started"
    );
    let fail = WorkflowCommand::FailActivity {
        target: by_id("a1"),
        failure: None,
        last_heartbeat_details: None,
        identity: "cli".into(),
    };
    assert_eq!(h.try_apply(fail), Err(WorkflowError::ActivityTaskNotFound));
    let unknown = WorkflowCommand::CompleteActivity {
        target: by_id("zz"),
        result: None,
        identity: "cli".into(),
    };
    assert_eq!(
        h.try_apply(unknown).unwrap_err().to_string(),
        "cannot find pending activity with ActivityID zz, check workflow execution history for more details"
    );

    h.apply(WorkflowCommand::CompleteActivity {
        target: by_id("a1"),
        result: payloads(json!(["r"])),
        identity: "cli".into(),
    });
    assert_eq!(h.types()[4..], ["ATS", "ATS", "ATST", "ATC", "WTS"]);
    assert_eq!(
        h.attrs(7),
        json!({"scheduledEventId": "5", "identity": "cli", "attempt": 1})
    );
    assert_eq!(
        h.attrs(8),
        json!({"result": ["r"], "scheduledEventId": "5", "startedEventId": "7", "identity": "cli"})
    );
    let late = WorkflowCommand::CompleteActivity {
        target: ActivityTarget::Token {
            scheduled_event_id: 5,
            attempt: 1,
            stamp: 0,
        },
        result: None,
        identity: "w".into(),
    };
    assert_eq!(h.try_apply(late), Err(WorkflowError::ActivityTaskNotFound));

    h.start_activity(6);
    h.apply(WorkflowCommand::CompleteActivity {
        target: by_id("a2"),
        result: None,
        identity: "cli".into(),
    });
    assert_eq!(
        h.attrs(10)["identity"],
        ACTIVITY_WORKER,
        "Started names the poller"
    );
    assert_eq!(h.attrs(10)["requestId"], "apoll-6-1");
    assert_eq!(
        h.attrs(11)["identity"],
        "cli",
        "Completed names the completer"
    );
}

#[test]
fn heartbeats_by_id_store_details_that_reach_the_next_attempt() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule("a1", json!({}))]));
    h.start_activity(5);
    h.apply(WorkflowCommand::ActivityHeartbeat {
        target: ActivityTarget::Id("a1".into()),
        details: payloads(json!(["p1"])),
    });
    assert!(!h.heartbeat.cancel_requested);
    assert_eq!(
        h.describe()["pendingActivities"][0]["heartbeatDetails"],
        json!(["p1"])
    );
    h.fail_activity(5, "f");
    h.fire_activity(5, ActivityTimer::Retry);
    h.start_activity(5);
    let task = serde_json::to_value(h.wf().activity_task(5, "t".into()).unwrap()).unwrap();
    assert_eq!(
        (task["attempt"].clone(), task["heartbeatDetails"].clone()),
        (json!(2), json!(["p1"]))
    );
}

#[test]
fn bad_command_attributes_fail_the_task_and_apply_nothing() {
    let mut h = Harness::start(json!({}));
    h.poll();
    let message = h.complete_rejected(json!([
        start_timer("t1", "1s"),
        schedule("a1", json!({"startToCloseTimeout": null}))
    ]));
    let expected = "BadScheduleActivityAttributes: a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity. ActivityId=a1 ActivityType=SimpleActivity";
    assert_eq!(message, expected);
    assert_eq!(h.types(), ["WES", "WTS", "WTST", "WTF"]);
    assert_eq!(
        h.attrs(4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "cause": "WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
               "failure": {"message": expected, "serverFailureInfo": {}}, "identity": WORKER})
    );
    let d = h.task_dispatch.as_ref().unwrap();
    assert_eq!(
        (d.scheduled_event_id, d.attempt),
        (5, 2),
        "the next attempt is transient"
    );
    assert!(
        h.activity_dispatches.is_empty()
            && h.wf().timers.is_empty()
            && h.timers
                .iter()
                .all(|t| !matches!(t.kind, TimerKind::User { .. }))
    );
}

#[test]
fn each_bad_command_has_its_cause_and_message() {
    let attributes_missing = json!({"commandType": "COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK"});
    let cases = [
        (
            json!([attributes_missing]),
            "BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
            "BadScheduleActivityAttributes: ScheduleActivityTaskCommandAttributes is not set on ScheduleActivityTaskCommand.",
        ),
        (
            json!([schedule("a1", json!({"activityType": {"name": ""}}))]),
            "BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
            "BadScheduleActivityAttributes: activityType is not set",
        ),
        (
            json!([schedule("", json!({}))]),
            "BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
            "BadScheduleActivityAttributes: activityId is not set",
        ),
        (
            json!([schedule("a1", json!({"taskQueue": null}))]),
            "BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
            "BadScheduleActivityAttributes: taskQueue is not set",
        ),
        (
            json!([schedule("b1", json!({})), schedule("b1", json!({}))]),
            "SCHEDULE_ACTIVITY_DUPLICATE_ID",
            "ScheduleActivityDuplicateId: invalid history builder state for action: add-activitytask-scheduled-event, ActivityID: b1",
        ),
        (
            json!([cancel_timer("zz")]),
            "BAD_CANCEL_TIMER_ATTRIBUTES",
            "BadCancelTimerAttributes: invalid history builder state for action: add-timer-canceled-event, TimerID: zz",
        ),
        (
            json!([cancel_activity(99)]),
            "BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES",
            "BadRequestCancelActivityAttributes: invalid history builder state for action: add-activitytask-cancel-requested-event, ScheduledEventID: 99",
        ),
        (
            json!([start_timer("t", "1s"), start_timer("t", "2s")]),
            "START_TIMER_DUPLICATE_ID",
            "StartTimerDuplicateId: invalid history builder state for action: add-timer-started-event, TimerID: t",
        ),
        (
            json!([{"commandType": "COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION", "failWorkflowExecutionCommandAttributes": {}}]),
            "BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES",
            "BadFailWorkflowExecutionAttributes: FailWorkflowExecutionCommandAttributes.Failure is not set on command.",
        ),
    ];
    for (commands, cause, message) in cases {
        let mut h = Harness::start(json!({}));
        h.poll();
        assert_eq!(h.complete_rejected(commands), message);
        assert_eq!(
            h.attrs(4)["cause"],
            format!("WORKFLOW_TASK_FAILED_CAUSE_{cause}")
        );
        assert_eq!(h.types(), ["WES", "WTS", "WTST", "WTF"], "{message}");
        assert!(h.wf().is_running());
    }
}

#[test]
fn a_bad_request_leaves_the_task_running_and_its_token_valid() {
    let mut h = Harness::start(json!({}));
    h.poll();
    let task = h.task();
    assert_eq!(
        h.try_complete_with(task, json!([{"commandType": "COMMAND_TYPE_UNSPECIFIED"}])),
        Err(WorkflowError::InvalidArgument(
            "unknown command type: Unspecified".into()
        ))
    );
    assert_eq!(
        h.try_complete_with(task, json!([complete_workflow(json!(["ok"])), start_timer("t", "1s")])),
        Err(WorkflowError::InvalidArgument(
            "invalid command sequence: [CompleteWorkflowExecution, StartTimer], command CompleteWorkflowExecution must be the last command."
                .into()
        ))
    );
    assert_eq!(h.history.len(), 3);
    assert_eq!(
        h.describe()["pendingWorkflowTask"]["state"],
        "PENDING_WORKFLOW_TASK_STATE_STARTED"
    );
    h.complete(json!([complete_workflow(json!(["ok"]))]));
    assert_eq!(h.wf().status, Status::Completed);
}

#[test]
fn the_run_timeout_closes_the_run_timed_out() {
    let mut h = Harness::start(json!({"workflowRunTimeout": "60s"}));
    assert_eq!(h.attrs(1)["workflowRunTimeout"], "60s");
    h.poll();
    assert!(h.fire(|k| *k == TimerKind::Run));
    assert_eq!(h.types(), ["WES", "WTS", "WTST", "WTF", "WETO"]);
    assert_eq!(
        h.attrs(5),
        json!({"retryState": "RETRY_STATE_RETRY_POLICY_NOT_SET"})
    );
    assert_eq!(
        h.event(5).event_time,
        Timestamp::from_nanos(T0).add(secs(60))
    );
    assert_eq!(h.wf().status, Status::TimedOut);
}

#[test]
fn the_execution_timeout_bounds_the_run_and_times_it_out() {
    let mut h =
        Harness::start(json!({"workflowExecutionTimeout": "30s", "workflowRunTimeout": "60s"}));
    assert_eq!(
        (
            h.attrs(1)["workflowRunTimeout"].clone(),
            h.attrs(1)["workflowExecutionTimeout"].clone()
        ),
        (json!("30s"), json!("30s"))
    );
    assert!(h.fire(|k| *k == TimerKind::Run));
    assert_eq!(h.types(), ["WES", "WTS", "WETO"]);
    assert_eq!(h.attrs(3)["retryState"], "RETRY_STATE_TIMEOUT");
}

#[test]
fn activity_timeouts_are_filled_and_capped_by_the_run_timeout() {
    let mut h = Harness::start(json!({"workflowRunTimeout": "60s"}));
    h.poll();
    h.complete(json!([schedule("a1", json!({"heartbeatTimeout": "120s"}))]));
    let a = h.attrs(5);
    let timeouts = [
        "scheduleToCloseTimeout",
        "scheduleToStartTimeout",
        "startToCloseTimeout",
        "heartbeatTimeout",
    ]
    .map(|k| a[k].clone());
    assert_eq!(
        timeouts,
        [json!("60s"), json!("60s"), json!("10s"), json!("10s")]
    );
}

#[test]
fn schedule_to_start_wins_when_it_coincides_with_schedule_to_close() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule(
        "a1",
        json!({"startToCloseTimeout": null, "scheduleToCloseTimeout": "2s"})
    )]));
    assert!(h.fire_activity(5, ActivityTimer::ScheduleToClose));
    assert_eq!(h.types()[4..], ["ATS", "ATTO", "WTS"]);
    assert_eq!(
        h.attrs(6),
        json!({"failure": {"message": "activity ScheduleToStart timeout", "source": "Server",
                           "timeoutFailureInfo": {"timeoutType": "TIMEOUT_TYPE_SCHEDULE_TO_START"}},
               "scheduledEventId": "5", "retryState": "RETRY_STATE_TIMEOUT"})
    );
    assert!(
        !h.fire_activity(5, ActivityTimer::ScheduleToStart),
        "the other timer is stale"
    );
}

#[test]
fn a_timeout_whose_retry_would_pass_schedule_to_close_is_reported_as_schedule_to_close() {
    let mut h = Harness::start(json!({}));
    h.poll();
    let options = json!({"scheduleToCloseTimeout": "3s", "startToCloseTimeout": "1s", "retryPolicy": {"initialInterval": "5s"}});
    h.complete(json!([schedule("a1", options)]));
    h.start_activity(5);
    h.fire_activity(5, ActivityTimer::StartToClose);
    assert_eq!(h.types()[4..], ["ATS", "ATST", "ATTO", "WTS"]);
    let a = h.attrs(7);
    assert_eq!(
        a["failure"]["message"],
        "Not enough time to schedule next retry before activity ScheduleToClose timeout, giving up retrying"
    );
    assert_eq!(
        a["failure"]["timeoutFailureInfo"]["timeoutType"],
        "TIMEOUT_TYPE_SCHEDULE_TO_CLOSE"
    );
    assert_eq!(a["retryState"], "RETRY_STATE_TIMEOUT");
}

#[test]
fn the_heartbeat_timeout_runs_from_the_last_heartbeat() {
    let mut h = Harness::start(json!({}));
    h.poll();
    let options = json!({"heartbeatTimeout": "2s", "retryPolicy": {"maximumAttempts": 1}});
    h.complete(json!([schedule("a1", options)]));
    h.start_activity(5);
    h.advance(Duration::from_millis(1500));
    let target = h.token(5);
    h.apply(WorkflowCommand::ActivityHeartbeat {
        target,
        details: payloads(json!(["p1"])),
    });
    assert!(
        h.fire_activity(5, ActivityTimer::Heartbeat),
        "fired early: re-armed"
    );
    assert_eq!(h.history.len(), 5);
    h.fire_activity(5, ActivityTimer::Heartbeat);
    assert_eq!(h.types()[5..], ["ATST", "ATTO", "WTS"]);
    assert_eq!(
        h.attrs(7)["failure"],
        json!({"message": "activity Heartbeat timeout", "source": "Server",
               "timeoutFailureInfo": {"timeoutType": "TIMEOUT_TYPE_HEARTBEAT", "lastHeartbeatDetails": ["p1"]}})
    );
}

#[test]
fn cancel_requested_for_an_activity_whose_close_is_held_back_keeps_the_close() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule("a1", json!({}))]));
    h.start_activity(5);
    h.signal("");
    h.poll();
    h.complete_activity(5);
    h.complete(json!([cancel_activity(5)]));
    assert_eq!(h.types()[8..], ["WTC", "ATCR", "ATST", "ATC", "WTS"]);
}

#[test]
fn a_redelivered_workflow_task_is_started_once() {
    let mut h = Harness::start(json!({}));
    let d = h.task_dispatch.clone().unwrap();
    let start = |request_id: &str| WorkflowCommand::RecordTaskStarted {
        scheduled_event_id: d.scheduled_event_id,
        attempt: d.attempt,
        identity: WORKER.into(),
        request_id: request_id.into(),
    };
    assert!(h.try_apply(start("p1")).unwrap());
    assert!(
        !h.try_apply(start("p1")).unwrap(),
        "the same poll again: no change"
    );
    assert_eq!(h.try_apply(start("p2")), Err(WorkflowError::StaleTask));
    assert_eq!(h.types(), ["WES", "WTS", "WTST"]);
}

#[test]
fn continue_as_new_closes_the_run_and_describes_the_next() {
    let mut h = Harness::start(json!({"workflowRunTimeout": "60s"}));
    h.poll();
    h.complete(
        json!([{"commandType": "COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION",
                       "continueAsNewWorkflowExecutionCommandAttributes": {"input": ["next"]}}]),
    );
    assert_eq!(h.types()[3..], ["WTC", "WECAN"]);
    let a = h.attrs(5);
    assert_eq!(
        (
            a["newExecutionRunId"].clone(),
            a["workflowRunTimeout"].clone()
        ),
        (json!("run2"), json!("60s"))
    );
    assert_eq!(a["initiator"], "CONTINUE_AS_NEW_INITIATOR_WORKFLOW");
    assert_eq!(h.wf().status, Status::ContinuedAsNew);
    let next = h.continued.clone().expect("a next run");
    let t = Workflow::start(next.run, next.options, h.now);
    let started =
        serde_json::to_value(&t.new_events[0]).unwrap()["workflowExecutionStartedEventAttributes"]
            .clone();
    assert_eq!(started["continuedExecutionRunId"], "run1");
    assert_eq!(started["firstExecutionRunId"], "run1");
    assert_eq!(started["originalExecutionRunId"], "run2");
    assert_eq!(
        (started["input"].clone(), started["workflowType"].clone()),
        (json!(["next"]), json!({"name": "W"}))
    );
}

#[test]
fn start_decisions_follow_request_ids_and_policies() {
    use WorkflowIdConflictPolicy as C;
    use WorkflowIdReusePolicy as R;
    let mut h = Harness::start(json!({}));
    let running = h.wf().clone();
    assert_eq!(
        decide_start(None, "x", R::Unspecified, C::Unspecified),
        StartDecision::Create
    );
    assert_eq!(
        decide_start(Some(&running), "rq1", R::Unspecified, C::Unspecified),
        StartDecision::Existing {
            run_id: "run1".into(),
            started: true
        }
    );
    assert_eq!(
        decide_start(Some(&running), "rq2", R::Unspecified, C::UseExisting),
        StartDecision::Existing {
            run_id: "run1".into(),
            started: false
        }
    );
    let StartDecision::AlreadyStarted {
        message,
        start_request_id,
        ..
    } = decide_start(Some(&running), "rq2", R::Unspecified, C::Unspecified)
    else {
        panic!("a conflict")
    };
    assert_eq!(
        message,
        "Workflow execution is already running. WorkflowId: wf1, RunId: run1."
    );
    assert_eq!(start_request_id, "rq1");

    h.poll();
    h.complete(json!([complete_workflow(json!(null))]));
    let done = h.wf();
    assert_eq!(
        decide_start(Some(done), "rq2", R::Unspecified, C::Unspecified),
        StartDecision::Create
    );
    let rejected = |reuse| match decide_start(Some(done), "rq2", reuse, C::Unspecified) {
        StartDecision::AlreadyStarted { message, .. } => message,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        rejected(R::RejectDuplicate),
        "Workflow execution already finished. WorkflowId: wf1, RunId: run1. Workflow Id reuse policy: reject duplicate workflow Id."
    );
    assert_eq!(
        rejected(R::AllowDuplicateFailedOnly),
        "Workflow execution already finished successfully. WorkflowId: wf1, RunId: run1. Workflow Id reuse policy: allow duplicate workflow Id if last run failed."
    );
}

#[test]
fn start_validation_uses_temporal_messages_and_defaults() {
    let validate = |v: Value| {
        let req: StartWorkflowExecutionRequest = serde_json::from_value(v).unwrap();
        validate_start("wf1", &req, crate::limits::DEFAULT_MAX_PAYLOAD_BYTES)
    };
    assert_eq!(
        validate(json!({"taskQueue": {"name": "Q"}})),
        Err("WorkflowType is not set on request.".into())
    );
    assert_eq!(
        validate(json!({"workflowType": {"name": "W"}})),
        Err("taskQueue is not set".into())
    );
    assert_eq!(
        validate(
            json!({"workflowType": {"name": "W"}, "taskQueue": {"name": "Q"}, "workflowRunTimeout": "-1s"})
        ),
        Err("An invalid WorkflowRunTimeoutSeconds is set on request.".into())
    );
    let long = "w".repeat(1001);
    assert_eq!(
        validate(json!({"workflowType": {"name": long}, "taskQueue": {"name": "Q"}})),
        Err("WorkflowType length exceeds limit. Length=1001 Limit=1000".into())
    );
    assert_eq!(
        validate(
            json!({"workflowType": {"name": "W"}, "taskQueue": {"name": "Q"}, "requestId": long})
        ),
        Err("RequestId length exceeds limit. Length=1001 Limit=1000".into())
    );
    let req: StartWorkflowExecutionRequest =
        serde_json::from_value(json!({"workflowType": {"name": "W"}, "taskQueue": {"name": "Q"}}))
            .unwrap();
    assert_eq!(
        validate_start(&long, &req, crate::limits::DEFAULT_MAX_PAYLOAD_BYTES).err(),
        Some("WorkflowId length exceeds limit. Length=1001 Limit=1000".into())
    );
    let h = Harness::start(json!({"workflowTaskTimeout": "300s"}));
    assert_eq!(
        h.attrs(1)["workflowTaskTimeout"],
        "120s",
        "capped like Temporal"
    );
}

#[test]
fn describe_shows_the_run_and_its_pending_work() {
    let mut h = Harness::start(json!({"workflowRunTimeout": "60s"}));
    let d = h.describe();
    assert_eq!(
        d["executionConfig"],
        json!({"taskQueue": {"name": "Q", "kind": "TASK_QUEUE_KIND_NORMAL"}, "workflowRunTimeout": "60s",
               "defaultWorkflowTaskTimeout": "10s"})
    );
    let info = &d["workflowExecutionInfo"];
    assert_eq!(info["status"], "WORKFLOW_EXECUTION_STATUS_RUNNING");
    assert_eq!(
        (info["memo"].clone(), info["searchAttributes"].clone()),
        (json!({}), json!({}))
    );
    assert_eq!(
        (info["taskQueue"].clone(), info["firstRunId"].clone()),
        (json!("Q"), json!("run1"))
    );
    assert_eq!(info["historyLength"], "2");
    assert_eq!(
        d["pendingWorkflowTask"]["state"],
        "PENDING_WORKFLOW_TASK_STATE_SCHEDULED"
    );
    assert_eq!(
        d["workflowExtendedInfo"]["requestIdInfos"],
        json!({"rq1": {"eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED", "eventId": "1"}})
    );
    h.poll();
    h.complete(json!([schedule(
        "a1",
        json!({"scheduleToCloseTimeout": "30s", "retryPolicy": {"maximumAttempts": 3}})
    )]));
    let a = &h.describe()["pendingActivities"][0];
    assert_eq!(
        (
            a["activityId"].clone(),
            a["attempt"].clone(),
            a["maximumAttempts"].clone()
        ),
        (json!("a1"), json!(1), json!(3))
    );
    assert_eq!(
        a["expirationTime"],
        json!(h.event(5).event_time.add(secs(30)))
    );
    assert_eq!(
        a["activityOptions"]["taskQueue"],
        json!({"name": "Q", "normalName": "Q"})
    );
    assert_eq!(a.get("lastStartedTime"), None);
    assert_eq!(h.describe().get("pendingWorkflowTask"), None);
}

#[test]
fn a_marker_is_recorded_with_its_details() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([{"commandType": "COMMAND_TYPE_RECORD_MARKER",
                       "recordMarkerCommandAttributes": {"markerName": "Version", "details": {"v": [1]}}}]));
    assert_eq!(
        h.attrs(5),
        json!({"markerName": "Version", "details": {"v": [1]}, "workflowTaskCompletedEventId": "4"})
    );
}

#[test]
fn fail_by_id_of_a_last_attempt_writes_the_failed_event() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule(
        "a1",
        json!({"retryPolicy": {"maximumAttempts": 1}})
    )]));
    h.start_activity(5);
    let failure = Some(serde_json::from_value(json!({"message": "bare"})).unwrap());
    let target = ActivityTarget::Id("a1".into());
    h.apply(WorkflowCommand::FailActivity {
        target,
        failure,
        last_heartbeat_details: None,
        identity: "cli".into(),
    });
    assert_eq!(
        h.attrs(7),
        json!({"failure": {"message": "bare"}, "scheduledEventId": "5", "startedEventId": "6", "identity": "cli",
               "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"})
    );
}

#[test]
fn a_sweeper_sees_what_waits_for_a_poller() {
    let mut h = Harness::start(json!({}));
    assert_eq!(h.wf().waiting_task().map(|d| d.scheduled_event_id), Some(2));
    h.poll();
    assert_eq!(h.wf().waiting_task(), None);
    h.complete(json!([schedule("a1", json!({}))]));
    assert_eq!(h.wf().waiting_activities(h.now).len(), 1);
    h.start_activity(5);
    assert!(h.wf().waiting_activities(h.now).is_empty());
}

#[test]
fn queries_are_rejected_only_as_their_condition_says() {
    use QueryRejectCondition::*;
    let mut h = Harness::start(json!({}));
    for condition in [Unspecified, None, NotOpen, NotCompletedCleanly] {
        assert_eq!(
            h.wf().query_rejected(condition),
            Option::None,
            "{condition:?}"
        );
    }
    h.apply(WorkflowCommand::Terminate {
        reason: "stop".into(),
        details: Option::None,
        identity: "admin".into(),
    });
    let terminated = Some(QueryRejected {
        status: WorkflowExecutionStatus::Terminated,
    });
    assert_eq!(h.wf().query_rejected(None), Option::None);
    assert!(
        h.wf().closed_unseen(),
        "no worker ever completed a task of it"
    );
    assert_eq!(h.wf().query_rejected(NotOpen), terminated);
    assert_eq!(h.wf().query_rejected(NotCompletedCleanly), terminated);

    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([complete_workflow(json!(["done"]))]));
    assert!(!h.wf().closed_unseen());
    assert!(h.wf().query_rejected(NotOpen).is_some());
    assert_eq!(h.wf().query_rejected(NotCompletedCleanly), Option::None);
}

#[test]
fn a_query_task_carries_the_history_and_the_query_and_starts_no_task() {
    let mut h = Harness::start(json!({}));
    assert!(!h.wf().ready_for_query(), "the first task is scheduled");
    h.poll();
    assert!(!h.wf().ready_for_query(), "the first task is started");
    h.complete(json!([]));
    assert!(h.wf().ready_for_query());
    let query = WorkflowQuery {
        query_type: "state".into(),
        ..Default::default()
    };
    let history = h.history.clone();
    let task = h
        .wf()
        .query_task("tok".into(), query.clone(), history.clone());
    assert_eq!(task.query, Some(query));
    assert_eq!(task.history.unwrap().events, history);
    assert_eq!((task.started_event_id, task.attempt), (0, 1));
    assert_eq!(task.previous_started_event_id, 3);
    assert_eq!(task.task_token, "tok");
}

/// Completes the started task with `commands`, asking for stickiness on queue `STICKY`.
fn complete_sticky(h: &mut Harness, commands: Value) {
    let completion = TaskCompletion {
        task: h.task(),
        commands: serde_json::from_value(commands).unwrap(),
        identity: WORKER.into(),
        force_create_new_task: false,
        sticky: Some(StickyQueue {
            name: "STICKY".into(),
            schedule_to_start: secs(5),
        }),
        new_run_id: "run2".into(),
        sdk_metadata: Some(json!({"langUsedFlags": [1]})),
        metering_metadata: None,
    };
    h.apply(WorkflowCommand::CompleteTask(completion));
}

#[test]
fn a_sticky_worker_gets_the_next_task_on_its_queue_with_only_the_new_events() {
    let mut h = Harness::start(json!({}));
    h.poll();
    complete_sticky(&mut h, json!([start_timer("t1", "1s")]));
    // The SDK's metadata is kept in the Completed event, for its replays.
    assert_eq!(h.attrs(4)["sdkMetadata"], json!({"langUsedFlags": [1]}));
    assert_eq!(h.wf().poll_history_start(), 1, "no task is outstanding");
    h.signal("");
    let dispatch = h.task_dispatch.clone().unwrap();
    assert_eq!(
        (dispatch.task_queue.as_str(), dispatch.scheduled_event_id),
        ("STICKY", 7)
    );
    let sticky_timer = TimerKind::StickyScheduleToStart {
        scheduled_event_id: 7,
        attempt: 1,
    };
    assert!(
        h.timers
            .iter()
            .any(|t| t.kind == sticky_timer && t.due == h.now.add(secs(5)))
    );
    h.poll();
    // The worker saw up to its task's Started event (3): the answer starts after it.
    assert_eq!(h.wf().poll_history_start(), 4);
    // Taken in time: the sticky timer is stale.
    assert!(
        !h.try_apply(WorkflowCommand::TimerFired(sticky_timer))
            .unwrap()
    );
    // A worker that does not ask for stickiness gets the next task through the run's queue.
    h.complete(json!([]));
    h.signal("again");
    assert_eq!(h.task_dispatch.as_ref().unwrap().task_queue, "Q");
    assert_eq!(h.wf().sticky, None);
}

#[test]
fn a_sticky_task_nobody_takes_in_time_goes_to_the_run_queue_with_the_whole_history() {
    let mut h = Harness::start(json!({}));
    h.poll();
    complete_sticky(&mut h, json!([]));
    h.signal("");
    assert!(
        !h.timers.iter().any(|t| matches!(
            t.kind,
            TimerKind::Activity {
                timer: ActivityTimer::Retry,
                ..
            }
        )),
        "no backoff runs out into a dispatch while paused"
    );
    h.advance(secs(5));
    h.apply(WorkflowCommand::TimerFired(
        TimerKind::StickyScheduleToStart {
            scheduled_event_id: 6,
            attempt: 1,
        },
    ));
    assert_eq!(h.types()[5..], ["WTS", "WTTO", "WTS"]);
    assert_eq!(
        h.attrs(7),
        json!({"scheduledEventId": "6", "timeoutType": "TIMEOUT_TYPE_SCHEDULE_TO_START"})
    );
    let dispatch = h.task_dispatch.clone().unwrap();
    assert_eq!(
        (
            dispatch.task_queue.as_str(),
            dispatch.scheduled_event_id,
            dispatch.attempt
        ),
        ("Q", 8, 1)
    );
    assert_eq!(h.wf().sticky, None);
    h.poll();
    assert_eq!(h.wf().poll_history_start(), 1);
}

#[test]
fn a_failed_task_ends_stickiness() {
    let mut h = Harness::start(json!({}));
    h.poll();
    complete_sticky(&mut h, json!([]));
    h.signal("");
    h.poll();
    let task = h.task();
    h.apply(WorkflowCommand::FailTask {
        task,
        cause: WorkflowTaskFailedCause::Unspecified,
        failure: None,
        identity: WORKER.into(),
    });
    assert_eq!(h.wf().sticky, None);
    assert_eq!(h.task_dispatch.as_ref().unwrap().task_queue, "Q");
}

#[test]
fn from_the_threshold_a_started_task_suggests_continue_as_new_and_past_the_count_the_run_is_terminated()
 {
    let mut h = Harness::start(json!({}));
    h.limits = HistoryLimits {
        count_suggest: 5,
        count_error: 12,
        ..HistoryLimits::default()
    };
    h.poll();
    assert_ne!(h.attrs(3)["suggestContinueAsNew"], true);
    h.complete(json!([]));
    h.signal("s1");
    h.poll();
    assert_eq!(h.attrs(7)["suggestContinueAsNew"], true);
    h.complete(json!([]));
    for n in 2..5 {
        h.signal(&format!("s{n}"));
    }
    assert_eq!(h.history.len(), 12);
    // The write that passes the limit is made; the next one terminates the run instead.
    h.signal("s5");
    assert_eq!(h.history_limit_exceeded, None);
    h.signal("s6");
    assert_eq!(h.history_limit_exceeded, Some(HISTORY_COUNT_EXCEEDED));
    assert_eq!(h.types()[8..], ["SIG", "WTS", "SIG", "SIG", "SIG", "WET"]);
    assert_eq!(
        h.attrs(14),
        json!({"reason": HISTORY_COUNT_EXCEEDED, "identity": "history-service"})
    );
    assert_eq!(h.wf().status, Status::Terminated);
}

#[test]
fn a_history_already_past_the_size_limit_is_terminated_by_its_next_write() {
    let mut h = Harness::start(json!({}));
    let size = h.wf().history_size_bytes;
    h.limits = HistoryLimits {
        size_suggest: 1,
        size_error: size,
        ..HistoryLimits::default()
    };
    // The write that crosses the size succeeds: the stored size before it was within.
    h.signal("s1");
    assert_eq!(h.history_limit_exceeded, None);
    h.signal("s2");
    assert_eq!(h.history_limit_exceeded, Some(HISTORY_SIZE_EXCEEDED));
    assert_eq!(h.types(), ["WES", "WTS", "SIG", "WET"]);
}

fn operate(h: &mut Harness, operation: ActivityOperation) -> Result<bool, WorkflowError> {
    h.try_apply(WorkflowCommand::Operate {
        activity_id: "a1".into(),
        operation,
    })
}

fn pause() -> ActivityOperation {
    ActivityOperation::Pause {
        identity: "ops".into(),
        reason: "flaky partner".into(),
    }
}

fn unpause() -> ActivityOperation {
    ActivityOperation::Unpause {
        jitter: Duration::ZERO,
    }
}

fn heartbeat(h: &mut Harness, sid: i64) -> RecordActivityTaskHeartbeatResponse {
    let target = h.token(sid);
    h.apply(WorkflowCommand::ActivityHeartbeat {
        target,
        details: payloads(json!(["50%"])),
    });
    h.heartbeat.clone()
}

#[test]
fn a_paused_activity_is_not_handed_out_until_unpaused_and_nothing_is_written() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule("a1", json!({}))]));
    let queued = h.activity_dispatches.remove(0);
    let events = h.history.len();
    operate(&mut h, pause()).unwrap();
    let pending = &h.describe()["pendingActivities"][0];
    assert_eq!(pending["state"], "PENDING_ACTIVITY_STATE_PAUSED");
    assert_eq!(pending["paused"], true);
    assert_eq!(
        pending["pauseInfo"],
        json!({"pauseTime": h.now, "manual": {"identity": "ops", "reason": "flaky partner"}})
    );
    assert_eq!(h.history.len(), events, "a pause writes no event");
    let poll = WorkflowCommand::RecordActivityStarted {
        scheduled_event_id: 5,
        attempt: queued.attempt,
        identity: "w".into(),
        request_id: "p".into(),
    };
    assert_eq!(h.try_apply(poll), Err(WorkflowError::StaleTask));
    assert_eq!(
        operate(&mut h, pause()).unwrap_err().to_string(),
        "activity is already paused"
    );

    operate(&mut h, unpause()).unwrap();
    let pending = &h.describe()["pendingActivities"][0];
    assert_eq!(pending["state"], "PENDING_ACTIVITY_STATE_SCHEDULED");
    assert_eq!(
        (pending.get("paused"), pending.get("pauseInfo")),
        (None, None)
    );
    h.start_activity(5);
    assert_eq!(
        operate(&mut h, unpause()),
        Ok(false),
        "unpausing what runs is no error, as in Temporal"
    );
}

#[test]
fn a_pause_while_a_worker_runs_the_attempt_pauses_its_retry() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule(
        "a1",
        json!({"retryPolicy": {"initialInterval": "1s"}})
    )]));
    h.start_activity(5);
    operate(&mut h, pause()).unwrap();
    assert_eq!(
        h.describe()["pendingActivities"][0]["state"],
        "PENDING_ACTIVITY_STATE_PAUSE_REQUESTED"
    );
    assert!(heartbeat(&mut h, 5).activity_paused);
    h.fail_activity(5, "boom");
    let pending = &h.describe()["pendingActivities"][0];
    assert_eq!(pending["state"], "PENDING_ACTIVITY_STATE_PAUSED");
    assert_eq!(pending["attempt"], 2);
    assert!(h.activity_dispatches.is_empty());
    assert!(
        !h.timers.iter().any(|t| matches!(
            t.kind,
            TimerKind::Activity {
                timer: ActivityTimer::Retry,
                ..
            }
        )),
        "no backoff runs out into a dispatch while paused"
    );
    h.advance(secs(5));

    operate(&mut h, unpause()).unwrap();
    h.start_activity(5);
    h.complete_activity(5);
    assert_eq!(h.types()[4..], ["ATS", "ATST", "ATC", "WTS"]);
    assert_eq!(h.attrs(6)["attempt"], 2);
}

#[test]
fn a_reset_starts_over_at_attempt_one_and_voids_older_tokens() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule(
        "a1",
        json!({"retryPolicy": {"initialInterval": "1s"}})
    )]));
    h.start_activity(5);
    let first = h.token(5);
    h.fail_activity(5, "one");
    h.fire_activity(5, ActivityTimer::Retry);
    h.start_activity(5);
    operate(&mut h, ActivityOperation::Reset(Default::default())).unwrap();
    assert!(heartbeat(&mut h, 5).activity_reset);
    assert_eq!(
        operate(&mut h, ActivityOperation::Reset(Default::default()))
            .unwrap_err()
            .to_string(),
        "cannot reset an activity with a pending reset"
    );
    // The worker gives up for good; the reset wins all the same.
    let failure = serde_json::from_value(
        json!({"message": "fatal", "applicationFailureInfo": {"nonRetryable": true}}),
    )
    .unwrap();
    let target = h.token(5);
    h.apply(WorkflowCommand::FailActivity {
        target,
        failure: Some(failure),
        last_heartbeat_details: None,
        identity: "w".into(),
    });
    let pending = &h.describe()["pendingActivities"][0];
    assert_eq!(pending["state"], "PENDING_ACTIVITY_STATE_SCHEDULED");
    assert_eq!(pending["attempt"], 1);
    assert_eq!(
        pending["heartbeatDetails"],
        json!(["50%"]),
        "kept unless asked"
    );
    h.start_activity(5);
    let stale = WorkflowCommand::CompleteActivity {
        target: first,
        result: None,
        identity: "old".into(),
    };
    assert_eq!(
        h.try_apply(stale),
        Err(WorkflowError::ActivityTaskNotFound),
        "attempt 1 from before the reset cannot answer attempt 1 after it"
    );
    h.complete_activity(5);
    assert_eq!(h.attrs(6)["attempt"], 1);
}

#[test]
fn a_reset_of_a_paused_activity_may_keep_it_paused_and_drop_its_heartbeat() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule(
        "a1",
        json!({"retryPolicy": {"initialInterval": "1s"}})
    )]));
    h.start_activity(5);
    heartbeat(&mut h, 5);
    h.fail_activity(5, "one");
    operate(&mut h, pause()).unwrap();
    let reset = ActivityOperation::Reset(crate::activity::ResetOptions {
        keep_paused: true,
        reset_heartbeat: true,
        ..Default::default()
    });
    operate(&mut h, reset).unwrap();
    let pending = &h.describe()["pendingActivities"][0];
    assert_eq!(pending["state"], "PENDING_ACTIVITY_STATE_PAUSED");
    assert_eq!(pending["attempt"], 1);
    assert_eq!(pending.get("heartbeatDetails"), None);
    h.activity_dispatches.clear();
    operate(&mut h, unpause()).unwrap();
    assert_eq!(h.activity_dispatches.len(), 1, "dispatched at once");
}

#[test]
fn update_options_apply_at_once_and_restore_brings_back_the_scheduled_ones() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule("a1", json!({}))]));
    h.start_activity(5);
    let options = serde_json::from_value(json!({"startToCloseTimeout": "2s"})).unwrap();
    let update = crate::activity::OptionsUpdate::Mask {
        options,
        paths: vec!["startToCloseTimeout".into()],
    };
    operate(&mut h, ActivityOperation::UpdateOptions(update)).unwrap();
    let pending = &h.describe()["pendingActivities"][0];
    assert_eq!(pending["activityOptions"]["startToCloseTimeout"], "2s");
    assert_eq!(h.history.len(), 5, "no event");
    h.advance(secs(2));
    assert!(
        h.fire_activity(5, ActivityTimer::StartToClose),
        "the new timeout applies to the running attempt"
    );
    assert_eq!(h.describe()["pendingActivities"][0]["attempt"], 2);

    let bad = crate::activity::OptionsUpdate::Mask {
        options: Default::default(),
        paths: vec!["retryPolicy.nonRetryableErrorTypes".into()],
    };
    let refused = operate(&mut h, ActivityOperation::UpdateOptions(bad)).unwrap_err();
    assert_eq!(refused.code(), waymark_api::Code::InvalidArgument);
    let restore = ActivityOperation::UpdateOptions(crate::activity::OptionsUpdate::RestoreOriginal);
    operate(&mut h, restore).unwrap();
    assert_eq!(
        h.describe()["pendingActivities"][0]["activityOptions"]["startToCloseTimeout"],
        "10s"
    );
}

#[test]
fn cancelling_a_paused_activity_cancels_it_at_once() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule("a1", json!({}))]));
    operate(&mut h, pause()).unwrap();
    h.signal("s1");
    h.poll();
    h.complete(json!([cancel_activity(5)]));
    assert_eq!(h.types()[h.history.len() - 3..], ["ATCR", "ATCD", "WTS"]);
    assert_eq!(
        operate(&mut h, pause()),
        Err(WorkflowError::NoPendingActivity)
    );
}

#[test]
fn a_paused_attempt_does_not_time_out_until_it_resumes() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule(
        "a1",
        json!({"scheduleToCloseTimeout": "60s"})
    )]));
    h.start_activity(5);
    operate(&mut h, pause()).unwrap();
    h.advance(secs(120));
    assert!(!h.fire_activity(5, ActivityTimer::StartToClose));
    assert!(!h.fire_activity(5, ActivityTimer::ScheduleToClose));
    assert_eq!(
        h.describe()["pendingActivities"][0]["state"],
        "PENDING_ACTIVITY_STATE_PAUSE_REQUESTED"
    );

    operate(&mut h, unpause()).unwrap();
    assert!(
        h.fire_activity(5, ActivityTimer::StartToClose),
        "overdue: fires at once"
    );
    assert_eq!(h.types()[4..], ["ATS", "ATST", "ATTO", "WTS"]);
}

#[test]
fn a_paused_waiting_activity_times_out_only_once_unpaused() {
    let mut h = Harness::start(json!({}));
    h.poll();
    h.complete(json!([schedule(
        "a1",
        json!({"scheduleToCloseTimeout": "60s"})
    )]));
    operate(&mut h, pause()).unwrap();
    h.advance(secs(120));
    assert!(!h.fire_activity(5, ActivityTimer::ScheduleToClose));
    operate(&mut h, unpause()).unwrap();
    assert!(
        h.fire_activity(5, ActivityTimer::ScheduleToClose),
        "unpausing re-arms the overdue schedule-to-close"
    );
    assert_eq!(h.types()[4..], ["ATS", "ATTO", "WTS"]);
}
