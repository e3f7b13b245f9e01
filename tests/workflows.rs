//! Workflows (WORKFLOWS.md): a test plays the workflow worker by hand, polling workflow tasks
//! and answering them with commands, runs the activities as an activity worker would, and
//! asserts each history's exact event-type sequence and key attributes as Temporal 1.32 writes
//! them. §12.1 (the transient ActivityTaskStarted event): every history with an activity here.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::workflow::*;
use crate::support::*;

/// How soon a long poll must answer after the event it waits for: milliseconds on an idle
/// machine; the bound leaves room for two cores loaded by the rest of the suite, and still fails a poll woken only by its
/// periodic re-read (2 s) or its deadline.
const PROMPTLY: Duration = Duration::from_millis(500);
/// How late a server timer may fire (server clock): 100 ms on an idle machine, 620 ms seen under
/// load; still well under the 5 s sweep that finds a timer otherwise lost.
const TIMER_SLACK_MS: f64 = 800.0;
/// The identity of the activity worker (`Client::poll`).
const ACTIVITY_WORKER: &str = "test-worker";

/// `404 {"code":5, message, details:[NotFoundFailure]}`.
fn not_found(message: &str) -> Reply {
    (
        StatusCode::NOT_FOUND,
        json!({
            "code": 5,
            "message": message,
            "details": [{"@type": "type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure"}],
        }),
    )
}

fn workflow_task_not_found() -> Reply {
    not_found("Workflow task not found.")
}

fn already_completed() -> Reply {
    not_found("workflow execution already completed")
}

/// W4/W12: a workflow activity that is no longer (or not yet) running an attempt.
fn activity_task_not_found() -> Reply {
    not_found("invalid activityID or activity already timed out or invoking workflow is completed")
}

fn normal_queue(name: &str) -> Value {
    json!({"name": name, "kind": "TASK_QUEUE_KIND_NORMAL"})
}

/// The events' envelopes: `{eventId, eventTime, eventType, taskId, <one>EventAttributes}`,
/// ids consecutive from 1, int64 fields as strings (W1).
fn assert_envelopes(events: &[Value]) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["eventId"], (i + 1).to_string(), "{e}");
        assert!(
            e["eventTime"].is_string() && e["eventType"].is_string(),
            "{e}"
        );
        assert!(
            e["taskId"]
                .as_str()
                .is_some_and(|t| t.parse::<i64>().is_ok()),
            "taskId is an int64 string: {e}"
        );
        let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        keys.retain(|k| !["eventId", "eventTime", "eventType", "taskId"].contains(k));
        assert!(
            keys.len() == 1 && keys[0].ends_with("EventAttributes"),
            "one attributes object and nothing else: {e}"
        );
    }
}

/// Polls the activity tasks of `queue` until `n` came; by activity id.
async fn poll_activities(
    s: &Server,
    queue: &str,
    n: usize,
) -> std::collections::BTreeMap<String, Value> {
    let mut tasks = std::collections::BTreeMap::new();
    for _ in 0..n {
        let task = s.poll_task(queue).await;
        let id = task["activityId"].as_str().expect("activityId").to_owned();
        assert!(
            tasks.insert(id.clone(), task).is_none(),
            "{id} was delivered twice"
        );
    }
    tasks
}

// ---------------------------------------------------------------------------------------------
// W2–W4: a workflow with activities

// W2, W3, W4, §12.1
#[tokio::test]
async fn a_workflow_runs_simple_activity_and_completes_with_its_result() {
    let s = Server::start().await;
    let (wid, queue, activity_queue) = (unique("wf"), unique("wq"), unique("aq"));
    let request_id = unique("rq");
    let (status, started) = s
        .try_start_workflow(
            &wid,
            &queue,
            json!({"input": ["World"], "requestId": request_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let run_id = started["runId"].as_str().expect("runId").to_owned();
    assert!(
        uuid::Uuid::parse_str(&run_id).is_ok(),
        "run ids are UUIDs: {run_id}"
    );
    let link = json!({"workflowEvent": {"namespace": "default", "workflowId": wid, "runId": run_id,
        "eventRef": {"eventId": "1", "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"}}});
    assert_eq!(
        started,
        json!({"runId": run_id, "firstExecutionRunId": run_id, "started": true,
               "status": "WORKFLOW_EXECUTION_STATUS_RUNNING", "link": link}),
        "W2: the start answer"
    );

    // The first workflow task: the whole history up to its Started event.
    let task = s.poll_workflow_task(&queue).await;
    let history = events(&task);
    assert_eq!(event_types(&history), ["WES", "WTS", "WTST"]);
    assert_envelopes(&history);
    assert_eq!(
        task["workflowExecution"],
        json!({"workflowId": wid, "runId": run_id})
    );
    assert_eq!(task["workflowType"], json!({"name": "W"}));
    assert_eq!(
        (task["startedEventId"].clone(), task["attempt"].clone()),
        (json!("3"), json!(1))
    );
    assert_eq!(
        task.get("previousStartedEventId"),
        None,
        "no task completed yet: {task}"
    );
    assert_eq!(task["workflowExecutionTaskQueue"], normal_queue(&queue));
    assert_eq!(task["scheduledTime"], event_time(&history, 2));
    assert_eq!(task["startedTime"], event_time(&history, 3));
    for absent in [
        "nextPageToken",
        "backlogCountHint",
        "query",
        "queries",
        "messages",
    ] {
        assert_eq!(task.get(absent), None, "W3: no {absent} in {task}");
    }
    assert_eq!(
        attrs(&history, 1),
        json!({"workflowType": {"name": "W"}, "taskQueue": normal_queue(&queue), "input": ["World"],
               "workflowTaskTimeout": "10s", "originalExecutionRunId": run_id, "identity": "starter",
               "firstExecutionRunId": run_id, "attempt": 1, "firstWorkflowTaskBackoff": "0s", "workflowId": wid})
    );
    assert_eq!(
        attrs(&history, 2),
        json!({"taskQueue": normal_queue(&queue), "startToCloseTimeout": "10s", "attempt": 1})
    );
    let wtst = attrs(&history, 3);
    assert_eq!(
        (wtst["scheduledEventId"].clone(), wtst["identity"].clone()),
        (json!("2"), json!(WORKFLOW_WORKER))
    );
    assert!(
        wtst["requestId"]
            .as_str()
            .is_some_and(|r| uuid::Uuid::parse_str(r).is_ok()),
        "{wtst}"
    );
    assert!(
        wtst["historySizeBytes"]
            .as_str()
            .is_some_and(|n| n.parse::<i64>().is_ok()),
        "{wtst}"
    );
    assert_eq!(
        wtst.as_object().unwrap().len(),
        4,
        "W3: WORKFLOW_TASK_STARTED attributes: {wtst}"
    );

    let input =
        task["history"]["events"][0]["workflowExecutionStartedEventAttributes"]["input"][0].clone();
    let schedule = schedule_activity("a1", &activity_queue, json!({"input": [input]}));
    s.complete_workflow_task(&task, json!([schedule])).await;

    // The activity worker runs SimpleActivity: "Processed: " + input.
    let activity = s.poll_task(&activity_queue).await;
    let running = s.history(&wid).await;
    assert_eq!(
        event_types(&running),
        ["WES", "WTS", "WTST", "WTC", "ATS"],
        "no event when an attempt starts"
    );
    let described = s.describe_workflow(&wid).await;
    assert_eq!(
        described["pendingActivities"][0]["state"],
        "PENDING_ACTIVITY_STATE_STARTED"
    );
    let expected_task = [
        ("activityId", json!("a1")),
        ("activityType", json!({"name": "SimpleActivity"})),
        ("input", json!(["World"])),
        ("attempt", json!(1)),
        ("workflowNamespace", json!("default")),
        ("workflowType", json!({"name": "W"})),
        (
            "workflowExecution",
            json!({"workflowId": wid, "runId": run_id}),
        ),
        ("scheduledTime", event_time(&running, 5)),
        ("scheduleToCloseTimeout", json!("0s")),
        ("startToCloseTimeout", json!("10s")),
        ("heartbeatTimeout", json!("0s")),
        (
            "retryPolicy",
            json!({"initialInterval": "1s", "backoffCoefficient": 2, "maximumInterval": "100s"}),
        ),
    ];
    for (field, want) in expected_task {
        assert_eq!(
            activity[field], want,
            "W4: activity task {field} in {activity}"
        );
    }
    assert_eq!(
        activity.get("activityRunId"),
        None,
        "standalone activities only: {activity}"
    );
    assert!(
        activity["currentAttemptScheduledTime"].is_string() && activity["startedTime"].is_string(),
        "{activity}"
    );
    let name = activity["input"][0].as_str().unwrap();
    s.complete(&activity, json!([format!("Processed: {name}")]))
        .await;

    let task = s.poll_workflow_task(&queue).await;
    assert_eq!(
        (
            task["startedEventId"].clone(),
            task["previousStartedEventId"].clone()
        ),
        (json!("9"), json!("3"))
    );
    assert_eq!(events(&task).len(), 9);
    let result = events(&task)[6]["activityTaskCompletedEventAttributes"]["result"].clone();
    s.complete_workflow_task(&task, json!([complete_workflow(result)]))
        .await;

    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history),
        [
            "WES", "WTS", "WTST", "WTC", "ATS", "ATST", "ATC", "WTS", "WTST", "WTC", "WEC"
        ]
    );
    assert_envelopes(&history);
    assert_eq!(
        attrs(&history, 4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "identity": WORKFLOW_WORKER})
    );
    assert_eq!(
        attrs(&history, 5),
        json!({"activityId": "a1", "activityType": {"name": "SimpleActivity"},
               "taskQueue": normal_queue(&activity_queue), "input": ["World"],
               "scheduleToCloseTimeout": "0s", "scheduleToStartTimeout": "0s", "startToCloseTimeout": "10s",
               "heartbeatTimeout": "0s", "workflowTaskCompletedEventId": "4",
               "retryPolicy": {"initialInterval": "1s", "backoffCoefficient": 2, "maximumInterval": "100s"}}),
        "W4: ACTIVITY_TASK_SCHEDULED"
    );
    let atst = attrs(&history, 6);
    assert!(
        atst["requestId"].as_str().is_some_and(|r| !r.is_empty()),
        "{atst}"
    );
    assert_eq!(
        atst,
        json!({"scheduledEventId": "5", "identity": ACTIVITY_WORKER, "requestId": atst["requestId"], "attempt": 1})
    );
    assert_eq!(
        event_time(&history, 6),
        activity["startedTime"],
        "Started carries the real start time"
    );
    assert_eq!(
        attrs(&history, 7),
        json!({"result": ["Processed: World"], "scheduledEventId": "5", "startedEventId": "6",
               "identity": ACTIVITY_WORKER})
    );
    assert_eq!(attrs(&history, 8)["attempt"], 1);
    assert_eq!(
        attrs(&history, 11),
        json!({"result": ["Processed: World"], "workflowTaskCompletedEventId": "10"})
    );

    let described = s.describe_workflow(&wid).await;
    let info = &described["workflowExecutionInfo"];
    assert_eq!(info["status"], "WORKFLOW_EXECUTION_STATUS_COMPLETED");
    assert_eq!(info["historyLength"], "11");
    assert_eq!(info["closeTime"], event_time(&history, 11));
    assert!(info["executionDuration"].is_string(), "{info}");
    assert_eq!(described.get("pendingWorkflowTask"), None, "{described}");
    assert_eq!(described.get("pendingActivities"), None, "{described}");
}

