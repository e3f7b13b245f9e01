//! `waymark activity ...`: standalone activities (start, wait, inspect, list, cancel,
//! terminate, and the operator's pause, unpause, reset and update-options), and completing,
//! failing or heartbeating any activity by id, a workflow's too.

use std::time::Duration;

use clap::Subcommand;
use serde_json::{Value, json};
use waymark_sdk::ApiRequest;

use super::batch::{self, BatchArgs, CountArgs, ListArgs};
use super::output::{Column, col};
use super::workflow::{failure_text, payload_text, set, with_id};
use super::{CliError, CliResult, Ctx, IdPolicies, duration, exit, payloads, usage};

/// How long one long poll of an outcome waits before it is asked again.
const OUTCOME_POLL: Duration = Duration::from_secs(30);

const LIST_COLUMNS: [Column; 6] = [
    col("STATUS", "/status"),
    col("ACTIVITY ID", "/activityId"),
    col("TYPE", "/activityType/name"),
    col("TASK QUEUE", "/taskQueue"),
    col("SCHEDULE TIME", "/scheduleTime"),
    col("CLOSE TIME", "/closeTime"),
];

/// A standalone activity: its id and run.
#[derive(clap::Args, Clone, Debug)]
pub struct Standalone {
    /// The activity id.
    #[arg(short = 'a', long)]
    pub activity_id: String,
    /// The run (default: the latest).
    #[arg(short = 'r', long, default_value = "")]
    pub run_id: String,
}

/// Any activity: a standalone one, or a workflow's with `-w`.
#[derive(clap::Args, Clone, Debug)]
pub struct AnyActivity {
    /// The activity id.
    #[arg(short = 'a', long)]
    pub activity_id: String,
    /// The workflow whose activity it is (none: a standalone activity).
    #[arg(short = 'w', long)]
    pub workflow_id: Option<String>,
    /// The run: the workflow's with -w, else the activity's (default: the latest).
    #[arg(short = 'r', long, default_value = "")]
    pub run_id: String,
}

/// The options of an activity: all of them to start one; to update one, those given.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct OptionArgs {
    /// Longest the activity may take from scheduling to its result, retries included.
    #[arg(long, value_parser = duration)]
    schedule_to_close_timeout: Option<String>,
    /// Longest a task may wait for a worker.
    #[arg(long, value_parser = duration)]
    schedule_to_start_timeout: Option<String>,
    /// Longest one attempt may take.
    #[arg(long, value_parser = duration)]
    start_to_close_timeout: Option<String>,
    /// Longest between heartbeats of a started attempt.
    #[arg(long, value_parser = duration)]
    heartbeat_timeout: Option<String>,
    /// Wait before the first retry.
    #[arg(long, value_parser = duration)]
    retry_initial_interval: Option<String>,
    /// Longest wait between retries.
    #[arg(long, value_parser = duration)]
    retry_maximum_interval: Option<String>,
    /// Factor of each retry's wait over the previous one's.
    #[arg(long)]
    retry_backoff_coefficient: Option<f64>,
    /// Attempts at most (0: unlimited).
    #[arg(long)]
    retry_maximum_attempts: Option<i32>,
}

impl OptionArgs {
    /// The options given, as the API names them, and their update-mask paths.
    fn given(&self) -> (Value, Vec<&'static str>) {
        let mut options = json!({});
        let mut paths = Vec::new();
        let mut put = |path: &'static str, value: Option<Value>| {
            if let Some(v) = value {
                let (outer, inner) = path.split_once('.').unwrap_or((path, ""));
                match inner {
                    "" => options[outer] = v,
                    inner => {
                        if options[outer].is_null() {
                            options[outer] = json!({});
                        }
                        options[outer][inner] = v;
                    }
                }
                paths.push(path);
            }
        };
        let text = |v: &Option<String>| v.clone().map(Value::from);
        put(
            "scheduleToCloseTimeout",
            text(&self.schedule_to_close_timeout),
        );
        put(
            "scheduleToStartTimeout",
            text(&self.schedule_to_start_timeout),
        );
        put("startToCloseTimeout", text(&self.start_to_close_timeout));
        put("heartbeatTimeout", text(&self.heartbeat_timeout));
        put(
            "retryPolicy.initialInterval",
            text(&self.retry_initial_interval),
        );
        put(
            "retryPolicy.maximumInterval",
            text(&self.retry_maximum_interval),
        );
        put(
            "retryPolicy.backoffCoefficient",
            self.retry_backoff_coefficient.map(Value::from),
        );
        put(
            "retryPolicy.maximumAttempts",
            self.retry_maximum_attempts.map(Value::from),
        );
        (options, paths)
    }
}

