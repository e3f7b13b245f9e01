//! The simulated world: the real engine (history, matching and timer over SQLite and the
//! in-process queue) on a clock that moves only when a step says so, and the clients and
//! workers around it. Each step is carried out to its end before the next begins.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration as StdDuration;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use waymark::embedded::Engine;
use waymark_api::{ApiError, Code, Payloads, Timestamp};
use waymark_clients::{ActivityRef, Clock, HistoryApi, MatchingApi};
use waymark_core::limits::{HistoryLimits, Limits};
use waymark_core::task_token::{TaskToken, TokenSigner};
use waymark_store::Store;

use crate::invariants::{Book, Reach, Violation};
use crate::rng::Rng;
use crate::steps::{Operator, QUEUES, Response, Step, WORKFLOW_IDS, WorkflowOp};

pub const NS: &str = "default";
/// The task queue of every workflow's workflow tasks.
const WORKFLOW_QUEUE: &str = "wq";
/// 2026-01-01T00:00:00Z: the simulated clock starts here, whatever the real date.
const EPOCH_NS: i64 = 1_767_225_600_000_000_000;
const SIGNING_KEY: &str = "simulation-signing-key";
/// How long a check waits for the engine's own background work (clearing the outbox).
const SETTLE: StdDuration = StdDuration::from_secs(2);

/// History limits small enough that runs reach them: a long run is terminated, as Temporal
/// terminates one over its limits.
fn limits() -> Limits {
    Limits {
        history: HistoryLimits {
            count_suggest: 40,
            count_error: 120,
            size_suggest: 16 * 1024,
            size_error: 48 * 1024,
        },
        ..Limits::default()
    }
}

/// A clock that stands still until the simulation moves it.
#[derive(Default)]
pub struct SimClock(AtomicI64);

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_nanos(EPOCH_NS + self.0.load(Ordering::Relaxed))
    }
}

/// A task a worker took and has not let go of: it may answer it, twice, or after it went stale.
#[derive(Clone, Debug)]
pub struct HeldTask {
    pub token: String,
    pub claims: TaskToken,
}

/// A workflow task a worker took, with what it saw of the run.
#[derive(Clone, Debug)]
pub struct HeldWorkflowTask {
    pub token: String,
    pub workflow_id: String,
    /// Scheduled event ids of the activities still open in the history the worker got.
    pub open_activities: Vec<i64>,
    /// Ids of the timers still running in that history.
    pub open_timers: Vec<String>,
    pub cancel_requested: bool,
}

/// What a check looks at.
enum Target {
    Activity(String),
    Workflow(String),
    All(Reach),
}

/// What happened, for the report at the end.
#[derive(Default, Debug)]
pub struct Tally {
    pub accepted: u64,
    pub refused: u64,
    pub crashes: u64,
    pub timers_fired: u64,
    pub tasks_taken: u64,
}

pub struct World {
    store: Store,
    clock: Arc<SimClock>,
    signer: TokenSigner,
    engine: Engine,
    activity_tasks: Vec<HeldTask>,
    workflow_tasks: Vec<HeldWorkflowTask>,
    pub book: Book,
    pub tally: Tally,
}

/// An API answer that only a broken engine gives (a 500 or its kin), as a violation.
fn fault(what: &str, e: &ApiError) -> Option<Violation> {
    matches!(
        e.code,
        Code::Internal | Code::Unknown | Code::DataLoss | Code::Unavailable
    )
    .then(|| Violation::new(format!("{what} answered {:?}: {}", e.code, e.message)))
}

/// A request built from its JSON (the public shape), so that the simulation speaks the API.
fn req<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("the simulation builds well-formed requests")
}

fn json_of<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("API types serialize")
}

fn seconds(s: u64) -> String {
    format!("{s}s")
}

/// One payload, distinct per step so that a result can be told apart from every other.
fn payload(text: String) -> Value {
    json!({"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": base64(&format!("\"{text}\""))}]})
}

