//! Playing the workflow worker by hand (WORKFLOWS.md): starting runs, polling and answering
//! workflow tasks with commands, reading histories and describing runs; plus the command
//! builders and the readers of events and times the workflow tests share.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Client, Reply};

/// The identity every workflow task poll and answer of these tests sends.
pub const WORKFLOW_WORKER: &str = "wf-worker";
/// The deadline of a workflow task poll that should find a task.
const POLL_TIMEOUT: &str = "5S";

impl Client {
    // --- The client side --------------------------------------------------------------------

    /// Starts workflow `id` of type `W` on task queue `queue`; the top-level fields of `extra`
    /// replace the defaults (`null` removes one). Answers whatever the server answers.
    pub async fn try_start_workflow(&self, id: &str, queue: &str, extra: Value) -> Reply {
        let mut body = json!({
            "workflowType": {"name": "W"},
            "taskQueue": {"name": queue},
            "identity": "starter",
            "requestId": uuid::Uuid::new_v4().to_string(),
        });
        for (k, v) in extra.as_object().expect("extra fields are an object") {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        self.post(&format!("workflows/{id}"), body).await
    }

    /// `try_start_workflow` that must start a run; returns its run id.
    pub async fn start_workflow(&self, id: &str, queue: &str, extra: Value) -> String {
        let (status, body) = self.try_start_workflow(id, queue, extra).await;
        assert_eq!(status, StatusCode::OK, "start workflow {id}: {body}");
        assert_eq!(body["started"], true, "start workflow {id}: {body}");
        body["runId"].as_str().expect("runId").to_owned()
    }

    /// DescribeWorkflowExecution of the latest run; must succeed.
    pub async fn describe_workflow(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("workflows/{id}")).await;
        assert_eq!(status, StatusCode::OK, "describe workflow {id}: {body}");
        body
    }

    /// GET history with these query parameters (and deadline), as the server answers it.
    pub async fn history_page(
        &self,
        id: &str,
        params: &[(&str, &str)],
        grpc_timeout: Option<&str>,
    ) -> Reply {
        self.get_with(&format!("workflows/{id}/history"), params, grpc_timeout)
            .await
    }

    /// The whole history of the latest run, as one plain GET shows it (no page token expected).
    pub async fn history(&self, id: &str) -> Vec<Value> {
        let (status, body) = self.history_page(id, &[], None).await;
        assert_eq!(status, StatusCode::OK, "history of {id}: {body}");
        assert_eq!(
            body.get("nextPageToken"),
            None,
            "a small history fits one page: {body}"
        );
        events(&body)
    }

    /// A call on `workflows/{id}/{op}` (cancel, terminate, signal/{name}, activities/...).
    pub async fn on_workflow(&self, id: &str, op: &str, body: Value) -> Reply {
        self.post(&format!("workflows/{id}/{op}"), body).await
    }

    // --- The workflow worker ----------------------------------------------------------------

    pub async fn poll_workflow(&self, queue: &str, grpc_timeout: &str) -> Reply {
        let body = json!({"taskQueue": {"name": queue}, "identity": WORKFLOW_WORKER});
        self.post_waiting("workflow-tasks/poll", body, grpc_timeout)
            .await
    }