// W5
#[tokio::test]
async fn three_activities_scheduled_in_one_task_complete_out_of_order() {
    let s = Server::start().await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let commands = json!(["a1", "a2", "a3"].map(|id| schedule_activity(id, &aq, json!({}))));
    s.run_first_task(&queue, commands).await;
    let tasks = poll_activities(&s, &aq, 3).await;

    s.complete(&tasks["a3"], json!(["r3"])).await;
    // A second completion while the task is scheduled goes before its Started event.
    s.complete(&tasks["a1"], json!(["r1"])).await;
    let task = s.poll_workflow_task(&queue).await;
    assert_eq!(task["startedEventId"], "13");
    // A completion while the task is started is held back, but leaves describe at once.
    s.complete(&tasks["a2"], json!(["r2"])).await;
    let described = s.describe_workflow(&wid).await;
    assert_eq!(
        described["workflowExecutionInfo"]["historyLength"], "13",
        "held back: not counted"
    );
    assert_eq!(described.get("pendingActivities"), None, "{described}");
    assert_eq!(s.history(&wid).await.len(), 13, "held back: not in history");

    s.complete_workflow_task(&task, json!([])).await;
    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history),
        [
            "WES", "WTS", "WTST", "WTC", "ATS", "ATS", "ATS", "ATST", "ATC", "WTS", "ATST", "ATC",
            "WTST", "WTC", "ATST", "ATC", "WTS"
        ]
    );
    let closed = |id: usize| {
        let a = attrs(&history, id);
        (
            a["scheduledEventId"].clone(),
            a["startedEventId"].clone(),
            a["result"].clone(),
        )
    };
    assert_eq!(closed(9), (json!("7"), json!("8"), json!(["r3"])));
    assert_eq!(closed(12), (json!("5"), json!("11"), json!(["r1"])));
    assert_eq!(closed(16), (json!("6"), json!("15"), json!(["r2"])));
    assert_eq!(attrs(&history, 17)["attempt"], 1);

    let task = s.poll_workflow_task(&queue).await;
    assert_eq!(task["previousStartedEventId"], "13");
    s.complete_workflow_task(&task, json!([complete_workflow(Value::Null)]))
        .await;
    let history = s.history(&wid).await;
    assert_eq!(event_types(&history)[17..], ["WTST", "WTC", "WEC"]);
    assert_eq!(
        attrs(&history, 20),
        json!({"workflowTaskCompletedEventId": "19"}),
        "W3: without a result the key is absent"
    );
}

// W4, §10.2, §12.1
#[tokio::test]
async fn an_activity_failing_twice_then_succeeding_writes_one_started_event_with_attempt_three() {
    let s = Server::start().await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let retry = json!({"retryPolicy": {"initialInterval": "0.1s"}});
    s.run_first_task(&queue, json!([schedule_activity("a1", &aq, retry)]))
        .await;

    let first = s.poll_task(&aq).await;
    s.fail(&first, app_failure("first", "X")).await;
    let described = s.describe_workflow(&wid).await;
    assert_eq!(
        described["workflowExecutionInfo"]["historyLength"], "5",
        "a retried attempt writes nothing"
    );
    assert_eq!(
        described.get("pendingWorkflowTask"),
        None,
        "and schedules no workflow task: {described}"
    );
    let second = s.poll_task(&aq).await;
    assert_eq!(second["attempt"], 2);
    let second_failure = json!({"message": "second", "source": "RustSDK", "stackTrace": "at a1",
                                "applicationFailureInfo": {"type": "X", "details": ["d"]}});
    s.fail(&second, second_failure.clone()).await;
    let third = s.poll_task(&aq).await;
    assert_eq!(third["attempt"], 3);
    assert_eq!(s.history(&wid).await.len(), 5);
    s.complete(&third, json!(["done"])).await;

    let task = s.poll_workflow_task(&queue).await;
    let history = events(&task);
    assert_eq!(
        event_types(&history),
        [
            "WES", "WTS", "WTST", "WTC", "ATS", "ATST", "ATC", "WTS", "WTST"
        ]
    );
    let atst = attrs(&history, 6);
    assert_eq!(
        atst,
        json!({"scheduledEventId": "5", "identity": ACTIVITY_WORKER, "requestId": atst["requestId"], "attempt": 3,
               "lastFailure": second_failure}),
        "one Started event: the final attempt's, with the previous failure verbatim"
    );
    assert_eq!(event_time(&history, 6), third["startedTime"]);
    assert_eq!(
        attrs(&history, 7),
        json!({"result": ["done"], "scheduledEventId": "5", "startedEventId": "6", "identity": ACTIVITY_WORKER})
    );
}

// W6
#[tokio::test]
async fn an_activity_timing_out_fails_the_workflow() {
    let s = Server::start().await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let options = json!({"startToCloseTimeout": "0.5s", "retryPolicy": {"maximumAttempts": 1}});
    s.run_first_task(&queue, json!([schedule_activity("a1", &aq, options)]))
        .await;
    let activity = s.poll_task(&aq).await;

    let task = s.poll_workflow_task(&queue).await;
    let history = events(&task);
    assert_eq!(
        event_types(&history),
        [
            "WES", "WTS", "WTST", "WTC", "ATS", "ATST", "ATTO", "WTS", "WTST"
        ]
    );
    assert_eq!(attrs(&history, 6)["attempt"], 1);
    assert_eq!(event_time(&history, 6), activity["startedTime"]);
    assert_eq!(
        attrs(&history, 7),
        json!({"failure": {"message": "activity StartToClose timeout", "source": "Server",
                           "timeoutFailureInfo": {"timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE"}},
               "scheduledEventId": "5", "startedEventId": "6", "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"})
    );
    let after = millis_between(&event_time(&history, 6), &event_time(&history, 7));
    assert!(
        (500.0..500.0 + TIMER_SLACK_MS).contains(&after),
        "timed out {after} ms after the attempt started (timeout 0.5 s)"
    );
    // The worker's late answer finds the activity closed.
    assert_eq!(
        s.worker_call("activity-complete", &activity, json!({"result": ["late"]}))
            .await,
        activity_task_not_found()
    );

    let failure =
        json!({"message": "activity failed", "applicationFailureInfo": {"type": "ActivityError"}});
    s.complete_workflow_task(&task, json!([fail_workflow(failure.clone())]))
        .await;
    let history = s.history(&wid).await;
    assert_eq!(event_types(&history)[8..], ["WTST", "WTC", "WEF"]);
    assert_eq!(
        attrs(&history, 11),
        json!({"failure": failure, "retryState": "RETRY_STATE_RETRY_POLICY_NOT_SET", "workflowTaskCompletedEventId": "10"})
    );
    let info = &s.describe_workflow(&wid).await["workflowExecutionInfo"];
    assert_eq!(info["status"], "WORKFLOW_EXECUTION_STATUS_FAILED");
    assert_eq!(info["closeTime"], event_time(&history, 11));
}

// ---------------------------------------------------------------------------------------------
// W7, W8: cancelling activities and workflows; terminating

// W7
#[tokio::test]
async fn cancelling_a_scheduled_activity_cancels_it_at_once_and_its_task_is_never_delivered() {
    let s = Server::start().await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    s.run_first_task(&queue, json!([schedule_activity("a1", &aq, json!({}))]))
        .await;
    let (status, _) = s.on_workflow(&wid, "signal/wake", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let task = s.poll_workflow_task(&queue).await;
    s.complete_workflow_task(&task, json!([cancel_activity(5)]))
        .await;

    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history),
        [
            "WES", "WTS", "WTST", "WTC", "ATS", "SIG", "WTS", "WTST", "WTC", "ATCR", "ATCD", "WTS"
        ]
    );
    assert_eq!(
        attrs(&history, 10),
        json!({"scheduledEventId": "5", "workflowTaskCompletedEventId": "9"})
    );
    assert_eq!(
        attrs(&history, 11),
        json!({"details": ["ACTIVITY_ID_NOT_STARTED"], "latestCancelRequestedEventId": "10", "scheduledEventId": "5",
               "identity": WORKFLOW_WORKER})
    );
    let described = s.describe_workflow(&wid).await;
    assert_eq!(described.get("pendingActivities"), None, "{described}");
    s.poll_nothing(&aq).await;
}