fn base64(s: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A retry policy drawn from `rng`: none (the server's default) or a short one.
fn retry_policy(rng: &mut Rng) -> Value {
    if rng.chance(30) {
        return Value::Null;
    }
    json!({
        "initialInterval": seconds(1 + rng.below(3)),
        "backoffCoefficient": 2.0,
        "maximumInterval": seconds(5 + rng.below(20)),
        "maximumAttempts": rng.below(5),
    })
}

/// Activity timeouts drawn from `rng`; at least one of schedule-to-close and start-to-close.
fn activity_timeouts(rng: &mut Rng, into: &mut serde_json::Map<String, Value>) {
    let s2c = rng.chance(50).then(|| 5 + rng.below(60));
    let s2s = rng.chance(30).then(|| 1 + rng.below(10));
    let start = (s2c.is_none() || rng.chance(60)).then(|| 1 + rng.below(30));
    let heartbeat = rng.chance(30).then(|| 1 + rng.below(5));
    for (name, value) in [
        ("scheduleToCloseTimeout", s2c),
        ("scheduleToStartTimeout", s2s),
        ("startToCloseTimeout", start),
        ("heartbeatTimeout", heartbeat),
    ] {
        if let Some(s) = value {
            into.insert(name.into(), json!(seconds(s)));
        }
    }
    let retry = retry_policy(rng);
    if !retry.is_null() {
        into.insert("retryPolicy".into(), retry);
    }
}

/// One of an enum's `values`, as the wire names it (`prefix` and the value).
fn draw_enum(rng: &mut Rng, prefix: &str, values: &[&str]) -> Value {
    json!(format!(
        "{prefix}{}",
        values[rng.below(values.len() as u64) as usize]
    ))
}

fn pick<T>(items: &[T], pick: u64) -> Option<&T> {
    (!items.is_empty()).then(|| &items[(pick % items.len() as u64) as usize])
}

fn activity_id(id: u64) -> String {
    format!("a{id}")
}

fn workflow_id(id: u64) -> String {
    format!("w{id}")
}

fn queue(q: u64) -> String {
    format!("q{q}")
}

impl World {
    pub async fn new() -> Result<World, Violation> {
        let store = Store::connect("sqlite::memory:", None)
            .await
            .map_err(|e| Violation::new(format!("opening SQLite: {e}")))?;
        store
            .migrate()
            .await
            .map_err(|e| Violation::new(format!("migrating: {e}")))?;
        let clock = Arc::new(SimClock::default());
        let signer = TokenSigner::new(SIGNING_KEY);
        let (engine, _) = Engine::boot(&store, signer.clone(), clock.clone(), limits())
            .await
            .map_err(|e| Violation::new(format!("booting: {e}")))?;
        Ok(World {
            store,
            clock,
            signer,
            engine,
            activity_tasks: Vec::new(),
            workflow_tasks: Vec::new(),
            book: Book::default(),
            tally: Tally::default(),
        })
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn history(&self) -> &dyn HistoryApi {
        self.engine.history.as_ref()
    }

    pub fn matching(&self) -> &dyn MatchingApi {
        self.engine.matching.as_ref()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Counts an API answer; a fault is a violation, a refusal is part of the game.
    fn answered<T>(&mut self, what: &str, r: Result<T, ApiError>) -> Result<Option<T>, Violation> {
        match r {
            Ok(v) => {
                self.tally.accepted += 1;
                Ok(Some(v))
            }
            Err(e) => match fault(what, &e) {
                Some(v) => Err(v),
                None => {
                    self.tally.refused += 1;
                    Ok(None)
                }
            },
        }
    }

    /// Carries out `step`, then checks the invariants it may have touched.
    pub async fn step(&mut self, index: usize, step: Step) -> Result<(), Violation> {
        let mut rng = Rng::new(index as u64);
        match step {
            Step::StartActivity {
                id,
                queue: q,
                shape,
            } => {
                self.start_activity(index, &activity_id(id), &queue(q), shape)
                    .await?;
                self.check(Target::Activity(activity_id(id))).await
            }
            Step::PollActivity { queue: q } => self.poll_activity(&queue(q)).await,
            Step::Heartbeat { pick: p } => self.heartbeat(p, index).await,
            Step::Respond { pick: p, how } => self.respond(index, p, how).await,
            Step::Operate { id, op } => {
                self.operate(&activity_id(id), op, &mut rng).await?;
                self.check(Target::Activity(activity_id(id))).await
            }
            Step::StartWorkflow { id, shape } => {
                self.start_workflow(&workflow_id(id), shape).await?;
                self.check(Target::Workflow(workflow_id(id))).await
            }
            Step::PollWorkflow => self.poll_workflow().await,
            Step::CompleteWorkflowTask { pick: p, commands } => {
                self.complete_workflow_task(index, p, commands).await
            }
            Step::FailWorkflowTask { pick: p } => self.fail_workflow_task(p).await,
            Step::OnWorkflow { id, op } => {
                self.on_workflow(index, &workflow_id(id), op).await?;
                self.check(Target::Workflow(workflow_id(id))).await
            }
            Step::Advance { millis } => {
                self.clock
                    .0
                    .fetch_add(millis as i64 * 1_000_000, Ordering::Relaxed);
                // Only a timer changes anything when the clock moves.
                if self.fire_timers().await? == 0 {
                    return Ok(());
                }
                self.check_everything(Reach::Latest).await
            }
            Step::Crash => {
                self.settle().await?;
                self.crash().await?;
                self.check_everything(Reach::Sample).await
            }
        }
    }

    /// The invariants over every execution, reaching as far back as `reach` says.
    pub async fn check_everything(&mut self, reach: Reach) -> Result<(), Violation> {
        self.settle().await?;
        self.check(Target::All(reach)).await
    }

    /// Checks the invariants of `target` (the book reads the world it keeps accounts of).
    async fn check(&mut self, target: Target) -> Result<(), Violation> {
        let mut book = std::mem::take(&mut self.book);
        let checked = match &target {
            Target::Activity(id) => book.check_activity(self, id).await,
            Target::Workflow(id) => book.check_workflow(self, id).await,
            Target::All(reach) => book.check_all(self, *reach).await,
        };
        self.book = book;
        checked
    }

    /// Waits until the engine's background work is done: every delivered outbox row cleared.
    /// A row that stays was never delivered: a task only a restart would find.
    async fn settle(&self) -> Result<(), Violation> {
        let started = std::time::Instant::now();
        loop {
            let (depth, _) = self
                .store
                .outbox_stats()
                .await
                .map_err(|e| Violation::new(format!("reading the outbox: {e}")))?;
            if depth == 0 {
                return Ok(());
            }
            if started.elapsed() > SETTLE {
                return Err(Violation::new(format!(
                    "{depth} outbox rows stay undelivered"
                )));
            }
            // The engine's delivery runs on this thread: let it.
            tokio::task::yield_now().await;
        }
    }

    /// The process dies and starts again: caches and queues are gone, SQL is what is left.
    async fn crash(&mut self) -> Result<(), Violation> {
        let (engine, _) = Engine::boot(
            &self.store,
            self.signer.clone(),
            self.clock.clone(),
            limits(),
        )
        .await
        .map_err(|e| Violation::new(format!("restarting after a crash: {e}")))?;
        self.engine = engine;
        self.tally.crashes += 1;
        Ok(())
    }

    /// Fires every timer that is due; answers how many.
    async fn fire_timers(&mut self) -> Result<usize, Violation> {
        let mut count = 0;
        loop {
            let fired = self
                .engine
                .timer
                .fire_due()
                .await
                .map_err(|e| Violation::new(format!("a due timer could not fire: {e}")))?;
            if fired.is_empty() {
                return Ok(count);
            }
            count += fired.len();
            self.tally.timers_fired += fired.len() as u64;
            for id in fired {
                self.book.timer_fired(id)?;
            }
        }
    }

    // --- Standalone activities ----------------------------------------------------------

    async fn start_activity(
        &mut self,
        index: usize,
        id: &str,
        queue: &str,
        shape: u64,
    ) -> Result<(), Violation> {
        let mut rng = Rng::new(shape);
        let mut body = json!({
            "activityType": {"name": "Sim"},
            "taskQueue": {"name": queue},
            "identity": "client",
            "requestId": format!("start-{index}"),
            "input": payload(format!("input-{index}")),
        });
        let fields = body.as_object_mut().expect("an object");
        activity_timeouts(&mut rng, fields);
        if rng.chance(10) {
            fields.insert("startDelay".into(), json!(seconds(1 + rng.below(5))));
        }
        let reuse = [
            "ALLOW_DUPLICATE",
            "ALLOW_DUPLICATE_FAILED_ONLY",
            "REJECT_DUPLICATE",
        ];
        let conflict = ["FAIL", "USE_EXISTING"];
        let policy = draw_enum(&mut rng, "ACTIVITY_ID_REUSE_POLICY_", &reuse);
        fields.insert("idReusePolicy".into(), policy);
        let policy = draw_enum(&mut rng, "ACTIVITY_ID_CONFLICT_POLICY_", &conflict);
        fields.insert("idConflictPolicy".into(), policy);
        let started = self.history().start_activity(NS, id, req(body)).await;
        self.answered("start activity", started)?;
        Ok(())
    }

    async fn poll_activity(&mut self, queue: &str) -> Result<(), Violation> {
        let request = req(json!({"taskQueue": {"name": queue}, "identity": "worker"}));
        let polled = self
            .matching()
            .poll_activity_task(NS, request, StdDuration::ZERO)
            .await;
        let Some(Some(task)) = self.answered("poll activity task", polled)? else {
            return Ok(());
        };
        let claims = self.claims(&task.task_token)?;
        self.tally.tasks_taken += 1;
        self.book.task_handed_out(&claims)?;
        let touched = claims.clone();
        self.activity_tasks.push(HeldTask {
            token: task.task_token,
            claims,
        });
        self.check_task_target(&touched).await
    }

    fn claims(&self, token: &str) -> Result<TaskToken, Violation> {
        self.signer
            .verify(token)
            .map_err(|e| Violation::new(format!("the engine handed out a bad task token: {e}")))
    }

    /// Checks the execution a task belongs to.
    async fn check_task_target(&mut self, claims: &TaskToken) -> Result<(), Violation> {
        let target = if claims.workflow_id.is_empty() {
            Target::Activity(claims.activity_id.clone())
        } else {
            Target::Workflow(claims.workflow_id.clone())
        };
        self.check(target).await
    }

    async fn heartbeat(&mut self, p: u64, index: usize) -> Result<(), Violation> {
        let Some(task) = pick(&self.activity_tasks, p).cloned() else {
            return Ok(());
        };
        let details = Some(req(payload(format!("progress-{index}"))));
        let beat = self
            .history()
            .record_heartbeat(
                NS,
                ActivityRef::Token(task.token.clone()),
                details,
                "worker".into(),
            )
            .await;
        self.answered("heartbeat", beat)?;
        self.check_task_target(&task.claims).await
    }

    async fn respond(&mut self, index: usize, p: u64, how: Response) -> Result<(), Violation> {
        let Some(task) = pick(&self.activity_tasks, p).cloned() else {
            return Ok(());
        };
        let target = ActivityRef::Token(task.token.clone());
        let accepted = match how {
            Response::Complete => {
                let result: Payloads = req(payload(format!("result-{index}")));
                let done = self
                    .history()
                    .respond_completed(NS, target, Some(result.clone()), "worker".into())
                    .await;
                let accepted = self.answered("complete activity", done)?.is_some();
                if accepted {
                    self.book.result_accepted(&task.claims, json_of(&result));
                }
                accepted
            }
            Response::Fail { non_retryable } => {
                let failure = json!({
                    "message": format!("failure-{index}"),
                    "applicationFailureInfo": {"type": "SimError", "nonRetryable": non_retryable},
                });
                let failed = self
                    .history()
                    .respond_failed(NS, target, Some(req(failure)), None, "worker".into())
                    .await;
                self.answered("fail activity", failed)?.is_some()
            }
            Response::Canceled => {
                let canceled = self
                    .history()
                    .respond_canceled(NS, target, None, "worker".into())
                    .await;
                self.answered("report activity canceled", canceled)?
                    .is_some()
            }
        };
        if accepted {
            self.book.task_answered(&task.token)?;
            // A worker lets go of a task it answered, mostly: the rest try again later.
            if !index.is_multiple_of(4) {
                self.activity_tasks.retain(|t| t.token != task.token);
            }
        }
        self.check_task_target(&task.claims).await
    }

    async fn operate(&mut self, id: &str, op: Operator, rng: &mut Rng) -> Result<(), Violation> {
        let h = self.engine.history.clone();
        let identity = json!("operator");
        let answer = match op {
            Operator::RequestCancel => {
                let r = req(
                    json!({"identity": identity, "requestId": format!("cancel-{}", rng.next_u64()), "reason": "sim"}),
                );
                h.request_cancel_activity(NS, id, r).await
            }
            Operator::Terminate => {
                h.terminate_activity(NS, id, req(json!({"identity": identity, "reason": "sim"})))
                    .await
            }
            Operator::Pause => {
                h.pause_activity(NS, id, req(json!({"identity": identity, "reason": "sim"})))
                    .await
            }
            Operator::Unpause => {
                h.unpause_activity(NS, id, req(json!({"identity": identity})))
                    .await
            }
            Operator::Reset => {
                let r = req(json!({"identity": identity, "keepPaused": rng.chance(30)}));
                h.reset_activity(NS, id, r).await
            }
            Operator::UpdateOptions => {
                let r = req(json!({
                    "identity": identity,
                    "activityOptions": {"startToCloseTimeout": seconds(1 + rng.below(30))},
                    "updateMask": "startToCloseTimeout",
                }));
                h.update_activity_options(NS, id, r).await.map(|_| ())
            }
        };
        self.answered(&format!("{op:?} activity"), answer)?;
        Ok(())
    }

    // --- Workflows ----------------------------------------------------------------------

    async fn start_workflow(&mut self, id: &str, shape: u64) -> Result<(), Violation> {
        let mut rng = Rng::new(shape);
        let mut body = json!({
            "workflowType": {"name": "SimWorkflow"},
            "taskQueue": {"name": WORKFLOW_QUEUE},
            "identity": "client",
            "requestId": format!("wf-start-{shape}"),
            "workflowTaskTimeout": seconds(1 + rng.below(10)),
        });
        let fields = body.as_object_mut().expect("an object");
        if rng.chance(40) {
            fields.insert(
                "workflowRunTimeout".into(),
                json!(seconds(30 + rng.below(300))),
            );
        }
        if rng.chance(10) {
            fields.insert(
                "workflowExecutionTimeout".into(),
                json!(seconds(60 + rng.below(600))),
            );
        }
        let reuse = [
            "ALLOW_DUPLICATE",
            "ALLOW_DUPLICATE_FAILED_ONLY",
            "REJECT_DUPLICATE",
        ];
        let conflict = ["FAIL", "USE_EXISTING", "TERMINATE_EXISTING"];
        let policy = draw_enum(&mut rng, "WORKFLOW_ID_REUSE_POLICY_", &reuse);
        fields.insert("workflowIdReusePolicy".into(), policy);
        let policy = draw_enum(&mut rng, "WORKFLOW_ID_CONFLICT_POLICY_", &conflict);
        fields.insert("workflowIdConflictPolicy".into(), policy);
        let started = self.history().start_workflow(NS, id, req(body)).await;
        self.answered("start workflow", started)?;
        Ok(())
    }

    async fn poll_workflow(&mut self) -> Result<(), Violation> {
        let request = req(json!({"taskQueue": {"name": WORKFLOW_QUEUE}, "identity": "wf-worker"}));
        let polled = self
            .matching()
            .poll_workflow_task(NS, request, StdDuration::ZERO)
            .await;
        let Some(Some(task)) = self.answered("poll workflow task", polled)? else {
            return Ok(());
        };
        let claims = self.claims(&task.task_token)?;
        self.tally.tasks_taken += 1;
        self.book.task_handed_out(&claims)?;
        let task = json_of(&task);
        let events = task["history"]["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let seen = crate::invariants::Seen::of(&events);
        let held = HeldWorkflowTask {
            token: task["taskToken"].as_str().unwrap_or_default().to_owned(),
            workflow_id: task["workflowExecution"]["workflowId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            open_activities: seen.open_activities,
            open_timers: seen.open_timers,
            cancel_requested: seen.cancel_requested,
        };
        let target = Target::Workflow(held.workflow_id.clone());
        self.workflow_tasks.push(held);
        self.check(target).await
    }

    async fn complete_workflow_task(
        &mut self,
        index: usize,
        p: u64,
        commands: u64,
    ) -> Result<(), Violation> {
        let Some(task) = pick(&self.workflow_tasks, p).cloned() else {
            return Ok(());
        };
        let commands = workflow_commands(index, &task, &mut Rng::new(commands));
        let body = json!({
            "taskToken": task.token,
            "commands": commands,
            "identity": "wf-worker",
            "namespace": NS,
        });
        let completed = self
            .history()
            .respond_workflow_task_completed(NS, req(body))
            .await;
        if self
            .answered("complete workflow task", completed)?
            .is_some()
        {
            self.book.task_answered(&task.token)?;
        }
        self.workflow_tasks
            .retain(|t| t.token != task.token || index.is_multiple_of(4));
        self.check(Target::Workflow(task.workflow_id)).await
    }

    async fn fail_workflow_task(&mut self, p: u64) -> Result<(), Violation> {
        let Some(task) = pick(&self.workflow_tasks, p).cloned() else {
            return Ok(());
        };
        let body = json!({
            "taskToken": task.token,
            "cause": "WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE",
            "failure": {"message": "workflow code failed"},
            "identity": "wf-worker",
            "namespace": NS,
        });
        let failed = self
            .history()
            .respond_workflow_task_failed(NS, req(body))
            .await;
        if self.answered("fail workflow task", failed)?.is_some() {
            self.book.task_answered(&task.token)?;
        }
        self.workflow_tasks.retain(|t| t.token != task.token);
        self.check(Target::Workflow(task.workflow_id)).await
    }

    async fn on_workflow(
        &mut self,
        index: usize,
        id: &str,
        op: WorkflowOp,
    ) -> Result<(), Violation> {
        let h = self.engine.history.clone();
        let answer = match op {
            WorkflowOp::Signal => {
                let r = req(json!({
                    "signalName": "poke",
                    "input": payload(format!("signal-{index}")),
                    "identity": "client",
                    "requestId": format!("signal-{index}"),
                }));
                h.signal_workflow(NS, id, r).await.map(|_| ())
            }
            WorkflowOp::RequestCancel => {
                let r = req(
                    json!({"identity": "client", "requestId": format!("cancel-{index}"), "reason": "sim"}),
                );
                h.request_cancel_workflow(NS, id, r).await
            }
            WorkflowOp::Terminate => {
                h.terminate_workflow(NS, id, req(json!({"identity": "client", "reason": "sim"})))
                    .await
            }
        };
        self.answered(&format!("{op:?} workflow"), answer)?;
        Ok(())
    }

    /// The workflow ids a run may have touched.
    pub fn workflow_ids() -> impl Iterator<Item = String> {
        (0..WORKFLOW_IDS).map(workflow_id)
    }

    pub fn activity_ids() -> impl Iterator<Item = String> {
        (0..crate::steps::ACTIVITY_IDS).map(activity_id)
    }

    pub fn queues() -> impl Iterator<Item = String> {
        (0..QUEUES).map(queue)
    }

    /// How many tasks each queue holds that no worker has taken yet.
    pub async fn backlogs(&self) -> Result<HashMap<String, u64>, Violation> {
        let mut backlogs = HashMap::new();
        for q in World::queues() {
            let backlog = self.matching().queue_backlog(NS, &q).await.map_err(|e| {
                Violation::new(format!("reading the backlog of {q}: {}", e.message))
            })?;
            backlogs.insert(q, backlog);
        }
        Ok(backlogs)
    }
}

/// What a workflow worker answers: mostly commands that make sense for what it saw, sometimes
/// ones that do not (a duplicate activity id, an unknown timer, a close that is not last).
fn workflow_commands(index: usize, task: &HeldWorkflowTask, rng: &mut Rng) -> Vec<Value> {
    let count = rng.below(4);
    (0..count)
        .map(|n| {
            let roll = rng.below(100);
            match roll {
                0..35 => {
                    let mut attrs = json!({
                        "activityId": format!("wa{}", rng.below(4)),
                        "activityType": {"name": "SimActivity"},
                        "taskQueue": {"name": queue(rng.below(QUEUES))},
                        "input": payload(format!("wf-input-{index}-{n}")),
                    });
                    activity_timeouts(rng, attrs.as_object_mut().expect("an object"));
                    json!({"commandType": "COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK", "scheduleActivityTaskCommandAttributes": attrs})
                }
                35..55 => json!({
                    "commandType": "COMMAND_TYPE_START_TIMER",
                    "startTimerCommandAttributes": {"timerId": format!("t{}", rng.below(4)), "startToFireTimeout": seconds(1 + rng.below(20))},
                }),
                55..63 => {
                    let timer = pick(&task.open_timers, rng.next_u64())
                        .cloned()
                        .unwrap_or_else(|| "no-such-timer".into());
                    json!({"commandType": "COMMAND_TYPE_CANCEL_TIMER", "cancelTimerCommandAttributes": {"timerId": timer}})
                }
                63..71 => {
                    let scheduled = pick(&task.open_activities, rng.next_u64()).copied().unwrap_or(9999);
                    json!({"commandType": "COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK", "requestCancelActivityTaskCommandAttributes": {"scheduledEventId": scheduled}})
                }
                71..76 => json!({"commandType": "COMMAND_TYPE_RECORD_MARKER", "recordMarkerCommandAttributes": {"markerName": "sim"}}),
                76..86 => json!({
                    "commandType": "COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION",
                    "completeWorkflowExecutionCommandAttributes": {"result": payload(format!("wf-result-{index}"))},
                }),
                86..90 => json!({
                    "commandType": "COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION",
                    "failWorkflowExecutionCommandAttributes": {"failure": {"message": "workflow failed"}},
                }),
                90..93 => json!({
                    "commandType": "COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION",
                    "continueAsNewWorkflowExecutionCommandAttributes": {
                        "workflowType": {"name": "SimWorkflow"},
                        "taskQueue": {"name": WORKFLOW_QUEUE},
                        "workflowTaskTimeout": seconds(1 + rng.below(10)),
                    },
                }),
                93..97 if task.cancel_requested || rng.chance(30) => json!({
                    "commandType": "COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION",
                    "cancelWorkflowExecutionCommandAttributes": {},
                }),
                // Invalid: a command without its attributes.
                _ => json!({"commandType": "COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK"}),
            }
        })
        .collect()
}