    /// Polls `queue` for a workflow task (deadline 5 s); one must come.
    pub async fn poll_workflow_task(&self, queue: &str) -> Value {
        let (status, task) = self.poll_workflow(queue, POLL_TIMEOUT).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "workflow task poll on {queue}: {task}"
        );
        assert!(
            task["taskToken"].as_str().is_some_and(|t| !t.is_empty()),
            "no workflow task on {queue}: {task}"
        );
        task
    }

    /// RespondWorkflowTaskCompleted for `task` with `commands`; the server's answer.
    pub async fn answer_workflow_task(&self, task: &Value, commands: Value) -> Reply {
        let body = json!({"taskToken": task["taskToken"], "commands": commands, "identity": WORKFLOW_WORKER});
        self.post("workflow-tasks/complete", body).await
    }

    /// `answer_workflow_task` that must be accepted (`{}`).
    pub async fn complete_workflow_task(&self, task: &Value, commands: Value) {
        let reply = self.answer_workflow_task(task, commands.clone()).await;
        assert_eq!(
            reply,
            (StatusCode::OK, json!({})),
            "complete workflow task with {commands}"
        );
    }

    /// RespondWorkflowTaskFailed for `task`; `extra` adds `cause` / `failure`.
    pub async fn fail_workflow_task(&self, task: &Value, extra: Value) -> Reply {
        let mut body = extra;
        body["taskToken"] = task["taskToken"].clone();
        body["identity"] = json!(WORKFLOW_WORKER);
        self.post("workflow-tasks/fail", body).await
    }

    /// Polls the first workflow task of `queue` and answers it with `commands`.
    pub async fn run_first_task(&self, queue: &str, commands: Value) -> Value {
        let task = self.poll_workflow_task(queue).await;
        self.complete_workflow_task(&task, commands).await;
        task
    }
}

// --- Commands ----------------------------------------------------------------------------------

/// SCHEDULE_ACTIVITY_TASK of `SimpleActivity` `id` on `queue` with input `["x"]` and a 10 s
/// start-to-close timeout; the fields of `extra` replace those (`null` removes one).
pub fn schedule_activity(id: &str, queue: &str, extra: Value) -> Value {
    let mut attributes = json!({
        "activityId": id,
        "activityType": {"name": "SimpleActivity"},
        "taskQueue": {"name": queue},
        "input": ["x"],
        "startToCloseTimeout": "10s",
    });
    for (k, v) in extra.as_object().expect("extra fields are an object") {
        if v.is_null() {
            attributes.as_object_mut().unwrap().remove(k);
        } else {
            attributes[k] = v.clone();
        }
    }
    json!({"commandType": "COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK", "scheduleActivityTaskCommandAttributes": attributes})
}

/// COMPLETE_WORKFLOW_EXECUTION; `null`: without a result.
pub fn complete_workflow(result: Value) -> Value {
    let attributes = if result.is_null() {
        json!({})
    } else {
        json!({"result": result})
    };
    json!({"commandType": "COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION", "completeWorkflowExecutionCommandAttributes": attributes})
}

pub fn fail_workflow(failure: Value) -> Value {
    json!({"commandType": "COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION",
           "failWorkflowExecutionCommandAttributes": {"failure": failure}})
}

pub fn cancel_workflow(details: Value) -> Value {
    json!({"commandType": "COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION",
           "cancelWorkflowExecutionCommandAttributes": {"details": details}})
}

pub fn start_timer(id: &str, timeout: &str) -> Value {
    json!({"commandType": "COMMAND_TYPE_START_TIMER",
           "startTimerCommandAttributes": {"timerId": id, "startToFireTimeout": timeout}})
}

pub fn cancel_timer(id: &str) -> Value {
    json!({"commandType": "COMMAND_TYPE_CANCEL_TIMER", "cancelTimerCommandAttributes": {"timerId": id}})
}

/// REQUEST_CANCEL_ACTIVITY_TASK of the activity scheduled by event `scheduled_event_id`.
pub fn cancel_activity(scheduled_event_id: i64) -> Value {
    json!({"commandType": "COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK",
           "requestCancelActivityTaskCommandAttributes": {"scheduledEventId": scheduled_event_id.to_string()}})
}

// --- Reading histories -----------------------------------------------------------------------

/// The events of a history answer or a poll answer (`history.events`; none: empty).
pub fn events(answer: &Value) -> Vec<Value> {
    answer["history"]["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Event types as WORKFLOWS.md writes histories (`WTS`, `ATST`, ...); an unknown type is
/// kept whole.
pub fn event_types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| abbreviation(e["eventType"].as_str().unwrap_or("?")).to_owned())
        .collect()
}