#[derive(clap::Args, Clone, Debug)]
pub struct StartArgs {
    /// The activity id (default: a new UUID).
    #[arg(short = 'a', long)]
    activity_id: Option<String>,
    /// The activity type.
    #[arg(long = "type")]
    activity_type: String,
    /// The task queue its tasks go to.
    #[arg(short = 't', long)]
    task_queue: String,
    /// An argument as JSON; repeat for several.
    #[arg(short = 'i', long)]
    input: Vec<String>,
    #[command(flatten)]
    options: OptionArgs,
    #[command(flatten)]
    id_policies: IdPolicies,
}

/// One standalone activity by id, or a batch by query.
#[derive(clap::Args, Clone, Debug)]
pub struct Acting {
    /// The activity id.
    #[arg(
        short = 'a',
        long,
        conflicts_with = "query",
        required_unless_present = "query"
    )]
    activity_id: Option<String>,
    /// The workflow whose activity it is, for pause, unpause and reset (none: a standalone
    /// activity).
    #[arg(short = 'w', long, requires = "activity_id")]
    workflow_id: Option<String>,
    /// The run: the workflow's with -w, else the activity's (default: the latest).
    #[arg(short = 'r', long, default_value = "", requires = "activity_id")]
    run_id: String,
    /// Why, recorded with the change.
    #[arg(long, default_value = "")]
    reason: String,
    #[command(flatten)]
    batch: BatchArgs,
}

