//! `waymark workflow ...`: start, wait for, inspect, signal, query, cancel and terminate
//! workflow executions.

use std::time::Duration;

use clap::Subcommand;
use serde_json::{Map, Value, json};
use waymark_sdk::ApiRequest;

use super::batch::{self, BatchArgs, CountArgs, ListArgs};
use super::output::{Column, col};
use super::{CliError, CliResult, Ctx, IdPolicies, duration, exit, payloads};

/// How long one long poll of a history waits before it is asked again.
const HISTORY_POLL: Duration = Duration::from_secs(30);

const LIST_COLUMNS: [Column; 5] = [
    col("STATUS", "/status"),
    col("WORKFLOW ID", "/execution/workflowId"),
    col("TYPE", "/type/name"),
    col("START TIME", "/startTime"),
    col("CLOSE TIME", "/closeTime"),
];

const EVENT_COLUMNS: [Column; 4] = [
    col("ID", "/eventId"),
    col("TIME", "/eventTime"),
    col("TYPE", "/eventType"),
    col("DETAILS", "/details"),
];

#[derive(clap::Args, Clone, Debug)]
pub struct Execution {
    /// The workflow id.
    #[arg(short = 'w', long)]
    pub workflow_id: String,
    /// The run (default: the latest).
    #[arg(short = 'r', long, default_value = "")]
    pub run_id: String,
}

#[derive(clap::Args, Clone, Debug)]
pub struct StartArgs {
    /// The workflow id (default: a new UUID).
    #[arg(short = 'w', long)]
    workflow_id: Option<String>,
    /// The workflow type.
    #[arg(long = "type")]
    workflow_type: String,
    /// The task queue its workflow tasks go to.
    #[arg(short = 't', long)]
    task_queue: String,
    /// An argument as JSON; repeat for several.
    #[arg(short = 'i', long)]
    input: Vec<String>,
    /// Longest the workflow may take across retries and continue-as-new.
    #[arg(long, value_parser = duration)]
    execution_timeout: Option<String>,
    /// Longest one run may take.
    #[arg(long, value_parser = duration)]
    run_timeout: Option<String>,
    /// Longest a workflow task may take.
    #[arg(long, value_parser = duration)]
    task_timeout: Option<String>,
    #[command(flatten)]
    id_policies: IdPolicies,
}

#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Start a workflow execution.
    ///
    /// Example: waymark workflow start --type Order --task-queue orders -w order-1 -i '{"sku":"x"}'
    Start(StartArgs),
    /// Start a workflow execution and wait for its result.
    ///
    /// Example: waymark workflow execute --type Order --task-queue orders -i '{"sku":"x"}'
    Execute(StartArgs),
    /// Show a workflow execution: its state, pending activities and workflow task.
    ///
    /// Example: waymark workflow describe -w order-1
    Describe(Execution),
    /// Show a workflow execution's event history.
    ///
    /// Example: waymark workflow show -w order-1 --follow
    Show {
        #[command(flatten)]
        execution: Execution,
        /// Keep printing new events as they happen, until the run closes.
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// List workflow executions.
    ///
    /// Example: waymark workflow list -q "ExecutionStatus='Running'" --limit 20
    List(ListArgs),
    /// Count workflow executions.
    ///
    /// Example: waymark workflow count -q "WorkflowType='Order'"
    Count(CountArgs),
    /// Wait for a workflow execution's result (following continue-as-new).
    ///
    /// Example: waymark workflow result -w order-1
    Result(Execution),
    /// Send a signal to a workflow execution.
    ///
    /// Example: waymark workflow signal -w order-1 --name approve -i '"alice"'
    Signal {
        #[command(flatten)]
        execution: Execution,
        /// The signal's name.
        #[arg(long)]
        name: String,
        /// An argument as JSON; repeat for several.
        #[arg(short = 'i', long)]
        input: Vec<String>,
    },
    /// Query a workflow execution (a worker answers).
    ///
    /// Example: waymark workflow query -w order-1 --type status
    Query {
        #[command(flatten)]
        execution: Execution,
        /// The query's type.
        #[arg(long = "type")]
        query_type: String,
        /// An argument as JSON; repeat for several.
        #[arg(short = 'i', long)]
        input: Vec<String>,
    },
    /// Ask a workflow execution (or every running one a query matches) to cancel.
    ///
    /// Example: waymark workflow cancel -w order-1 --reason "customer left"
    Cancel(Acting),
    /// Terminate a workflow execution (or every running one a query matches) at once.
    ///
    /// Example: waymark workflow terminate -q "WorkflowType='Order'" --reason cleanup -y
    Terminate(Acting),
}