// W7, §6.1
#[tokio::test]
async fn cancelling_a_started_activity_only_requests_it_until_the_worker_resolves_it() {
    let s = Server::start().await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    s.run_first_task(&queue, json!([schedule_activity("a1", &aq, json!({}))]))
        .await;
    let activity = s.poll_task(&aq).await;
    assert_eq!(
        s.worker_call(
            "activity-resolve-as-canceled",
            &activity,
            json!({"details": ["early"]})
        )
        .await,
        error(
            400,
            3,
            "unable to mark activity as canceled without activity being request canceled first"
        )
    );
    s.on_workflow(&wid, "signal/wake", json!({})).await;
    let task = s.poll_workflow_task(&queue).await;
    s.complete_workflow_task(&task, json!([cancel_activity(5)]))
        .await;

    assert_eq!(
        event_types(&s.history(&wid).await),
        [
            "WES", "WTS", "WTST", "WTC", "ATS", "SIG", "WTS", "WTST", "WTC", "ATCR"
        ],
        "only the request: no workflow task until the activity resolves"
    );
    let described = s.describe_workflow(&wid).await;
    assert_eq!(
        described["pendingActivities"][0]["state"],
        "PENDING_ACTIVITY_STATE_CANCEL_REQUESTED"
    );
    assert_eq!(described.get("pendingWorkflowTask"), None, "{described}");
    assert_eq!(
        s.heartbeat(&activity, json!(["hb"])).await,
        json!({"cancelRequested": true})
    );

    let resolved = s
        .worker_call(
            "activity-resolve-as-canceled",
            &activity,
            json!({"details": ["bye"]}),
        )
        .await;
    assert_eq!(resolved, ok(json!({})));
    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history)[8..],
        ["WTC", "ATCR", "ATST", "ATCD", "WTS"]
    );
    let atst = attrs(&history, 11);
    assert_eq!(
        atst,
        json!({"scheduledEventId": "5", "identity": ACTIVITY_WORKER, "requestId": atst["requestId"], "attempt": 1}),
        "Started is written at close time, after the cancel request"
    );
    assert_eq!(
        attrs(&history, 12),
        json!({"details": ["bye"], "latestCancelRequestedEventId": "10", "scheduledEventId": "5",
               "startedEventId": "11", "identity": ACTIVITY_WORKER})
    );
}

// W8
#[tokio::test]
async fn a_workflow_cancel_request_is_written_once_and_the_worker_cancels_the_run() {
    let s = Server::start().await;
    let (wid, queue) = (unique("wf"), unique("wq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    s.run_first_task(&queue, json!([])).await;

    for request_id in ["c1", "c1", "c2"] {
        let body = json!({"identity": "canceller", "reason": "why", "requestId": request_id});
        assert_eq!(
            s.on_workflow(&wid, "cancel", body).await,
            ok(json!({})),
            "cancel {request_id}"
        );
    }
    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history),
        ["WES", "WTS", "WTST", "WTC", "WECR", "WTS"],
        "only the first request writes"
    );
    assert_eq!(
        attrs(&history, 5),
        json!({"cause": "why", "identity": "canceller"})
    );

    let task = s.poll_workflow_task(&queue).await;
    s.complete_workflow_task(&task, json!([cancel_workflow(json!(["d"]))]))
        .await;
    let history = s.history(&wid).await;
    assert_eq!(event_types(&history)[6..], ["WTST", "WTC", "WECD"]);
    assert_eq!(
        attrs(&history, 9),
        json!({"workflowTaskCompletedEventId": "8", "details": ["d"]})
    );
    let info = &s.describe_workflow(&wid).await["workflowExecutionInfo"];
    assert_eq!(info["status"], "WORKFLOW_EXECUTION_STATUS_CANCELED");
    assert_eq!(info["closeTime"], event_time(&history, 9));

    let again = json!({"identity": "canceller", "reason": "again", "requestId": "c3"});
    assert_eq!(
        s.on_workflow(&wid, "cancel", again).await,
        ok(json!({})),
        "a closed run answers {{}}"
    );
    assert_eq!(s.history(&wid).await.len(), 9);
    let unknown = unique("nobody");
    assert_eq!(
        s.on_workflow(&unknown, "cancel", json!({"requestId": "c4"}))
            .await,
        not_found(&format!("workflow not found for ID: {unknown}"))
    );
}

// W8
#[tokio::test]
async fn terminate_with_a_pending_activity_writes_only_the_terminated_event() {
    let s = Server::start().await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    s.run_first_task(&queue, json!([schedule_activity("a1", &aq, json!({}))]))
        .await;
    let activity = s.poll_task(&aq).await;

    let terminate = json!({"reason": "stop", "identity": "admin"});
    assert_eq!(
        s.on_workflow(&wid, "terminate", terminate.clone()).await,
        ok(json!({}))
    );
    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history),
        ["WES", "WTS", "WTST", "WTC", "ATS", "WET"]
    );
    assert_eq!(
        attrs(&history, 6),
        json!({"reason": "stop", "identity": "admin"})
    );
    let info = &s.describe_workflow(&wid).await["workflowExecutionInfo"];
    assert_eq!(info["status"], "WORKFLOW_EXECUTION_STATUS_TERMINATED");

    let late = [
        (
            "complete by token",
            s.worker_call("activity-complete", &activity, json!({"result": ["late"]}))
                .await,
        ),
        (
            "heartbeat by token",
            s.worker_call("activity-heartbeat", &activity, json!({}))
                .await,
        ),
        (
            "complete by id",
            s.on_workflow(&wid, "activities/a1/complete", json!({"result": ["late"]}))
                .await,
        ),
        (
            "terminate again",
            s.on_workflow(&wid, "terminate", terminate).await,
        ),
        (
            "signal",
            s.on_workflow(&wid, "signal/late", json!({"input": ["s"]}))
                .await,
        ),
    ];
    for (what, reply) in late {
        assert_eq!(reply, already_completed(), "{what} after the terminate");
    }
    assert_eq!(s.history(&wid).await.len(), 6);
}

// W8
#[tokio::test]
async fn terminate_during_a_started_workflow_task_fails_the_task_first() {
    let s = Server::start().await;
    let (wid, queue) = (unique("wf"), unique("wq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let task = s.poll_workflow_task(&queue).await;

    let terminate = json!({"reason": "stop", "details": ["d"], "identity": "admin"});
    assert_eq!(
        s.on_workflow(&wid, "terminate", terminate).await,
        ok(json!({}))
    );
    let history = s.history(&wid).await;
    assert_eq!(event_types(&history), ["WES", "WTS", "WTST", "WTF", "WET"]);
    assert_eq!(
        attrs(&history, 4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "cause": "WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND",
               "identity": "history-service"})
    );
    assert_eq!(
        attrs(&history, 5),
        json!({"reason": "stop", "details": ["d"], "identity": "admin"})
    );
    // The worker's late answers.
    assert_eq!(
        s.answer_workflow_task(&task, json!([complete_workflow(json!(["ok"]))]))
            .await,
        workflow_task_not_found()
    );
    assert_eq!(
        s.fail_workflow_task(&task, json!({})).await,
        already_completed()
    );
}

// ---------------------------------------------------------------------------------------------
// W9, W5: signals

// W9, W5
#[tokio::test]
async fn a_signal_before_the_first_poll_lands_between_scheduled_and_started() {
    let s = Server::start().await;
    let (wid, queue) = (unique("wf"), unique("wq"));
    let run_id = s.start_workflow(&wid, &queue, json!({})).await;

    let signal = json!({"input": ["s"], "identity": "sender", "requestId": "r1"});
    let link = json!({"link": {"workflowEvent": {"namespace": "default", "workflowId": wid, "runId": run_id,
        "requestIdRef": {"requestId": "r1", "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"}}}});
    for _ in 0..2 {
        assert_eq!(
            s.on_workflow(&wid, "signal/sig", signal.clone()).await,
            ok(link.clone())
        );
    }
    let task = s.poll_workflow_task(&queue).await;
    assert_eq!(task["startedEventId"], "4");
    let history = events(&task);
    assert_eq!(
        event_types(&history),
        ["WES", "WTS", "SIG", "WTST"],
        "the same requestId writes one event"
    );
    assert_eq!(
        attrs(&history, 3),
        json!({"signalName": "sig", "input": ["s"], "identity": "sender", "requestId": "r1"})
    );
    assert_eq!(attrs(&history, 4)["scheduledEventId"], "2");

    let unknown = unique("nobody");
    assert_eq!(
        s.on_workflow(&unknown, "signal/sig", json!({})).await,
        not_found(&format!("workflow not found for ID: {unknown}"))
    );
}

// W5, W9
#[tokio::test]
async fn a_signal_during_a_started_task_is_held_back_until_after_the_command_events() {
    let s = Server::start().await;
    let (wid, queue) = (unique("wf"), unique("wq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let task = s.poll_workflow_task(&queue).await;

    let (status, _) = s
        .on_workflow(&wid, "signal/sig", json!({"input": ["s"]}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.history(&wid).await.len(), 3, "held back: not in history");
    let described = s.describe_workflow(&wid).await;
    assert_eq!(
        described["workflowExecutionInfo"]["historyLength"], "3",
        "held back: not counted"
    );

    s.complete_workflow_task(&task, json!([start_timer("t1", "10s")]))
        .await;
    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history),
        ["WES", "WTS", "WTST", "WTC", "TS", "SIG", "WTS"]
    );
    assert_eq!(
        attrs(&history, 6),
        json!({"signalName": "sig", "input": ["s"]}),
        "no identity or requestId sent"
    );
    assert_eq!(attrs(&history, 7)["attempt"], 1);
}

// W5
#[tokio::test]
async fn closing_the_workflow_while_a_signal_is_held_back_is_an_unhandled_command() {
    let s = Server::start().await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let task = s.poll_workflow_task(&queue).await;
    s.on_workflow(&wid, "signal/sig", json!({"input": ["s"]}))
        .await;

    let answer = json!([
        schedule_activity("a1", &aq, json!({})),
        complete_workflow(json!(["ok"]))
    ]);
    assert_eq!(
        s.answer_workflow_task(&task, answer).await,
        error(400, 3, "UnhandledCommand")
    );
    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history),
        ["WES", "WTS", "WTST", "WTF", "SIG", "WTS"]
    );
    assert_eq!(
        attrs(&history, 4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "cause": "WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND",
               "failure": {"message": "UnhandledCommand", "serverFailureInfo": {}}, "identity": WORKFLOW_WORKER})
    );
    assert_eq!(
        attrs(&history, 6)["attempt"],
        1,
        "this failure does not count as a retry"
    );
    let described = s.describe_workflow(&wid).await;
    assert_eq!(
        described.get("pendingActivities"),
        None,
        "none of the commands took effect: {described}"
    );
    assert_eq!(
        described["workflowExecutionInfo"]["status"],
        "WORKFLOW_EXECUTION_STATUS_RUNNING"
    );
    assert_eq!(
        s.answer_workflow_task(&task, json!([])).await,
        workflow_task_not_found()
    );

    let task = s.poll_workflow_task(&queue).await;
    assert_eq!(
        (task["startedEventId"].clone(), task["attempt"].clone()),
        (json!("7"), json!(1))
    );
    s.complete_workflow_task(&task, json!([complete_workflow(json!(["ok"]))]))
        .await;
    assert_eq!(
        event_types(&s.history(&wid).await)[6..],
        ["WTST", "WTC", "WEC"]
    );
    s.poll_nothing(&aq).await;
}