fn abbreviation(event_type: &str) -> &str {
    match event_type.trim_start_matches("EVENT_TYPE_") {
        "WORKFLOW_EXECUTION_STARTED" => "WES",
        "WORKFLOW_TASK_SCHEDULED" => "WTS",
        "WORKFLOW_TASK_STARTED" => "WTST",
        "WORKFLOW_TASK_COMPLETED" => "WTC",
        "WORKFLOW_TASK_FAILED" => "WTF",
        "WORKFLOW_TASK_TIMED_OUT" => "WTTO",
        "ACTIVITY_TASK_SCHEDULED" => "ATS",
        "ACTIVITY_TASK_STARTED" => "ATST",
        "ACTIVITY_TASK_COMPLETED" => "ATC",
        "ACTIVITY_TASK_FAILED" => "ATF",
        "ACTIVITY_TASK_TIMED_OUT" => "ATTO",
        "ACTIVITY_TASK_CANCEL_REQUESTED" => "ATCR",
        "ACTIVITY_TASK_CANCELED" => "ATCD",
        "TIMER_STARTED" => "TS",
        "TIMER_FIRED" => "TF",
        "TIMER_CANCELED" => "TC",
        "WORKFLOW_EXECUTION_SIGNALED" => "SIG",
        "WORKFLOW_EXECUTION_CANCEL_REQUESTED" => "WECR",
        "WORKFLOW_EXECUTION_COMPLETED" => "WEC",
        "WORKFLOW_EXECUTION_FAILED" => "WEF",
        "WORKFLOW_EXECUTION_CANCELED" => "WECD",
        "WORKFLOW_EXECUTION_TERMINATED" => "WET",
        _ => event_type,
    }
}

/// The attributes object of event `event_id` (1-based) of `events`; checks the envelope: the
/// event has that id and exactly one `…EventAttributes` object.
pub fn attrs(events: &[Value], event_id: usize) -> Value {
    let event = &events[event_id - 1];
    assert_eq!(
        event["eventId"],
        event_id.to_string(),
        "event ids are consecutive from 1: {event}"
    );
    let found: Vec<&Value> = event
        .as_object()
        .expect("an event is an object")
        .iter()
        .filter(|(k, _)| k.ends_with("EventAttributes"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(found.len(), 1, "exactly one attributes object: {event}");
    found[0].clone()
}

/// The `eventTime` of event `event_id` (1-based).
pub fn event_time(events: &[Value], event_id: usize) -> Value {
    events[event_id - 1]["eventTime"].clone()
}

// --- Times -------------------------------------------------------------------------------------

/// Nanoseconds since the epoch of an RFC 3339 UTC timestamp (`2026-01-02T03:04:05.123Z`).
pub fn nanos(timestamp: &Value) -> i128 {
    let s = timestamp
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {timestamp}"));
    let bad = format!("not an RFC 3339 UTC timestamp: {s}");
    let (date, time) = s
        .strip_suffix('Z')
        .and_then(|s| s.split_once('T'))
        .expect(&bad);
    let num = |t: &str| t.parse::<i64>().expect(&bad);
    let d: Vec<i64> = date.split('-').map(num).collect();
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let t: Vec<i64> = hms.split(':').map(num).collect();
    assert!(d.len() == 3 && t.len() == 3 && fraction.len() <= 9, "{bad}");
    let frac_nanos = if fraction.is_empty() {
        0
    } else {
        num(&format!("{fraction:0<9}"))
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m, day) = (if d[1] <= 2 { d[0] - 1 } else { d[0] }, d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    i128::from(secs) * 1_000_000_000 + i128::from(frac_nanos)
}

/// Milliseconds from timestamp `a` to timestamp `b` (fractional).
pub fn millis_between(a: &Value, b: &Value) -> f64 {
    (nanos(b) - nanos(a)) as f64 / 1e6
}

/// Seconds of a protobuf JSON duration (`"1.000013290s"`).
pub fn seconds(duration: &Value) -> f64 {
    let s = duration
        .as_str()
        .unwrap_or_else(|| panic!("not a duration: {duration}"));
    s.strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a duration: {s}"))
}