/// One execution by id, or a batch by query.
#[derive(clap::Args, Clone, Debug)]
pub struct Acting {
    /// The workflow id.
    #[arg(
        short = 'w',
        long,
        conflicts_with = "query",
        required_unless_present = "query"
    )]
    workflow_id: Option<String>,
    /// The run (default: the latest).
    #[arg(short = 'r', long, default_value = "", requires = "workflow_id")]
    run_id: String,
    /// Why, recorded in the history.
    #[arg(long, default_value = "")]
    reason: String,
    #[command(flatten)]
    batch: BatchArgs,
}

pub async fn run(ctx: &Ctx, verb: Verb) -> CliResult {
    match verb {
        Verb::Start(args) => {
            let (id, started) = start(ctx, &args).await?;
            let run_id = started["runId"].as_str().unwrap_or_default();
            ctx.out.done(
                &format!("Started workflow {id} (run {run_id})."),
                &with_id("workflowId", &id, started.clone()),
            );
            Ok(())
        }
        Verb::Execute(args) => {
            let (id, started) = start(ctx, &args).await?;
            let run_id = started["runId"].as_str().unwrap_or_default().to_owned();
            if ctx.out.is_text() {
                eprintln!("Started workflow {id} (run {run_id}); waiting for its result.");
            }
            result(ctx, &id, &run_id).await
        }
        Verb::Describe(e) => {
            let answer = describe(ctx, &e).await?;
            ctx.out.object(&answer);
            Ok(())
        }
        Verb::Show { execution, follow } => show(ctx, &execution, follow).await,
        Verb::List(args) => KIND.list(ctx, args, &LIST_COLUMNS).await,
        Verb::Count(args) => KIND.count(ctx, args).await,
        Verb::Result(e) => result(ctx, &e.workflow_id, &e.run_id).await,
        Verb::Signal {
            execution,
            name,
            input,
        } => {
            let mut body = json!({
                "workflowExecution": {"workflowId": execution.workflow_id, "runId": execution.run_id},
                "identity": ctx.identity(),
                "requestId": uuid::Uuid::new_v4().to_string(),
            });
            set(&mut body, "input", payloads(&input)?);
            let path = ctx.ns(&["workflows", &execution.workflow_id, "signal", &name]);
            let doing = || format!("signal workflow {}", execution.workflow_id);
            let answer = ctx.send(doing, ApiRequest::post(path, body)).await?;
            ctx.out.done(&format!("Signal {name} sent."), &answer);
            Ok(())
        }
        Verb::Query {
            execution,
            query_type,
            input,
        } => {
            let mut query = json!({"queryType": query_type});
            set(&mut query, "queryArgs", payloads(&input)?);
            let body = json!({
                "execution": {"workflowId": execution.workflow_id, "runId": execution.run_id},
                "query": query,
            });
            let path = ctx.ns(&["workflows", &execution.workflow_id, "query", &query_type]);
            let doing = || format!("query workflow {}", execution.workflow_id);
            let answer = ctx.send(doing, ApiRequest::post(path, body)).await?;
            if ctx.out.is_text() {
                let shown = payload_text(&answer["queryResult"]);
                ctx.out.done(&format!("Query result: {shown}"), &answer);
            } else {
                ctx.out.object(&answer);
            }
            Ok(())
        }
        Verb::Cancel(acting) => act(ctx, acting, Action::Cancel).await,
        Verb::Terminate(acting) => act(ctx, acting, Action::Terminate).await,
    }
}