// ---------------------------------------------------------------------------------------------
// W10: timers

// W10
#[tokio::test]
async fn a_sub_second_timer_fires_on_time_and_another_is_canceled() {
    let s = Server::start().await;
    let (wid, queue) = (unique("wf"), unique("wq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    s.run_first_task(
        &queue,
        json!([start_timer("t1", "0.3s"), start_timer("t2", "10s")]),
    )
    .await;

    let task = s.poll_workflow_task(&queue).await;
    let history = events(&task);
    assert_eq!(
        event_types(&history),
        ["WES", "WTS", "WTST", "WTC", "TS", "TS", "TF", "WTS", "WTST"]
    );
    assert_eq!(
        attrs(&history, 5),
        json!({"timerId": "t1", "startToFireTimeout": "0.300s", "workflowTaskCompletedEventId": "4"})
    );
    assert_eq!(
        attrs(&history, 7),
        json!({"timerId": "t1", "startedEventId": "5"})
    );
    let after = millis_between(&event_time(&history, 5), &event_time(&history, 7));
    assert!(
        (300.0..300.0 + TIMER_SLACK_MS).contains(&after),
        "a 0.3 s timer fired {after} ms after it started"
    );

    s.complete_workflow_task(
        &task,
        json!([cancel_timer("t2"), complete_workflow(Value::Null)]),
    )
    .await;
    let history = s.history(&wid).await;
    assert_eq!(event_types(&history)[8..], ["WTST", "WTC", "TC", "WEC"]);
    assert_eq!(
        attrs(&history, 11),
        json!({"timerId": "t2", "startedEventId": "6", "workflowTaskCompletedEventId": "10", "identity": WORKFLOW_WORKER})
    );
}

// ---------------------------------------------------------------------------------------------
// W11: workflow task timeouts, failures and transient attempts

// W11
#[tokio::test]
async fn a_workflow_task_timing_out_twice_then_completing_records_only_the_first_timeout() {
    let s = Server::start().await;
    let (wid, queue) = (unique("wf"), unique("wq"));
    s.start_workflow(&wid, &queue, json!({"workflowTaskTimeout": "1s"}))
        .await;
    let first = s.poll_workflow_task(&queue).await;

    // Never answered: attempt 2 comes to the waiting poller at once.
    let second = s.poll_workflow_task(&queue).await;
    assert_eq!(
        (second["startedEventId"].clone(), second["attempt"].clone()),
        (json!("6"), json!(2))
    );
    assert_eq!(second.get("previousStartedEventId"), None, "{second}");
    let polled = events(&second);
    assert_eq!(
        event_types(&polled),
        ["WES", "WTS", "WTST", "WTTO", "WTS", "WTST"]
    );
    assert_eq!(
        attrs(&polled, 4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE"})
    );
    let timed_out_after = millis_between(&event_time(&polled, 3), &event_time(&polled, 4));
    assert!(
        (1000.0..1000.0 + TIMER_SLACK_MS).contains(&timed_out_after),
        "the task timed out {timed_out_after} ms after it started (timeout 1 s)"
    );
    let delivered_after = millis_between(&event_time(&polled, 4), &second["startedTime"]);
    assert!(
        delivered_after < 100.0,
        "attempt 2 reached the poller {delivered_after} ms after the timeout"
    );
    assert_eq!(attrs(&polled, 5)["attempt"], 2);
    assert_eq!(attrs(&polled, 6)["identity"], WORKFLOW_WORKER);

    // Transient: in GET history's tail (without identity), not in historyLength.
    let shown = s.history(&wid).await;
    assert_eq!(
        event_types(&shown),
        ["WES", "WTS", "WTST", "WTTO", "WTS", "WTST"]
    );
    assert_eq!(
        attrs(&shown, 6).get("identity"),
        None,
        "GET shows no identity: {}",
        attrs(&shown, 6)
    );
    let described = s.describe_workflow(&wid).await;
    assert_eq!(described["workflowExecutionInfo"]["historyLength"], "4");
    assert_eq!(
        described["pendingWorkflowTask"]["state"],
        "PENDING_WORKFLOW_TASK_STATE_STARTED"
    );
    assert_eq!(described["pendingWorkflowTask"]["attempt"], 2);
    assert_eq!(
        s.answer_workflow_task(&first, json!([])).await,
        workflow_task_not_found()
    );

    // Attempt 2 times out too: nothing is written, attempt 3 reuses the ids.
    let third = s.poll_workflow_task(&queue).await;
    assert_eq!(
        (third["startedEventId"].clone(), third["attempt"].clone()),
        (json!("6"), json!(3))
    );
    assert_eq!(
        s.describe_workflow(&wid).await["workflowExecutionInfo"]["historyLength"],
        "4"
    );
    assert_eq!(
        s.answer_workflow_task(&second, json!([])).await,
        workflow_task_not_found()
    );
    s.complete_workflow_task(&third, json!([complete_workflow(json!(["ok"]))]))
        .await;

    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history),
        ["WES", "WTS", "WTST", "WTTO", "WTS", "WTST", "WTC", "WEC"]
    );
    assert_eq!(attrs(&history, 5)["attempt"], 3);
    assert_eq!(attrs(&history, 6)["identity"], WORKFLOW_WORKER);
    assert_eq!(
        attrs(&history, 7),
        json!({"scheduledEventId": "5", "startedEventId": "6", "identity": WORKFLOW_WORKER})
    );
    assert_eq!(
        s.describe_workflow(&wid).await["workflowExecutionInfo"]["historyLength"],
        "8"
    );
}

// W11
#[tokio::test]
async fn a_workflow_task_failed_by_the_worker_is_recorded_once_and_retried_transiently() {
    let s = Server::start().await;
    let (wid, queue) = (unique("wf"), unique("wq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let first = s.poll_workflow_task(&queue).await;

    let failure = json!({"message": "panic", "stackTrace": "at main", "applicationFailureInfo": {"type": "PanicError"}});
    let cause = "WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE";
    let failed = s
        .fail_workflow_task(&first, json!({"cause": cause, "failure": failure}))
        .await;
    assert_eq!(failed, ok(json!({})));
    let second = s.poll_workflow_task(&queue).await;
    assert_eq!(
        (second["startedEventId"].clone(), second["attempt"].clone()),
        (json!("6"), json!(2))
    );
    let history = events(&second);
    assert_eq!(
        event_types(&history),
        ["WES", "WTS", "WTST", "WTF", "WTS", "WTST"]
    );
    assert_eq!(
        attrs(&history, 4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "cause": cause, "failure": failure,
               "identity": WORKFLOW_WORKER})
    );
    assert_eq!(
        s.fail_workflow_task(&first, json!({})).await,
        workflow_task_not_found(),
        "a used token"
    );

    // Attempt 2 fails as well: nothing is written.
    assert_eq!(
        s.fail_workflow_task(&second, json!({})).await,
        ok(json!({}))
    );
    let third = s.poll_workflow_task(&queue).await;
    assert_eq!(
        (third["startedEventId"].clone(), third["attempt"].clone()),
        (json!("6"), json!(3))
    );
    assert_eq!(
        s.describe_workflow(&wid).await["workflowExecutionInfo"]["historyLength"],
        "4"
    );
    assert_eq!(
        s.answer_workflow_task(&second, json!([])).await,
        workflow_task_not_found(),
        "an earlier attempt"
    );
    s.complete_workflow_task(&third, json!([complete_workflow(json!(["ok"]))]))
        .await;

    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history),
        ["WES", "WTS", "WTST", "WTF", "WTS", "WTST", "WTC", "WEC"]
    );
    assert_eq!(attrs(&history, 5)["attempt"], 3);
    assert_eq!(
        attrs(&history, 4)["failure"],
        failure,
        "only the first failure is recorded"
    );
}