#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Start a standalone activity.
    ///
    /// Example: waymark activity start --type Charge -t payments -a charge-1 --start-to-close-timeout 30s -i '{"cents":500}'
    Start(StartArgs),
    /// Start a standalone activity and wait for its result.
    ///
    /// Example: waymark activity execute --type Charge -t payments --start-to-close-timeout 30s
    Execute(StartArgs),
    /// Show a standalone activity: state, attempt, heartbeat details, last failure, outcome.
    ///
    /// Example: waymark activity describe -a charge-1
    Describe(Standalone),
    /// Wait for a standalone activity's result.
    ///
    /// Example: waymark activity result -a charge-1
    Result(Standalone),
    /// List standalone activities.
    ///
    /// Example: waymark activity list -q "ExecutionStatus='Running'" --limit 20
    List(ListArgs),
    /// Count standalone activities.
    ///
    /// Example: waymark activity count -q "ActivityType='Charge'"
    Count(CountArgs),
    /// Ask a standalone activity (or every running one a query matches) to cancel.
    ///
    /// Example: waymark activity cancel -a charge-1 --reason "order withdrawn"
    Cancel(Acting),
    /// Terminate a standalone activity (or every running one a query matches).
    ///
    /// Example: waymark activity terminate -q "ActivityType='Charge'" -y
    Terminate(Acting),
    /// Pause an activity (a workflow's with -w), or every running standalone one a query
    /// matches: it is not handed to workers until unpaused.
    ///
    /// Example: waymark activity pause -q "TaskQueue='payments'" --reason "partner down" -y
    Pause(Acting),
    /// Let a paused activity (a workflow's with -w) run again, or every one a query matches.
    ///
    /// Example: waymark activity unpause -a charge -w order-7
    Unpause(Acting),
    /// Start an activity's attempts again from the first (a workflow's with -w), or every
    /// running standalone one's a query matches.
    ///
    /// Example: waymark activity reset -a charge-1 --reset-heartbeats
    Reset {
        #[command(flatten)]
        acting: Acting,
        /// Keep it paused if it is.
        #[arg(long)]
        keep_paused: bool,
        /// Forget its heartbeat details.
        #[arg(long)]
        reset_heartbeats: bool,
    },
    /// Change the timeouts or retry policy of an activity (a workflow's with -w).
    ///
    /// Example: waymark activity update-options -a charge-1 --start-to-close-timeout 2m --retry-maximum-attempts 10
    UpdateOptions {
        #[command(flatten)]
        activity: AnyActivity,
        /// Move its tasks to this task queue.
        #[arg(short = 't', long)]
        task_queue: Option<String>,
        #[command(flatten)]
        options: OptionArgs,
    },
    /// Complete an activity by hand with its result.
    ///
    /// Example: waymark activity complete -a charge-1 --result '{"receipt":"r-9"}'
    Complete {
        #[command(flatten)]
        activity: AnyActivity,
        /// The result as JSON (default: none).
        #[arg(long)]
        result: Option<String>,
    },
    /// Fail an activity's attempt by hand (it retries per its policy).
    ///
    /// Example: waymark activity fail -a charge-1 --reason "card declined" --non-retryable
    Fail {
        #[command(flatten)]
        activity: AnyActivity,
        /// The failure's message.
        #[arg(long, default_value = "")]
        reason: String,
        /// The failure's details as JSON.
        #[arg(long)]
        detail: Option<String>,
        /// Do not retry.
        #[arg(long)]
        non_retryable: bool,
    },
    /// Record a heartbeat of an activity's attempt by hand, with progress details.
    ///
    /// Example: waymark activity heartbeat -a charge-1 -d '{"step":3}'
    Heartbeat {
        #[command(flatten)]
        activity: AnyActivity,
        /// Progress details as JSON.
        #[arg(short = 'd', long)]
        details: Option<String>,
    },
}