async fn start(ctx: &Ctx, args: &StartArgs) -> CliResult<(String, Value)> {
    let id = args
        .workflow_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut body = json!({
        "workflowId": id,
        "workflowType": {"name": args.workflow_type},
        "taskQueue": {"name": args.task_queue},
        "identity": ctx.identity(),
        "requestId": uuid::Uuid::new_v4().to_string(),
    });
    set(&mut body, "input", payloads(&args.input)?);
    set(
        &mut body,
        "workflowExecutionTimeout",
        args.execution_timeout.clone().map(Value::from),
    );
    set(
        &mut body,
        "workflowRunTimeout",
        args.run_timeout.clone().map(Value::from),
    );
    set(
        &mut body,
        "workflowTaskTimeout",
        args.task_timeout.clone().map(Value::from),
    );
    args.id_policies.set_on(&mut body, "WORKFLOW", "workflowId");
    let path = ctx.ns(&["workflows", &id]);
    let doing = || format!("start workflow {id}");
    let answer = ctx.send(doing, ApiRequest::post(path, body)).await?;
    Ok((id, answer))
}

async fn describe(ctx: &Ctx, e: &Execution) -> CliResult<Value> {
    let request = ApiRequest::get(ctx.ns(&["workflows", &e.workflow_id]))
        .query("execution.runId", e.run_id.clone());
    ctx.send(|| format!("describe workflow {}", e.workflow_id), request)
        .await
}

/// The history, or with `follow` the events as they are written until the run closes.
async fn show(ctx: &Ctx, e: &Execution, follow: bool) -> CliResult {
    let doing = || format!("read the history of workflow {}", e.workflow_id);
    let path = ctx.ns(&["workflows", &e.workflow_id, "history"]);
    let mut token = String::new();
    let mut all = Vec::new();
    let mut first = true;
    loop {
        let mut request = ApiRequest::get(path.clone())
            .query("execution.runId", e.run_id.clone())
            .query("nextPageToken", token.clone());
        if follow {
            request = request.query("waitNewEvent", "true").wait(HISTORY_POLL);
        }
        let page = ctx.send(doing, request).await?;
        let events: Vec<Value> = page["history"]["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if follow && !events.is_empty() {
            let rows: Vec<Value> = events.iter().map(event_row).collect();
            match ctx.out.is_text() {
                true => ctx.out.rows(&rows, &EVENT_COLUMNS, first),
                false => ctx.out.rows(&events, &[], first),
            }
            first = false;
        }
        all.extend(events);
        match page["nextPageToken"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_owned(),
            _ => break,
        }
    }
    if !follow {
        match ctx.out.is_text() {
            true => ctx.out.list(
                &all.iter().map(event_row).collect::<Vec<_>>(),
                &EVENT_COLUMNS,
            ),
            false if ctx.out.format == super::output::Format::Json => {
                ctx.out.object(&json!({"events": all}))
            }
            false => ctx.out.rows(&all, &[], true),
        }
    }
    Ok(())
}

/// An event as a row of the text table: its attributes on one line.
fn event_row(event: &Value) -> Value {
    let details = event
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventAttributes")))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    let mut row = event.clone();
    row["details"] = Value::from(details);
    row
}