// W11
#[tokio::test]
async fn a_workflow_task_failure_without_cause_or_failure_omits_both_keys() {
    let s = Server::start().await;
    let (wid, queue) = (unique("wf"), unique("wq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let task = s.poll_workflow_task(&queue).await;
    assert_eq!(s.fail_workflow_task(&task, json!({})).await, ok(json!({})));
    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history),
        ["WES", "WTS", "WTST", "WTF", "WTS"],
        "attempt 2 is scheduled at once"
    );
    assert_eq!(
        attrs(&history, 4),
        json!({"scheduledEventId": "2", "startedEventId": "3", "identity": WORKFLOW_WORKER})
    );
    assert_eq!(attrs(&history, 5)["attempt"], 2);
}

// ---------------------------------------------------------------------------------------------
// W12, W13: activities by id; describe

// W12, §7, §12.8
#[tokio::test]
async fn activities_of_a_workflow_are_completed_failed_and_heartbeated_by_id() {
    let s = Server::start().await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    let run_id = s.start_workflow(&wid, &queue, json!({})).await;
    let last_attempt = json!({"retryPolicy": {"maximumAttempts": 1}});
    let commands = json!([
        schedule_activity("a1", &aq, json!({})),
        schedule_activity("a2", &aq, json!({})),
        schedule_activity("a3", &aq, last_attempt),
    ]);
    s.run_first_task(&queue, commands).await;

    // a1 was never started.
    let by_id = |aid: &str, op: &str| format!("activities/{aid}/{op}");
    assert_eq!(
        s.on_workflow(&wid, &by_id("a1", "heartbeat"), json!({"details": ["x"]}))
            .await,
        activity_task_not_found()
    );
    let fail = json!({"failure": {"message": "bare"}, "identity": "cli"});
    assert_eq!(
        s.on_workflow(&wid, &by_id("a1", "fail"), fail.clone())
            .await,
        activity_task_not_found()
    );
    assert_eq!(
        s.on_workflow(&wid, &by_id("zz", "complete"), json!({}))
            .await,
        not_found(
            "cannot find pending activity with ActivityID zz, check workflow execution history for more details"
        )
    );
    let unknown = unique("nobody");
    assert_eq!(
        s.on_workflow(&unknown, &by_id("a1", "heartbeat"), json!({}))
            .await,
        not_found(&format!("workflow not found for ID: {unknown}"))
    );
    let no_run = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        s.on_workflow(&wid, &by_id("a1", "heartbeat"), json!({"runId": no_run}))
            .await,
        not_found(&format!(
            "workflow execution not found for workflow ID \"{wid}\" and run ID \"{no_run}\""
        ))
    );
    assert_eq!(
        s.on_workflow(
            &wid,
            &by_id("a1", "heartbeat"),
            json!({"runId": "not-a-uuid"})
        )
        .await,
        error(400, 3, "RunId is not valid UUID.")
    );

    // Complete by id force-completes a scheduled activity.
    let forced = json!({"result": ["r"], "identity": "cli"});
    assert_eq!(
        s.on_workflow(&wid, &by_id("a1", "complete"), forced).await,
        ok(json!({}))
    );
    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history)[4..],
        ["ATS", "ATS", "ATS", "ATST", "ATC", "WTS"]
    );
    assert_eq!(
        attrs(&history, 8),
        json!({"scheduledEventId": "5", "identity": "cli", "attempt": 1})
    );
    assert_eq!(
        attrs(&history, 9),
        json!({"result": ["r"], "scheduledEventId": "5", "startedEventId": "8", "identity": "cli"})
    );

    // The force-completed activity's task is not delivered; the other two are.
    let tasks = poll_activities(&s, &aq, 2).await;
    assert_eq!(tasks.keys().collect::<Vec<_>>(), ["a2", "a3"]);
    let heartbeat = json!({"runId": run_id, "details": ["hb"]});
    assert_eq!(
        s.on_workflow(&wid, &by_id("a2", "heartbeat"), heartbeat)
            .await,
        ok(json!({}))
    );
    let described = s.describe_workflow(&wid).await;
    let a2 = described["pendingActivities"]
        .as_array()
        .and_then(|p| p.iter().find(|a| a["activityId"] == "a2"))
        .unwrap_or_else(|| panic!("a2 is pending: {described}"));
    assert_eq!(a2["heartbeatDetails"], json!(["hb"]));

    // A started activity completed by id: Started names the poller, Completed the completer.
    let completed = json!({"runId": run_id, "result": ["by id"], "identity": "cli"});
    assert_eq!(
        s.on_workflow(&wid, &by_id("a2", "complete"), completed)
            .await,
        ok(json!({}))
    );
    assert_eq!(
        s.worker_call(
            "activity-complete",
            &tasks["a2"],
            json!({"result": ["late"]})
        )
        .await,
        activity_task_not_found()
    );
    assert_eq!(
        s.on_workflow(&wid, &by_id("a2", "complete"), json!({"result": ["twice"]}))
            .await,
        not_found(
            "cannot find pending activity with ActivityID a2, check workflow execution history for more details"
        )
    );

    // Fail by id of a last attempt, with a bare failure.
    assert_eq!(
        s.on_workflow(&wid, &by_id("a3", "fail"), fail).await,
        ok(json!({}))
    );

    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history),
        [
            "WES", "WTS", "WTST", "WTC", "ATS", "ATS", "ATS", "ATST", "ATC", "WTS", "ATST", "ATC",
            "ATST", "ATF"
        ]
    );
    let a2_started = attrs(&history, 11);
    assert_eq!(
        a2_started,
        json!({"scheduledEventId": "6", "identity": ACTIVITY_WORKER, "requestId": a2_started["requestId"], "attempt": 1})
    );
    assert!(
        a2_started["requestId"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "the poll's requestId: {a2_started}"
    );
    assert_eq!(
        attrs(&history, 12),
        json!({"result": ["by id"], "scheduledEventId": "6", "startedEventId": "11", "identity": "cli"})
    );
    assert_eq!(attrs(&history, 13)["scheduledEventId"], "7");
    assert_eq!(
        attrs(&history, 14),
        json!({"failure": {"message": "bare"}, "scheduledEventId": "7", "startedEventId": "13", "identity": "cli",
               "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"})
    );
}

// W13
// SEMANTICS §8.7 for a workflow's activity: no event is written; describe shows the pause.
#[tokio::test]
async fn an_operator_pauses_resets_and_updates_a_workflows_activity() {
    let s = Server::start().await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let retry = json!({"retryPolicy": {"initialInterval": "1s"}});
    s.run_first_task(&queue, json!([schedule_activity("a1", &aq, retry)]))
        .await;
    let op = |name: &str| format!("activities/a1/{name}");

    let pause = json!({"identity": "ops", "reason": "partner down"});
    assert_eq!(
        s.on_workflow(&wid, &op("pause"), pause.clone()).await,
        ok(json!({}))
    );
    let pending = &s.describe_workflow(&wid).await["pendingActivities"][0];
    assert_eq!(pending["state"], "PENDING_ACTIVITY_STATE_PAUSED");
    assert_eq!(pending["paused"], true);
    assert_eq!(
        pending["pauseInfo"]["manual"],
        json!({"identity": "ops", "reason": "partner down"})
    );
    s.poll_nothing(&aq).await;
    assert_eq!(
        s.on_workflow(&wid, &op("pause"), pause.clone()).await,
        error(400, 9, "activity is already paused")
    );

    assert_eq!(
        s.on_workflow(&wid, &op("unpause"), json!({})).await,
        ok(json!({}))
    );
    let task = s.poll_task(&aq).await;
    assert_eq!(
        s.on_workflow(&wid, &op("pause"), pause).await,
        ok(json!({}))
    );
    assert_eq!(
        s.heartbeat(&task, json!(["half"])).await,
        json!({"activityPaused": true})
    );
    let update =
        json!({"activityOptions": {"heartbeatTimeout": "3s"}, "updateMask": "heartbeatTimeout"});
    let (status, updated) = s.on_workflow(&wid, &op("update-options"), update).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["activityOptions"]["heartbeatTimeout"], "3s");
    assert_eq!(
        s.on_workflow(&wid, &op("reset"), json!({})).await,
        ok(json!({}))
    );
    assert_eq!(
        s.heartbeat(&task, json!(["half"])).await,
        json!({"activityPaused": true, "activityReset": true})
    );

    // The attempt's failure only ends it: the activity starts over at attempt 1, at once.
    s.fail(&task, app_failure("gave up", "Fatal")).await;
    let again = s.poll_task(&aq).await;
    assert_eq!(again["attempt"], 1);
    assert_eq!(again["heartbeatDetails"], json!(["half"]));
    assert_eq!(
        s.worker_call("activity-complete", &task, json!({})).await,
        activity_task_not_found(),
        "the token from before the reset is void"
    );
    s.complete(&again, json!(["done"])).await;
    let history = s.history(&wid).await;
    assert_eq!(event_types(&history)[4..], ["ATS", "ATST", "ATC", "WTS"]);

    assert_eq!(
        s.on_workflow(&wid, &op("unpause"), json!({})).await,
        not_found(
            "Can't find pending activity with such ID. Invalid activityID or activity already completed"
        )
    );
}