pub async fn run(ctx: &Ctx, verb: Verb) -> CliResult {
    match verb {
        Verb::Start(args) => {
            let (id, started) = start(ctx, &args).await?;
            let run_id = started["runId"].as_str().unwrap_or_default();
            let shown = with_id("activityId", &id, started.clone());
            ctx.out
                .done(&format!("Started activity {id} (run {run_id})."), &shown);
            Ok(())
        }
        Verb::Execute(args) => {
            let (id, started) = start(ctx, &args).await?;
            let run_id = started["runId"].as_str().unwrap_or_default().to_owned();
            if ctx.out.is_text() {
                eprintln!("Started activity {id} (run {run_id}); waiting for its result.");
            }
            result(ctx, &id, &run_id).await
        }
        Verb::Describe(a) => {
            let request = ApiRequest::get(ctx.ns(&["activities", &a.activity_id]))
                .query("runId", a.run_id.clone())
                .query("includeInput", "true")
                .query("includeOutcome", "true")
                .query("includeHeartbeatDetails", "true")
                .query("includeLastFailure", "true");
            let answer = ctx
                .send(|| format!("describe activity {}", a.activity_id), request)
                .await?;
            ctx.out.object(&answer);
            Ok(())
        }
        Verb::Result(a) => result(ctx, &a.activity_id, &a.run_id).await,
        Verb::List(args) => KIND.list(ctx, args, &LIST_COLUMNS).await,
        Verb::Count(args) => KIND.count(ctx, args).await,
        Verb::Cancel(acting) => act(ctx, acting, Op::Cancel).await,
        Verb::Terminate(acting) => act(ctx, acting, Op::Terminate).await,
        Verb::Pause(acting) => act(ctx, acting, Op::Pause).await,
        Verb::Unpause(acting) => act(ctx, acting, Op::Unpause).await,
        Verb::Reset {
            acting,
            keep_paused,
            reset_heartbeats,
        } => {
            act(
                ctx,
                acting,
                Op::Reset {
                    keep_paused,
                    reset_heartbeats,
                },
            )
            .await
        }
        Verb::UpdateOptions {
            activity,
            task_queue,
            options,
        } => {
            let (mut given, mut paths) = options.given();
            if let Some(queue) = task_queue {
                given["taskQueue"] = json!({"name": queue});
                paths.push("taskQueue.name");
            }
            if paths.is_empty() {
                return usage("give at least one option to change (see --help)");
            }
            let body = json!({
                "runId": activity.run_id,
                "identity": ctx.identity(),
                "activityOptions": given,
                "updateMask": paths.join(","),
            });
            let path = activity.path(ctx, "update-options");
            let doing = || format!("update the options of activity {}", activity.activity_id);
            let answer = ctx.send(doing, ApiRequest::post(path, body)).await?;
            let text = format!("Updated the options of activity {}.", activity.activity_id);
            ctx.out.changed(&text, &answer);
            Ok(())
        }
        Verb::Complete { activity, result } => {
            let mut body = json!({"identity": ctx.identity()});
            set(&mut body, "result", payloads(result.as_slice())?);
            let answer = by_id(ctx, &activity, "complete", body).await?;
            ctx.out.done(
                &format!("Completed activity {}.", activity.activity_id),
                &answer,
            );
            Ok(())
        }
        Verb::Fail {
            activity,
            reason,
            detail,
            non_retryable,
        } => {
            let mut info = json!({"nonRetryable": non_retryable});
            set(&mut info, "details", payloads(detail.as_slice())?);
            let body = json!({
                "identity": ctx.identity(),
                "failure": {"message": reason, "source": "waymark-cli", "applicationFailureInfo": info},
            });
            let answer = by_id(ctx, &activity, "fail", body).await?;
            ctx.out.done(
                &format!("Failed activity {}'s attempt.", activity.activity_id),
                &answer,
            );
            Ok(())
        }
        Verb::Heartbeat { activity, details } => {
            let mut body = json!({"identity": ctx.identity()});
            set(&mut body, "details", payloads(details.as_slice())?);
            let answer = by_id(ctx, &activity, "heartbeat", body).await?;
            let cancel = answer["cancelRequested"].as_bool().unwrap_or(false);
            let text = match cancel {
                true => "Heartbeat recorded; the activity is asked to cancel.".to_owned(),
                false => "Heartbeat recorded.".to_owned(),
            };
            ctx.out.done(&text, &answer);
            Ok(())
        }
    }
}

/// The path of an activity's `what`: below its workflow's when it has one.
fn activity_path(
    ctx: &Ctx,
    workflow_id: Option<&str>,
    activity_id: &str,
    what: &str,
) -> Vec<String> {
    match workflow_id {
        Some(w) => ctx.ns(&["workflows", w, "activities", activity_id, what]),
        None => ctx.ns(&["activities", activity_id, what]),
    }
}

impl AnyActivity {
    fn path(&self, ctx: &Ctx, what: &str) -> Vec<String> {
        activity_path(ctx, self.workflow_id.as_deref(), &self.activity_id, what)
    }
}

/// Completes, fails or heartbeats an activity by id (`what`), a workflow's with `-w`.
async fn by_id(ctx: &Ctx, a: &AnyActivity, what: &str, mut body: Value) -> CliResult<Value> {
    let path = a.path(ctx, what);
    if let Some(w) = &a.workflow_id {
        body["workflowId"] = Value::from(w.clone());
    }
    body["runId"] = Value::from(a.run_id.clone());
    body["activityId"] = Value::from(a.activity_id.clone());
    let doing = || format!("{what} activity {}", a.activity_id);
    ctx.send(doing, ApiRequest::post(path, body)).await
}

