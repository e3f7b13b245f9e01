//! What must hold after every step, whatever the steps were. The book remembers what the run
//! has seen (tasks handed out, results accepted, executions closed) to hold the engine to it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration as StdDuration;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use waymark_api::workflow::GetWorkflowExecutionHistoryQuery;
use waymark_api::{Code, DescribeActivityExecutionQuery};
use waymark_core::activity::{Activity, State, TimerKind};
use waymark_core::task_token::TaskToken;
use waymark_core::workflow::{ActivityTimer, TimerKind as WorkflowTimerKind, Workflow};
use waymark_store::{StoreError, TimerRecord};

use crate::world::{NS, World};

#[derive(Debug)]
pub struct Violation(pub String);

impl Violation {
    pub fn new(message: impl Into<String>) -> Violation {
        Violation(message.into())
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One attempt of one task: a worker must never be handed it twice.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TaskKey {
    run_id: String,
    activity_id: String,
    scheduled_event_id: i64,
    stamp: i32,
    attempt: i32,
}

impl TaskKey {
    fn of(claims: &TaskToken) -> TaskKey {
        TaskKey {
            run_id: claims.run_id.clone(),
            activity_id: claims.activity_id.clone(),
            scheduled_event_id: claims.scheduled_event_id,
            stamp: claims.stamp,
            attempt: claims.attempt,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Run {
    Activity { id: String, run_id: String },
    Workflow { id: String, run_id: String },
}

#[derive(Default)]
pub struct Book {
    handed_out: HashSet<TaskKey>,
    /// Tokens whose completion, failure or cancel the engine accepted.
    answered: HashSet<String>,
    fired: HashSet<i64>,
    /// The highest (stamp, attempt) seen of each standalone activity run: a reset raises the
    /// stamp and starts the attempts again from 1.
    attempts: HashMap<String, (i32, i32)>,
    /// Each closed run when first seen closed.
    closed: BTreeMap<Run, Closed>,
    /// Results the engine accepted, with the task they completed.
    results: Vec<(TaskToken, Value)>,
    /// The history of each open workflow run, as far as checked.
    histories: HashMap<String, HistoryCheck>,
    /// Where the next sample of closed runs and of results begins.
    closed_cursor: usize,
    results_cursor: usize,
}

/// A closed run as first seen: its stored state (any change to a run changes it, so comparing
/// it is the cheap check) and what a user saw of it (the thorough one).
struct Closed {
    state: Option<String>,
    seen: Value,
}

/// How far a check over everything reaches back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The latest run of every id.
    Latest,
    /// And a share of the older closed runs and accepted results, another share each time.
    Sample,
    /// And every closed run and accepted result.
    All,
}

/// Older runs and results checked by a `Reach::Sample`.
const SAMPLE: usize = 64;

/// `n` of `items` from `cursor` on, wrapping around; moves the cursor past them.
fn window<'a, T: Clone + 'a>(
    items: impl ExactSizeIterator<Item = &'a T> + Clone,
    cursor: &mut usize,
    n: usize,
) -> Vec<T> {
    let len = items.len();
    if len == 0 || n == 0 {
        return Vec::new();
    }
    let n = n.min(len);
    let start = *cursor % len;
    *cursor = start + n;
    items.cycle().skip(start).take(n).cloned().collect()
}

impl Book {
    pub fn task_handed_out(&mut self, claims: &TaskToken) -> Result<(), Violation> {
        if self.handed_out.insert(TaskKey::of(claims)) {
            Ok(())
        } else {
            Err(Violation::new(format!(
                "a task was handed to a worker twice: {claims:?}"
            )))
        }
    }

    pub fn task_answered(&mut self, token: &str) -> Result<(), Violation> {
        if self.answered.insert(token.to_owned()) {
            Ok(())
        } else {
            Err(Violation::new(
                "the engine accepted a second answer to one task".to_string(),
            ))
        }
    }

    pub fn timer_fired(&mut self, id: i64) -> Result<(), Violation> {
        if self.fired.insert(id) {
            Ok(())
        } else {
            Err(Violation::new(format!("timer {id} fired twice")))
        }
    }

    pub fn result_accepted(&mut self, claims: &TaskToken, result: Value) {
        self.results.push((claims.clone(), result));
    }

    /// The invariants of the latest run of every id (what a timer may touch), and as far as
    /// `reach` says of older closed runs and accepted results.
    pub async fn check_all(&mut self, w: &World, reach: Reach) -> Result<(), Violation> {
        let timers = all_timers(w).await?;
        let mut activities = Vec::new();
        for id in World::activity_ids() {
            activities.extend(self.activity_against(w, &id, &timers).await?);
        }
        let mut workflows = Vec::new();
        for id in World::workflow_ids() {
            workflows.extend(self.workflow_against(w, &id, &timers).await?);
        }
        let share = match reach {
            Reach::Latest => 0,
            Reach::Sample => SAMPLE,
            Reach::All => usize::MAX,
        };
        let closed = window(self.closed.keys(), &mut self.closed_cursor, share);
        for run in closed {
            let now = snapshot(w, &run).await?;
            let before = &self.closed[&run].seen;
            if *before != now {
                return Err(Violation::new(format!(
                    "closed run {run:?} changed:\nbefore: {before}\nnow: {now}"
                )));
            }
        }
        let results = window(self.results.iter(), &mut self.results_cursor, share);
        check_results(w, &results).await?;
        check_nothing_lost(w, &activities, &workflows).await
    }

    pub async fn check_activity(&mut self, w: &World, id: &str) -> Result<(), Violation> {
        let timers = all_timers(w).await?;
        self.activity_against(w, id, &timers).await.map(drop)
    }

    pub async fn check_workflow(&mut self, w: &World, id: &str) -> Result<(), Violation> {
        let timers = all_timers(w).await?;
        self.workflow_against(w, id, &timers).await.map(drop)
    }

    /// Checks activity `id`'s latest run against `timers`: attempts, closed runs, timers.
    /// Answers the run, if there is one.
    async fn activity_against(
        &mut self,
        w: &World,
        id: &str,
        timers: &[TimerRecord],
    ) -> Result<Option<Activity>, Violation> {
        let record = w.store().latest_activity(NS, id).await;
        let Some((a, state)) = parsed::<Activity>(id, record.map(|r| r.map(|r| r.state)))? else {
            return Ok(None);
        };
        let run = Run::Activity {
            id: id.to_owned(),
            run_id: a.run_id.clone(),
        };
        let now = (a.stamp, a.attempt);
        let highest = self.attempts.entry(a.run_id.clone()).or_insert(now);
        if now < *highest {
            return Err(Violation::new(format!(
                "activity {id}'s (stamp, attempt) went from {highest:?} back to {now:?}"
            )));
        }
        *highest = now;
        if a.state.is_terminal() {
            self.closed_unchanged(w, run, state).await?;
            return Ok(Some(a));
        }
        for kind in [
            TimerKind::Dispatch,
            TimerKind::ScheduleToStart,
            TimerKind::StartToClose,
            TimerKind::Heartbeat,
            TimerKind::ScheduleToClose,
        ] {
            let Some(deadline) = a.deadline(kind) else {
                continue;
            };
            // A dispatch that is due has happened: the task is in the queue (checked apart).
            if kind == TimerKind::Dispatch && deadline <= w.now() {
                continue;
            }
            let any_attempt = kind == TimerKind::ScheduleToClose;
            let armed = timers.iter().any(|t| {
                t.run_id == a.run_id
                    && t.kind == kind.as_str()
                    && (any_attempt || t.attempt == a.attempt)
                    && t.due_ns <= deadline.as_nanos()
            });
            if !armed {
                return Err(Violation::new(format!(
                    "activity {id} ({:?}, attempt {}) has no {} timer due by {deadline:?}; timers: {timers:?}",
                    a.state,
                    a.attempt,
                    kind.as_str()
                )));
            }
        }
        Ok(Some(a))
    }

    /// Checks workflow `id`'s latest run against `timers`: its history, closed runs, timers.
    /// Answers the run, if there is one.
    async fn workflow_against(
        &mut self,
        w: &World,
        id: &str,
        timers: &[TimerRecord],
    ) -> Result<Option<Workflow>, Violation> {
        let record = w.store().latest_workflow(NS, id).await;
        let Some((wf, state)) = parsed::<Workflow>(id, record.map(|r| r.map(|r| r.state)))? else {
            return Ok(None);
        };
        let run = Run::Workflow {
            id: id.to_owned(),
            run_id: wf.run_id.clone(),
        };
        if !wf.continued_execution_run_id.is_empty() {
            let continued = Run::Workflow {
                id: id.to_owned(),
                run_id: wf.continued_execution_run_id.clone(),
            };
            if let std::collections::btree_map::Entry::Vacant(entry) =
                self.closed.entry(continued.clone())
            {
                let seen = snapshot(w, &continued).await?;
                entry.insert(Closed { state: None, seen });
            }
        }
        if !wf.is_running() {
            if !self.closed.contains_key(&run) {
                let mut check = self.histories.remove(&wf.run_id).unwrap_or_default();
                check.extend(id, &new_events(w, &wf.run_id, &check).await?)?;
                check.closed(id)?;
            }
            self.closed_unchanged(w, run, state).await?;
            return Ok(Some(wf));
        }
        let check = self.histories.entry(wf.run_id.clone()).or_default();
        check.extend(id, &new_events(w, &wf.run_id, check).await?)?;
        let armed = |kind: &WorkflowTimerKind, any_attempt: bool, due: Option<i64>| {
            let (name, attempt) = kind.encode();
            timers.iter().any(|t| {
                t.run_id == wf.run_id
                    && t.kind == name
                    && (any_attempt || t.attempt == attempt)
                    && due.is_none_or(|d| t.due_ns <= d)
            })
        };
        let mut needed = Vec::new();
        if let Some(deadline) = wf.run_deadline() {
            needed.push((WorkflowTimerKind::Run, true, Some(deadline.as_nanos())));
        }
        if let Some(task) = wf.task.as_ref().filter(|t| t.started.is_some()) {
            let kind = WorkflowTimerKind::WorkflowTask {
                scheduled_event_id: task.scheduled_event_id,
                attempt: task.attempt,
            };
            needed.push((kind, false, None));
        }
        for t in wf.timers.values() {
            let kind = WorkflowTimerKind::User {
                started_event_id: t.started_event_id,
                timer_id: t.timer_id.clone(),
            };
            needed.push((kind, false, Some(t.fire_time.as_nanos())));
        }
        for a in wf.activities.values() {
            for timer in [
                ActivityTimer::ScheduleToStart,
                ActivityTimer::StartToClose,
                ActivityTimer::Heartbeat,
                ActivityTimer::ScheduleToClose,
                ActivityTimer::Retry,
            ] {
                let Some(deadline) = a.deadline(timer) else {
                    continue;
                };
                if timer == ActivityTimer::Retry && deadline <= w.now() {
                    continue;
                }
                let kind = WorkflowTimerKind::Activity {
                    scheduled_event_id: a.scheduled_event_id,
                    attempt: a.attempt,
                    timer,
                };
                let any_attempt = timer == ActivityTimer::ScheduleToClose;
                needed.push((kind, any_attempt, Some(deadline.as_nanos())));
            }
        }
        for (kind, any_attempt, due) in needed {
            if !armed(&kind, any_attempt, due) {
                return Err(Violation::new(format!(
                    "workflow {id} has no {kind:?} timer due by {due:?}; timers: {timers:?}"
                )));
            }
        }
        Ok(Some(wf))
    }

    /// A closed run's stored `state` is what it was when first seen closed.
    async fn closed_unchanged(
        &mut self,
        w: &World,
        run: Run,
        state: String,
    ) -> Result<(), Violation> {
        match self.closed.get(&run) {
            Some(Closed {
                state: Some(before),
                ..
            }) if *before != state => Err(Violation::new(format!(
                "closed run {run:?} changed:\nbefore: {before}\nnow: {state}"
            ))),
            Some(_) => Ok(()),
            None => {
                let seen = snapshot(w, &run).await?;
                let state = Some(state);
                self.closed.insert(run, Closed { state, seen });
                Ok(())
            }
        }
    }
}

/// Every attempt of `activities` and `workflows` that waits for a worker is in its queue: a
/// task popped, dropped or lost in a crash is handed out again.
async fn check_nothing_lost(
    w: &World,
    activities: &[Activity],
    workflows: &[Workflow],
) -> Result<(), Violation> {
    let now = w.now();
    let mut waiting: HashMap<String, u64> = HashMap::new();
    for a in activities {
        if a.state == State::Scheduled && a.attempt_scheduled_time <= now {
            *waiting.entry(a.options.task_queue.clone()).or_default() += 1;
        }
    }
    for a in workflows.iter().flat_map(|wf| wf.waiting_activities(now)) {
        *waiting.entry(a.task_queue).or_default() += 1;
    }
    let backlogs = w.backlogs().await?;
    for (queue, count) in waiting {
        let backlog = backlogs.get(&queue).copied().unwrap_or(0);
        if backlog < count {
            return Err(Violation::new(format!(
                "{count} attempts wait for a worker on {queue}, but its queue holds {backlog} tasks"
            )));
        }
    }
    Ok(())
}

/// Each of `results` the engine accepted is still there.
async fn check_results(w: &World, results: &[(TaskToken, Value)]) -> Result<(), Violation> {
    for (claims, result) in results {
        let kept = if claims.workflow_id.is_empty() {
            let q = DescribeActivityExecutionQuery {
                run_id: claims.run_id.clone(),
                include_outcome: true,
                ..Default::default()
            };
            let described = w
                .history()
                .describe_activity(NS, &claims.activity_id, q, StdDuration::ZERO)
                .await
                .map_err(|e| {
                    Violation::new(format!("describing a completed activity: {}", e.message))
                })?;
            let described = serde_json::to_value(described).expect("serializes");
            described["outcome"]["result"] == *result
        } else {
            // A result that arrives while a workflow task is started is held back until the
            // task is answered (W5): kept, but not yet in the history.
            let mut events = history(w, &claims.workflow_id, &claims.run_id).await?;
            events.extend(held_back(w, &claims.workflow_id, &claims.run_id).await?);
            events.iter().any(|e| {
                let attrs = &e["activityTaskCompletedEventAttributes"];
                event_id(attrs, "scheduledEventId") == claims.scheduled_event_id
                    && attrs["result"] == *result
            })
        };
        if !kept {
            return Err(Violation::new(format!(
                "an accepted result is gone: {result} of {claims:?}"
            )));
        }
    }
    Ok(())
}

/// Run `id`'s stored state as read, parsed, with its text; `None` if there is no such run.
fn parsed<T: DeserializeOwned>(
    id: &str,
    read: Result<Option<String>, StoreError>,
) -> Result<Option<(T, String)>, Violation> {
    let state = read.map_err(|e| Violation::new(format!("reading {id}: {e}")))?;
    state
        .map(|state| match serde_json::from_str(&state) {
            Ok(run) => Ok((run, state)),
            Err(e) => Err(Violation::new(format!("{id}'s state does not parse: {e}"))),
        })
        .transpose()
}

/// What a user sees of a run: its description (and a workflow's whole history).
async fn snapshot(w: &World, run: &Run) -> Result<Value, Violation> {
    match run {
        Run::Activity { id, run_id } => {
            let q = DescribeActivityExecutionQuery {
                run_id: run_id.clone(),
                include_input: true,
                include_outcome: true,
                include_heartbeat_details: true,
                include_last_failure: true,
                ..Default::default()
            };
            let described = w
                .history()
                .describe_activity(NS, id, q, StdDuration::ZERO)
                .await
                .map_err(|e| Violation::new(format!("describing activity {id}: {}", e.message)))?;
            Ok(serde_json::to_value(described).expect("serializes"))
        }
        Run::Workflow { id, run_id } => {
            let described = w
                .history()
                .describe_workflow(NS, id, run_id)
                .await
                .map_err(|e| Violation::new(format!("describing workflow {id}: {}", e.message)))?;
            let events = history(w, id, run_id).await?;
            Ok(json!({"describe": described, "history": events}))
        }
    }
}

async fn all_timers(w: &World) -> Result<Vec<TimerRecord>, Violation> {
    w.store()
        .due_timers(i64::MAX, 1_000_000)
        .await
        .map_err(|e| Violation::new(format!("reading timers: {e}")))
}

/// A run's whole history, page by page.
/// The events workflow run `run_id` holds back for its started task.
async fn held_back(w: &World, id: &str, run_id: &str) -> Result<Vec<Value>, Violation> {
    let record = w.store().latest_workflow(NS, id).await;
    let Some((wf, _)) = parsed::<Workflow>(id, record.map(|r| r.map(|r| r.state)))? else {
        return Ok(Vec::new());
    };
    if wf.run_id != run_id {
        return Ok(Vec::new());
    }
    Ok(wf
        .buffered
        .iter()
        .map(|e| serde_json::to_value(e).expect("serializes"))
        .collect())
}

async fn history(w: &World, id: &str, run_id: &str) -> Result<Vec<Value>, Violation> {
    let mut events = Vec::new();
    let mut next_page_token = String::new();
    loop {
        let q = GetWorkflowExecutionHistoryQuery {
            run_id: run_id.to_owned(),
            next_page_token,
            ..Default::default()
        };
        let page = w
            .history()
            .get_workflow_history(NS, id, q, StdDuration::ZERO)
            .await;
        let page = match page {
            Ok(page) => serde_json::to_value(page).expect("serializes"),
            Err(e) if e.code == Code::NotFound => return Ok(events),
            Err(e) => {
                return Err(Violation::new(format!(
                    "reading workflow {id}'s history: {}",
                    e.message
                )));
            }
        };
        events.extend(
            page["history"]["events"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        match page["nextPageToken"].as_str() {
            Some(token) if !token.is_empty() => next_page_token = token.to_owned(),
            _ => return Ok(events),
        }
    }
}

fn event_id(e: &Value, field: &str) -> i64 {
    match &e[field] {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

/// The event's attributes, whatever its type (the one `...EventAttributes` field).
fn attributes(e: &Value) -> &Value {
    e.as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventAttributes")))
        .map_or(&Value::Null, |(_, v)| v)
}

/// What a workflow worker learns from a history: what is still open.
#[derive(Default)]
pub struct Seen {
    pub open_activities: Vec<i64>,
    pub open_timers: Vec<String>,
    pub cancel_requested: bool,
}

impl Seen {
    pub fn of(events: &[Value]) -> Seen {
        let mut activities = BTreeMap::new();
        let mut timers = BTreeMap::new();
        let mut cancel_requested = false;
        for e in events {
            let id = event_id(e, "eventId");
            let attrs = attributes(e);
            match e["eventType"].as_str().unwrap_or_default() {
                "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED" => {
                    activities.insert(id, ());
                }
                "EVENT_TYPE_ACTIVITY_TASK_COMPLETED"
                | "EVENT_TYPE_ACTIVITY_TASK_FAILED"
                | "EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT"
                | "EVENT_TYPE_ACTIVITY_TASK_CANCELED" => {
                    activities.remove(&event_id(attrs, "scheduledEventId"));
                }
                "EVENT_TYPE_TIMER_STARTED" => {
                    timers.insert(attrs["timerId"].as_str().unwrap_or_default().to_owned(), ());
                }
                "EVENT_TYPE_TIMER_FIRED" | "EVENT_TYPE_TIMER_CANCELED" => {
                    timers.remove(attrs["timerId"].as_str().unwrap_or_default());
                }
                "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED" => cancel_requested = true,
                _ => {}
            }
        }
        Seen {
            open_activities: activities.into_keys().collect(),
            open_timers: timers.into_keys().collect(),
            cancel_requested,
        }
    }
}

const CLOSE_EVENTS: [&str; 6] = [
    "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT",
    "EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
];

/// The events of run `run_id` that `check` has not seen yet, as stored.
async fn new_events(
    w: &World,
    run_id: &str,
    check: &HistoryCheck,
) -> Result<Vec<Value>, Violation> {
    const PAGE: u64 = 1000;
    let mut events = Vec::new();
    loop {
        let from = (check.types.len() + events.len()) as i64 + 1;
        let page = w
            .store()
            .workflow_events(run_id, from, PAGE)
            .await
            .map_err(|e| Violation::new(format!("reading the history of run {run_id}: {e}")))?;
        let full = page.len() as u64 == PAGE;
        for data in page {
            let event = serde_json::from_str(&data)
                .map_err(|e| Violation::new(format!("a stored event does not parse: {e}")))?;
            events.push(event);
        }
        if !full {
            return Ok(events);
        }
    }
}

/// A history read so far, checked as it grows: ids count up from 1, every reference names an
/// earlier event of the right type, nothing closes twice, and a closed run ends with its one
/// close event.
#[derive(Default)]
pub struct HistoryCheck {
    /// The type of every event checked, by id.
    types: HashMap<i64, String>,
    /// What has closed: (workflow task | activity | timer, the id it is known by).
    closed: HashSet<(&'static str, i64)>,
    /// The Started event of each activity that has one, by its Scheduled event id.
    started_activity: HashMap<i64, i64>,
}

impl HistoryCheck {
    /// Checks the events that follow those checked before.
    fn extend(&mut self, id: &str, events: &[Value]) -> Result<(), Violation> {
        for e in events {
            self.event(e).map_err(|what| {
                Violation::new(format!("workflow {id}'s history is invalid: {what}\n{e}"))
            })?;
        }
        Ok(())
    }

    /// A closed run's last event closes it.
    fn closed(&self, id: &str) -> Result<(), Violation> {
        let last = self.types.get(&(self.types.len() as i64));
        match last {
            Some(last) if !CLOSE_EVENTS.contains(&last.as_str()) => Err(Violation::new(format!(
                "workflow {id} is closed but its last event is {last}"
            ))),
            _ => Ok(()),
        }
    }

    fn event(&mut self, e: &Value) -> Result<(), String> {
        let event = event_id(e, "eventId");
        let n = self.types.len() as i64;
        if event != n + 1 {
            return Err(format!("event #{} has id {event}", n + 1));
        }
        let kind = e["eventType"].as_str().unwrap_or_default();
        if n == 0 && kind != "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED" {
            return Err(format!("it starts with {kind}"));
        }
        if n > 0 && CLOSE_EVENTS.contains(&self.types[&n].as_str()) {
            return Err(format!("event {event} ({kind}) comes after the close"));
        }
        let attrs = attributes(e);
        let types = &self.types;
        let refers = |field: &str, want: &str| -> Result<i64, String> {
            let to = event_id(attrs, field);
            match types.get(&to) {
                Some(t) if t == want => Ok(to),
                other => Err(format!(
                    "event {event} ({kind}) has {field} {to}, which is {other:?}, not {want}"
                )),
            }
        };
        let mut closes = |what: &'static str, of: i64| {
            if self.closed.insert((what, of)) {
                Ok(())
            } else {
                Err(format!("{what} {of} closes twice (event {event})"))
            }
        };
        match kind {
            "EVENT_TYPE_WORKFLOW_TASK_STARTED" => {
                refers("scheduledEventId", "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED")?;
            }
            "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"
            | "EVENT_TYPE_WORKFLOW_TASK_FAILED"
            | "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT" => {
                let scheduled = refers("scheduledEventId", "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED")?;
                if event_id(attrs, "startedEventId") != 0 {
                    refers("startedEventId", "EVENT_TYPE_WORKFLOW_TASK_STARTED")?;
                }
                closes("workflow task", scheduled)?;
            }
            "EVENT_TYPE_ACTIVITY_TASK_STARTED" => {
                let scheduled = refers("scheduledEventId", "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")?;
                if self.started_activity.insert(scheduled, event).is_some() {
                    return Err(format!("activity {scheduled} started twice"));
                }
            }
            "EVENT_TYPE_ACTIVITY_TASK_COMPLETED"
            | "EVENT_TYPE_ACTIVITY_TASK_FAILED"
            | "EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT"
            | "EVENT_TYPE_ACTIVITY_TASK_CANCELED" => {
                let scheduled = refers("scheduledEventId", "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")?;
                let started = event_id(attrs, "startedEventId");
                if started != 0 && self.started_activity.get(&scheduled) != Some(&started) {
                    return Err(format!(
                        "event {event} closes activity {scheduled} started by {started}, which did not start it"
                    ));
                }
                closes("activity", scheduled)?;
            }
            "EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED" => {
                refers("scheduledEventId", "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")?;
            }
            "EVENT_TYPE_TIMER_FIRED" | "EVENT_TYPE_TIMER_CANCELED" => {
                let started = refers("startedEventId", "EVENT_TYPE_TIMER_STARTED")?;
                closes("timer", started)?;
            }
            _ => {}
        }
        self.types.insert(event, kind.to_owned());
        Ok(())
    }
}