#[tokio::test]
async fn describe_shows_the_pending_task_and_activities_with_attempt_last_failure_and_heartbeat_details()
 {
    let s = Server::start().await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    let request_id = unique("rq");
    let run_id = s
        .start_workflow(&wid, &queue, json!({"requestId": request_id}))
        .await;

    let d = s.describe_workflow(&wid).await;
    let history = s.history(&wid).await;
    assert_eq!(
        d["executionConfig"],
        json!({"taskQueue": normal_queue(&queue), "defaultWorkflowTaskTimeout": "10s"})
    );
    let info = &d["workflowExecutionInfo"];
    let expected_info = [
        ("execution", json!({"workflowId": wid, "runId": run_id})),
        ("type", json!({"name": "W"})),
        ("startTime", event_time(&history, 1)),
        ("status", json!("WORKFLOW_EXECUTION_STATUS_RUNNING")),
        ("historyLength", json!("2")),
        ("memo", json!({})),
        ("searchAttributes", json!({})),
        ("autoResetPoints", json!({})),
        ("taskQueue", json!(queue)),
        ("rootExecution", json!({"workflowId": wid, "runId": run_id})),
        ("firstRunId", json!(run_id)),
    ];
    for (field, want) in expected_info {
        assert_eq!(info[field], want, "workflowExecutionInfo.{field} in {info}");
    }
    for absent in ["closeTime", "executionDuration"] {
        assert_eq!(
            info.get(absent),
            None,
            "a running workflow has no {absent}: {info}"
        );
    }
    assert!(
        info["executionTime"].is_string() && info["stateTransitionCount"].is_string(),
        "{info}"
    );
    assert_eq!(
        d["pendingWorkflowTask"],
        json!({"state": "PENDING_WORKFLOW_TASK_STATE_SCHEDULED", "scheduledTime": event_time(&history, 2),
               "originalScheduledTime": event_time(&history, 2), "attempt": 1})
    );
    assert_eq!(
        d["workflowExtendedInfo"]["requestIdInfos"],
        json!({request_id.clone(): {"eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED", "eventId": "1"}})
    );
    assert_eq!(
        d["workflowExtendedInfo"]["originalStartTime"],
        event_time(&history, 1)
    );
    assert_eq!(d.get("pendingActivities"), None, "{d}");

    let task = s.poll_workflow_task(&queue).await;
    let pending_task = &s.describe_workflow(&wid).await["pendingWorkflowTask"];
    assert_eq!(pending_task["state"], "PENDING_WORKFLOW_TASK_STATE_STARTED");
    assert_eq!(pending_task["startedTime"], task["startedTime"]);
    assert_eq!(pending_task["attempt"], 1);
    let options = json!({"scheduleToCloseTimeout": "60s", "retryPolicy": {"initialInterval": "1s", "maximumAttempts": 5}});
    s.complete_workflow_task(&task, json!([schedule_activity("a1", &aq, options)]))
        .await;

    // Scheduled, never started.
    let d = s.describe_workflow(&wid).await;
    let history = s.history(&wid).await;
    assert_eq!(d.get("pendingWorkflowTask"), None, "{d}");
    let a = &d["pendingActivities"][0];
    let scheduled_at = event_time(&history, 5);
    let expected = [
        ("activityId", json!("a1")),
        ("activityType", json!({"name": "SimpleActivity"})),
        ("state", json!("PENDING_ACTIVITY_STATE_SCHEDULED")),
        ("attempt", json!(1)),
        ("maximumAttempts", json!(5)),
        ("scheduledTime", scheduled_at.clone()),
    ];
    for (field, want) in expected {
        assert_eq!(a[field], want, "pendingActivities[0].{field} in {a}");
    }
    assert_eq!(
        millis_between(&scheduled_at, &a["expirationTime"]),
        60_000.0,
        "first scheduledTime + s2c: {a}"
    );
    assert_eq!(
        a["activityOptions"],
        json!({"taskQueue": {"name": aq, "normalName": aq}, "scheduleToCloseTimeout": "60s",
               "scheduleToStartTimeout": "60s", "startToCloseTimeout": "10s", "heartbeatTimeout": "0s",
               "retryPolicy": {"initialInterval": "1s", "backoffCoefficient": 2, "maximumInterval": "100s",
                               "maximumAttempts": 5}})
    );
    for absent in [
        "lastStartedTime",
        "heartbeatDetails",
        "lastFailure",
        "lastWorkerIdentity",
    ] {
        assert_eq!(a.get(absent), None, "never started: no {absent} in {a}");
    }

    // Started, heartbeating.
    let first = s.poll_task(&aq).await;
    assert_eq!(s.heartbeat(&first, json!(["p1"])).await, json!({}));
    let a = s.describe_workflow(&wid).await["pendingActivities"][0].clone();
    assert_eq!(a["state"], "PENDING_ACTIVITY_STATE_STARTED");
    assert_eq!(a["lastStartedTime"], first["startedTime"]);
    assert_eq!(a["lastWorkerIdentity"], ACTIVITY_WORKER);
    assert_eq!(a["heartbeatDetails"], json!(["p1"]));
    assert!(a["lastHeartbeatTime"].is_string(), "{a}");

    // In backoff after a failure.
    let failure = app_failure("first", "X");
    s.fail(&first, failure.clone()).await;
    let a = s.describe_workflow(&wid).await["pendingActivities"][0].clone();
    assert_eq!(a["state"], "PENDING_ACTIVITY_STATE_SCHEDULED");
    assert_eq!(a["attempt"], 2, "already the next attempt");
    assert_eq!(a["lastFailure"], failure);
    assert_eq!(a["heartbeatDetails"], json!(["p1"]), "kept");
    assert_eq!(a.get("lastStartedTime"), None, "{a}");
    assert_eq!(a["scheduledTime"], a["nextAttemptScheduleTime"]);
    let interval = seconds(&a["currentRetryInterval"]);
    assert!(
        (1.0..1.01).contains(&interval),
        "currentRetryInterval {interval} s for a 1 s interval"
    );
    let backoff = millis_between(&a["lastAttemptCompleteTime"], &a["nextAttemptScheduleTime"]);
    assert!(
        (1000.0..1010.0).contains(&backoff),
        "next attempt {backoff} ms after the failure"
    );
    // Once the retry is due (not yet taken), Temporal no longer shows the backoff.
    eventually(Duration::from_secs(5), || async {
        let a = s.describe_workflow(&wid).await["pendingActivities"][0].clone();
        (a.get("currentRetryInterval").is_none() && a.get("nextAttemptScheduleTime").is_none())
            .then_some(())
    })
    .await;

    // The next attempt's task carries the kept details.
    let second = s.poll_task(&aq).await;
    assert_eq!(
        (
            second["attempt"].clone(),
            second["heartbeatDetails"].clone()
        ),
        (json!(2), json!(["p1"]))
    );

    let unknown = unique("nobody");
    assert_eq!(
        s.get(&format!("workflows/{unknown}")).await,
        not_found(&format!("workflow not found for ID: {unknown}"))
    );
}

// ---------------------------------------------------------------------------------------------
// W14: the history long poll

// W14, §12.10
#[tokio::test]
async fn the_history_long_poll_wakes_on_the_next_event_and_the_close_filter_waits_for_the_close() {
    let s = Server::start().await;
    let (wid, queue) = (unique("wf"), unique("wq"));
    let run_id = s.start_workflow(&wid, &queue, json!({})).await;

    let asked = Instant::now();
    let (status, first) = s
        .history_page(&wid, &[("waitNewEvent", "true")], Some("10S"))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(
        asked.elapsed() < PROMPTLY,
        "without a token waitNewEvent does not wait"
    );
    assert_eq!(
        event_types(&events(&first)),
        ["WES", "WTS"],
        "at once, the events so far"
    );
    let token = first["nextPageToken"]
        .as_str()
        .expect("a token to wait with")
        .to_owned();

    let history_path = format!("workflows/{wid}/history");
    let waiter = {
        let (c, path, token) = (s.client(), history_path.clone(), token.clone());
        tokio::spawn(async move {
            let params = [("waitNewEvent", "true"), ("nextPageToken", token.as_str())];
            finished_at(c.get_with(&path, &params, Some("10S"))).await
        })
    };
    let closer = {
        let (c, path) = (s.client(), history_path.clone());
        tokio::spawn(async move {
            let params = [
                ("waitNewEvent", "true"),
                (
                    "historyEventFilterType",
                    "HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT",
                ),
            ];
            c.get_with(&path, &params, Some("10S")).await
        })
    };
    s.describe_workflow(&wid).await; // a round trip, so the long polls are under way
    let task = s.poll_workflow_task(&queue).await;
    let polled = Instant::now();

    let ((status, woke), answered) = waiter.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{woke}");
    assert_eq!(
        event_types(&events(&woke)),
        ["WTST"],
        "only the new event: {woke}"
    );
    assert_eq!(events(&woke)[0], events(&task)[2]);
    let next_token = woke["nextPageToken"]
        .as_str()
        .expect("a new token")
        .to_owned();
    let late = answered.saturating_duration_since(polled);
    assert!(
        late < PROMPTLY,
        "the history long poll woke {late:?} after the event"
    );

    // Nothing happens: `{"history":{}}` at the deadline − 1 s; with waitNewEvent still a token.
    let started = Instant::now();
    let wait_params = [
        ("waitNewEvent", "true"),
        ("nextPageToken", next_token.as_str()),
    ];
    let close_params = [(
        "historyEventFilterType",
        "HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT",
    )];
    let (idle, idle_close) = tokio::join!(
        finished_at(s.history_page(&wid, &wait_params, Some("2S"))),
        finished_at(s.history_page(&wid, &close_params, Some("2S"))),
    );
    for (what, ((status, body), at)) in [
        ("waitNewEvent", idle.clone()),
        ("the close filter", idle_close.clone()),
    ] {
        assert_eq!(status, StatusCode::OK, "{what}: {body}");
        assert_eq!(body["history"], json!({}), "{what}: {body}");
        let waited = at - started;
        assert!(
            waited >= Duration::from_secs(1) - PROMPTLY && waited < Duration::from_millis(1_900),
            "{what} with a 2 s deadline answered after {waited:?}"
        );
    }
    assert!(
        idle.0.1["nextPageToken"].is_string(),
        "still a token: {}",
        idle.0.1
    );
    assert_eq!(
        idle_close.0.1,
        json!({"history": {}}),
        "no token with the close filter"
    );

    s.complete_workflow_task(&task, json!([complete_workflow(json!(["done"]))]))
        .await;
    let history = s.history(&wid).await;
    assert_eq!(event_types(&history), ["WES", "WTS", "WTST", "WTC", "WEC"]);
    let (status, closed) = closer.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(
        closed,
        json!({"history": {"events": [history[4]]}}),
        "only the close event, no token"
    );

    // On a closed run the remaining events come at once, without a token.
    let started = Instant::now();
    let (status, rest) = s.history_page(&wid, &wait_params, Some("10S")).await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert!(started.elapsed() < PROMPTLY, "a closed run does not wait");
    assert_eq!(rest, json!({"history": {"events": history[3..]}}));

    // Paging: following nextPageToken yields the whole history.
    let mut paged = Vec::new();
    let mut page_token = String::new();
    for page in 1.. {
        assert!(page <= 5, "too many pages");
        let mut params = vec![("maximumPageSize", "2")];
        if !page_token.is_empty() {
            params.push(("nextPageToken", page_token.as_str()));
        }
        let (status, body) = s.history_page(&wid, &params, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        paged.extend(events(&body));
        match body["nextPageToken"].as_str() {
            Some(t) => page_token = t.to_owned(),
            None => break,
        }
    }
    assert_eq!(paged, history);

    // Errors.
    let unknown = unique("nobody");
    assert_eq!(
        s.history_page(&unknown, &[], None).await,
        not_found(&format!("workflow not found for ID: {unknown}"))
    );
    let no_run = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        s.history_page(&wid, &[("execution.runId", no_run.as_str())], None)
            .await,
        not_found(&format!(
            "workflow execution not found for workflow ID \"{wid}\" and run ID \"{no_run}\""
        ))
    );
    assert_eq!(
        s.history_page(&wid, &[("execution.runId", "not-a-uuid")], None)
            .await,
        error(400, 3, "Invalid RunId.")
    );
    let (status, own) = s
        .history_page(&wid, &[("execution.runId", run_id.as_str())], None)
        .await;
    assert_eq!((status, events(&own)), (StatusCode::OK, history));
}