async fn start(ctx: &Ctx, args: &StartArgs) -> CliResult<(String, Value)> {
    let id = args
        .activity_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let (mut body, _) = args.options.given();
    body["activityId"] = Value::from(id.clone());
    body["activityType"] = json!({"name": args.activity_type});
    body["taskQueue"] = json!({"name": args.task_queue});
    body["identity"] = Value::from(ctx.identity());
    body["requestId"] = Value::from(uuid::Uuid::new_v4().to_string());
    set(&mut body, "input", payloads(&args.input)?);
    args.id_policies.set_on(&mut body, "ACTIVITY", "id");
    let path = ctx.ns(&["activities", &id]);
    let doing = || format!("start activity {id}");
    let answer = ctx.send(doing, ApiRequest::post(path, body)).await?;
    Ok((id, answer))
}

/// Waits for the activity's outcome and prints it.
async fn result(ctx: &Ctx, activity_id: &str, run_id: &str) -> CliResult {
    let path = ctx.ns(&["activities", activity_id, "outcome"]);
    let answer = loop {
        let request = ApiRequest::get(path.clone())
            .query("runId", run_id)
            .wait(OUTCOME_POLL);
        let answer = ctx
            .send(|| format!("wait for activity {activity_id}"), request)
            .await?;
        if !answer["outcome"].is_null() {
            break answer;
        }
    };
    let outcome = &answer["outcome"];
    if outcome["failure"].is_null() {
        ctx.out.done(
            &format!("Result: {}", payload_text(&outcome["result"])),
            &answer,
        );
        return Ok(());
    }
    ctx.out.done(
        &format!("Failed: {}", failure_text(&outcome["failure"])),
        &answer,
    );
    Err(CliError::Other {
        status: exit::FAILED,
        error: anyhow::anyhow!("activity {activity_id} did not complete"),
    })
}

#[derive(Clone, Copy)]
enum Op {
    Cancel,
    Terminate,
    Pause,
    Unpause,
    Reset {
        keep_paused: bool,
        reset_heartbeats: bool,
    },
}

impl Op {
    /// The path's last segment, and what the report says was done.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Op::Cancel => ("cancel", "Cancel requested for"),
            Op::Terminate => ("terminate", "Terminated"),
            Op::Pause => ("pause", "Paused"),
            Op::Unpause => ("unpause", "Unpaused"),
            Op::Reset { .. } => ("reset", "Reset"),
        }
    }
}

const KIND: batch::Kind = batch::Kind {
    noun: "activity",
    nouns: "activities",
    list: "activities",
    count: "activity-count",
    pointers: ("/activityId", "/runId"),
    running: "ACTIVITY_EXECUTION_STATUS_RUNNING",
};

async fn act(ctx: &Ctx, acting: Acting, op: Op) -> CliResult {
    let (verb, verbed) = op.names();
    if acting.workflow_id.is_some() && matches!(op, Op::Cancel | Op::Terminate) {
        return usage(format!(
            "a workflow's activity is not {verbed:?} by id: {verb} its workflow, or have the workflow cancel it"
        ));
    }
    let reason = acting.reason.clone();
    let workflow_id = acting.workflow_id.clone();
    let one = |id: String, run_id: String| {
        let mut body = json!({
            "runId": run_id,
            "identity": ctx.identity(),
            "requestId": uuid::Uuid::new_v4().to_string(),
        });
        match op {
            Op::Reset {
                keep_paused,
                reset_heartbeats,
            } => {
                body["keepPaused"] = Value::from(keep_paused);
                body["resetHeartbeat"] = Value::from(reset_heartbeats);
            }
            _ => body["reason"] = Value::from(reason.clone()),
        }
        let path = activity_path(ctx, workflow_id.as_deref(), &id, verb);
        async move {
            let doing = || format!("{verb} activity {id}");
            ctx.send(doing, ApiRequest::post(path, body)).await
        }
    };
    let target = (acting.activity_id, acting.run_id);
    batch::one_or_many(ctx, &KIND, target, acting.batch, (verb, verbed), one).await
}