/// Waits for the run's closing event, following continue-as-new, and prints the result.
async fn result(ctx: &Ctx, workflow_id: &str, run_id: &str) -> CliResult {
    let mut run_id = run_id.to_owned();
    loop {
        let event = closing_event(ctx, workflow_id, &run_id).await?;
        let kind = event["eventType"].as_str().unwrap_or_default().to_owned();
        let attrs = event
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventAttributes")))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let status = kind
            .strip_prefix("EVENT_TYPE_WORKFLOW_EXECUTION_")
            .unwrap_or(&kind)
            .to_owned();
        if status == "CONTINUED_AS_NEW" {
            run_id = attrs["newExecutionRunId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            continue;
        }
        let text = match status.as_str() {
            "COMPLETED" => format!("Result: {}", payload_text(&attrs["result"])),
            "FAILED" => format!("Failed: {}", failure_text(&attrs["failure"])),
            "TERMINATED" => format!("Terminated: {}", attrs["reason"].as_str().unwrap_or("")),
            "TIMED_OUT" => "Timed out.".to_owned(),
            "CANCELED" => format!("Canceled: {}", payload_text(&attrs["details"])),
            other => format!("Closed: {other}"),
        };
        ctx.out.done(&text, &event);
        return match status.as_str() {
            "COMPLETED" => Ok(()),
            _ => Err(CliError::Other {
                status: exit::FAILED,
                error: anyhow::anyhow!("workflow {workflow_id} did not complete: {status}"),
            }),
        };
    }
}

/// The closing event of run `run_id` (empty: the latest), long-polled for until it is written.
async fn closing_event(ctx: &Ctx, workflow_id: &str, run_id: &str) -> CliResult<Value> {
    let path = ctx.ns(&["workflows", workflow_id, "history"]);
    loop {
        let request = ApiRequest::get(path.clone())
            .query("execution.runId", run_id)
            .query("waitNewEvent", "true")
            .query(
                "historyEventFilterType",
                "HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT",
            )
            .wait(HISTORY_POLL);
        let page = ctx
            .send(|| format!("wait for workflow {workflow_id}"), request)
            .await?;
        if let Some(event) = page["history"]["events"].as_array().and_then(|e| e.first()) {
            return Ok(event.clone());
        }
    }
}

#[derive(Clone, Copy)]
enum Action {
    Cancel,
    Terminate,
}

const KIND: batch::Kind = batch::Kind {
    noun: "workflow",
    nouns: "workflows",
    list: "workflows",
    count: "workflow-count",
    pointers: ("/execution/workflowId", "/execution/runId"),
    running: "WORKFLOW_EXECUTION_STATUS_RUNNING",
};

async fn act(ctx: &Ctx, acting: Acting, action: Action) -> CliResult {
    let (verb, verbed) = match action {
        Action::Cancel => ("cancel", "Cancel requested for"),
        Action::Terminate => ("terminate", "Terminated"),
    };
    let reason = acting.reason.clone();
    let one = |id: String, run_id: String| {
        let mut body = json!({
            "workflowExecution": {"workflowId": id, "runId": run_id},
            "reason": reason,
            "identity": ctx.identity(),
        });
        // Only a cancel is deduplicated by request id.
        if matches!(action, Action::Cancel) {
            body["requestId"] = Value::from(uuid::Uuid::new_v4().to_string());
        }
        let path = ctx.ns(&["workflows", &id, verb]);
        async move {
            let doing = || format!("{verb} workflow {id}");
            ctx.send(doing, ApiRequest::post(path, body)).await
        }
    };
    let target = (acting.workflow_id, acting.run_id);
    batch::one_or_many(ctx, &KIND, target, acting.batch, (verb, verbed), one).await
}

/// Sets `key` of the object `body` when there is a value.
pub fn set(body: &mut Value, key: &str, value: Option<Value>) {
    if let (Some(o), Some(v)) = (body.as_object_mut(), value) {
        o.insert(key.to_owned(), v);
    }
}

/// `{<field>: id}` then the fields of `answer`: a start's answer names no id.
pub fn with_id(field: &str, id: &str, answer: Value) -> Value {
    let mut out = Map::new();
    out.insert(field.into(), Value::from(id));
    if let Value::Object(fields) = answer {
        out.extend(fields);
    }
    Value::Object(out)
}

/// Payloads as people read them: one value alone, several as an array.
pub fn payload_text(payloads: &Value) -> String {
    match payloads.as_array().map(Vec::as_slice) {
        Some([one]) => one.to_string(),
        Some(_) => payloads.to_string(),
        None if payloads.is_null() => "(none)".into(),
        None => payloads.to_string(),
    }
}

/// A failure's message, with its type and its cause's.
pub fn failure_text(failure: &Value) -> String {
    let mut text = failure["message"].as_str().unwrap_or_default().to_owned();
    if let Some(kind) = failure["applicationFailureInfo"]["type"]
        .as_str()
        .filter(|t| !t.is_empty())
    {
        text = format!("{text} ({kind})");
    }
    if !failure["cause"].is_null() {
        text = format!("{text}: {}", failure_text(&failure["cause"]));
    }
    text
}