// ---------------------------------------------------------------------------------------------
// W15: id reuse and conflicts

// W15
#[tokio::test]
async fn a_workflow_id_is_deduplicated_by_request_id_conflicts_while_running_and_is_reused_after_close()
 {
    let s = Server::start().await;
    let (wid, queue) = (unique("wf"), unique("wq"));
    let rq1 = unique("rq");
    let run_id = s
        .start_workflow(&wid, &queue, json!({"requestId": rq1}))
        .await;

    let (status, again) = s
        .try_start_workflow(&wid, &queue, json!({"requestId": rq1}))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        (again["runId"].clone(), again["started"].clone()),
        (json!(run_id), json!(true)),
        "{again}"
    );

    let already_started = |message: String| {
        (
            StatusCode::CONFLICT,
            json!({"code": 6, "message": message, "details": [{
                "@type": "type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure",
                "startRequestId": rq1, "runId": run_id, "firstExecutionRunId": run_id}]}),
        )
    };
    assert_eq!(
        s.try_start_workflow(&wid, &queue, json!({"requestId": unique("rq")}))
            .await,
        already_started(format!(
            "Workflow execution is already running. WorkflowId: {wid}, RunId: {run_id}."
        ))
    );
    let use_existing = json!({"requestId": unique("rq"), "workflowIdConflictPolicy": "WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING"});
    let (status, existing) = s.try_start_workflow(&wid, &queue, use_existing).await;
    assert_eq!(status, StatusCode::OK, "{existing}");
    assert_eq!(existing["runId"], run_id);
    assert_eq!(
        existing.get("started"),
        None,
        "USE_EXISTING starts nothing: {existing}"
    );
    assert_eq!(
        event_types(&s.history(&wid).await),
        ["WES", "WTS"],
        "no event written"
    );

    s.run_first_task(&queue, json!([complete_workflow(json!(["one"]))]))
        .await;
    let (status, after_close) = s
        .try_start_workflow(&wid, &queue, json!({"requestId": rq1}))
        .await;
    assert_eq!(status, StatusCode::OK, "{after_close}");
    assert_eq!(
        after_close["runId"], run_id,
        "the same requestId after close: the old run"
    );
    assert_eq!(after_close["status"], "WORKFLOW_EXECUTION_STATUS_COMPLETED");

    let reject = json!({"requestId": unique("rq"), "workflowIdReusePolicy": "WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE"});
    assert_eq!(
        s.try_start_workflow(&wid, &queue, reject).await,
        already_started(format!(
            "Workflow execution already finished. WorkflowId: {wid}, RunId: {run_id}. Workflow Id reuse policy: reject duplicate workflow Id."
        ))
    );
    let failed_only = json!({"requestId": unique("rq"), "workflowIdReusePolicy": "WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY"});
    assert_eq!(
        s.try_start_workflow(&wid, &queue, failed_only).await,
        already_started(format!(
            "Workflow execution already finished successfully. WorkflowId: {wid}, RunId: {run_id}. Workflow Id reuse policy: allow duplicate workflow Id if last run failed."
        ))
    );

    // Default ALLOW_DUPLICATE: a new run, which describe and history show without a runId.
    let (status, second) = s
        .try_start_workflow(&wid, &queue, json!({"requestId": unique("rq")}))
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_run = second["runId"].as_str().expect("runId").to_owned();
    assert_ne!(second_run, run_id);
    assert_eq!(
        (
            second["started"].clone(),
            second["firstExecutionRunId"].clone()
        ),
        (json!(true), json!(second_run))
    );
    let latest = s.describe_workflow(&wid).await;
    assert_eq!(
        latest["workflowExecutionInfo"]["execution"]["runId"],
        second_run
    );
    assert_eq!(
        latest["workflowExecutionInfo"]["status"],
        "WORKFLOW_EXECUTION_STATUS_RUNNING"
    );
    assert_eq!(event_types(&s.history(&wid).await), ["WES", "WTS"]);
    let (status, old) = s
        .get_with(
            &format!("workflows/{wid}"),
            &[("execution.runId", run_id.as_str())],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{old}");
    assert_eq!(
        old["workflowExecutionInfo"]["status"],
        "WORKFLOW_EXECUTION_STATUS_COMPLETED"
    );
    let (status, old_history) = s
        .history_page(&wid, &[("execution.runId", run_id.as_str())], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{old_history}");
    assert_eq!(
        event_types(&events(&old_history)),
        ["WES", "WTS", "WTST", "WTC", "WEC"]
    );
}

// ---------------------------------------------------------------------------------------------
// W16: command validation

// W16
#[tokio::test]
async fn bad_command_attributes_fail_the_workflow_task_and_apply_none_of_its_commands() {
    let s = Server::start().await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let task = s.poll_workflow_task(&queue).await;

    let message = "BadScheduleActivityAttributes: activityType is not set";
    let answer = json!([
        start_timer("t1", "1s"),
        schedule_activity("a1", &aq, json!({"activityType": null}))
    ]);
    assert_eq!(
        s.answer_workflow_task(&task, answer).await,
        error(400, 3, message)
    );
    let history = s.history(&wid).await;
    assert_eq!(
        event_types(&history),
        ["WES", "WTS", "WTST", "WTF", "WTS"],
        "none of the commands; attempt 2"
    );
    assert_eq!(
        attrs(&history, 4),
        json!({"scheduledEventId": "2", "startedEventId": "3",
               "cause": "WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
               "failure": {"message": message, "serverFailureInfo": {}}, "identity": WORKFLOW_WORKER})
    );
    assert_eq!(attrs(&history, 5)["attempt"], 2);
    let d = s.describe_workflow(&wid).await;
    assert_eq!(
        d["workflowExecutionInfo"]["historyLength"], "4",
        "the next attempt is transient"
    );
    assert_eq!(d["pendingWorkflowTask"]["attempt"], 2);
    assert_eq!(
        s.answer_workflow_task(&task, json!([])).await,
        workflow_task_not_found(),
        "the failed task's token"
    );

    // A request that is only rejected: the task keeps running and its token stays valid.
    let task = s.poll_workflow_task(&queue).await;
    assert_eq!(
        (task["startedEventId"].clone(), task["attempt"].clone()),
        (json!("6"), json!(2))
    );
    let not_last = json!([complete_workflow(json!(["ok"])), start_timer("t2", "1s")]);
    assert_eq!(
        s.answer_workflow_task(&task, not_last).await,
        error(
            400,
            3,
            "invalid command sequence: [CompleteWorkflowExecution, StartTimer], command CompleteWorkflowExecution must be the last command."
        )
    );
    assert_eq!(
        s.answer_workflow_task(&task, json!([{"commandType": "COMMAND_TYPE_UNSPECIFIED"}]))
            .await,
        error(400, 3, "unknown command type: Unspecified")
    );
    let (status, body) = s
        .answer_workflow_task(
            &task,
            json!([{"commandType": "COMMAND_TYPE_NO_SUCH_THING"}]),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(3)),
        "{body}"
    );
    let d = s.describe_workflow(&wid).await;
    assert_eq!(
        d["pendingWorkflowTask"]["state"],
        "PENDING_WORKFLOW_TASK_STATE_STARTED"
    );
    assert_eq!(d["pendingWorkflowTask"]["attempt"], 2);
    assert_eq!(
        d["workflowExecutionInfo"]["historyLength"], "4",
        "no event written"
    );

    // Tokens that name no task.
    let complete =
        |token: Value| json!({"taskToken": token, "commands": [], "identity": WORKFLOW_WORKER});
    assert_eq!(
        s.post(
            "workflow-tasks/complete",
            complete(json!("bm90IGEgdG9rZW4="))
        )
        .await,
        error(400, 3, "Error deserializing task token.")
    );
    assert_eq!(
        s.post(
            "workflow-tasks/complete",
            json!({"commands": [], "identity": WORKFLOW_WORKER})
        )
        .await,
        error(400, 3, "Task token not set on request.")
    );

    s.complete_workflow_task(&task, json!([complete_workflow(json!(["ok"]))]))
        .await;
    assert_eq!(
        event_types(&s.history(&wid).await),
        ["WES", "WTS", "WTST", "WTF", "WTS", "WTST", "WTC", "WEC"]
    );
}

// W16
#[tokio::test]
async fn each_bad_command_fails_the_workflow_task_with_its_cause_and_message() {
    let s = Server::start().await;
    let aq = unique("aq");
    let cases = [
        (
            json!([schedule_activity(
                "a1",
                &aq,
                json!({"startToCloseTimeout": null})
            )]),
            "BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
            "BadScheduleActivityAttributes: a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity. ActivityId=a1 ActivityType=SimpleActivity",
        ),
        (
            json!([schedule_activity(
                "a1",
                &aq,
                json!({"activityType": {"name": ""}})
            )]),
            "BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
            "BadScheduleActivityAttributes: activityType is not set",
        ),
        (
            json!([schedule_activity("", &aq, json!({}))]),
            "BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
            "BadScheduleActivityAttributes: activityId is not set",
        ),
        (
            json!([schedule_activity("a1", &aq, json!({"taskQueue": null}))]),
            "BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
            "BadScheduleActivityAttributes: taskQueue is not set",
        ),
        (
            json!([{"commandType": "COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK"}]),
            "BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
            "BadScheduleActivityAttributes: ScheduleActivityTaskCommandAttributes is not set on ScheduleActivityTaskCommand.",
        ),
        (
            json!([
                schedule_activity("b1", &aq, json!({})),
                schedule_activity("b1", &aq, json!({}))
            ]),
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
    ];
    for (commands, cause, message) in cases {
        let (wid, queue) = (unique("wf"), unique("wq"));
        s.start_workflow(&wid, &queue, json!({})).await;
        let task = s.poll_workflow_task(&queue).await;
        assert_eq!(
            s.answer_workflow_task(&task, commands).await,
            error(400, 3, message)
        );
        let history = s.history(&wid).await;
        assert_eq!(
            event_types(&history),
            ["WES", "WTS", "WTST", "WTF", "WTS"],
            "{message}"
        );
        assert_eq!(
            attrs(&history, 4),
            json!({"scheduledEventId": "2", "startedEventId": "3", "cause": format!("WORKFLOW_TASK_FAILED_CAUSE_{cause}"),
                   "failure": {"message": message, "serverFailureInfo": {}}, "identity": WORKFLOW_WORKER})
        );
    }
    s.poll_nothing(&aq).await;
}

// Sticky execution: a worker that asks for it gets the run's next tasks on its own queue with
// only the new events; nobody taking them in time sends them back to the run's queue whole.
#[tokio::test]
async fn a_sticky_worker_gets_only_new_events_and_an_untaken_task_returns_to_the_run_queue() {
    let s = Server::start_in_memory().await;
    let (wid, queue, sticky) = (unique("wf"), unique("wq"), unique("sticky"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let first = s.poll_workflow_task(&queue).await;
    let body = json!({"taskToken": first["taskToken"], "commands": [], "identity": WORKFLOW_WORKER,
        "stickyAttributes": {"workerTaskQueue": {"name": sticky, "kind": "TASK_QUEUE_KIND_STICKY", "normalName": queue},
                             "scheduleToStartTimeout": "0.3s"}});
    assert_eq!(
        s.post("workflow-tasks/complete", body).await,
        (StatusCode::OK, json!({}))
    );

    s.on_workflow(&wid, "signal/go", json!({})).await;
    let task = s.poll_workflow_task(&sticky).await;
    assert_eq!(task["previousStartedEventId"], "3");
    // Events 4 (WTC), 5 (signal), 6 and 7 (the task): what the worker has not seen.
    assert_eq!(event_types(&events(&task)), ["WTC", "SIG", "WTS", "WTST"]);
    assert_eq!(task["history"]["events"][0]["eventId"], "4");
    // Issue 12 finding 2: a task for the sticky queue names it as Temporal does.
    assert_eq!(
        events(&task)[2]["workflowTaskScheduledEventAttributes"]["taskQueue"],
        json!({"name": sticky, "kind": "TASK_QUEUE_KIND_STICKY", "normalName": queue})
    );
    let body = json!({"taskToken": task["taskToken"], "commands": [], "identity": WORKFLOW_WORKER,
        "stickyAttributes": {"workerTaskQueue": {"name": sticky}, "scheduleToStartTimeout": "0.3s"}});
    assert_eq!(
        s.post("workflow-tasks/complete", body).await,
        (StatusCode::OK, json!({}))
    );

    // The sticky worker is gone: the next task times out there and comes whole on the run's queue.
    s.on_workflow(&wid, "signal/again", json!({})).await;
    let task = s.poll_workflow_task(&queue).await;
    let types = event_types(&events(&task));
    assert_eq!(task["history"]["events"][0]["eventId"], "1");
    assert_eq!(types[types.len() - 4..], ["WTS", "WTTO", "WTS", "WTST"]);
    let timed_out = attrs(&events(&task), types.len() - 2);
    assert_eq!(timed_out["timeoutType"], "TIMEOUT_TYPE_SCHEDULE_TO_START");
    assert_eq!(
        attrs(&events(&task), types.len() - 1)["taskQueue"],
        normal_queue(&queue)
    );
}

// Queries: answered by a worker from a query task, after the task in flight; a failed answer is
// a query error; a rejected condition answers without asking a worker.
#[tokio::test]
async fn a_query_goes_to_a_worker_after_the_task_in_flight_and_its_answer_comes_back() {
    let s = Server::start_in_memory().await;
    let (wid, queue) = (unique("wf"), unique("wq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let ask = |query_type: &'static str| {
        let client = s.client();
        let wid = wid.clone();
        tokio::spawn(async move {
            client
                .post_waiting(
                    &format!("workflows/{wid}/query/{query_type}"),
                    json!({"query": {"queryArgs": [1]}}),
                    "5S",
                )
                .await
        })
    };
    // The first task is outstanding: the query waits for it.
    let asked = ask("state");
    s.run_first_task(&queue, json!([])).await;
    let query_task = s.poll_workflow_task(&queue).await;
    assert_eq!(
        query_task["query"],
        json!({"queryType": "state", "queryArgs": [1]})
    );
    assert_eq!(event_types(&events(&query_task)).last().unwrap(), "WTC");
    let answer = json!({"taskToken": query_task["taskToken"], "completedType": "QUERY_RESULT_TYPE_ANSWERED", "queryResult": ["fine"]});
    assert_eq!(
        s.post("workflow-tasks/query-complete", answer).await,
        (StatusCode::OK, json!({}))
    );
    assert_eq!(
        asked.await.unwrap(),
        (StatusCode::OK, json!({"queryResult": ["fine"]}))
    );

    let asked = ask("broken");
    let query_task = s.poll_workflow_task(&queue).await;
    let answer = json!({"taskToken": query_task["taskToken"], "completedType": "QUERY_RESULT_TYPE_FAILED",
                        "errorMessage": "no such query", "failure": {"message": "no such query"}});
    assert_eq!(
        s.post("workflow-tasks/query-complete", answer).await.0,
        StatusCode::OK
    );
    let (status, body) = asked.await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["message"], "no such query");
    assert_eq!(body["details"][0]["failure"]["message"], "no such query");

    s.on_workflow(&wid, "terminate", json!({})).await;
    let rejected = s
        .post(
            &format!("workflows/{wid}/query/state"),
            json!({"queryRejectCondition": "QUERY_REJECT_CONDITION_NOT_OPEN"}),
        )
        .await;
    assert_eq!(
        rejected,
        (
            StatusCode::OK,
            json!({"queryRejected": {"status": "WORKFLOW_EXECUTION_STATUS_TERMINATED"}})
        )
    );
    // Nobody answers: the caller's deadline passes (Temporal's answer, checked against 1.32).
    let (status, body) = s
        .post_waiting(&format!("workflows/{wid}/query/state"), json!({}), "2S")
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::GATEWAY_TIMEOUT,
            json!({"code": 4, "message": "query timed out before a worker could process it"})
        )
    );
    // A run closed before any task of it completed: refused at once, as Temporal does.
    let unseen = unique("wf");
    s.start_workflow(&unseen, &queue, json!({})).await;
    s.on_workflow(&unseen, "terminate", json!({})).await;
    let refused = s
        .post_waiting(&format!("workflows/{unseen}/query/state"), json!({}), "5S")
        .await;
    assert_eq!(
        refused,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 9, "message": "Workflow execution closed before WorkflowTaskStarted event",
                   "details": [{"@type": "type.googleapis.com/temporal.api.errordetails.v1.WorkflowNotReadyFailure"}]})
        )
    );
}
